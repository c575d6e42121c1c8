"""The fork server: runtimes forked from a warm server, each in fresh namespaces of its own.

The hostile suite runs every case against forked runtimes too (``test_hostile.py``,
the ``forked`` parameter). These tests cover what is particular to the fork server:
what a forked runtime is, how the server keeps going when a runtime misbehaves, and
how it is restarted and shut down.
"""

import json
import os
import signal
import socket
import textwrap
import threading
import time
import uuid
from pathlib import Path

import pytest

from sandbox.jail.bwrap import BwrapLauncher, find_bwrap
from sandbox.jail.forkserver import ForkServerError, ForkServerLauncher
from sandbox.jail.pool import PoolKey, WarmPool, _process_tree
from sandbox.jail.process import RuntimeProcess

pytestmark = pytest.mark.skipif(
    find_bwrap() is None, reason="bubblewrap is not installed (apt-get install bubblewrap)"
)

INSPECT = textwrap.dedent(
    """
    import os, socket, subprocess, threading
    def lambda_handler(event, context):
        status = dict(line.split(":", 1) for line in open("/proc/self/status"))
        try:
            os.unshare(os.CLONE_NEWUSER)
            userns = "created"
        except OSError as exc:
            userns = exc.strerror
        try:
            socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
            network = "connected"
        except OSError as exc:
            network = exc.strerror
        thread = threading.Thread(target=lambda: None)
        thread.start()
        thread.join()
        with open("/tmp/mine", "w") as f:
            f.write("x")
        return {
            "uid": os.getuid(), "gid": os.getgid(), "pid": os.getpid(),
            "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
            "caps": [status[k].strip() for k in ("CapEff", "CapPrm", "CapBnd", "CapAmb")],
            "no_new_privs": status["NoNewPrivs"].strip(), "seccomp": status["Seccomp"].strip(),
            "tmp": sorted(os.listdir("/tmp")), "task": sorted(os.listdir("/var/task")),
            "hostname": socket.gethostname(), "userns": userns, "network": network,
            "echo": subprocess.run(["/bin/echo", "hi"], capture_output=True, text=True).stdout,
            "session_leader": os.getsid(0) == os.getpid(),
        }
    """
)


@pytest.fixture(scope="module")
def launcher():
    launcher = ForkServerLauncher(BwrapLauncher())
    yield launcher
    launcher.shutdown()


def run(launcher, code: str, event=None, timeout_s: float = 3.0):
    runtime = RuntimeProcess.start(launcher, memory_mb=128, timeout_s=timeout_s)
    try:
        init = runtime.init(code=code, function_name="forked", timeout_s=timeout_s)
        assert init.ok, init
        return runtime.invoke(str(uuid.uuid4()), event or {})
    finally:
        runtime.kill()


def test_a_forked_runtime_is_as_confined_as_a_fresh_jail(launcher):
    first = run(launcher, INSPECT)
    second = run(launcher, INSPECT)
    for outcome in (first, second):
        assert outcome.fault is None, outcome.describe()
        result = outcome.record["result"]
        assert (result["uid"], result["gid"]) == (993, 990)
        assert result["pid"] == 2 and result["pids"] == [1, 2]  # its own PID namespace, under its own init
        assert result["caps"] == ["0000000000000000"] * 4
        assert result["no_new_privs"] == "1" and result["seccomp"] == "2"
        assert result["userns"] == "Operation not permitted"
        assert result["network"] != "connected"
        assert result["hostname"] == "sandbox"
        assert result["echo"] == "hi\n"  # processes and threads still work (clone3 falls back to clone)
        assert result["session_leader"]
        # each runtime has its own /tmp and task root: nothing from the one before
        assert result["tmp"] == ["mine"] and result["task"] == ["lambda_function.py"]
    server = launcher.servers()[0]
    assert server.forks >= 2


def test_the_init_duration_is_the_learners_module_only(launcher):
    outcome = run(launcher, "import json\ndef lambda_handler(event, context):\n    return 1\n")
    assert (
        outcome.cold and outcome.record["init_duration_ms"] < 50
    )  # boto3 and moto were imported by the server
    assert "Init Duration" in outcome.logs


@pytest.mark.parametrize(
    "code",
    [
        "import os, signal\ndef lambda_handler(event, context):\n    os.kill(0, signal.SIGKILL)\n",
        "import os, signal\ndef lambda_handler(event, context):\n    try:\n        os.kill(-1, signal.SIGKILL)\n"
        "    except OSError:\n        pass  # nobody to kill\n    os._exit(1)\n",
        "import os\ndef lambda_handler(event, context):\n    os.kill(os.getppid() or 1, 9)\n    os._exit(2)\n",
    ],
    ids=["kill-own-group", "kill-everything", "kill-the-parent"],
)
def test_a_runtime_cannot_reach_its_server(launcher, code):
    before = launcher.servers()[0] if launcher.servers() else None
    outcome = run(launcher, code)
    assert outcome.fault == "crashed", outcome.describe()
    after = launcher.servers()[0]
    assert after is before or before is None
    assert after.alive, "the fork server died with the runtime"
    assert run(launcher, "def lambda_handler(event, context):\n    return 42\n").record["result"] == 42


def test_the_exit_status_reaches_the_worker(launcher):
    exited = run(launcher, "import os\ndef lambda_handler(event, context):\n    os._exit(7)\n")
    assert (exited.fault, exited.exit_code, exited.signal) == ("crashed", 7, None)
    segv = run(
        launcher, "import os, signal\ndef lambda_handler(event, context):\n    os.kill(os.getpid(), 11)\n"
    )
    assert (segv.fault, segv.signal) == ("crashed", signal.SIGSEGV)


def test_a_bad_request_gets_an_error_and_the_server_goes_on(launcher):
    run(launcher, "def lambda_handler(event, context):\n    return 1\n")  # a server exists
    server = launcher.servers()[0]
    with server._lock:
        socket.send_fds(server._sock, [json.dumps({"op": "explode"}).encode()], [])
        reply = server._receive(10)
    assert reply["op"] == "error" and "explode" in reply["error"]
    assert run(launcher, "def lambda_handler(event, context):\n    return 2\n").record["result"] == 2


def test_a_dead_server_is_replaced_on_the_next_spawn():
    launcher = ForkServerLauncher(BwrapLauncher())
    try:
        assert run(launcher, "def lambda_handler(event, context):\n    return 1\n").record["result"] == 1
        server = launcher.servers()[0]
        server.proc.kill()  # the server's jail dies (an OOM kill, a crash)
        server.proc.wait()
        assert run(launcher, "def lambda_handler(event, context):\n    return 2\n").record["result"] == 2
        assert launcher.servers()[0] is not server
    finally:
        launcher.shutdown()


def test_shutdown_takes_the_server_and_every_runtime_down():
    launcher = ForkServerLauncher(BwrapLauncher())
    pool = WarmPool(launcher, size=2)
    key = PoolKey.of(128, 3)
    pool.prewarm([key])
    assert pool.wait_until_full(key, timeout=60), pool.describe()
    server = launcher.servers()[0]
    jail_pids = _process_tree(server.proc.pid)
    assert len(jail_pids) >= 6  # bwrap and its init, the server, and two (init, runtime) pairs
    pool.shutdown()  # the pool shuts its launcher's servers down too
    assert not server.alive
    deadline = time.monotonic() + 5
    while (alive := [p for p in jail_pids if os.path.exists(f"/proc/{p}")]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert alive == []
    with pytest.raises(ForkServerError):
        launcher.spawn(channel_fd=-1, memory_mb=128, timeout_s=3)


class NoForkServerHere(BwrapLauncher):
    """A jail where the fork server's own jail cannot be built (CAP_SYS_ADMIN refused, say)."""

    def popen(self, *args, fork_server: bool = False, **kwargs):
        if fork_server:
            raise OSError("bwrap: Unexpected capabilities but not setuid, old file caps config?")
        return super().popen(*args, **kwargs)


def test_a_worker_whose_fork_server_fails_starts_fresh_runtimes_instead(settings, caplog):
    from sandbox import fleet

    settings.SANDBOX_FORK_SERVER = True
    fleet._pool_size = 1  # as in a worker process
    try:
        works = fleet._pool_launcher(BwrapLauncher())
        assert isinstance(works, ForkServerLauncher)
        works.shutdown()
        broken = NoForkServerHere()
        assert fleet._pool_launcher(broken) is broken
        assert "the fork server does not work here" in caplog.text
    finally:
        fleet._pool_size = 0


def test_the_server_has_no_cpu_budget_to_run_out_of(launcher):
    """It lives as long as its worker; every runtime gets the function's CPU limit instead."""
    run(launcher, "def lambda_handler(event, context):\n    return 1\n")
    server = launcher.servers()[0]
    pids = [p for p in _process_tree(server.proc.pid) if _comm(p) == "coldstart-fork"]
    assert len(pids) == 1
    lines = Path(f"/proc/{pids[0]}/limits").read_text().splitlines()
    limits = {line[:26].strip(): line[26:].split()[0] for line in lines[1:]}
    assert limits["Max cpu time"] == "unlimited"
    assert limits["Max address space"] != "unlimited"  # still bounded: memory_mb + headroom


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def test_a_server_started_from_a_thread_that_ends_keeps_serving():
    """bwrap dies with the *thread* that started it: a worker's warm-up thread ends at once."""
    launcher = ForkServerLauncher(BwrapLauncher())
    try:
        thread = threading.Thread(
            target=run, args=(launcher, "def lambda_handler(event, context):\n    return 1\n")
        )
        thread.start()
        thread.join()
        server = launcher.servers()[0]
        time.sleep(0.2)  # a parent-death signal would have arrived by now
        assert server.alive
        assert run(launcher, "def lambda_handler(event, context):\n    return 2\n").record["result"] == 2
        assert launcher.servers() == [server]
    finally:
        launcher.shutdown()


LIMITS = (
    "import resource\ndef lambda_handler(event, context):\n"
    "    return [resource.getrlimit(r)[1] for r in (resource.RLIMIT_CPU, resource.RLIMIT_AS)]\n"
)
MIB = 2**20


def test_one_server_forks_every_memory_size_and_timeout_with_its_own_limits():
    """The SQS (128 MB, 5 s) and thumbnail (256 MB, 10 s) exercises fork from the server the 3-s
    exercises warmed: none waits ~1 s for a server of its own. Each runtime still gets its own
    function's limits (RuntimeLimits.for_function: CPU 120 s + 30 s per second of timeout plus
    5, address space memory + 512 MB; and a memory cgroup of its own)."""
    launcher = ForkServerLauncher(BwrapLauncher())
    try:
        seen = {}
        for memory_mb, timeout_s in [(128, 3), (128, 5), (256, 10)]:
            runtime = RuntimeProcess.start(launcher, memory_mb=memory_mb, timeout_s=timeout_s)
            try:
                assert runtime.init(code=LIMITS, function_name="limits", timeout_s=timeout_s).ok
                seen[memory_mb, timeout_s] = runtime.invoke(str(uuid.uuid4()), {}).record["result"]
                if runtime.proc.cgroup is not None:
                    limit = int((runtime.proc.cgroup.dirs["memory"] / "memory.limit_in_bytes").read_text())
                    assert limit == BwrapLauncher().jail_limits.memory_limit_bytes(memory_mb)
            finally:
                runtime.kill()
        assert seen == {
            (128, 3): [215, (128 + 512) * MIB],
            (128, 5): [275, (128 + 512) * MIB],
            (256, 10): [425, (256 + 512) * MIB],
        }
        (server,) = launcher.servers()
        assert server.forks == 3 and server.memory_mb == 1024
    finally:
        launcher.shutdown()
