"""The warm pool: ready runtimes in real jails, each handed out once, refilled, cleaned up.

Every test starts real runtimes in bubblewrap (about a second each), so each keeps
the pool small and waits on the pool's own events, never on sleeps of a guessed length.
"""

import contextlib
import os
import threading
import time
from pathlib import Path

import pytest

from sandbox import fleet
from sandbox.cases import build_cases
from sandbox.exercise_files import checks_module, exercise_source
from sandbox.grading import InfrastructureError, judge, run_cases
from sandbox.jail import pool as pool_module
from sandbox.jail.bwrap import BwrapLauncher, JailCgroup, cgroup_parents, find_bwrap
from sandbox.jail.pool import PoolClosed, PooledRuntime, PoolKey, PoolUnavailable, WarmPool
from sandbox.jail.process import RuntimeProcess
from sandbox.tests.host import processes_in

pytestmark = pytest.mark.skipif(
    find_bwrap() is None, reason="bubblewrap is not installed (apt-get install bubblewrap)"
)

KEY = PoolKey.of(128, 3)
TRIVIAL = "def lambda_handler(event, context):\n    return {'ok': True}\n"
IS_ROOT = os.geteuid() == 0


@pytest.fixture(scope="module")
def launcher() -> BwrapLauncher:
    return BwrapLauncher()


@pytest.fixture
def make_pool(launcher):
    pools: list[WarmPool] = []

    def make(size: int = 2, **kwargs) -> WarmPool:
        pool = WarmPool(kwargs.pop("launcher", launcher), size=size, **kwargs)
        pools.append(pool)
        return pool

    yield make
    for pool in pools:
        pool.shutdown()


def full_pool(make_pool, size: int = 2) -> WarmPool:
    pool = make_pool(size)
    pool.prewarm([KEY])
    assert pool.wait_until_full(KEY, timeout=60), pool.describe()
    return pool


def idle_runtimes(pool: WarmPool) -> list[PooledRuntime]:
    with pool._cond:
        return [runtime for runtimes in pool._idle.values() for runtime in runtimes]


def runtime_pid(runtime: RuntimeProcess) -> int:
    """The host pid of the runtime's Python (the deepest process of the jail running bootstrap.py)."""
    for pid in reversed(pool_module._process_tree(runtime.proc.pid)):
        with contextlib.suppress(OSError):
            if b"bootstrap.py" in Path(f"/proc/{pid}/cmdline").read_bytes():
                return pid
    raise AssertionError("no runtime process in the jail")


def pid_namespace(runtime: RuntimeProcess) -> str:
    return os.readlink(f"/proc/{runtime.proc.jail_init_pid}/ns/pid")


def our_cgroups() -> list[str]:
    prefix = f"{JailCgroup.PREFIX}{os.getpid()}-"
    return [
        p.name for parent in cgroup_parents().values() for p in parent.iterdir() if p.name.startswith(prefix)
    ]


def run_trivial(runtime: RuntimeProcess) -> dict:
    init = runtime.init(code=TRIVIAL, function_name="pool-test", timeout_s=3.0)
    assert init.ok, init
    outcome = runtime.invoke(request_id="req-1", event={})
    assert outcome.fault is None, outcome.describe()
    return outcome.record


def test_the_pool_hands_out_ready_runtimes_never_the_same_one_twice(make_pool):
    pool = full_pool(make_pool)
    idle = idle_runtimes(pool)
    if IS_ROOT:  # started at a lower CPU priority, handed out at the caller's
        assert {os.getpriority(os.PRIO_PROCESS, runtime_pid(r)) for r in idle} == {pool_module.REFILL_NICE}
    handed_out = [pool.acquire(memory_mb=128, timeout_s=2.5) for _ in range(3)]  # one more than it holds
    try:
        assert [r._state for r in handed_out] == ["ready"] * 3
        assert handed_out[:2] == idle  # the warm ones first, in the order they became ready
        assert len({id(r) for r in handed_out}) == 3
        assert len({pid_namespace(r) for r in handed_out}) == 3  # a jail each
        if IS_ROOT:
            assert os.getpriority(os.PRIO_PROCESS, runtime_pid(handed_out[0])) == os.getpriority(
                os.PRIO_PROCESS, 0
            )
        record = run_trivial(handed_out[0])
        assert record["result"] == {"ok": True} and record["init_duration_ms"] < 50
        assert handed_out[0].timeout_s == 3.0  # started for the class, then init set the exact timeout
    finally:
        for runtime in handed_out:
            runtime.kill()
    stats = pool.describe()
    assert stats["handed_out_warm"] + stats["started_on_demand"] == 3
    assert stats["handed_out_warm"] >= 2


def test_the_pool_refills_in_the_background(make_pool):
    pool = full_pool(make_pool)
    started = pool.describe()["started_in_background"]
    runtime = pool.acquire(memory_mb=128, timeout_s=3)
    runtime.kill()
    assert pool.idle_count(KEY) == 1
    assert pool.wait_until_full(KEY, timeout=60)
    assert pool.describe()["started_in_background"] == started + 1
    assert pool.describe()["started_on_demand"] == 0


def test_a_key_is_warmed_once_it_is_asked_for(make_pool):
    pool = make_pool(1)
    runtime = pool.acquire(memory_mb=256, timeout_s=9.5)  # nothing warm yet: started right here
    try:
        assert pool.describe()["started_on_demand"] == 1
        assert runtime.memory_mb == 256 and runtime.timeout_s == 10.0
    finally:
        runtime.kill()
    assert pool.wait_until_full(PoolKey.of(256, 10), timeout=60)
    assert pool.idle_count(KEY) == 0  # other keys stay cold


def test_a_runtime_killed_while_idle_is_replaced(make_pool):
    pool = full_pool(make_pool)
    victim, survivor = idle_runtimes(pool)
    os.kill(runtime_pid(victim), 9)  # the OOM killer, an operator, ...
    deadline = time.monotonic() + 10
    while victim.alive and time.monotonic() < deadline:
        time.sleep(0.02)
    runtime = pool.acquire(memory_mb=128, timeout_s=3)
    try:
        assert runtime is survivor
        assert run_trivial(runtime)["result"] == {"ok": True}
    finally:
        runtime.kill()
    assert pool.describe()["discarded"] == 1
    assert pool.wait_until_full(KEY, timeout=60)
    assert all(r.alive for r in idle_runtimes(pool))


@pytest.mark.skipif(not IS_ROOT, reason="writes into the runtime's log pipe through /proc (root)")
def test_what_an_idle_runtime_writes_is_dropped_and_a_noisy_one_discarded(make_pool):
    pool = full_pool(make_pool)
    quiet, noisy = idle_runtimes(pool)
    with open(f"/proc/{runtime_pid(quiet)}/fd/1", "wb", buffering=0) as log_pipe:
        log_pipe.write(b"written while idle\n")
    with open(f"/proc/{runtime_pid(noisy)}/fd/1", "wb", buffering=0) as log_pipe:
        for _ in range(pool_module.IDLE_OUTPUT_LIMIT // 4096 + 1):
            log_pipe.write(b"x" * 4095 + b"\n")  # more than the pipe holds: only a reader lets this finish
    runtime = pool.acquire(memory_mb=128, timeout_s=3)
    try:
        assert runtime is quiet
        init = runtime.init(code="print('module loaded')\n" + TRIVIAL, function_name="pool-test")
        assert init.logs == "module loaded\n"  # the idle line is not the learner's
    finally:
        runtime.kill()
    deadline = time.monotonic() + 10  # the noisy one goes at the next look (every second)
    while pool.describe()["discarded"] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pool.describe()["discarded"] == 1
    assert noisy not in idle_runtimes(pool)


def test_size_zero_is_a_fresh_runtime_per_acquire(make_pool):
    pool = make_pool(0)
    pool.prewarm([KEY])  # nothing to do
    runtime = pool.acquire(memory_mb=128, timeout_s=3)
    try:
        assert type(runtime) is RuntimeProcess
        assert run_trivial(runtime)["result"] == {"ok": True}
    finally:
        runtime.kill()
    assert runtime.proc.returncode is not None  # killed and reaped synchronously
    assert pool._refill_threads == [] and pool._reaper_thread is None
    assert pool.idle_count() == 0


def test_shutdown_leaves_no_process_behind(make_pool):
    pool = full_pool(make_pool)
    namespaces = {pid_namespace(r) for r in idle_runtimes(pool)}
    used = pool.acquire(memory_mb=128, timeout_s=3)
    namespaces.add(pid_namespace(used))
    run_trivial(used)
    used.kill()  # SIGKILLed now, reaped by the pool
    deadline = time.monotonic() + 30  # the refill under way: shut down while it starts
    while not pool._spawned and time.monotonic() < deadline:
        time.sleep(0.005)
    starting = list(pool._spawned)
    for proc in starting:  # the refill thread owns them: look, never poll()
        with contextlib.suppress(OSError, TypeError):
            namespaces.add(os.readlink(f"/proc/{proc.jail_init_pid}/ns/pid"))
    pool.shutdown()
    assert processes_in(namespaces) == set()
    assert all(p.returncode is not None for p in starting)
    assert used.proc.returncode is not None and idle_runtimes(pool) == []
    assert not any(t.is_alive() for t in pool._refill_threads) and not pool._reaper_thread.is_alive()
    assert our_cgroups() == []
    with pytest.raises(PoolClosed):
        pool.acquire(memory_mb=128, timeout_s=3)


class BrokenLauncher:
    """A jail that cannot start (bwrap gone, user namespaces turned off, ...), until fixed."""

    name = "broken"
    isolated = True

    def __init__(self, real: BwrapLauncher) -> None:
        self.real = real
        self.broken = True
        self.spawns = 0

    def spawn(self, **kwargs):
        self.spawns += 1
        if self.broken:
            raise OSError("bwrap: setting up uid map: Permission denied")
        return self.real.spawn(**kwargs)


def test_repeated_start_failures_make_grading_an_infrastructure_error_until_the_jail_works(
    make_pool, launcher, monkeypatch
):
    monkeypatch.setattr(pool_module, "RETRY_BASE_S", 0.05)
    monkeypatch.setattr(pool_module, "RETRY_MAX_S", 0.2)
    broken = BrokenLauncher(launcher)
    pool = make_pool(1, launcher=broken, failure_limit=3)
    monkeypatch.setattr(fleet, "launcher", lambda: broken)
    monkeypatch.setattr(fleet, "warm_pool", lambda: pool)
    source = exercise_source("s3-to-lambda")
    cases = build_cases(source.definition, seed=1, checks=checks_module(source))[:1]

    with pytest.raises(InfrastructureError, match="Permission denied"):
        run_cases(code=TRIVIAL, definition=source.definition, cases=cases)
    deadline = time.monotonic() + 10
    while pool.describe()["failures_in_a_row"] < 3 and time.monotonic() < deadline:
        time.sleep(0.01)  # the refill thread keeps trying in the background
    assert pool.describe()["failing"] or pool.describe()["failures_in_a_row"] >= 3
    with pool._cond:  # failing now: no new attempt on the submission's time
        pool._retry_at = time.monotonic() + 60
        pool._failures = max(pool._failures, 3)
    spawns = broken.spawns
    with pytest.raises(InfrastructureError, match="failed in a row"):
        run_cases(code=TRIVIAL, definition=source.definition, cases=cases)
    with pytest.raises(PoolUnavailable):
        pool.acquire(memory_mb=128, timeout_s=3)
    assert broken.spawns == spawns

    broken.broken = False  # the jail works again: the next background attempt fills the pool
    with pool._cond:
        pool._retry_at = time.monotonic()
        pool._cond.notify_all()
    assert pool.wait_until_full(KEY, timeout=60)
    (run,) = run_cases(code=TRIVIAL, definition=source.definition, cases=cases)
    assert run.fault is None and run.record["result"] == {"ok": True}
    assert pool.describe()["failing"] is False


def test_grading_through_the_pool_reports_init_duration_of_the_learners_module_only(
    make_pool, launcher, monkeypatch
):
    pool = full_pool(make_pool)
    monkeypatch.setattr(fleet, "launcher", lambda: launcher)
    monkeypatch.setattr(fleet, "warm_pool", lambda: pool)
    source = exercise_source("s3-to-lambda")
    checks = checks_module(source)
    cases = build_cases(source.definition, seed=7, checks=checks)
    code = (
        "import urllib.parse\n"
        "def lambda_handler(event, context):\n"
        "    s3 = event['Records'][0]['s3']\n"
        "    return {'bucket': s3['bucket']['name'], 'key': urllib.parse.unquote_plus(s3['object']['key']),"
        " 'size': s3['object']['size']}\n"
    )
    runs = run_cases(code=code, definition=source.definition, cases=cases)
    results = [judge(run, definition=source.definition, checks=checks) for run in runs]
    assert [r["verdict"] for r in results] == ["passed"] * len(cases)
    assert pool.describe()["handed_out_warm"] == 1  # one runtime for the whole submission
    cold, *warm = results
    assert cold["init_duration_ms"] is not None and cold["init_duration_ms"] < 50  # not boto3 and moto
    assert "Init Duration:" in cold["report"]
    assert all(r["init_duration_ms"] is None and "Init Duration" not in r["report"] for r in warm)


def test_a_fault_discards_the_runtime_and_the_next_case_gets_another_warm_one(
    make_pool, launcher, monkeypatch
):
    pool = full_pool(make_pool)
    monkeypatch.setattr(fleet, "launcher", lambda: launcher)
    monkeypatch.setattr(fleet, "warm_pool", lambda: pool)
    source = exercise_source("s3-to-lambda")
    cases = build_cases(source.definition, seed=3, checks=checks_module(source))[:2]
    code = "import os\nCALLS = 0\ndef lambda_handler(event, context):\n    os._exit(1)\n"
    namespaces_before = {pid_namespace(r) for r in idle_runtimes(pool)}
    runs = run_cases(code=code, definition=source.definition, cases=cases)
    assert [run.fault for run in runs] == ["crashed", "crashed"]
    assert all("Init Duration" in run.logs for run in runs)  # each case started cold, in its own runtime
    assert pool.describe()["handed_out_warm"] == 2
    assert processes_in(namespaces_before) == set()  # both jails are gone


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_pool_refuses_to_be_used_after_fork(make_pool):
    pool = make_pool(1)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            pool.acquire(memory_mb=128, timeout_s=3)
            os.write(write, b"used")
        except PoolClosed:
            os.write(write, b"refused")
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    with os.fdopen(read, "rb") as answer:
        assert answer.read() == b"refused"
    assert pool._refill_threads == []  # the parent's pool was never touched


def test_no_thread_of_the_pool_is_left_after_shutdown(make_pool):
    before = {t.name for t in threading.enumerate()}
    pool = full_pool(make_pool, size=1)
    pool.shutdown()
    after = {t.name for t in threading.enumerate() if t.is_alive()}
    assert not {"warm-pool-refill", "warm-pool-reaper"} & (after - before)
