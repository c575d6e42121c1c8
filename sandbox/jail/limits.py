"""The jail's own sizes, on top of the per-process rlimits of ``launcher.RuntimeLimits``.

``RuntimeLimits.for_function(memory_mb, timeout_s)`` bounds one process (address
space, CPU seconds, open files, file size, core). A jail adds what only a jail can
bound: the size of its writable file systems, the number of tasks it may hold,
and (when the worker may create cgroups) the memory of all its processes together.
"""

from dataclasses import dataclass

from .launcher import PROCESSES

MIB = 1024 * 1024

# The largest function memory an exercise may ask for (course/exercise_schema.py); one fork
# server per worker process covers every size up to it (sandbox/jail/forkserver.py).
MAX_FUNCTION_MEMORY_MB = 1024

# The jail's user, as on Lambda (``id`` there prints uid=993(sbx_user1051) gid=990).
JAIL_UID = 993
JAIL_GID = 990
JAIL_USER = "sbx_user1051"

# The unprivileged host account the jail runs as when the worker is root: the
# kernel exempts host uid 0 from RLIMIT_NPROC and lets it read every root-owned
# file, so a root worker never lets a jail keep uid 0 on the host.
HOST_UID_WHEN_ROOT = 65534
HOST_GID_WHEN_ROOT = 65534


@dataclass(frozen=True)
class JailLimits:
    # /tmp: a private tmpfs. Lambda gives 512 MB by default; ours lives in the
    # worker's RAM (tmpfs pages are charged to the jail's memory cgroup).
    tmp_bytes: int = 64 * MIB
    # /var/task (LAMBDA_TASK_ROOT): the runtime writes the function's module here.
    task_bytes: int = 8 * MIB
    # Tasks (processes + threads) in one jail: Lambda's quota is 1,024. Enforced by
    # RLIMIT_NPROC inside the jail's own user namespace (so it counts this jail
    # only) and by the pids cgroup when there is one.
    processes: int = PROCESSES
    # The memory cgroup's limit is memory_mb + this: the runtime's own ~100 MiB
    # (CPython, boto3, botocore, moto with warmed backends; measured VmRSS 104 MiB
    # after an S3 + DynamoDB + SQS round trip) and the two tmpfs above.
    memory_headroom_mb: int = 256
    # The stack rlimit, soft and hard (a learner may not raise it to unlimited).
    stack_bytes: int = 8 * MIB

    def memory_limit_bytes(self, memory_mb: int) -> int:
        return (memory_mb + self.memory_headroom_mb) * MIB

    @property
    def pids_max(self) -> int:
        # bwrap's reaper and monitor processes live in the cgroup too.
        return self.processes + 8
