"""Start-up check of the jail: what isolation is in force, proved by a probe inside it.

A worker calls ``choose_launcher(allow_unisolated=...)`` once when it starts. It
runs ``run_self_test`` on a ``BwrapLauncher``: one jail, one small Python probe
that tries what a hostile function would try (connect to the host's loopback,
write to the system, look for the project and /etc/shadow, count /proc, read
its own capabilities and rlimits, create a user namespace), while the worker
looks at the jail from the host (the host uid its processes run as, that the
whole jail is gone after ``wait()``). Well under 2 s.

If any check fails the bwrap launcher is refused: the worker falls back to the
unisolated launcher only when explicitly allowed (local development), and says
so loudly; otherwise ``JailUnavailable`` explains why and how to fix it.
"""

import json
import logging
import os
import socket
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .bwrap import JAIL_ENV, TASK_ROOT, BwrapLauncher, JailError, find_bwrap
from .launcher import Launcher, RuntimeLimits
from .limits import JAIL_UID
from .unisolated import UnisolatedLauncher

logger = logging.getLogger(__name__)

JAIL_TMP = "/tmp"  # noqa: S108 - the path inside the jail, a private tmpfs
PROJECT_DIR = Path(__file__).resolve().parent.parent.parent
PROBE_MEMORY_MB = 128
PROBE_TIMEOUT_S = 3.0

CHECKS = (
    "network_blocked",
    "root_fs_read_only",
    "project_tree_invisible",
    "tmp_capped",
    "rlimits_applied",
    "no_capabilities",
    "pid_namespace",
    "user_namespaces_disabled",
    "environment_scrubbed",
    "host_uid_unprivileged",
    "teardown_complete",
)

FIX_HINTS = """\
How to fix it:
  - install bubblewrap: `apt-get install bubblewrap` (Debian/Ubuntu), `dnf install bubblewrap` (Fedora),
    and util-linux's setpriv and prlimit in /usr/bin (Debian: package util-linux);
  - in Docker, the worker container needs
        security_opt: ["seccomp=unconfined", "apparmor=unconfined", "systempaths=unconfined"]
    (or a seccomp profile that allows unshare/clone with namespace flags, see docs/security.md);
    the web container needs none of this;
  - on Ubuntu 23.10+, unprivileged user namespaces are restricted by AppArmor:
    `sysctl kernel.apparmor_restrict_unprivileged_userns=0`, or an AppArmor profile for bwrap;
  - for local development ONLY: SANDBOX_ALLOW_UNISOLATED=1 runs learner code without any isolation,
    as the worker's user, with the worker's files and network in reach."""


class JailUnavailable(RuntimeError):
    """No namespace isolation, and running learner code without it was not allowed."""


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str = ""


@dataclass(frozen=True)
class SelfTestReport:
    launcher: str
    isolation: str  # "namespaces (bubblewrap 0.8.0, uid 65534, cgroup pids+memory)" or "none"
    checks: tuple[Check, ...] = ()
    error: str = ""  # the jail could not even start, or why an unisolated launcher is in use
    duration_ms: float = 0.0
    warnings: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.error and bool(self.checks) and all(c.passed for c in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    def summary(self) -> str:
        lines = [
            f"isolation: {self.isolation} (launcher {self.launcher}, self-test {self.duration_ms:.0f} ms)"
        ]
        if self.error:
            lines.append(f"error: {self.error}")
        for check in self.checks:
            mark = "pass" if check.passed else "FAIL"
            lines.append(f"  [{mark}] {check.name}" + (f": {check.detail}" if check.detail else ""))
        return "\n".join(lines)

    def as_dict(self) -> dict:
        data = asdict(self)
        data["ok"] = self.ok
        return data


# The probe: runs inside the jail as ``python -I -B -c PROBE <config json>``.
# Standard library only. Prints one JSON line, then waits for stdin to close so
# the worker can look at the jail from outside while it is alive.
PROBE = r"""
import errno, json, os, resource, socket, sys
cfg = json.loads(sys.argv[1])
out = {}

def attempt(fn):
    try:
        fn()
        return "allowed"
    except OSError as exc:
        return errno.errorcode.get(exc.errno, str(exc.errno))

# network: the host's loopback listener, any interface but a down lo
s = socket.socket(); s.settimeout(1.0)
out["connect"] = attempt(lambda: s.connect(("127.0.0.1", cfg["port"])))
s.close()
with open("/proc/net/dev") as f:
    out["interfaces"] = sorted(l.split(":")[0].strip() for l in f.readlines()[2:])
# read-only system
def create(path):
    def fn():
        fd = os.open(os.path.join(path, ".coldstart-probe"), os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)
    return fn
out["writes"] = {p: attempt(create(p)) for p in cfg["read_only"]}
# what must not be there
out["visible"] = [p for p in cfg["invisible"] if os.path.lexists(p)]
# size-capped private temp areas
def cap(path):
    st = os.statvfs(path)
    return st.f_blocks * st.f_frsize
out["caps"] = {p: cap(p) for p in cfg["capped"]}
out["tmp_write"] = attempt(create("/tmp"))
out["rlimits"] = {n: list(resource.getrlimit(getattr(resource, n))) for n in cfg["rlimits"]}
with open("/proc/self/status") as f:
    status = dict(l.rstrip("\n").split(":\t", 1) for l in f if ":\t" in l)
out["caps_status"] = {k: status.get(k, "").strip() for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs")}
out["pid"] = os.getpid()
out["pids"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
def new_userns():
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(0x10000000) != 0:  # CLONE_NEWUSER
        raise OSError(ctypes.get_errno(), "unshare")
out["userns"] = attempt(new_userns)
out["env"] = sorted(os.environ)
out["uid"] = os.getuid()
print(json.dumps(out), flush=True)
sys.stdin.read()
"""


def _listener() -> socket.socket:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    return server


def _host_uid(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Uid:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def _evaluate(
    launcher: BwrapLauncher,
    probe: dict,
    *,
    host_uids: dict[int, int | None],
    expected_rlimits: dict[str, list[int]],
) -> list[Check]:
    lim = launcher.jail_limits
    checks: list[Check] = []

    blocked = probe["connect"] != "allowed" and probe["interfaces"] == ["lo"]
    checks.append(
        Check(
            "network_blocked",
            blocked,
            f"connect to the host's 127.0.0.1: {probe['connect']}; interfaces: {probe['interfaces']}",
        )
    )
    writable = [p for p, result in probe["writes"].items() if result == "allowed"]
    checks.append(
        Check(
            "root_fs_read_only",
            not writable,
            f"writable: {writable}" if writable else f"{len(probe['writes'])} system paths refuse writes",
        )
    )
    visible = probe["visible"]
    checks.append(
        Check(
            "project_tree_invisible",
            not visible,
            f"visible: {visible}" if visible else "project, /etc/shadow, /home, /root's files: not there",
        )
    )
    caps = probe["caps"]
    capped = (
        caps.get(JAIL_TMP, 0) <= lim.tmp_bytes
        and caps.get(TASK_ROOT, 0) <= lim.task_bytes
        and probe["tmp_write"] == "allowed"
    )
    checks.append(Check("tmp_capped", capped, ", ".join(f"{p} {b // 2**20} MiB" for p, b in caps.items())))
    wrong = {n: v for n, v in probe["rlimits"].items() if v != expected_rlimits[n]}
    checks.append(
        Check(
            "rlimits_applied", not wrong, f"differ: {wrong}" if wrong else ", ".join(sorted(expected_rlimits))
        )
    )
    status = probe["caps_status"]
    no_caps = all(int(status[k] or "1", 16) == 0 for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"))
    no_caps = no_caps and status["NoNewPrivs"] == "1"
    checks.append(Check("no_capabilities", no_caps, " ".join(f"{k}={v}" for k, v in status.items())))
    own_pid_hidden = os.getpid() not in probe["pids"] or os.getpid() < 16
    pidns = len(probe["pids"]) <= 8 and probe["pid"] < 16 and own_pid_hidden
    checks.append(Check("pid_namespace", pidns, f"the jail's /proc lists pids {probe['pids']}"))
    checks.append(
        Check(
            "user_namespaces_disabled",
            probe["userns"] not in ("allowed", "unknown"),
            f"unshare(CLONE_NEWUSER): {probe['userns']}",
        )
    )
    extra = sorted(set(probe["env"]) - set(JAIL_ENV) - {"PWD", "LC_CTYPE"})
    checks.append(
        Check(
            "environment_scrubbed",
            not extra,
            f"unexpected: {extra}" if extra else "only " + ", ".join(sorted(JAIL_ENV)),
        )
    )
    probe_uids = [uid for uid in host_uids.values() if uid is not None]
    if launcher.privileged:
        ok_uid = bool(probe_uids) and all(uid == launcher.host_uid for uid in probe_uids)
    else:
        ok_uid = bool(probe_uids) and all(uid == os.geteuid() for uid in probe_uids)
    ok_uid = ok_uid and 0 not in probe_uids and probe["uid"] == JAIL_UID
    checks.append(
        Check(
            "host_uid_unprivileged",
            ok_uid,
            f"uid {probe['uid']} inside; host uids of the jail's processes: {sorted(set(probe_uids))}",
        )
    )
    return checks


def run_self_test(launcher: Launcher) -> SelfTestReport:
    """Prove the launcher's confinement with one probe. Never raises for a broken jail."""
    started = time.monotonic()
    if not isinstance(launcher, BwrapLauncher) or not launcher.isolated:
        return SelfTestReport(
            launcher=launcher.name,
            isolation="none",
            checks=tuple(Check(name, False, "not isolated") for name in CHECKS),
            error="learner code runs as a plain child process of the worker",
        )
    if launcher.bwrap is None:
        return SelfTestReport(launcher.name, "none", error="bubblewrap (bwrap) is not installed")
    isolation = launcher.describe()
    limits = RuntimeLimits.for_function(PROBE_MEMORY_MB, PROBE_TIMEOUT_S)
    expected_rlimits = {
        "RLIMIT_AS": [limits.address_space_bytes] * 2,
        "RLIMIT_NOFILE": [limits.open_files] * 2,
        "RLIMIT_FSIZE": [limits.file_size_bytes] * 2,
        "RLIMIT_CORE": [0, 0],
        "RLIMIT_CPU": [limits.cpu_seconds, limits.cpu_seconds + 5],
        "RLIMIT_NPROC": [launcher.jail_limits.processes] * 2,
    }
    invisible = sorted(
        {
            str(PROJECT_DIR),
            str(PROJECT_DIR / "config" / "settings.py"),
            os.getcwd(),
            "/etc/shadow",
            "/etc/gshadow",
            "/etc/ssh",
            "/home/" + os.environ.get("USER", "nobody"),
            "/root/.bash_history",
            "/root/.ssh",
            "/var/run/docker.sock",
            "/run",
            "/sys",
        }
        - {"/", JAIL_TMP, TASK_ROOT}
    )
    config = {
        "read_only": [
            "/",
            "/usr",
            "/usr/lib",
            "/etc",
            "/var/runtime/coldstart",
            str(launcher.python.parent),
            "/dev",
        ],
        "invisible": invisible,
        "capped": [JAIL_TMP, TASK_ROOT],
        "rlimits": sorted(expected_rlimits),
    }
    server = _listener()
    config["port"] = server.getsockname()[1]
    proc = None
    try:
        proc = launcher.popen(
            launcher.python_argv(PROBE) + [json.dumps(config)],
            memory_mb=PROBE_MEMORY_MB,
            timeout_s=PROBE_TIMEOUT_S,
            stderr=None,
        )
        assert proc.stdout is not None and proc.stdin is not None
        line = proc.stdout.readline()
        host_uids: dict[int, int | None] = {}
        for pid in proc.jail_pids():
            if pid != proc.jail_init_pid:  # the init is bwrap's reaper: root when the worker is
                host_uids[pid] = _host_uid(pid)
        proc.stdin.close()
        rest = proc.stdout.read()
        proc.wait(timeout=10)
        jail_pids_after = proc.jail_pids()
        if not line:
            return SelfTestReport(
                launcher.name,
                isolation,
                error=f"the jail did not start (exit status {proc.returncode}): "
                + rest.decode("utf-8", "replace").strip()[-2000:],
                duration_ms=(time.monotonic() - started) * 1000,
            )
        probe = json.loads(line)
    except (OSError, JailError, ValueError) as exc:
        if proc is not None:
            proc.kill()
            proc.wait()
        return SelfTestReport(
            launcher.name,
            isolation,
            error=f"{type(exc).__name__}: {exc}",
            duration_ms=(time.monotonic() - started) * 1000,
        )
    finally:
        server.close()
    checks = _evaluate(launcher, probe, host_uids=host_uids, expected_rlimits=expected_rlimits)
    cgroup_gone = proc.cgroup is None or proc.cgroup.removed
    checks.append(
        Check(
            "teardown_complete",
            not jail_pids_after and cgroup_gone,
            "no process left in the jail's PID namespace" + (", its cgroup removed" if proc.cgroup else ""),
        )
    )
    return SelfTestReport(
        launcher.name, isolation, tuple(checks), duration_ms=(time.monotonic() - started) * 1000
    )


def choose_launcher(
    *, allow_unisolated: bool, bwrap: BwrapLauncher | None = None
) -> tuple[Launcher, SelfTestReport]:
    """The bwrap launcher if its self-test passes; else unisolated if allowed; else JailUnavailable.

    ``bwrap``: the jail to try (default ``BwrapLauncher()``).
    """
    launcher = bwrap if bwrap is not None else BwrapLauncher()
    report = run_self_test(launcher)
    if report.ok:
        logger.info("sandbox isolation: %s", report.isolation)
        return launcher, report
    if launcher.bwrap is None or find_bwrap() is None:
        why = "bubblewrap (bwrap) is not installed."
    elif report.error:
        why = f"bubblewrap could not build a jail here: {report.error}"
    else:
        why = "the jail's self-test failed: " + "; ".join(f"{c.name} ({c.detail})" for c in report.failed)
    if allow_unisolated:
        warning = (
            "RUNNING LEARNER CODE WITHOUT ISOLATION (SANDBOX_ALLOW_UNISOLATED=1): "
            f"{why} Local development only: learner code sees this machine's files and network."
        )
        logger.critical(warning)
        unisolated = UnisolatedLauncher()
        return unisolated, SelfTestReport(
            launcher=unisolated.name,
            isolation="none",
            checks=report.checks,
            error=why,
            duration_ms=report.duration_ms,
            warnings=(warning,),
        )
    raise JailUnavailable(f"Refusing to run learner code without namespace isolation: {why}\n{FIX_HINTS}")
