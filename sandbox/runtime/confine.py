"""Confining a forked child: the system calls bwrap would make, for the fork server.

The fork server (``forkserver.py``) runs inside a jail, holding only the
capabilities it needs to build namespaces (CAP_SYS_ADMIN). Each child it forks
goes through these before the learner's module exists: as PID 1 of a fresh PID
namespace, fresh mount, IPC, UTS and network namespaces, fresh /proc, /tmp and
/var/task, then (as root's worker) a user namespace of its own mapping the jail
uid 993, and finally no capabilities at all, no_new_privs, the seccomp filter and
the rlimits. What is left afterwards is what a fresh jail gives (docs/security.md).

Standard library only (``ctypes`` for mount, capset and prctl).
"""

import ctypes
import ctypes.util
import os
import resource
import struct

_libc = ctypes.CDLL(None, use_errno=True)

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_NAME = 15
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
_LINUX_CAPABILITY_VERSION_3 = 0x20080522

# The PID namespace comes first, from the server (unshare before the fork that makes PID 1).
NAMESPACES = os.CLONE_NEWNS | os.CLONE_NEWIPC | os.CLONE_NEWUTS | os.CLONE_NEWNET

# bwrap covers these with read-only binds in every /proc it mounts; so do we.
_PROC_COVERED = ("sys", "sysrq-trigger", "irq", "bus")

_RLIMITS = {
    "as": resource.RLIMIT_AS,
    "cpu": resource.RLIMIT_CPU,
    "nofile": resource.RLIMIT_NOFILE,
    "fsize": resource.RLIMIT_FSIZE,
    "core": resource.RLIMIT_CORE,
    "nproc": resource.RLIMIT_NPROC,
    "stack": resource.RLIMIT_STACK,
}


class ConfineError(OSError):
    pass


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise ConfineError(errno, f"{what}: {os.strerror(errno)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = lambda s: s.encode() if s is not None else None  # noqa: E731
    _check(
        _libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)),
        f"mount {target}",
    )


def _prctl(option: int, arg2: int = 0, arg3: int = 0) -> None:
    _check(
        _libc.prctl(ctypes.c_int(option), ctypes.c_ulong(arg2), ctypes.c_ulong(arg3), 0, 0), f"prctl {option}"
    )


def set_name(name: str) -> None:
    """The process's comm (``ps``, /proc/PID/stat): which of the fork server's processes it is."""
    _check(_libc.prctl(PR_SET_NAME, name.encode()[:15], 0, 0, 0), "prctl PR_SET_NAME")


def set_parent_death_signal(signum: int) -> None:
    _prctl(PR_SET_PDEATHSIG, signum)


def set_dumpable(value: bool) -> None:
    _prctl(PR_SET_DUMPABLE, int(value))


def new_namespaces() -> None:
    """Mount, IPC, UTS and network namespaces of our own."""
    os.unshare(NAMESPACES)


def build_filesystem(*, tmp_bytes: int, task_bytes: int, task_root: str, hostname: str) -> None:
    """In the new mount namespace, as PID 1 of the new PID namespace: a /proc of our own
    PID namespace, and empty, size-capped /tmp and task root."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing we mount reaches the server
    proc_flags = MS_NOSUID | MS_NODEV | MS_NOEXEC
    _mount("proc", "/proc", "proc", proc_flags)
    for name in _PROC_COVERED:
        path = f"/proc/{name}"
        if os.path.exists(path):
            _mount(path, path, None, MS_BIND | MS_REC)
            _mount(None, path, None, MS_BIND | MS_REMOUNT | MS_RDONLY | proc_flags)
    for path, size in (("/tmp", tmp_bytes), (task_root, task_bytes)):  # noqa: S108 - the jail's own
        _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size},mode=1777")
    _check(_libc.sethostname(hostname.encode(), len(hostname)), "sethostname")


def write_id_maps(pid: int, *, uid: int, gid: int) -> None:
    """Map ``uid``/``gid`` of ``pid``'s new user namespace to our own ids (we are its parent).

    The parent writes the maps, as newuidmap would: a process cannot map its parent
    namespace's uid 0 itself (the kernel wants CAP_SETFCAP there, since Linux 5.12).
    """
    for file, text in (
        ("setgroups", "deny"),
        ("uid_map", f"{uid} {os.geteuid()} 1"),
        ("gid_map", f"{gid} {os.getegid()} 1"),
    ):
        with open(f"/proc/{pid}/{file}", "w", encoding="ascii") as f:
            f.write(text)


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def clear_ambient_capabilities() -> None:
    """No capability survives an exec (the effective set stays)."""
    _prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)


def drop_capabilities() -> None:
    """No capability left in any set (bounding and ambient included), and no_new_privs."""
    last_cap = 40
    try:
        with open("/proc/sys/kernel/cap_last_cap", encoding="ascii") as f:
            last_cap = int(f.read())
    except (OSError, ValueError):
        pass
    _prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    for cap in range(last_cap + 1):
        _prctl(PR_CAPBSET_DROP, cap)
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    _check(_libc.capset(ctypes.byref(header), data), "capset")
    _prctl(PR_SET_NO_NEW_PRIVS, 1)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def load_seccomp(program: bytes) -> None:
    """Install a classic BPF filter (``struct sock_filter[]``, 8 bytes per instruction)."""
    count = len(program) // struct.calcsize("<HBBI")
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(count, ctypes.cast(buffer, ctypes.c_void_p))
    _prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog))


def apply_rlimits(limits: list[list]) -> None:
    """``[[name, soft, hard], ...]`` with the names of ``_RLIMITS``; lowering only."""
    for name, soft, hard in limits:
        resource.setrlimit(_RLIMITS[name], (int(soft), int(hard)))


def raise_oom_score() -> None:
    """The memory cgroup's OOM killer takes the function before the server (raising needs no privilege)."""
    with open("/proc/self/oom_score_adj", "w", encoding="ascii") as f:
        f.write("1000")
