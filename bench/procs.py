"""Processes from the host's /proc: trees, CPU time and memory (Linux only)."""

import contextlib
import os
from dataclasses import dataclass

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Stat:
    pid: int
    comm: str
    ppid: int
    cpu_s: float  # user + system of the process itself
    children_cpu_s: float  # user + system of the children it reaped (and theirs)
    started: int  # clock ticks after boot: (pid, started) names a process even when pids are reused


def stat(pid: int) -> Stat | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    comm = raw[raw.index(b"(") + 1 : raw.rindex(b")")].decode(errors="replace")
    fields = raw.rsplit(b")", 1)[1].split()
    if fields[0] in (b"Z", b"X"):
        return None
    utime, stime, cutime, cstime = (int(v) for v in fields[11:15])
    return Stat(
        pid,
        comm,
        int(fields[1]),
        (utime + stime) / CLOCK_TICKS,
        (cutime + cstime) / CLOCK_TICKS,
        int(fields[19]),
    )


def children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError, ValueError), open(f"/proc/{pid}/task/{tid}/children") as f:
                found.extend(int(c) for c in f.read().split())
    return found


def tree(root: int) -> list[int]:
    """``root`` and every live descendant."""
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        if os.path.exists(f"/proc/{pid}"):
            found.append(pid)
            todo.extend(children(pid))
    return found


def cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


def memory_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) in KiB; PSS shares each shared page among the processes that map it."""
    rss = pss = 0
    with contextlib.suppress(OSError, ValueError), open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    return rss, pss


def is_runtime(pid: int) -> bool:
    """A jailed runtime's Python: started as ``bootstrap.py --channel-fd``, or forked by a
    fork server (``bootstrap.py --fork-server``) and named ``coldstart-rt``."""
    argv = cmdline(pid).split(b"\0")
    if not (
        os.path.basename(argv[0]).startswith(b"python") and any(a.endswith(b"/bootstrap.py") for a in argv)
    ):
        return False
    if b"--fork-server" in argv:
        st = stat(pid)
        return st is not None and st.comm == "coldstart-rt"
    return b"--channel-fd" in argv


def is_fork_server(pid: int) -> bool:
    st = stat(pid)
    return st is not None and st.comm == "coldstart-fork" and b"--fork-server" in cmdline(pid)


def runtimes_under(root: int) -> list[int]:
    return [pid for pid in tree(root) if is_runtime(pid)]


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, all cores."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # without guest time, which is counted in user already
    return (total - idle) / CLOCK_TICKS, total / CLOCK_TICKS


def find(predicate) -> list[int]:
    pids = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            pid = int(entry.name)
            st = stat(pid)
            if st is not None and predicate(st, cmdline(pid)):
                pids.append(pid)
    return pids
