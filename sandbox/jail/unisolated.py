"""A runtime as a plain child process: rlimits and a scrubbed environment, no isolation.

For local development only. The function runs as the worker's user and sees
the worker's files and network; rlimits bound its memory, CPU time, files and
output, but a process can raise its own limits when it runs as root. A worker
must refuse this launcher unless explicitly allowed (``isolated`` is False).
"""

import os
import shutil
import subprocess
import tempfile
import weakref
from dataclasses import dataclass, field, replace
from pathlib import Path

from .launcher import HostPaths, RuntimeLimits, apply_rlimits, host_paths, runtime_argv

# Threads and processes the function may add to the user's count (RLIMIT_NPROC is per user).
EXTRA_TASKS = 256


def _user_task_count(uid: int) -> int:
    """Threads of every process owned by ``uid`` (what RLIMIT_NPROC counts)."""
    count = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/status", encoding="ascii", errors="replace") as status:
                fields = dict(line.split(":", 1) for line in status if ":" in line)
            if int(fields["Uid"].split()[1]) == uid:
                count += int(fields["Threads"])
        except (OSError, KeyError, ValueError, IndexError):
            continue
    return count


def scrubbed_environment(home: Path) -> dict[str, str]:
    """The runtime's environment, built from nothing: never the worker's variables."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "HOME": str(home),  # keeps botocore away from the worker's ~/.aws
        "TMPDIR": str(home / "tmp"),
    }


@dataclass
class UnisolatedLauncher:
    name: str = "unisolated"
    isolated: bool = False
    paths: HostPaths = field(default_factory=host_paths)

    def spawn(self, *, channel_fd: int, memory_mb: int, timeout_s: float) -> subprocess.Popen[bytes]:
        workdir = Path(tempfile.mkdtemp(prefix="coldstart-unisolated-"))
        (workdir / "task").mkdir()
        (workdir / "tmp").mkdir()
        argv = runtime_argv(
            python=self.paths.python,
            bootstrap=self.paths.bootstrap,
            channel_fd=channel_fd,
            packages=self.paths.site_packages,
            task_root=workdir / "task",
        )
        limits = RuntimeLimits.for_function(memory_mb, timeout_s)
        uid = os.getuid()
        if uid != 0:
            limits = replace(limits, processes=_user_task_count(uid) + EXTRA_TASKS)
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                pass_fds=(channel_fd,),
                start_new_session=True,
                cwd=workdir,
                env=scrubbed_environment(workdir),
            )
        except BaseException:
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        weakref.finalize(proc, shutil.rmtree, workdir, ignore_errors=True)
        try:
            # prlimit right after exec: the runtime is still importing boto3, no function code has run.
            apply_rlimits(limits, proc.pid)
        except ProcessLookupError:
            pass  # it died already: the driver sees the exit
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        return proc
