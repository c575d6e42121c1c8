"""How a runtime process is started: the interface every confinement implements.

A launcher starts ``sandbox/runtime/bootstrap.py`` (docs/runtime-protocol.md) and
returns the ``Popen``; ``sandbox.jail.process.RuntimeProcess`` drives it. The
contract of ``spawn``:

- the command is ``runtime_argv(...)`` (inside a jail, with the jail's paths);
- ``stdin=PIPE`` (requests), ``stdout=PIPE`` and ``stderr=STDOUT`` (one log stream);
- ``pass_fds=(channel_fd,)`` and ``--channel-fd channel_fd``: the reply channel;
- ``start_new_session=True``: ``RuntimeProcess.kill`` kills the process group
  (a jail must make that take everything inside down, e.g. bwrap's
  ``--die-with-parent`` with ``--unshare-pid``);
- the environment is built from nothing (never the worker's: no DJANGO_*,
  REDIS_URL, DATABASE_URL, secrets);
- the limits are ``RuntimeLimits.for_function(memory_mb, timeout_s)`` at least.
"""

import functools
import math
import os
import resource
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

RUNTIME_DIR = Path(__file__).resolve().parent.parent / "runtime"

# RLIMIT_AS = memory_mb + this. Measured on CPython 3.13 / moto 5.2.5: the runtime's
# VmPeak is ~155 MiB after warm-up and an S3 + DynamoDB + SQS + Pillow invoke (its RSS
# ~130 MiB, all boto3/moto). The rest is room for thread stacks (8 MiB each;
# s3transfer starts up to 10) and for moto's copies of large bodies: a 40 MB
# upload_fileobj through moto peaks at ~620 MiB of address space (with the runtime's
# M_ARENA_MAX=2; ~830 MiB without), which a 128 MB function therefore cannot do here.
ADDRESS_SPACE_HEADROOM_MB = 512
# Lambda's quotas (reference/aws-lambda-facts.md §5): 1,024 file descriptors and
# 1,024 processes/threads; /tmp is 512 MB by default.
OPEN_FILES = 1024
PROCESSES = 1024
FILE_SIZE_BYTES = 512 * 1024 * 1024


class Launcher(Protocol):
    name: str
    isolated: bool

    def spawn(self, *, channel_fd: int, memory_mb: int, timeout_s: float) -> subprocess.Popen[bytes]: ...


@dataclass(frozen=True)
class HostPaths:
    """What a launcher needs from the host to start a runtime."""

    python: Path  # the base interpreter (not the venv's symlink, which would turn the venv on)
    runtime_dir: Path  # sandbox/runtime
    site_packages: tuple[Path, ...]  # where boto3, botocore and moto are installed

    @property
    def bootstrap(self) -> Path:
        return self.runtime_dir / "bootstrap.py"


@functools.cache
def host_paths() -> HostPaths:
    python = Path(os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable))
    paths = sysconfig.get_paths()
    site_packages: list[Path] = []
    for key in ("purelib", "platlib"):
        path = Path(paths[key]).resolve()
        if path.is_dir() and path not in site_packages:
            site_packages.append(path)
    return HostPaths(python=python, runtime_dir=RUNTIME_DIR, site_packages=tuple(site_packages))


def runtime_argv(
    *,
    python: str | Path,
    bootstrap: str | Path,
    channel_fd: int,
    packages: tuple[str | Path, ...] | list[str | Path],
    task_root: str | Path | None = None,
) -> list[str]:
    """The runtime's command line (paths as the runtime will see them)."""
    argv = [str(python), "-I", "-B", str(bootstrap), "--channel-fd", str(channel_fd)]
    for folder in packages:
        argv += ["--packages", str(folder)]
    if task_root is not None:
        argv += ["--task-root", str(task_root)]
    return argv


@dataclass(frozen=True)
class RuntimeLimits:
    address_space_bytes: int
    cpu_seconds: int
    open_files: int = OPEN_FILES
    file_size_bytes: int = FILE_SIZE_BYTES
    processes: int | None = None  # RLIMIT_NPROC counts all of the user's tasks: set it per launcher

    @classmethod
    def for_function(cls, memory_mb: int, timeout_s: float) -> "RuntimeLimits":
        # CPU time is a backstop only: the worker kills at the wall-clock timeout. One
        # runtime serves every case of a submission, so allow start-up plus many timeouts.
        return cls(
            address_space_bytes=(memory_mb + ADDRESS_SPACE_HEADROOM_MB) * 1024 * 1024,
            cpu_seconds=120 + 30 * math.ceil(timeout_s),
        )

    def pairs(self) -> list[tuple[int, tuple[int, int]]]:
        limits = [
            (resource.RLIMIT_AS, (self.address_space_bytes, self.address_space_bytes)),
            (resource.RLIMIT_CPU, (self.cpu_seconds, self.cpu_seconds + 5)),  # SIGXCPU, then SIGKILL
            (resource.RLIMIT_NOFILE, (self.open_files, self.open_files)),
            (resource.RLIMIT_FSIZE, (self.file_size_bytes, self.file_size_bytes)),
            (resource.RLIMIT_CORE, (0, 0)),
        ]
        if self.processes is not None:
            limits.append((resource.RLIMIT_NPROC, (self.processes, self.processes)))
        return limits


def apply_rlimits(limits: RuntimeLimits, pid: int = 0) -> None:
    """Set the limits on ``pid`` (0: this process, e.g. from a ``preexec_fn``)."""
    for which, value in limits.pairs():
        if pid:
            resource.prlimit(pid, which, value)
        else:
            resource.setrlimit(which, value)
