"""Each confinement claim of the bubblewrap jail (docs/security.md), as a test.

Commands run in a fresh jail through ``BwrapLauncher.run``; the probes are small
Python programs run by the jail's interpreter. The runtime itself is exercised
once here (and against hostile code in test_hostile.py).
"""

import contextlib
import http.server
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from sandbox.jail import selftest
from sandbox.jail.bwrap import JAIL_ENV, TASK_ROOT, BwrapLauncher, cgroup_parents, find_bwrap, seccomp_program
from sandbox.jail.launcher import RUNTIME_DIR, HostPaths, RuntimeLimits
from sandbox.jail.limits import HOST_UID_WHEN_ROOT, JAIL_UID, JailLimits
from sandbox.jail.process import RuntimeProcess
from sandbox.jail.selftest import JailUnavailable, choose_launcher, run_self_test
from sandbox.jail.unisolated import UnisolatedLauncher

PROJECT = Path(__file__).resolve().parents[2]
IS_ROOT = os.geteuid() == 0

pytestmark = pytest.mark.skipif(
    find_bwrap() is None, reason="bubblewrap is not installed (apt-get install bubblewrap)"
)


@pytest.fixture(scope="module")
def jail() -> BwrapLauncher:
    return BwrapLauncher()


def in_jail(
    launcher: BwrapLauncher, code: str, *args: str, check: bool = True, **kwargs
) -> subprocess.CompletedProcess:
    result = launcher.run(launcher.python_argv(textwrap.dedent(code)) + list(args), timeout=30, **kwargs)
    if check:
        assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result


def jail_json(launcher: BwrapLauncher, code: str, *args: str, **kwargs):
    return json.loads(in_jail(launcher, code, *args, **kwargs).stdout)


def find_free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def host_marker_pids(marker: str) -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError), open(f"/proc/{entry.name}/cmdline", "rb") as f:
                if marker.encode() in f.read():
                    with open(f"/proc/{entry.name}/stat", "rb") as st:
                        if st.read().rsplit(b")", 1)[1].split()[0] != b"Z":
                            found.append(int(entry.name))
    return found


def wait_gone(marker: str, seconds: float = 3.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while (pids := host_marker_pids(marker)) and time.monotonic() < deadline:
        time.sleep(0.02)
    return pids


# -- the self-test and the launcher choice -----------------------------------------


def test_self_test_passes_fast(jail):
    report = run_self_test(jail)
    assert report.ok, report.summary()
    assert {c.name for c in report.checks} == set(selftest.CHECKS)
    assert report.isolation.startswith("namespaces (bubblewrap ")
    assert report.duration_ms < 2000, report.summary()


def test_self_test_passes_without_cgroups():
    report = run_self_test(BwrapLauncher(use_cgroups=False))
    assert report.ok, report.summary()
    assert "rlimits only" in report.isolation


def test_choose_launcher_picks_bwrap():
    launcher, report = choose_launcher(allow_unisolated=False)
    assert isinstance(launcher, BwrapLauncher) and launcher.isolated
    assert report.ok


def test_choose_launcher_refuses_without_bubblewrap(monkeypatch):
    monkeypatch.setattr("sandbox.jail.bwrap.find_bwrap", lambda: None)
    monkeypatch.setattr("sandbox.jail.selftest.find_bwrap", lambda: None)
    with pytest.raises(JailUnavailable) as excinfo:
        choose_launcher(allow_unisolated=False, bwrap=BwrapLauncher())
    message = str(excinfo.value)
    assert "bubblewrap (bwrap) is not installed" in message
    assert "apt-get install bubblewrap" in message
    assert "seccomp=unconfined" in message and "SANDBOX_ALLOW_UNISOLATED=1" in message


def test_choose_launcher_falls_back_only_when_allowed(monkeypatch, caplog):
    monkeypatch.setattr("sandbox.jail.bwrap.find_bwrap", lambda: None)
    monkeypatch.setattr("sandbox.jail.selftest.find_bwrap", lambda: None)
    launcher, report = choose_launcher(allow_unisolated=True, bwrap=BwrapLauncher())
    assert isinstance(launcher, UnisolatedLauncher) and not launcher.isolated
    assert report.isolation == "none" and not report.ok
    assert "not installed" in report.error
    assert any("WITHOUT ISOLATION" in r.message for r in caplog.records)


def test_choose_launcher_refuses_a_broken_jail(monkeypatch):
    """A jail that cannot start (here: an interpreter that is not there) is refused, with bwrap's words."""
    broken = HostPaths(python=Path("/nonexistent/bin/python3"), runtime_dir=RUNTIME_DIR, site_packages=())
    with pytest.raises(JailUnavailable) as excinfo:
        choose_launcher(allow_unisolated=False, bwrap=BwrapLauncher(paths=broken))
    assert "could not build a jail" in str(excinfo.value)


def test_unisolated_self_test_says_none():
    report = run_self_test(UnisolatedLauncher())
    assert report.isolation == "none" and not report.ok


# -- network -----------------------------------------------------------------------------


@pytest.fixture
def web_server():
    """A tiny HTTP server on the host's loopback, like a dev server the jail must not reach."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


CONNECT = """
import json, socket, sys
results = {}
for port in map(int, sys.argv[1:]):
    for host in ("127.0.0.1", "localhost", "::1"):
        try:
            socket.create_connection((host, port), timeout=1).close()
            results[f"{host}:{port}"] = "connected"
        except OSError as exc:
            results[f"{host}:{port}"] = type(exc).__name__
print(json.dumps(results))
"""


def test_network_to_host_services_fails(jail, web_server):
    ports = [6379, 5432, web_server]
    # the web server is really there for the host
    socket.create_connection(("127.0.0.1", web_server), timeout=1).close()
    results = jail_json(jail, CONNECT, *map(str, ports))
    assert results and all(v != "connected" for v in results.values()), results


def test_only_a_private_loopback(jail):
    info = jail_json(
        jail,
        """
        import json, socket
        names = [l.split(":")[0].strip() for l in open("/proc/net/dev").readlines()[2:]]
        try:
            socket.getaddrinfo("pypi.org", 443)
            dns = "resolved"
        except OSError as exc:
            dns = type(exc).__name__
        print(json.dumps({"interfaces": names, "dns": dns, "hostname": socket.gethostname()}))
        """,
    )
    assert info["interfaces"] == ["lo"]
    assert info["dns"] != "resolved"
    assert info["hostname"] == "sandbox"


# -- file system ------------------------------------------------------------------------


WRITE = """
import errno, json, os, sys
out = {}
for path in sys.argv[1:]:
    try:
        fd = os.open(os.path.join(path, "coldstart-write-probe"), os.O_CREAT | os.O_WRONLY, 0o644)
        os.close(fd)
        out[path] = "written"
    except OSError as exc:
        out[path] = errno.errorcode[exc.errno]
print(json.dumps(out))
"""


def test_system_is_read_only(jail):
    prefix = jail.python.resolve().parent.parent
    paths = ["/", "/usr", "/usr/lib", "/usr/bin", "/etc", "/var", "/var/runtime/coldstart",
             "/var/runtime/packages", "/var/runtime/packages/boto3", str(prefix), str(prefix / "lib"),
             "/dev", "/dev/shm", "/root", "/home", "/proc/sys/kernel"]  # fmt: skip
    results = jail_json(jail, WRITE, *paths)
    assert all(v in ("EROFS", "EACCES", "ENOENT", "EPERM") for v in results.values()), results


def test_tmp_and_task_root_are_writable(jail):
    results = jail_json(jail, WRITE, "/tmp", TASK_ROOT)
    assert results == {"/tmp": "written", TASK_ROOT: "written"}


@pytest.mark.parametrize(
    ("path", "cap"), [("/tmp", JailLimits().tmp_bytes), (TASK_ROOT, JailLimits().task_bytes)]
)
def test_temp_areas_are_capped(jail, path, cap):
    out = jail_json(
        jail,
        """
        import json, os, sys
        path, written = sys.argv[1], 0
        chunk = b"x" * (1 << 20)
        try:
            with open(os.path.join(path, "fill"), "wb") as f:
                for _ in range(200):
                    f.write(chunk)
                    f.flush()
                    written += len(chunk)
            error = None
        except OSError as exc:
            error = exc.strerror
        st = os.statvfs(path)
        print(json.dumps({"written": written, "error": error, "size": st.f_blocks * st.f_frsize}))
        """,
        path,
    )
    assert out["error"] == "No space left on device"
    assert out["written"] <= cap and out["size"] == cap


def test_project_tree_and_host_secrets_are_invisible(jail):
    paths = [
        str(PROJECT),
        str(PROJECT / "config" / "settings.py"),
        str(PROJECT / "var" / "db.sqlite3"),
        str(PROJECT / "course" / "content"),
        str(PROJECT / ".venv"),
        os.getcwd(),
        "/etc/shadow",
        "/etc/gshadow",
        "/etc/ssh",
        "/root/.bashrc",
        "/root/.ssh",
        "/root/.pyenv/shims",
        "/work",
        "/home/" + os.environ.get("USER", "root"),
        "/var/lib/postgresql",
        "/var/run/postgresql",
        "/run",
        "/sys",
        "/opt",
        "/mnt",
    ]
    out = jail_json(
        jail,
        """
        import json, os, sys
        print(json.dumps({
            "visible": [p for p in sys.argv[1:] if os.path.lexists(p)],
            "root": sorted(os.listdir("/")),
            "slash_root": sorted(os.listdir("/root")),
            "etc": sorted(os.listdir("/etc")),
            "home": sorted(os.listdir("/home")),
            "var": sorted(os.listdir("/var")),
        }))
        """,
        *paths,
    )
    assert out["visible"] == []
    assert out["etc"] == ["group", "hosts", "nsswitch.conf", "passwd"]
    assert out["home"] == []
    assert out["var"] == ["runtime", "task"]
    assert set(out["root"]) <= {"bin", "dev", "etc", "home", "lib", "lib32", "lib64", "libx32", "proc", "root",
                                "sbin", "tmp", "usr", "var"}  # fmt: skip
    prefix = jail.python.resolve().parent.parent
    if str(prefix).startswith("/root/"):  # only the interpreter's own directory, nothing else of /root
        assert out["slash_root"] == [prefix.relative_to("/root").parts[0]]
    else:
        assert out["slash_root"] == []


def test_etc_is_synthetic(jail):
    out = jail_json(
        jail,
        """
        import json, os, pwd, grp
        print(json.dumps({"user": pwd.getpwuid(os.getuid()).pw_name, "group": grp.getgrgid(os.getgid()).gr_name,
                          "uid": os.getuid(), "passwd": open("/etc/passwd").read()}))
        """,
    )
    assert out["uid"] == JAIL_UID and out["user"] == out["group"] == "sbx_user1051"
    assert "root:x:0:0" in out["passwd"] and len(out["passwd"].splitlines()) == 3


# -- processes, identity, privileges -----------------------------------------------------


def test_proc_shows_only_the_jail(jail):
    out = jail_json(
        jail,
        """
        import json, os
        pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
        cmds = {p: open(f"/proc/{p}/cmdline", "rb").read().replace(b"\\0", b" ").decode()[:200] for p in pids}
        print(json.dumps({"pids": pids, "me": os.getpid(), "cmds": cmds}))
        """,
    )
    assert len(out["pids"]) <= 4 and max(out["pids"]) < 32, out
    assert os.getpid() not in out["pids"] or os.getpid() < 32
    # bwrap's options came through a memfd: no host path of the project in any command line
    assert not any(str(PROJECT) in cmd for cmd in out["cmds"].values()), out["cmds"]


def test_environment_is_scrubbed(jail, monkeypatch):
    monkeypatch.setenv("COLDSTART_TEST_SECRET", "hunter2-canary")
    monkeypatch.setenv("DJANGO_SECRET_KEY", "hunter2-canary")
    out = jail_json(
        jail,
        """
        import json, os
        environs = {}
        for p in os.listdir("/proc"):
            if p.isdigit():
                try:
                    environs[p] = open(f"/proc/{p}/environ", "rb").read().decode(errors="replace")
                except OSError as exc:
                    environs[p] = type(exc).__name__
        print(json.dumps({"env": dict(os.environ), "environs": environs}))
        """,
    )
    assert set(out["env"]) - {"PWD", "LC_CTYPE"} == set(JAIL_ENV), out["env"]
    assert not any("hunter2" in text for text in out["environs"].values())


def test_no_capabilities_and_no_new_privs(jail):
    out = jail_json(
        jail,
        """
        import json
        status = dict(l.rstrip("\\n").split(":\\t", 1) for l in open("/proc/self/status") if ":\\t" in l)
        print(json.dumps({k: status[k].strip() for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb",
                                                        "NoNewPrivs")}))
        """,
    )
    assert out.pop("NoNewPrivs") == "1"
    assert all(int(v, 16) == 0 for v in out.values()), out


@pytest.mark.parametrize("seccomp", [True, False], ids=["seccomp", "namespaces-alone"])
def test_user_namespaces_and_mounts_are_refused(seccomp):
    """Refused by the seccomp filter, and without it by --disable-userns and the lack of capabilities."""
    out = jail_json(
        BwrapLauncher(seccomp=seccomp),
        """
        import ctypes, errno, json
        libc = ctypes.CDLL(None, use_errno=True)
        res = {}
        for name, flag in (("user", 0x10000000), ("mount", 0x00020000), ("net", 0x40000000)):
            res[name] = errno.errorcode.get(ctypes.get_errno(), "?") if libc.unshare(flag) else "allowed"
        ok = libc.mount(b"none", b"/tmp", b"tmpfs", 0, None)
        res["mount_tmpfs"] = errno.errorcode.get(ctypes.get_errno(), "?") if ok else "allowed"
        print(json.dumps(res))
        """,
    )
    assert "allowed" not in out.values(), out


@pytest.mark.skipif(
    platform.machine() != "x86_64" or seccomp_program() is None, reason="the numbers below are x86_64's"
)
def test_seccomp_filter_refuses_dangerous_syscalls(jail):
    out = jail_json(
        jail,
        """
        import ctypes, errno, json, os, threading
        libc = ctypes.CDLL(None, use_errno=True)
        status = dict(l.split(":\t", 1) for l in open("/proc/self/status") if ":\t" in l)
        out = {"mode": status["Seccomp"].strip()}
        for name, nr in (("ptrace", 101), ("io_uring_setup", 425), ("userfaultfd", 323), ("bpf", 321),
                         ("keyctl", 250), ("perf_event_open", 298), ("unshare", 272), ("x32_getpid", 0x40000027)):
            res = libc.syscall(nr, 0, 0, 0, 0, 0)
            out[name] = res if res >= 0 else errno.errorcode[ctypes.get_errno()]
        t = threading.Thread(target=lambda: None)
        t.start()
        t.join()
        out["thread"] = "ok"
        pid = os.fork()
        if pid == 0:
            os._exit(7)
        out["fork"] = os.waitpid(pid, 0)[1] >> 8
        print(json.dumps(out))
        """,
    )
    assert out.pop("mode") == "2"
    assert out.pop("thread") == "ok" and out.pop("fork") == 7
    assert set(out.values()) == {"EPERM"}, out


def test_rlimits_are_applied_and_cannot_be_raised(jail):
    limits = RuntimeLimits.for_function(256, 5.0)
    out = jail_json(
        jail,
        """
        import json, resource
        names = ["RLIMIT_AS", "RLIMIT_CPU", "RLIMIT_NOFILE", "RLIMIT_FSIZE", "RLIMIT_CORE", "RLIMIT_NPROC",
                 "RLIMIT_STACK"]
        got = {n: list(resource.getrlimit(getattr(resource, n))) for n in names}
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
            raised = "raised"
        except (ValueError, OSError) as exc:
            raised = type(exc).__name__
        print(json.dumps({"limits": got, "raise": raised}))
        """,
        memory_mb=256,
        timeout_s=5.0,
    )
    lim = JailLimits()
    assert out["limits"] == {
        "RLIMIT_AS": [limits.address_space_bytes] * 2,
        "RLIMIT_CPU": [limits.cpu_seconds, limits.cpu_seconds + 5],
        "RLIMIT_NOFILE": [1024, 1024],
        "RLIMIT_FSIZE": [limits.file_size_bytes] * 2,
        "RLIMIT_CORE": [0, 0],
        "RLIMIT_NPROC": [lim.processes] * 2,
        "RLIMIT_STACK": [lim.stack_bytes] * 2,
    }
    assert out["raise"] != "raised"


@pytest.mark.skipif(not IS_ROOT, reason="the worker is not root: the jail is the worker's own uid")
def test_root_worker_runs_jail_as_unprivileged_host_uid(jail):
    marker = f"coldstart-uid-probe-{os.getpid()}"
    proc = jail.popen(
        jail.python_argv(
            f"import sys, time; sys.stdout.write('up\\n'); sys.stdout.flush(); time.sleep(30) # {marker}"
        )
    )
    try:
        assert proc.stdout.readline() == b"up\n"
        uids = {}
        for pid in proc.jail_pids():
            with open(f"/proc/{pid}/status") as status:
                uids[pid] = next(int(line.split()[1]) for line in status if line.startswith("Uid:"))
        python = str(jail.python).encode()
        python_pids = [pid for pid in uids if Path(f"/proc/{pid}/cmdline").read_bytes().startswith(python)]
        assert python_pids and all(uids[pid] == HOST_UID_WHEN_ROOT for pid in python_pids), uids
        # the only host-root process is bwrap's privileged reaper, the PID namespace's init
        assert {pid for pid, uid in uids.items() if uid == 0} <= {proc.jail_init_pid}
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.skipif(not IS_ROOT, reason="needs root to check the init from inside")
def test_jail_cannot_touch_its_init(jail):
    out = jail_json(
        jail,
        """
        import ctypes, errno, json, os, signal
        libc = ctypes.CDLL(None, use_errno=True)
        res = {}
        try:
            os.kill(1, signal.SIGKILL)
            res["kill"] = "sent"
        except OSError as exc:
            res["kill"] = type(exc).__name__
        res["ptrace"] = "attached" if libc.ptrace(16, 1, 0, 0) == 0 else errno.errorcode[ctypes.get_errno()]
        try:
            open("/proc/1/environ", "rb").read()
            res["environ"] = "read"
        except OSError as exc:
            res["environ"] = type(exc).__name__
        print(json.dumps(res))
        """,
    )
    assert out == {"kill": "PermissionError", "ptrace": "EPERM", "environ": "PermissionError"}


# -- processes and memory bounded per jail -----------------------------------------------


FORK_COUNT = """
import os, sys, time
count = 0
try:
    while count < 5000:
        pid = os.fork()
        if pid == 0:
            time.sleep(30)
            os._exit(0)
        count += 1
except OSError as exc:
    print(count, type(exc).__name__, flush=True)
    os._exit(0)
print(count, "unbounded", flush=True)
"""


@pytest.mark.parametrize("cgroups", [False, True], ids=["rlimit-only", "with-cgroups"])
def test_fork_bomb_is_bounded_per_jail(cgroups):
    if cgroups and not cgroup_parents():
        pytest.skip("no writable cgroup v1 pids+memory here")
    launcher = BwrapLauncher(jail_limits=JailLimits(processes=48), use_cgroups=cgroups)
    result = in_jail(launcher, FORK_COUNT)
    count, error = result.stdout.split()
    assert error == b"BlockingIOError"  # EAGAIN from fork: RLIMIT_NPROC (or pids.max)
    assert 30 <= int(count) <= 48


@pytest.mark.skipif(not cgroup_parents(), reason="no writable cgroup v1 pids+memory here")
def test_memory_cgroup_kills_and_says_so():
    launcher = BwrapLauncher(jail_limits=JailLimits(memory_headroom_mb=48))
    code = "import sys; b = bytearray(220 * 2**20); b[::4096] = b'x' * len(b[::4096]); print('survived')"
    proc = launcher.popen(launcher.python_argv(code), memory_mb=64)
    out, _ = proc.communicate(timeout=30)
    assert b"survived" not in out
    assert proc.returncode == -signal.SIGKILL
    assert proc.oom_killed
    assert proc.cgroup is not None and proc.cgroup.removed


@pytest.mark.skipif(not cgroup_parents(), reason="no writable cgroup v1 pids+memory here")
def test_cgroup_limits_while_running_and_removed_after():
    launcher = BwrapLauncher()
    proc = launcher.popen(
        launcher.python_argv("import sys; print('up', flush=True); sys.stdin.read()"), memory_mb=128
    )
    try:
        assert proc.stdout.readline() == b"up\n"
        cgroup = proc.cgroup
        assert cgroup is not None
        assert (cgroup.dirs["pids"] / "pids.max").read_text().strip() == str(JailLimits().pids_max)
        memory = int((cgroup.dirs["memory"] / "memory.limit_in_bytes").read_text())
        assert memory == JailLimits().memory_limit_bytes(128)
        assert set(proc.jail_pids()) <= cgroup.pids()
        dirs = list(cgroup.dirs.values())
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)
    assert not any(d.exists() for d in dirs)


# -- teardown ---------------------------------------------------------------------------


DAEMON = """
import os, sys, time
marker = sys.argv[1] + "-daemon"  # made here: no other command line holds it
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(300)", marker])
    os._exit(0)
time.sleep(0.2)
print("daemonized", flush=True)
time.sleep(300)
"""


@pytest.mark.parametrize("how", ["killpg", "kill"])
def test_killing_the_jail_kills_a_double_forked_daemon(jail, how):
    marker = f"coldstart-daemon-{os.getpid()}-{how}"
    proc = jail.popen(jail.python_argv(DAEMON) + [marker], stdin=subprocess.DEVNULL)
    try:
        assert proc.stdout.readline() == b"daemonized\n"
        assert len(host_marker_pids(marker + "-daemon")) == 1
    finally:
        if how == "killpg":  # what RuntimeProcess does
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
        proc.wait(timeout=10)
    assert host_marker_pids(marker + "-daemon") == []  # wait() returns once the PID namespace is empty
    assert proc.jail_pids() == []


def test_the_worker_dying_takes_its_jails_down():
    marker = f"coldstart-orphan-{os.getpid()}"
    worker = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(PROJECT)!r})
        from sandbox.jail.bwrap import BwrapLauncher
        launcher = BwrapLauncher()
        proc = launcher.popen([str(launcher.python), "-c", "import time; time.sleep(300)", {marker!r}],
                              stdin=None, stdout=None)
        print("spawned", flush=True)
        time.sleep(300)
        """
    )
    host = subprocess.Popen([sys.executable, "-c", worker], stdout=subprocess.PIPE)
    try:
        assert host.stdout.readline() == b"spawned\n"
        deadline = time.monotonic() + 5
        while not host_marker_pids(marker) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert host_marker_pids(marker)
    finally:
        host.kill()
        host.wait()
    assert wait_gone(marker) == []


def test_exit_status_and_signals_come_through(jail):
    assert in_jail(jail, "import sys; sys.exit(3)", check=False).returncode == 3
    segv = in_jail(jail, "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)", check=False)
    assert segv.returncode == -signal.SIGSEGV


def test_two_jails_cannot_see_each_other(jail):
    marker = f"coldstart-neighbour-{os.getpid()}"
    neighbour = jail.popen(
        jail.python_argv("import time; time.sleep(300)") + [marker], stdin=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 5
        while not host_marker_pids(marker) and time.monotonic() < deadline:
            time.sleep(0.02)
        out = jail_json(
            jail,
            """
            import json, os, signal, sys
            marker = sys.stdin.read().encode()  # not on its own command line
            seen = [p for p in os.listdir("/proc") if p.isdigit()
                    and marker in open(f"/proc/{p}/cmdline", "rb").read()]
            mine = {os.getpid()}  # itself and its ancestors (bwrap's), which it may kill
            pid = os.getpid()
            while pid > 1:
                pid = int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])
                mine.add(pid)
            hit = 0
            for pid in range(1, 4096):
                if pid in mine:
                    continue
                try:
                    os.kill(pid, signal.SIGKILL)
                    hit += 1
                except OSError:
                    pass
            print(json.dumps({"seen": seen, "hit": hit}))
            """,
            input=marker.encode(),
        )
        assert out["seen"] == []
        assert neighbour.poll() is None and host_marker_pids(marker)
    finally:
        neighbour.kill()
        neighbour.wait()


# -- the runtime in the jail ---------------------------------------------------------------


def test_runtime_runs_in_the_jail(jail):
    code = textwrap.dedent(
        """
        import os, boto3
        def lambda_handler(event, context):
            s3 = boto3.client("s3")
            s3.put_object(Bucket="photos", Key="a.txt", Body=b"hi")
            return {"double": event["n"] * 2, "uid": os.getuid(), "cwd": os.getcwd(),
                    "task": sorted(os.listdir(os.environ["LAMBDA_TASK_ROOT"]))}
        """
    )
    with RuntimeProcess.start(jail, memory_mb=128, timeout_s=5) as runtime:
        init = runtime.init(code=code, function_name="jail-smoke")
        assert init.ok, init
        outcome = runtime.invoke("req-1", {"n": 21}, {"s3": [{"bucket": "photos", "objects": []}]})
    assert outcome.fault is None, outcome
    assert outcome.record["result"] == {"double": 42, "uid": JAIL_UID, "cwd": TASK_ROOT,
                                        "task": ["lambda_function.py"]}  # fmt: skip
    assert "a.txt" in outcome.record["aws_state"]["s3"]["photos"]


# -- a developer's laptop: the unprivileged path -------------------------------------------


def _world_traversable(path: Path) -> bool:
    return all(os.stat(p).st_mode & 0o005 == 0o005 for p in [path, *path.parents])


@pytest.mark.skipif(not IS_ROOT, reason="drops to a normal user to test the unprivileged path")
def test_unprivileged_worker_gets_the_same_jail():
    """The laptop path (one unprivileged bwrap with a user namespace), run as a normal user.

    Debian's /usr/bin/python3 stands in for the developer's interpreter (root's pyenv is
    not readable by a normal user).
    """
    system_python = Path("/usr/bin/python3")
    if not system_python.exists() or not _world_traversable(PROJECT):
        pytest.skip("needs /usr/bin/python3 and a project tree a normal user can read")
    script = textwrap.dedent(
        f"""
        import json, sys
        sys.path.insert(0, {str(PROJECT)!r})
        from pathlib import Path
        from sandbox.jail.bwrap import BwrapLauncher
        from sandbox.jail.launcher import HostPaths, RUNTIME_DIR
        from sandbox.jail.selftest import run_self_test
        launcher = BwrapLauncher(paths=HostPaths(python=Path("/usr/bin/python3"), runtime_dir=RUNTIME_DIR,
                                                 site_packages=()))
        report = run_self_test(launcher)
        print(json.dumps({{"ok": report.ok, "isolation": report.isolation, "summary": report.summary(),
                          "privileged": launcher.privileged}}))
        """
    )
    result = subprocess.run(
        [
            "setpriv",
            "--reuid=4242",
            "--regid=4242",
            "--clear-groups",
            "--",
            str(system_python),
            "-I",
            "-B",
            "-c",
            script,
        ],
        capture_output=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"},
        cwd="/",
    )
    assert result.returncode == 0, result.stderr.decode()
    report = json.loads(result.stdout)
    assert report["ok"], report["summary"]
    assert not report["privileged"]
    assert "uid 4242 via user namespace" in report["isolation"]
