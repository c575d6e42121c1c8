"""This worker's jail: chosen once per process, after a self-test proves it works.

A worker without namespace isolation refuses to grade unless SANDBOX_ALLOW_UNISOLATED is set
(local development only), and says so loudly.

Each worker process also keeps a pool of warm runtimes on that jail (``sandbox.jail.pool``),
forked from a fork server in a jail of its own (``sandbox.jail.forkserver``) unless
SANDBOX_FORK_SERVER is off:
a Celery prefork child makes it right after the fork (``sandbox.signals`` calls ``warm_up``),
the parent never does. Other processes that grade (tests, ``check_course``, ``invoke``) get a
pool of size 0: a fresh runtime per submission, and no jail left waiting in the background.
"""

import atexit
import json
import logging
import os
import socket
import threading
import time

from django.conf import settings

from sandbox.jail.bwrap import BwrapLauncher
from sandbox.jail.forkserver import ForkServerLauncher
from sandbox.jail.launcher import Launcher
from sandbox.jail.pool import PoolKey, WarmPool
from sandbox.jail.selftest import JailUnavailable, SelfTestReport, choose_launcher

log = logging.getLogger(__name__)

# After a failed self-test, grading fails fast for this long before the next self-test.
SELF_TEST_RETRY_S = 10.0

_lock = threading.Lock()
_chosen: tuple[Launcher, SelfTestReport] | None = None
_failed: tuple[float, JailUnavailable] | None = None  # when the last self-test failed, and why
_pool: WarmPool | None = None
_pool_size = 0  # SANDBOX_WARM_POOL_SIZE once warm_up() made this a worker process


def prepare() -> SelfTestReport:
    """Run the jail's self-test and keep the launcher. Raises JailUnavailable when unsafe.

    A failed self-test is not kept: it runs again on a later call (at most every
    SELF_TEST_RETRY_S), so a worker recovers once the jail works.
    """
    global _chosen, _failed
    with _lock:
        if _chosen is None:
            if _failed is not None and time.monotonic() - _failed[0] < SELF_TEST_RETRY_S:
                raise _failed[1]
            try:
                launcher, report = choose_launcher(allow_unisolated=settings.SANDBOX_ALLOW_UNISOLATED)
            except JailUnavailable as exc:
                _failed = (time.monotonic(), exc)
                raise
            _failed = None
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


def warm_pool() -> WarmPool:
    """This process's pool of runtimes on the chosen jail (size 0 outside worker processes)."""
    global _pool
    chosen = launcher()
    with _lock:
        if _pool is None or _pool.size != _pool_size:
            if _pool is not None:
                _pool.shutdown()
            _pool = WarmPool(_pool_launcher(chosen), size=_pool_size)
            atexit.register(_pool.shutdown)
        return _pool


def _pool_launcher(chosen: Launcher) -> Launcher:
    """The fork server on the chosen jail, if it works here; else the jail itself."""
    if not (_pool_size and settings.SANDBOX_FORK_SERVER and isinstance(chosen, BwrapLauncher)):
        return chosen
    forking = ForkServerLauncher(chosen)
    problem = forking.self_test()
    if not problem:
        return forking
    forking.shutdown()
    log.error(
        "the fork server does not work here (%s): every runtime starts fresh (~1 s of CPU each)", problem
    )
    return chosen


def warm_up() -> None:
    """Make this a worker process with a warm pool: self-test and pre-warm in the background.

    In a thread, so that the process takes tasks at once; a first task simply waits for
    the self-test (``prepare`` holds the lock) or starts its own runtime.
    """
    global _pool_size
    _pool_size = settings.SANDBOX_WARM_POOL_SIZE

    def run() -> None:
        try:
            pool = warm_pool()
            pool.prewarm(PoolKey.parse(key) for key in settings.SANDBOX_WARM_POOL_PREWARM)
        except JailUnavailable as exc:
            log.error("no jail, nothing pre-warmed; grading fails until the self-test passes:\n%s", exc)
        except Exception:
            log.exception("pre-warming the runtime pool failed")

    threading.Thread(target=run, name="warm-pool-prewarm", daemon=True).start()
    threading.Thread(target=_publish_loop, name="warm-pool-status", daemon=True).start()


# -- the pool's state, for the instructors' fleet page (course/dashboard/fleet.py) -------------

POOL_STATUS_PREFIX = "coldstart:pool:"
POOL_STATUS_EVERY_S = 10.0
POOL_STATUS_TTL_S = 30  # a worker process that stopped publishing drops off the page


def pool_status(pool: WarmPool) -> dict:
    """What the fleet page shows of one worker process's pool and fork servers."""
    launcher = pool.launcher
    servers = launcher.servers() if isinstance(launcher, ForkServerLauncher) else []
    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "launcher": launcher.name,
        "fork_servers": [
            {"key": f"up to {s.memory_mb} MB", "alive": s.alive, "forks": s.forks} for s in servers
        ],
        "updated": time.time(),
        **pool.describe(),
    }


def publish_pool_status(pool: WarmPool) -> None:
    """Put this process's pool state in the broker's Redis, for the fleet page (expires on its own)."""
    from config.celery import app  # the Celery app imports Django settings: not at module load

    status = pool_status(pool)
    with app.connection_for_write() as conn:
        conn.default_channel.client.set(
            f"{POOL_STATUS_PREFIX}{status['host']}:{status['pid']}", json.dumps(status), ex=POOL_STATUS_TTL_S
        )


def _publish_loop() -> None:
    while True:
        time.sleep(POOL_STATUS_EVERY_S)
        pool = _pool
        if pool is None or pool._closed:
            continue
        try:
            publish_pool_status(pool)
        except Exception as exc:  # the broker is down: the fleet page says so on its own
            log.debug("could not publish the pool's status: %s", exc)


def shutdown() -> None:
    """Kill this process's warm runtimes (the worker process is stopping)."""
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown()


def _after_fork_in_child() -> None:
    # The parent's pool (if any) is the parent's: its threads are gone here, its runtimes are
    # not our children. Forget it without touching it; the lock may have been held at fork.
    global _pool, _lock
    _pool = None
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)
