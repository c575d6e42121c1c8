"""Runtime processes confined by bubblewrap: the production launcher.

What a jail is (docs/security.md has the threat model and the tests that prove it):

- namespaces: user, mount, PID, IPC, UTS, cgroup and network. The network
  namespace has nothing but a loopback that is down: no route to the host's
  Redis, Postgres or web server, nor anywhere else. Creating further user
  namespaces inside is disabled (``--disable-userns``).
- a file system built from nothing: a read-only tmpfs root with read-only binds
  of /usr (and the merged-usr links, or /lib* on older systems), the base
  interpreter's prefix at its own path (its RUNPATH needs it), the venv's
  site-packages at /var/runtime/packages and the runtime at
  /var/runtime/coldstart; a synthetic /etc (passwd, group, hosts, nsswitch.conf
  and nothing else); a fresh /proc of the jail's PID namespace; a read-only /dev
  with null, zero, full, random, urandom, tty; size-capped private tmpfs on /tmp
  and /var/task. Not the project tree, not the host's /etc, /home or /root.
- the jail's processes have no capabilities (effective, permitted, bounding,
  ambient all empty), no_new_privs, a scrubbed environment, and the rlimits of
  ``RuntimeLimits`` plus RLIMIT_NPROC and RLIMIT_STACK.
- when the worker runs as root, the jail runs as an unprivileged host account
  (65534 by default), never as host uid 0: a user namespace made by root maps the
  jail to host root, which RLIMIT_NPROC does not bind and which reads every file
  owned by root.
- when the worker is root and cgroup v1 ``pids``/``memory`` are writable, each
  jail gets its own cgroup (pids.max, memory.limit_in_bytes) nested under the
  worker's own cgroup; tearing the jail down empties and removes it.
- killing the spawned process takes everything inside down: bwrap's
  ``--die-with-parent`` kills the PID namespace's init, and the kernel kills
  every other process of a PID namespace whose init dies. ``wait()`` on the
  returned process returns only once that init is gone (and the cgroup empty).

Two ways to build it, chosen by the worker's effective uid:

* normal user (a developer's laptop): one unprivileged bwrap with
  ``--unshare-user``; the jail's uid 993 maps to the developer's uid.
* root (CI, a container): an outer bwrap, privileged, builds the namespaces and
  the file system (it can read the interpreter under /root, mode 0700); inside it
  ``setpriv`` drops to the host account (no groups, no capabilities, empty
  bounding set, no_new_privs) and an inner, unprivileged bwrap adds the user
  namespace (jail uid 993 -> host 65534) and disables nested user namespaces.
  The privileged outer bwrap is the jail's PID 1: a process the function can
  neither signal, trace nor read.

bwrap's options travel in a memfd (``--args``), so the jail's /proc/1/cmdline
does not list the host's paths, and bwrap starts with an empty environment, so
the jail's PID 1 holds none of the worker's variables either.
"""

import contextlib
import functools
import itertools
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .launcher import HostPaths, RuntimeLimits, host_paths, runtime_argv
from .limits import (
    HOST_GID_WHEN_ROOT,
    HOST_UID_WHEN_ROOT,
    JAIL_GID,
    JAIL_UID,
    JAIL_USER,
    JailLimits,
)

RUNTIME_MOUNT = "/var/runtime/coldstart"
PACKAGES_MOUNT = "/var/runtime/packages"
TASK_ROOT = "/var/task"
HOSTNAME = "sandbox"

# The environment bwrap starts with (the outer one, on the host) and the one the
# jail starts with. The runtime adds Lambda's variables at init.
_HOST_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
JAIL_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "TZ": ":UTC",
    "TMPDIR": "/tmp",  # noqa: S108 - the jail's own private tmpfs
}

_ETC_FILES = {
    "passwd": (
        "root:x:0:0:root:/root:/usr/sbin/nologin\n"
        f"{JAIL_USER}:x:{JAIL_UID}:{JAIL_GID}::/home/{JAIL_USER}:/usr/sbin/nologin\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
    ),
    "group": f"root:x:0:\n{JAIL_USER}:x:{JAIL_GID}:\nnogroup:x:65534:\n",
    "hosts": f"127.0.0.1\tlocalhost {HOSTNAME}\n::1\tlocalhost ip6-localhost ip6-loopback\n",
    "nsswitch.conf": "passwd: files\ngroup: files\nshadow: files\nhosts: files\nservices: files\n"
    "protocols: files\nnetworks: files\n",
}

# A runtime whose child was killed by signal N makes bwrap exit with 128 + N.
_SIGNAL_EXIT_BASE = 128


class JailError(RuntimeError):
    """bwrap could not build a jail (missing, or not allowed here)."""


@functools.cache
def find_bwrap() -> str | None:
    return shutil.which("bwrap")


@functools.cache
def bwrap_version(bwrap: str) -> str:
    try:
        out = subprocess.run(
            [bwrap, "--version"], capture_output=True, text=True, timeout=5, env=_HOST_ENV, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    match = re.search(r"(\d+(?:\.\d+)+)", out)
    return match.group(1) if match else "unknown"


def _memfd(name: str, data: bytes) -> int:
    fd = os.memfd_create(name, 0)  # not CLOEXEC is irrelevant: Popen passes only pass_fds
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.lseek(fd, 0, os.SEEK_SET)
    except BaseException:
        os.close(fd)
        raise
    return fd


# -- seccomp -----------------------------------------------------------------------
#
# Defence in depth, on top of no capabilities and no user namespaces: a classic
# BPF filter that makes the kernel interfaces a Lambda function never needs, and
# that carry most of the recent local privilege-escalation bugs, fail with EPERM.
# Installed by the innermost bwrap after it has built the jail (bwrap needs
# mount, pivot_root and unshare itself). Only for the architectures below;
# elsewhere the jail runs without it and the self-test says so.

_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
_BLOCKED_SYSCALLS = {
    # name: (x86_64, aarch64)
    "ptrace": (101, 117),
    "process_vm_readv": (310, 270),
    "process_vm_writev": (311, 271),
    "io_uring_setup": (425, 425),
    "io_uring_enter": (426, 426),
    "io_uring_register": (427, 427),
    "userfaultfd": (323, 282),
    "bpf": (321, 280),
    "perf_event_open": (298, 241),
    "keyctl": (250, 219),
    "add_key": (248, 217),
    "request_key": (249, 218),
    "unshare": (272, 97),
    "setns": (308, 268),
    "mount": (165, 40),
    "umount2": (166, 39),
    "pivot_root": (155, 41),
    "open_tree": (428, 428),
    "move_mount": (429, 429),
    "fsopen": (430, 430),
    "fsconfig": (431, 431),
    "fsmount": (432, 432),
    "fspick": (433, 433),
    "mount_setattr": (442, 442),
    "open_by_handle_at": (304, 265),
    "kexec_load": (246, 104),
    "kexec_file_load": (320, 294),
    "init_module": (175, 105),
    "finit_module": (313, 273),
    "delete_module": (176, 106),
    "swapon": (167, 224),
    "swapoff": (168, 225),
    "reboot": (169, 142),
    "acct": (163, 89),
    "quotactl": (179, 60),
    "syslog": (103, 116),
    "personality": (135, 92),
}
_EPERM = 1
_X32_SYSCALL_BIT = 0x40000000


_CLONE = (56, 220)  # (x86_64, aarch64)
_CLONE3 = (435, 435)
_CLONE_NEWUSER = 0x10000000
_ENOSYS = 38


def seccomp_program(machine: str | None = None) -> bytes | None:
    """The filter as bwrap's --seccomp wants it (struct sock_filter[]), or None if unsupported here.

    Besides the calls above: ``clone`` with CLONE_NEWUSER fails with EPERM (no user
    namespace of one's own, as bwrap's --disable-userns; the fork server's runtimes
    rely on this) and ``clone3`` with ENOSYS, whose flags a classic filter cannot
    read: glibc then falls back to ``clone`` (Docker's default profile does the same).
    """
    import platform
    import struct

    machine = machine or platform.machine()
    if machine not in _AUDIT_ARCH:
        return None
    column = 0 if machine == "x86_64" else 1
    numbers = sorted({nrs[column] for nrs in _BLOCKED_SYSCALLS.values()})
    ld_w_abs, jeq_k, jge_k, jset_k, ret_k = 0x20, 0x15, 0x35, 0x45, 0x06
    allow, kill = 0x7FFF0000, 0x80000000  # KILL_PROCESS
    errno_ret = 0x00050000
    # (code, jump-if-true label, jump-if-false label, k); labels resolve to relative jumps.
    insns: list[tuple[int, str | int, str | int, int]] = [
        (ld_w_abs, 0, 0, 4),  # seccomp_data.arch
        (jeq_k, 1, 0, _AUDIT_ARCH[machine]),
        (ret_k, 0, 0, kill),  # another ABI (i386 int 0x80 on x86_64): no
        (ld_w_abs, 0, 0, 0),  # seccomp_data.nr
    ]
    if machine == "x86_64":  # the x32 ABI numbers everything + 0x40000000
        insns.append((jge_k, "eperm", 0, _X32_SYSCALL_BIT))
    insns += [(jeq_k, "eperm", 0, nr) for nr in numbers]
    insns += [
        (jeq_k, "enosys", 0, _CLONE3[column]),
        (jeq_k, 0, "allow", _CLONE[column]),
        (ld_w_abs, 0, 0, 16),  # seccomp_data.args[0], low 32 bits: the clone flags
        (jset_k, "eperm", "allow", _CLONE_NEWUSER),
    ]
    labels = {"allow": len(insns), "eperm": len(insns) + 1, "enosys": len(insns) + 2}
    insns += [(ret_k, 0, 0, allow), (ret_k, 0, 0, errno_ret | _EPERM), (ret_k, 0, 0, errno_ret | _ENOSYS)]

    def jump(i: int, target: str | int) -> int:
        return target if isinstance(target, int) else labels[target] - i - 1

    return b"".join(
        struct.pack("<HBBI", code, jump(i, jt), jump(i, jf), k) for i, (code, jt, jf, k) in enumerate(insns)
    )


# -- cgroups (v1) -------------------------------------------------------------


def _cgroup_v1_mounts() -> dict[str, Path]:
    """controller -> mount point, for the cgroup v1 hierarchies of pids and memory."""
    found: dict[str, Path] = {}
    try:
        with open("/proc/self/mounts", encoding="utf-8") as mounts:
            for line in mounts:
                parts = line.split()
                if len(parts) < 4 or parts[2] != "cgroup":
                    continue
                for controller in ("pids", "memory"):
                    if controller in parts[3].split(","):
                        found.setdefault(controller, Path(parts[1]))
    except OSError:
        pass
    return found


def _own_cgroup(controller: str) -> str | None:
    try:
        with open("/proc/self/cgroup", encoding="utf-8") as cgroups:
            for line in cgroups:
                _id, controllers, path = line.rstrip("\n").split(":", 2)
                if controller in controllers.split(","):
                    return path
    except (OSError, ValueError):
        pass
    return None


def cgroup_parents() -> dict[str, Path]:
    """Where this worker may create per-jail cgroups: {controller: parent dir}.

    Under the worker's own cgroup (a container's, a service's), never the
    hierarchy's root: the jail stays inside whatever bounds the worker has.
    Empty when not root or when cgroup v1 pids + memory are not both writable.
    """
    if os.geteuid() != 0:
        return {}
    parents: dict[str, Path] = {}
    for controller, mount in _cgroup_v1_mounts().items():
        own = _own_cgroup(controller)
        if own is None:
            continue
        parent = mount / own.lstrip("/")
        if parent.is_dir() and os.access(parent, os.W_OK):
            parents[controller] = parent
    return parents if set(parents) == {"pids", "memory"} else {}


_cgroup_names = itertools.count(1)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class JailCgroup:
    """One jail's cgroups: pids.max and a memory limit; emptied and removed at the end."""

    PREFIX = "coldstart-jail-"

    def __init__(self, parents: dict[str, Path], *, pids_max: int, memory_bytes: int) -> None:
        self._sweep(parents)
        name = f"{self.PREFIX}{os.getpid()}-{next(_cgroup_names)}-{os.urandom(3).hex()}"
        self.dirs: dict[str, Path] = {}
        try:
            for controller, parent in parents.items():
                path = parent / name
                path.mkdir(mode=0o755)
                self.dirs[controller] = path
            self._write("pids", "pids.max", str(pids_max))
            self._write("memory", "memory.limit_in_bytes", str(memory_bytes))
            with contextlib.suppress(OSError):  # no swap accounting: nothing to cap
                self._write("memory", "memory.memsw.limit_in_bytes", str(memory_bytes))
            with contextlib.suppress(OSError):
                self._write("memory", "memory.swappiness", "0")
        except BaseException:
            self.remove()
            raise
        self.oom_kills = 0
        self.peak_memory_bytes = 0
        self.removed = False

    @classmethod
    def _sweep(cls, parents: dict[str, Path]) -> None:
        """Kill and remove the jails of workers that died without cleaning up.

        bwrap's --die-with-parent has a window (the reaper sets its parent-death
        signal only after it is forked): a worker killed in it leaves an orphaned
        jail behind. Its cgroup names the dead worker's pid.
        """
        for parent in parents.values():
            with contextlib.suppress(OSError):
                for entry in parent.iterdir():
                    match = re.fullmatch(re.escape(cls.PREFIX) + r"(\d+)-\d+-[0-9a-f]+", entry.name)
                    if match and int(match.group(1)) != os.getpid() and not _pid_alive(int(match.group(1))):
                        with contextlib.suppress(OSError, ValueError):
                            for pid in (entry / "cgroup.procs").read_text().split():
                                with contextlib.suppress(OSError):
                                    os.kill(int(pid), signal.SIGKILL)
                        with contextlib.suppress(OSError):
                            entry.rmdir()  # EBUSY until the killed processes are gone: next sweep

    def _write(self, controller: str, file: str, value: str) -> None:
        (self.dirs[controller] / file).write_text(value)

    @property
    def procs_files(self) -> list[str]:
        return [str(path / "cgroup.procs") for path in self.dirs.values()]

    def pids(self) -> set[int]:
        found: set[int] = set()
        for path in self.dirs.values():
            with contextlib.suppress(OSError, ValueError):
                found.update(int(p) for p in (path / "cgroup.procs").read_text().split())
        return found

    def kill_all(self) -> None:
        for pid in self.pids():
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)

    def read_memory_stats(self) -> None:
        """Refresh oom_kills and peak_memory_bytes from the memory cgroup (no-op without one)."""
        path = self.dirs.get("memory")
        if path is None:
            return
        with contextlib.suppress(OSError, ValueError):
            for line in (path / "memory.oom_control").read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    self.oom_kills = int(value)
        with contextlib.suppress(OSError, ValueError):
            self.peak_memory_bytes = int((path / "memory.max_usage_in_bytes").read_text())

    def remove(self, timeout: float = 2.0) -> bool:
        """Kill what is left, wait until empty, remove. True when every directory is gone."""
        deadline = time.monotonic() + timeout
        while self.pids() and time.monotonic() < deadline:
            self.kill_all()
            time.sleep(0.01)
        self.read_memory_stats()
        for controller, path in list(self.dirs.items()):
            while True:
                try:
                    path.rmdir()
                except FileNotFoundError:
                    pass
                except OSError:
                    if time.monotonic() < deadline:
                        time.sleep(0.01)
                        continue
                    break
                del self.dirs[controller]
                break
        self.removed = not self.dirs
        return self.removed


# -- the jail process -----------------------------------------------------------


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] in (b"Z", b"X")
    except (OSError, IndexError):
        return True


def _wait_pidfd(pidfd: int, timeout: float) -> bool:
    readable, _, _ = select.select([pidfd], [], [], max(timeout, 0))
    return bool(readable)


class JailProcess(subprocess.Popen):
    """The outer bwrap process. ``wait()`` returns once the whole jail is gone.

    - the PID namespace's init (bwrap's reaper) is watched through a pidfd: it
      exits only after the kernel has killed and reaped every other process of
      the namespace, so its exit proves the jail is empty;
    - the jail's cgroup, if any, is emptied and removed (its OOM-kill count read
      first: ``oom_killed``);
    - bwrap reports a child killed by signal N as exit status 128 + N: that is
      turned back into ``returncode == -N``, as if the runtime were our child.
    """

    jail_init_pid: int | None = None
    cgroup: JailCgroup | None = None
    _init_pidfd: int | None = None
    _fd_holder: list[int]  # shared with the finalizer: emptied when the pidfd is closed
    _jail_released = False

    def poll(self) -> int | None:
        if super().poll() is not None:
            self._release_jail()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        super().wait(timeout)
        self._release_jail()
        return self.returncode

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            super().kill()
        self._kill_inside()

    def _kill_inside(self) -> None:
        if self._init_pidfd is not None:
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(self._init_pidfd, signal.SIGKILL)
        if self.cgroup is not None:
            self.cgroup.kill_all()

    @property
    def oom_killed(self) -> bool:
        """Whether the memory cgroup's OOM killer killed a process of this jail."""
        if self.cgroup is None:
            return False
        if not self.cgroup.removed:
            self.cgroup.read_memory_stats()
        return self.cgroup.oom_kills > 0

    @property
    def peak_memory_bytes(self) -> int | None:
        if self.cgroup is None:
            return None
        if not self.cgroup.removed:
            self.cgroup.read_memory_stats()
        return self.cgroup.peak_memory_bytes

    def jail_pids(self) -> list[int]:
        """Host pids of every live process in the jail's PID namespace (for checks and tests).

        Zombies are not listed: a dead init whose bwrap parent was killed first is
        reparented to the host's PID 1 (or a subreaper) and reaped there.
        """
        if self.jail_init_pid is None:
            return []
        try:
            ns = os.readlink(f"/proc/{self.jail_init_pid}/ns/pid")
        except OSError:
            return []
        pids = []
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{entry.name}/ns/pid") == ns and not _is_zombie(int(entry.name)):
                        pids.append(int(entry.name))
        return sorted(pids)

    def _release_jail(self) -> None:
        if self._jail_released:
            return
        self._jail_released = True
        try:
            if self._init_pidfd is not None and not _wait_pidfd(self._init_pidfd, 2.0):
                self._kill_inside()
                _wait_pidfd(self._init_pidfd, 2.0)
            if self.cgroup is not None:
                self.cgroup.remove()
        finally:
            if self._init_pidfd is not None:
                self._fd_holder.clear()  # the finalizer must not close a number reused since
                with contextlib.suppress(OSError):
                    os.close(self._init_pidfd)
                self._init_pidfd = None
            code = self.returncode
            if code is not None and _SIGNAL_EXIT_BASE < code < _SIGNAL_EXIT_BASE + 32:
                self.returncode = -(code - _SIGNAL_EXIT_BASE)


def _finalize(cgroup: JailCgroup | None, pidfd_holder: list[int]) -> None:
    """Last resort when a JailProcess is dropped without wait(): kill and clean up."""
    for fd in pidfd_holder:
        with contextlib.suppress(OSError):
            signal.pidfd_send_signal(fd, signal.SIGKILL)
        with contextlib.suppress(OSError):
            os.close(fd)
    if cgroup is not None and not cgroup.removed:
        cgroup.remove(timeout=0.5)


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as children:
            return [int(c) for c in children.read().split()]
    except FileNotFoundError:  # a kernel without CONFIG_PROC_CHILDREN: scan
        found = []
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                with (
                    contextlib.suppress(OSError, ValueError, IndexError),
                    open(f"/proc/{entry.name}/stat", "rb") as stat,
                ):
                    if int(stat.read().rsplit(b")", 1)[1].split()[1]) == pid:
                        found.append(int(entry.name))
        return found
    except (OSError, ValueError):
        return []


def _wait_armed(init_pid: int, init_pidfd: int | None, bwrap_argv0: bytes, timeout: float) -> None:
    """Wait until the jail's init has started the command.

    bwrap's reaper sets its parent-death signal right after forking the command,
    with no check that its parent is still alive: a worker that died before that
    would leave the jail orphaned. Once the command has exec'd (its command line
    is no longer bwrap's), the reaper is past that point.
    """
    prefix = bwrap_argv0 + b"\0--args\0"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for child in _children(init_pid):
            with contextlib.suppress(OSError), open(f"/proc/{child}/cmdline", "rb") as cmdline:
                text = cmdline.read()
                if text and not text.startswith(prefix):
                    return
        if init_pidfd is not None and _wait_pidfd(init_pidfd, 0):
            return  # it is over already
        time.sleep(0.001)


def _read_child_pid(fd: int, timeout: float) -> int | None:
    """bwrap writes {"child-pid": N} to --info-fd once the namespaces exist."""
    buf = b""
    deadline = time.monotonic() + timeout
    while b"}" not in buf:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        readable, _, _ = select.select([fd], [], [], remaining)
        if not readable:
            return None
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        buf += chunk
    try:
        return int(json.loads(buf.decode())["child-pid"])
    except (ValueError, KeyError, TypeError):
        return None


# -- the launcher -------------------------------------------------------------------


def _prefix_of(python: Path) -> Path:
    """An interpreter's installation prefix: <prefix>/bin/pythonX.Y."""
    return python.resolve().parent.parent


def _under(path: Path, root: str) -> bool:
    return path == Path(root) or Path(root) in path.parents


@dataclass
class BwrapLauncher:
    """Spawns runtimes (or any command, for checks) inside a bubblewrap jail."""

    name: str = "bwrap"
    isolated: bool = True
    paths: HostPaths = field(default_factory=host_paths)
    jail_limits: JailLimits = field(default_factory=JailLimits)
    bwrap: str | None = None  # default: bwrap on PATH
    # Root workers only: the host account the jail runs as.
    host_uid: int = HOST_UID_WHEN_ROOT
    host_gid: int = HOST_GID_WHEN_ROOT
    # None: per-jail cgroups whenever cgroup_parents() finds them; False: never.
    use_cgroups: bool | None = None
    # The seccomp filter (where the architecture is known).
    seccomp: bool = True

    def __post_init__(self) -> None:
        if self.bwrap is None:
            self.bwrap = find_bwrap()

    # -- what is in force -----------------------------------------------------------

    @property
    def privileged(self) -> bool:
        """The worker is root: outer bwrap privileged, the jail dropped to ``host_uid``."""
        return os.geteuid() == 0

    @functools.cached_property
    def _cgroup_parents(self) -> dict[str, Path]:
        return {} if self.use_cgroups is False else cgroup_parents()

    @property
    def cgroups(self) -> bool:
        return bool(self._cgroup_parents)

    def describe(self) -> str:
        """The isolation level, for the worker's log and the instructors' dashboard."""
        version = bwrap_version(self.bwrap) if self.bwrap else "missing"
        uid = f"uid {self.host_uid}" if self.privileged else f"uid {os.geteuid()} via user namespace"
        cgroup = "cgroup pids+memory" if self.cgroups else "no cgroup, rlimits only"
        seccomp = "seccomp" if self.seccomp and seccomp_program() is not None else "no seccomp"
        return f"namespaces (bubblewrap {version}, {uid}, {cgroup}, {seccomp})"

    # -- building the command ---------------------------------------------------------

    @property
    def python(self) -> Path:
        return self.paths.python

    @property
    def package_mounts(self) -> list[str]:
        return [
            PACKAGES_MOUNT if i == 0 else f"{PACKAGES_MOUNT}-{i}"
            for i in range(len(self.paths.site_packages))
        ]

    def runtime_argv(self, channel_fd: int) -> list[str]:
        return runtime_argv(
            python=self.python,
            bootstrap=f"{RUNTIME_MOUNT}/bootstrap.py",
            channel_fd=channel_fd,
            packages=self.package_mounts,
            task_root=TASK_ROOT,
        )

    def _filesystem_args(self, etc_fds: dict[str, int]) -> list[str]:
        # bwrap's root is an empty tmpfs, made read-only once everything is in place.
        args: list[str] = []
        # The system: /usr read-only, and the top-level links into it (merged /usr)
        # or the directories themselves (older layouts).
        args += ["--ro-bind", "/usr", "/usr"]
        for top in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
            host = Path("/") / top
            if host.is_symlink():
                args += ["--symlink", os.readlink(host), f"/{top}"]
            elif host.is_dir():
                args += ["--ro-bind", str(host), f"/{top}"]
        # The interpreter's prefix at its own path (its RUNPATH names it), with
        # traversable parents: bwrap would copy /root's 0700.
        prefix = _prefix_of(self.python)
        if not any(_under(prefix, top) for top in ("/usr", "/bin", "/lib", "/lib64")):
            for parent in reversed(prefix.parents[:-1]):
                args += ["--perms", "0755", "--dir", str(parent)]
            args += ["--ro-bind", str(prefix), str(prefix)]
        args += ["--perms", "0755", "--dir", "/var", "--perms", "0755", "--dir", "/var/runtime"]
        args += ["--ro-bind", str(self.paths.runtime_dir), RUNTIME_MOUNT]
        for host_dir, mount in zip(self.paths.site_packages, self.package_mounts, strict=True):
            args += ["--ro-bind", str(host_dir), mount]
        # A synthetic /etc.
        args += ["--perms", "0755", "--dir", "/etc"]
        for name, fd in etc_fds.items():
            args += ["--perms", "0644", "--ro-bind-data", str(fd), f"/etc/{name}"]
        args += ["--proc", "/proc", "--dev", "/dev", "--remount-ro", "/dev"]
        lim = self.jail_limits
        args += ["--perms", "1777", "--size", str(lim.tmp_bytes), "--tmpfs", "/tmp"]  # noqa: S108
        args += ["--perms", "1777", "--size", str(lim.task_bytes), "--tmpfs", TASK_ROOT]
        args += ["--perms", "0755", "--dir", "/home", "--remount-ro", "/"]
        return args

    def rlimit_pairs(self, memory_mb: int, timeout_s: float) -> list[tuple[str, int, int]]:
        """(prlimit's name, soft, hard) for a runtime of this memory size and timeout."""
        limits = RuntimeLimits.for_function(memory_mb, timeout_s)
        lim = self.jail_limits
        return [
            ("as", limits.address_space_bytes, limits.address_space_bytes),
            ("cpu", limits.cpu_seconds, limits.cpu_seconds + 5),  # SIGXCPU, then SIGKILL
            ("nofile", limits.open_files, limits.open_files),
            ("fsize", limits.file_size_bytes, limits.file_size_bytes),
            ("core", 0, 0),
            ("nproc", lim.processes, lim.processes),
            ("stack", lim.stack_bytes, lim.stack_bytes),
        ]

    def _rlimit_argv(self, memory_mb: int, timeout_s: float, *, skip: tuple[str, ...] = ()) -> list[str]:
        pairs = [p for p in self.rlimit_pairs(memory_mb, timeout_s) if p[0] not in skip]
        return ["/usr/bin/prlimit", *(f"--{name}={soft}:{hard}" for name, soft, hard in pairs), "--"]

    def _namespace_args(self) -> list[str]:
        return [
            "--unshare-pid",
            "--unshare-net",
            "--unshare-ipc",
            "--unshare-uts",
            "--unshare-cgroup",
            "--hostname",
            HOSTNAME,
            "--die-with-parent",
            "--new-session",
            "--clearenv",
            *itertools.chain.from_iterable(("--setenv", k, v) for k, v in JAIL_ENV.items()),
        ]

    _USERNS_ARGS = ("--unshare-user", "--disable-userns", "--uid", str(JAIL_UID), "--gid", str(JAIL_GID))

    def command(
        self,
        argv: Sequence[str],
        *,
        memory_mb: int,
        timeout_s: float,
        etc_fds: dict[str, int],
        args_fd: int,
        seccomp_fd: int | None = None,
        fork_server: bool = False,
    ) -> tuple[list[str], list[str]]:
        """(argv for Popen, bwrap options for the --args memfd).

        ``fork_server``: the jail of a fork server (sandbox/jail/forkserver.py). It keeps
        CAP_SYS_ADMIN, which it needs to build each runtime's namespaces, and nothing else;
        no seccomp, CPU or process limit of its own: its runtimes set theirs after forking.
        """
        seccomp = ["--seccomp", str(seccomp_fd)] if seccomp_fd is not None else []
        # A fork server lives as long as its worker: no CPU budget, and no process budget shared
        # with its runtimes. Each runtime sets both for itself.
        skip = ("cpu", "nproc") if fork_server else ()
        inside = [*self._rlimit_argv(memory_mb, timeout_s, skip=skip), *argv]
        options = self._namespace_args() + self._filesystem_args(etc_fds) + ["--chdir", TASK_ROOT]
        if fork_server and self.privileged:
            # As the host account, not root, with CAP_SYS_ADMIN alone (ambient, so that it
            # survives exec); each runtime maps the jail user in a user namespace of its own.
            tail = [
                "/usr/bin/setpriv",
                f"--reuid={self.host_uid}",
                f"--regid={self.host_gid}",
                "--clear-groups",
                "--no-new-privs",
                "--bounding-set=-all,+sys_admin",
                "--inh-caps=-all,+sys_admin",
                "--ambient-caps=+sys_admin",
                "--",
                *inside,
            ]
        elif fork_server:
            # uid 0 of a user namespace of its own, with CAP_SYS_ADMIN over the namespaces bwrap
            # made (with --uid 993, bwrap would nest a second user namespace that owns none of
            # them); each runtime maps the jail user in a user namespace of its own.
            # CAP_SETFCAP: to map its uid 0 in a runtime's user namespace (Linux 5.12+ asks for it).
            caps = ["--cap-add", "CAP_SYS_ADMIN", "--cap-add", "CAP_SETFCAP"]
            options = ["--unshare-user", "--uid", "0", "--gid", "0", *caps, *options]
            tail = inside
        elif self.privileged:
            drop = [
                "/usr/bin/setpriv",
                f"--reuid={self.host_uid}",
                f"--regid={self.host_gid}",
                "--clear-groups",
                "--no-new-privs",
                "--bounding-set=-all",
                "--inh-caps=-all",
                "--",
            ]
            inner = [
                self.bwrap
                if self.bwrap and self.bwrap.startswith("/usr/")
                else "/usr/bin/bwrap",  # seen from inside
                *self._USERNS_ARGS,
                # --dev-bind: a plain --bind would add nodev and break /dev/null;
                # the only device nodes here are the outer bwrap's null, zero, ...
                "--dev-bind",
                "/",
                "/",
                "--die-with-parent",
                "--chdir",
                TASK_ROOT,
                *seccomp,
                "--",
            ]
            tail = drop + inner + inside
        else:
            options = list(self._USERNS_ARGS) + options + seccomp
            tail = inside
        assert self.bwrap is not None
        return [self.bwrap, "--args", str(args_fd), "--", *tail], options

    # -- spawning ------------------------------------------------------------------------

    def popen(
        self,
        argv: Sequence[str],
        *,
        memory_mb: int = 128,
        timeout_s: float = 3.0,
        pass_fds: Sequence[int] = (),
        stdin: int | None = subprocess.PIPE,
        stdout: int | None = subprocess.PIPE,
        stderr: int | None = subprocess.STDOUT,
        fork_server: bool = False,
        memory_bytes: int | None = None,
        pids_max: int | None = None,
    ) -> JailProcess:
        """Start ``argv`` (paths as the jail sees them) in a fresh jail.

        ``memory_bytes``: the jail cgroup's memory limit (default: for one runtime of ``memory_mb``).
        """
        if self.bwrap is None:
            raise JailError("bubblewrap (bwrap) is not installed")
        own_fds: list[int] = []
        cgroup: JailCgroup | None = None
        proc: JailProcess | None = None
        info_r = -1
        try:
            etc_fds = {name: _memfd(f"etc-{name}", text.encode()) for name, text in _ETC_FILES.items()}
            own_fds += etc_fds.values()
            args_fd = _memfd("bwrap-args", b"")
            own_fds.append(args_fd)
            info_r, info_w = os.pipe()
            own_fds.append(info_w)
            seccomp_fd = None
            if self.seccomp and not fork_server and (program := seccomp_program()) is not None:
                seccomp_fd = _memfd("seccomp", program)
                own_fds.append(seccomp_fd)
            cmd, options = self.command(
                argv,
                memory_mb=memory_mb,
                timeout_s=timeout_s,
                etc_fds=etc_fds,
                args_fd=args_fd,
                seccomp_fd=seccomp_fd,
                fork_server=fork_server,
            )
            options = ["--info-fd", str(info_w), *options]
            cmd_bwrap = cmd[0]
            os.write(args_fd, b"".join(o.encode() + b"\0" for o in options))
            os.lseek(args_fd, 0, os.SEEK_SET)
            if self._cgroup_parents:
                cgroup = JailCgroup(
                    self._cgroup_parents,
                    pids_max=pids_max or self.jail_limits.pids_max,
                    memory_bytes=memory_bytes or self.jail_limits.memory_limit_bytes(memory_mb),
                )
                files = cgroup.procs_files
                join = " && ".join(f'echo $$ > "${i + 1}"' for i in range(len(files)))
                cmd = [
                    "/bin/sh",
                    "-c",
                    f'{join} && shift {len(files)} && exec "$@"',
                    "coldstart-jail",
                    *files,
                    *cmd,
                ]
            proc = JailProcess(
                cmd,
                stdin=stdin,
                stdout=stdout,
                stderr=stderr,
                pass_fds=(*pass_fds, *own_fds),
                start_new_session=True,
                env=dict(_HOST_ENV),
                cwd="/",
            )
            proc.cgroup = cgroup
            proc._fd_holder = []
            for fd in own_fds:
                os.close(fd)
            own_fds = []
            child = _read_child_pid(info_r, 10.0)
            if child is not None:
                proc.jail_init_pid = child
                with contextlib.suppress(OSError):
                    proc._init_pidfd = os.pidfd_open(child)
                _wait_armed(child, proc._init_pidfd, cmd_bwrap.encode(), 10.0)
            proc._fd_holder = [proc._init_pidfd] if proc._init_pidfd is not None else []
            weakref.finalize(proc, _finalize, cgroup, proc._fd_holder)
            return proc
        except BaseException:
            if proc is not None:
                proc.kill()
                proc.wait()
            elif cgroup is not None:
                cgroup.remove()
            raise
        finally:
            for fd in own_fds:
                os.close(fd)
            if info_r >= 0:
                os.close(info_r)

    def spawn(self, *, channel_fd: int, memory_mb: int, timeout_s: float) -> subprocess.Popen[bytes]:
        return self.popen(
            self.runtime_argv(channel_fd), memory_mb=memory_mb, timeout_s=timeout_s, pass_fds=(channel_fd,)
        )

    def run(
        self,
        argv: Sequence[str],
        *,
        input: bytes | None = None,
        timeout: float = 30.0,
        memory_mb: int = 128,
        timeout_s: float = 3.0,
        pass_fds: Sequence[int] = (),
    ) -> subprocess.CompletedProcess[bytes]:
        """Run a command in a fresh jail to completion (stdout and stderr apart)."""
        proc = self.popen(
            argv,
            memory_mb=memory_mb,
            timeout_s=timeout_s,
            pass_fds=pass_fds,
            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        with proc:
            try:
                out, err = proc.communicate(input, timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, err = proc.communicate()
                proc.wait()
                raise
        return subprocess.CompletedProcess(list(argv), proc.returncode, out, err)

    def python_argv(self, code: str) -> list[str]:
        """``python -I -B -c code`` with the jail's interpreter (the runtime's packages not on the path)."""
        return [str(self.python), "-I", "-B", "-c", code]


def default_launcher() -> BwrapLauncher:
    return BwrapLauncher()


if __name__ == "__main__":  # pragma: no cover - a manual probe: python -m sandbox.jail.bwrap CMD...
    launcher = BwrapLauncher()
    print(launcher.describe(), file=sys.stderr)
    result = launcher.run(sys.argv[1:] or ["/bin/sh", "-c", "id; ls -la /"], timeout=30)
    sys.stdout.buffer.write(result.stdout)
    sys.stderr.buffer.write(result.stderr)
    sys.exit(result.returncode)
