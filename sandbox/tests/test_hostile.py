"""Hostile learner code against the real jail: ``RuntimeProcess`` driving ``BwrapLauncher``.

Each case asserts three things:

1. containment: the host is fine (a canary process running as the jail's own host
   uid survives, nothing of the jail is left once the runtime is killed);
2. the outcome: the driver's fault, or the record's status / errorType;
3. recovery: an honest handler in a fresh jail right after it returns the right result.

The module ends with a check of the whole host: no stray processes, no files
left by the jails, no cgroup left, Redis untouched.

Runtimes are started ahead in a small pool (two at a time): the runtime's heavy
imports (~1 s each) overlap with the cases. Run with ``-m hostile``.
"""

import contextlib
import glob
import http.server
import os
import signal
import socket
import subprocess
import textwrap
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sandbox.jail.bwrap import BwrapLauncher, JailCgroup, cgroup_parents, find_bwrap
from sandbox.jail.forkserver import ForkServerLauncher
from sandbox.jail.limits import HOST_UID_WHEN_ROOT, JailLimits
from sandbox.jail.process import InvokeOutcome, RuntimeProcess
from sandbox.tests.host import processes_in

PROJECT = Path(__file__).resolve().parents[2]
IS_ROOT = os.geteuid() == 0
MEMORY_MB = 128
SECRET = "coldstart-canary-" + uuid.uuid4().hex  # in the worker's environment: never in a jail

pytestmark = [
    pytest.mark.hostile,
    pytest.mark.skipif(
        find_bwrap() is None, reason="bubblewrap is not installed (apt-get install bubblewrap)"
    ),
]


# -- the pool and the host baseline ---------------------------------------------------------


class TrackingLauncher(BwrapLauncher):
    """Remembers the PID namespace of every jail it made, to look for leftovers at the end."""

    namespaces: set[str]

    def popen(self, *args, **kwargs):
        proc = super().popen(*args, **kwargs)
        with contextlib.suppress(OSError):
            self.namespaces.add(os.readlink(f"/proc/{proc.jail_init_pid}/ns/pid"))
        return proc


class Pool:
    """Runtimes started ahead, in threads, so their imports overlap with the cases."""

    def __init__(self, launcher: BwrapLauncher, ahead: int = 2) -> None:
        self.launcher = launcher
        self.ahead = ahead
        self.executor = ThreadPoolExecutor(max_workers=ahead)
        self.started: deque[Future[RuntimeProcess]] = deque()
        for _ in range(ahead):
            self._start()

    def _start(self) -> None:
        self.started.append(
            self.executor.submit(
                RuntimeProcess.start, self.launcher, memory_mb=MEMORY_MB, timeout_s=3.0, ready_timeout=60
            )
        )

    def take(self) -> RuntimeProcess:
        future = self.started.popleft()
        self._start()
        return future.result()

    def close(self) -> None:
        self.executor.shutdown(wait=True)
        while self.started:
            with contextlib.suppress(Exception):
                self.started.popleft().result().kill()


def host_pids(predicate: Callable[[int, bytes, int], bool]) -> set[int]:
    """Live host processes matching predicate(pid, cmdline, uid)."""
    found = set()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        with contextlib.suppress(OSError, ValueError, IndexError, StopIteration):
            with open(f"/proc/{pid}/stat", "rb") as stat:
                if stat.read().rsplit(b")", 1)[1].split()[0] in (b"Z", b"X"):
                    continue
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            with open(f"/proc/{pid}/status") as status:
                uid = next(int(line.split()[1]) for line in status if line.startswith("Uid:"))
            if predicate(pid, cmdline, uid):
                found.add(pid)
    return found


def redis_keys() -> int | None:
    try:
        import redis

        return redis.Redis(
            host="127.0.0.1", port=6379, db=0, socket_timeout=2, socket_connect_timeout=2
        ).dbsize()
    except Exception:  # noqa: BLE001 - no Redis here: nothing to compare
        return None


@dataclass
class Host:
    canary: subprocess.Popen | None
    web_port: int
    started: float
    before_redis: int | None
    secret: str = SECRET


@pytest.fixture(scope="module")
def host():
    os.environ["COLDSTART_HOSTILE_SECRET"] = SECRET
    # a host process running as the jail's own host uid: kill(-1) inside a jail must not reach it
    canary = None
    if IS_ROOT:
        canary = subprocess.Popen(
            ["setpriv", f"--reuid={HOST_UID_WHEN_ROOT}", f"--regid={HOST_UID_WHEN_ROOT}", "--clear-groups",
             "sleep", "900"]
        )  # fmt: skip
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    time.sleep(0.05)
    state = Host(
        canary=canary,
        web_port=server.server_address[1],
        started=time.time(),
        before_redis=redis_keys(),
    )
    yield state
    server.shutdown()
    server.server_close()
    if canary is not None:
        canary.kill()
        canary.wait()
    os.environ.pop("COLDSTART_HOSTILE_SECRET", None)


@pytest.fixture(scope="module", params=["fresh", "forked"])
def pool(host, request):
    """Every case twice: in a fresh jail, and in a runtime forked by a fork server."""
    tracking = TrackingLauncher()
    tracking.namespaces = set()
    launcher = tracking if request.param == "fresh" else ForkServerLauncher(tracking)
    pool = Pool(launcher)
    pool.tracking = tracking
    yield pool
    pool.close()
    if request.param == "forked":
        launcher.shutdown()


# -- the cases -------------------------------------------------------------------------------------------

HONEST = "def lambda_handler(event, context):\n    return {'double': event['n'] * 2}\n"


@dataclass
class Case:
    id: str
    code: str
    # what the outcome must be: a driver fault, or a record's status/errorType
    fault: str | tuple[str, ...] | None = None
    error_type: str | tuple[str, ...] | None = None
    result: Callable[[object, Host], bool] | None = None
    timeout_s: float = 2.0
    event: dict = field(default_factory=dict)
    verdict: str = ""  # the verdict the lead maps it to (documented in docs/security.md)


def _as_tuple(value):
    return value if isinstance(value, tuple) else (value,)


READ_SECRETS = textwrap.dedent(
    """
    import glob, os
    def lambda_handler(event, context):
        found = {}
        for path in event["paths"]:
            try:
                with open(path, "rb") as f:
                    found[path] = f.read(200).decode("latin-1")
            except OSError as exc:
                found[path] = None
        for p in os.listdir("/proc"):
            if p.isdigit():
                try:
                    found[f"/proc/{p}/environ"] = open(f"/proc/{p}/environ", "rb").read().decode("latin-1")
                except OSError:
                    pass
        found["os.environ"] = dict(os.environ)
        found["listing"] = []
        for top, dirs, files in os.walk("/"):
            if top in ("/proc", "/usr", "/sys", "/dev", "/var/runtime/packages") or top.startswith(event["prefix"]):
                dirs[:] = []  # the system, the interpreter and the libraries: nothing of the project there
                continue
            found["listing"] += [os.path.join(top, f) for f in files
                                 if f in ("settings.py", "checks.py", "solution.py") or f.endswith(".sqlite3")]
        return found
    """
)


def _secret_paths() -> list[str]:
    paths = [
        "/etc/shadow",
        "/proc/1/environ",
        "/root/.bash_history",
        str(PROJECT / "config" / "settings.py"),
        str(PROJECT / "var" / "db.sqlite3"),
        str(PROJECT / ".env"),
    ]
    paths += sorted(glob.glob(str(PROJECT / "course" / "content" / "**" / "checks.py"), recursive=True))[:5]
    paths += sorted(glob.glob(str(PROJECT / "course" / "content" / "**" / "solution.py"), recursive=True))[:5]
    return paths


def _nothing_leaked(result, host: Host) -> bool:
    text = repr(result)
    leaked_files = [p for p, v in result.items() if p.startswith("/") and not p.startswith("/proc/") and v]
    return (
        host.secret not in text
        and "SECRET_KEY" not in text
        and "DATABASE_URL" not in text
        and not leaked_files
        and "COLDSTART_HOSTILE_SECRET" not in result["os.environ"]
        and not result["listing"]
    )


NETWORK = textwrap.dedent(
    """
    import socket
    def lambda_handler(event, context):
        out = {}
        for port in event["ports"]:
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=1)
                s.sendall(b"FLUSHALL\\r\\n" if port == 6379 else b"GET / HTTP/1.0\\r\\n\\r\\n")
                out[str(port)] = "connected"
            except OSError as exc:
                out[str(port)] = type(exc).__name__
        return out
    """
)

DAEMON = textwrap.dedent(
    """
    import os, sys
    def lambda_handler(event, context):
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(600)", event["marker"]])
            os._exit(0)
        os.wait()
        return "daemonized"
    """
)

CASES = [
    Case(
        "fork-bomb",
        "import os\ndef lambda_handler(event, context):\n    while True:\n        try:\n            os.fork()\n"
        "        except OSError:\n            pass\n",
        # Whichever limit it reaches first: 1,024 tasks (then it spins until the timeout) or the
        # memory cgroup (each child's page tables and copied pages). Both keep it in its jail.
        fault=("timeout", "crashed") if cgroup_parents() else "timeout",
        verdict="timeout or memory_limit",
    ),
    Case(
        "thread-bomb",
        "import threading, time\ndef lambda_handler(event, context):\n    threads = []\n    while True:\n"
        "        t = threading.Thread(target=time.sleep, args=(60,), daemon=True)\n        t.start()\n"
        "        threads.append(t)\n",
        error_type="RuntimeError",
        verdict="error",
    ),
    Case(
        "memory-bomb",
        "def lambda_handler(event, context):\n    return len(bytearray(4 * 2**30))\n",
        error_type="MemoryError",
        verdict="memory_limit",
    ),
    Case(
        "memory-creep",
        "def lambda_handler(event, context):\n    chunks = []\n    while True:\n"
        "        chunks.append(b'x' * (8 * 2**20))\n",
        fault=("crashed",) if cgroup_parents() else (None,),
        error_type=None if cgroup_parents() else "MemoryError",
        verdict="memory_limit",
    ),
    Case(
        "cpu-spin",
        "def lambda_handler(event, context):\n    while True:\n        pass\n",
        fault="timeout",
        timeout_s=1.0,
        verdict="timeout",
    ),  # fmt: skip
    Case(
        "sleep-past-timeout",
        "import time\ndef lambda_handler(event, context):\n    time.sleep(30)\n",
        fault="timeout",
        timeout_s=1.0,
        verdict="timeout",
    ),  # fmt: skip
    Case(
        "ignores-sigterm-sigalrm",
        "import signal\ndef lambda_handler(event, context):\n"
        "    for s in (signal.SIGTERM, signal.SIGALRM, signal.SIGINT, signal.SIGHUP, signal.SIGXCPU):\n"
        "        signal.signal(s, signal.SIG_IGN)\n    while True:\n        pass\n",
        fault="timeout",
        timeout_s=1.0,
        verdict="timeout",
    ),
    Case(
        "double-forked-daemon",
        DAEMON,
        result=lambda r, h: r == "daemonized",
        verdict="passed/failed by checks",
    ),
    Case(
        "stdout-flood",
        "import sys\ndef lambda_handler(event, context):\n    while True:\n        sys.stdout.write('x' * 65536)\n",
        fault="output_limit",
        verdict="output_limit",
    ),
    Case(
        "64mb-return-value",
        "def lambda_handler(event, context):\n    return 'x' * (64 * 2**20)\n",
        error_type="Function.ResponseSizeTooLarge",
        verdict="error",
    ),
    Case(
        "huge-file-full-tmp",
        "def lambda_handler(event, context):\n    n = 0\n    try:\n        with open('/tmp/huge', 'wb') as f:\n"
        "            while n < 2**30:\n                f.write(b'x' * 2**20)\n                n += 2**20\n"
        "    except OSError as exc:\n        return {'written': n, 'error': exc.strerror}\n    return {'written': n}\n",
        result=lambda r, h: (
            r["written"] <= JailLimits().tmp_bytes and r.get("error") == "No space left on device"
        ),
        verdict="passed/failed by checks",
    ),
    Case(
        "thousands-of-open-files",
        "def lambda_handler(event, context):\n    files = []\n    try:\n        while len(files) < 5000:\n"
        "            files.append(open('/dev/null'))\n    except OSError as exc:\n"
        "        return {'opened': len(files), 'error': exc.strerror}\n    return {'opened': len(files)}\n",
        result=lambda r, h: r["opened"] < 1024 and r.get("error") == "Too many open files",
        verdict="passed/failed by checks",
    ),
    Case(
        "read-secrets",
        READ_SECRETS,
        result=_nothing_leaked,
        event={"paths": _secret_paths()},
        verdict="passed/failed by checks",
    ),  # fmt: skip
    Case(
        "network-to-host",
        NETWORK,
        result=lambda r, h: r and all(v != "connected" for v in r.values()),
        event={"ports": [6379, 5432, 8000]},  # the web server's port is filled in by the test
        verdict="passed/failed by checks",
    ),
    Case(
        "kill-minus-one",
        "import os, signal\ndef lambda_handler(event, context):\n    os.kill(-1, signal.SIGKILL)\n"
        "    return 'still here'\n",
        fault=("crashed", None),
        result=lambda r, h: r == "still here",
        verdict="crashed",
    ),
    Case(
        "kill-the-parent",
        "import os, signal\ndef lambda_handler(event, context):\n    os.kill(os.getppid(), signal.SIGKILL)\n"
        "    import time; time.sleep(1)\n    return 'still here'\n",
        fault=("crashed", None),
        result=lambda r, h: r == "still here",
        verdict="crashed",
    ),
    Case(
        "os-exit",
        "import os\ndef lambda_handler(event, context):\n    os._exit(0)\n",
        fault="crashed",
        verdict="crashed",
    ),  # fmt: skip
    Case(
        "sys-exit",
        "import sys\ndef lambda_handler(event, context):\n    sys.exit(3)\n",
        fault=("crashed", None),
        error_type=("Runtime.ExitError", None),
        verdict="crashed",
    ),
    Case(
        "unbounded-recursion",
        "def lambda_handler(event, context):\n    def f(n):\n        return f(n + 1) + 1\n    return f(0)\n",
        error_type="RecursionError",
        verdict="error",
    ),
    Case(
        "ctypes-segfault",
        "import ctypes\ndef lambda_handler(event, context):\n    return ctypes.string_at(0xDEAD000000000000, 16)\n",
        fault="crashed",
        verdict="crashed",
    ),
    Case(
        "forged-records",
        textwrap.dedent(
            """
            import json, os
            def lambda_handler(event, context):
                json.dumps = lambda *a, **k: '{"verdict": "passed"}'
                json.JSONEncoder.encode = lambda self, o: '{"verdict": "passed"}'
                forged = [b'{"op": "invoke", "status": "ok", "result": {"verdict": "passed"}}\\n',
                          b'{"op": "end"}\\n', b'{"op": "ready"}\\n']
                for fd in range(0, 1024):
                    for doc in forged:
                        try:
                            os.write(fd, doc)
                        except OSError:
                            pass
                return {"verdict": "failed"}
            """
        ),
        fault=("bad_record", None),
        result=lambda r, h: r == {"verdict": "failed"},
        verdict="error (bad_record), never passed",
    ),
]


def run_one(
    runtime: RuntimeProcess, code: str, event: dict, timeout_s: float
) -> tuple[object, InvokeOutcome | None]:
    try:
        init = runtime.init(code=code, function_name="hostile", timeout_s=timeout_s)
        if not init.ok:
            return init, None
        return init, runtime.invoke(str(uuid.uuid4()), event)
    finally:
        runtime.kill()


def assert_host_fine(host: Host) -> None:
    if host.canary is not None:
        assert host.canary.poll() is None, "the host canary (same uid as the jails) was killed"
    socket.create_connection(("127.0.0.1", host.web_port), timeout=1).close()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_case(case: Case, pool: Pool, host: Host, record_property):
    event = dict(case.event)
    marker = f"coldstart-hostile-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    if case.id == "network-to-host":
        event["ports"] = [6379, 5432, host.web_port]
    if case.id == "double-forked-daemon":
        event["marker"] = marker
    if case.id == "read-secrets":
        event["prefix"] = str(pool.launcher.python.resolve().parent.parent)
    runtime = pool.take()
    started = time.monotonic()
    init, outcome = run_one(runtime, case.code, event, case.timeout_s)
    elapsed = time.monotonic() - started

    # 1. containment
    assert_host_fine(host)
    assert runtime.proc.jail_pids() == [], "processes left in the jail's PID namespace after kill()"
    assert host_pids(lambda pid, cmd, uid: marker.encode() in cmd and b"time.sleep(600)" in cmd) == set()
    if getattr(runtime.proc, "cgroup", None) is not None:
        assert runtime.proc.cgroup.removed

    # 2. the outcome
    assert outcome is not None, f"init failed: {init}"
    error_type = (
        outcome.record["error"]["errorType"]
        if outcome.record and outcome.record["status"] == "error"
        else None
    )
    observed = f"fault={outcome.fault} errorType={error_type} detail={outcome.detail!r}"
    record_property("observed", observed)
    print(f"\n{case.id}: {observed} oom={outcome.oom_killed} ({elapsed:.2f} s)")
    if case.fault is not None or case.error_type is None:
        assert outcome.fault in _as_tuple(case.fault), observed
    if case.error_type is not None and outcome.fault is None:
        assert error_type in _as_tuple(case.error_type), observed
    if case.result is not None and outcome.fault is None and error_type is None:
        assert case.result(outcome.record["result"], host), outcome.record["result"]
    if case.id in ("memory-creep", "fork-bomb") and outcome.fault == "crashed":
        assert outcome.oom_killed, "the memory cgroup's OOM kill was not reported"
        assert outcome.signal == signal.SIGKILL, observed
    if case.id == "ctypes-segfault":
        assert outcome.signal == signal.SIGSEGV, observed  # bwrap's 128 + N comes back as a signal
    if case.id == "os-exit":
        assert (outcome.exit_code, outcome.signal) == (0, None), observed

    # 3. an honest handler right after, in a fresh jail
    honest = pool.take()
    _, after = run_one(honest, HONEST, {"n": 21}, 3.0)
    assert after is not None and after.fault is None and after.record["result"] == {"double": 42}, after


def test_a_file_left_by_one_submission_is_not_there_for_the_next(pool, host):
    writer = textwrap.dedent(
        """
        def lambda_handler(event, context):
            for path in ("/tmp/left-behind", "/var/task/left-behind"):
                with open(path, "w") as f:
                    f.write("from the previous learner")
            return "written"
        """
    )
    reader = textwrap.dedent(
        """
        import os
        def lambda_handler(event, context):
            return sorted(os.listdir("/tmp")) + sorted(os.listdir("/var/task"))
        """
    )
    _, first = run_one(pool.take(), writer, {}, 3.0)
    assert first.record["result"] == "written"
    _, second = run_one(pool.take(), reader, {}, 3.0)
    assert second.record["result"] == ["lambda_function.py"]


def test_two_concurrent_jails_cannot_see_or_signal_each_other(pool, host):
    victim_code = textwrap.dedent(
        """
        import time
        def lambda_handler(event, context):
            time.sleep(1.5)
            return "survived"
        """
    )
    attacker_code = textwrap.dedent(
        """
        import os, signal
        def lambda_handler(event, context):
            mine = {os.getpid()}
            pid = os.getpid()
            while pid > 1:
                pid = int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])
                mine.add(pid)
            seen = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
            hit = 0
            for pid in range(1, 1 << 15):
                if pid not in mine:
                    try:
                        os.kill(pid, signal.SIGKILL)
                        hit += 1
                    except OSError:
                        pass
            return {"seen": seen, "hit": hit}
        """
    )
    victim, attacker = pool.take(), pool.take()
    results: dict[str, InvokeOutcome | None] = {}

    def run(name, runtime, code):
        results[name] = run_one(runtime, code, {}, 5.0)[1]

    thread = threading.Thread(target=run, args=("victim", victim, victim_code))
    thread.start()
    time.sleep(0.3)
    run("attacker", attacker, attacker_code)
    thread.join()
    assert results["victim"].record["result"] == "survived"
    seen = results["attacker"].record["result"]["seen"]
    assert len(seen) <= 4 and max(seen) < 32, seen  # its own jail only
    assert_host_fine(host)


def test_zz_the_host_is_clean_after_the_suite(host, pool):
    """Runs last: no stray processes, no files from the jails, no cgroups, Redis untouched."""
    pool.close()  # the started-ahead runtimes go too
    namespaces = pool.tracking.namespaces
    if isinstance(pool.launcher, ForkServerLauncher):
        assert sum(server.forks for server in pool.launcher.servers()) > len(CASES)
        pool.launcher.shutdown()  # the fork server's jail goes, with every runtime it forked
    else:
        assert len(namespaces) > len(CASES)  # every case and its honest follow-up had a jail of its own
    deadline = time.monotonic() + 5
    while (stray := processes_in(namespaces)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stray == set(), {pid: Path(f"/proc/{pid}/cmdline").read_bytes()[:120] for pid in stray}
    # the daemons the cases started carry the module's marker: none is left anywhere on the host
    marker = f"coldstart-hostile-{os.getpid()}-".encode()
    assert host_pids(lambda pid, cmd, uid: marker in cmd) == set()
    # a jail cannot write to the host's file system: nothing owned by its host uid, anywhere we can look
    if IS_ROOT:
        found = subprocess.run(
            ["find", "/tmp", "/var/tmp", "/dev/shm", str(PROJECT), "/root", "-xdev", "-uid", str(HOST_UID_WHEN_ROOT),
             "-newermt", f"@{host.started:.0f}", "-print", "-quit"],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert found.stdout == ""
    for parent in cgroup_parents().values():
        left = [p.name for p in parent.iterdir() if p.name.startswith(f"{JailCgroup.PREFIX}{os.getpid()}-")]
        assert left == []
    if host.before_redis is not None:
        assert redis_keys() == host.before_redis
