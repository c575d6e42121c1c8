"""Celery worker signals: each prefork child gets its own warm pool, and kills it on exit.

Connected in ``SandboxConfig.ready``. The pool is made in the child, after the fork
(threads do not survive one), and never in the parent, which grades nothing.
"""

import logging
import sys

from celery.signals import worker_init, worker_process_init, worker_process_shutdown

from sandbox import fleet
from sandbox.jail.selftest import JailUnavailable

log = logging.getLogger(__name__)


@worker_init.connect
def refuse_without_a_jail(**kwargs) -> None:
    """A worker proves its jail before it takes any task, and refuses to start without one."""
    try:
        report = fleet.prepare()
    except JailUnavailable as exc:
        log.critical("This worker will not grade: %s", exc)
        sys.stderr.write(f"\n!! Coldstart worker refusing to start: {exc}\n")
        sys.stderr.flush()
        raise SystemExit(78) from None  # EX_CONFIG
    log.warning("Grading with isolation: %s", report.isolation)


@worker_process_init.connect
def warm_up_pool(**kwargs) -> None:
    fleet.warm_up()


@worker_process_shutdown.connect
def shut_down_pool(**kwargs) -> None:
    fleet.shutdown()
