"""This worker's jail: chosen once per process, after a self-test proves it works.

A worker without namespace isolation refuses to grade unless SANDBOX_ALLOW_UNISOLATED is set
(local development only), and says so loudly.
"""

import logging
import threading

from django.conf import settings

from sandbox.jail.launcher import Launcher
from sandbox.jail.selftest import SelfTestReport, choose_launcher

log = logging.getLogger(__name__)

_lock = threading.Lock()
_chosen: tuple[Launcher, SelfTestReport] | None = None


def prepare() -> SelfTestReport:
    """Run the jail's self-test and keep the launcher. Raises JailUnavailable when unsafe."""
    global _chosen
    with _lock:
        if _chosen is None:
            launcher, report = choose_launcher(allow_unisolated=settings.SANDBOX_ALLOW_UNISOLATED)
            if not launcher.isolated:
                log.warning(
                    "\n%s\n!! SANDBOX_ALLOW_UNISOLATED=1: learner code runs WITHOUT namespace isolation.\n"
                    "!! Local development only. Never let other people submit code to this worker.\n%s",
                    "!" * 78,
                    "!" * 78,
                )
            else:
                log.info("jail ready: %s", report.isolation)
            _chosen = (launcher, report)
        return _chosen[1]


def launcher() -> Launcher:
    prepare()
    assert _chosen is not None
    return _chosen[0]


def isolation_level() -> str:
    return prepare().isolation
