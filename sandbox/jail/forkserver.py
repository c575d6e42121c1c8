"""Fresh confined runtimes for the price of a fork: the worker side of the fork server.

A runtime costs ~1.2 CPU-seconds to start (boto3, botocore's service models,
moto and their warm-up). A ``ForkServer`` pays that once: it starts
``sandbox/runtime/forkserver.py`` in a bubblewrap jail (``BwrapLauncher.popen``
with ``fork_server=True``) and then asks it to fork a runtime per submission.
Each forked runtime builds fresh namespaces and file systems, drops every
capability and loads the seccomp filter before it says ``ready`` (see that
module), so two submissions are as isolated from each other as two fresh jails;
and each gets its own cgroup, nested in the server's.

``ForkServerLauncher`` is a ``Launcher``: ``spawn`` returns a ``ForkedProcess``,
which is what ``RuntimeProcess`` needs of a ``Popen`` (pipes, ``poll``, ``wait``,
``kill``, ``exit_fd``, ``oom_killed``). The warm pool keeps a few of those ready,
as it kept fresh jails before.

One server per process serves every function up to 1,024 MB (the exercise schema's
maximum) and every timeout: the server has no CPU budget, its jail's memory limits are a
ceiling, and each runtime sets its own, lower limits (rlimits, a cgroup of its own) after
the fork. Started on first use, restarted when it died; ``shutdown`` kills it.
"""

import contextlib
import json
import logging
import os
import select
import socket
import subprocess
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor

from .bwrap import (
    RUNTIME_MOUNT,
    TASK_ROOT,
    BwrapLauncher,
    JailCgroup,
    JailProcess,
    seccomp_program,
)
from .limits import JAIL_GID, JAIL_UID, MAX_FUNCTION_MEMORY_MB, MIB
from .process import RuntimeProcess

log = logging.getLogger(__name__)

# The server's own memory (CPython + boto3 + moto warmed, ~130 MiB resident) on top of
# one runtime's limit: its cgroup holds the server and the runtimes it forked.
SERVER_MEMORY_MB = 384
SERVER_EXTRA_PIDS = 64  # the server, the inits and the idle runtimes, beside one runtime's 1,024 tasks
REPLY_TIMEOUT_S = 10.0


class ForkServerError(RuntimeError):
    """The fork server did not start or did not answer: an infrastructure failure."""


class ForkedProcess:
    """A runtime forked by a fork server, as ``RuntimeProcess`` drives a ``Popen``.

    - ``stdin``/``stdout``: the request and log pipes;
    - ``exit_fd`` becomes readable when the runtime's PID namespace is empty: its
      server writes the exit status there (``{"exit": N}`` or ``{"signal": N}``);
    - ``kill()`` closes the "life" pipe: the server SIGKILLs the runtime and its init,
      which takes everything inside down (and the cgroup's processes are killed too);
    - ``wait()`` returns once the server reported, and removes the runtime's cgroup.
    """

    pid = None  # not a child of this process: there is no pid to signal or reap

    def __init__(
        self,
        args: list[str],
        *,
        stdin: int,
        stdout: int,
        exit_fd: int,
        life_fd: int,
        cgroup: JailCgroup | None,
    ) -> None:
        self.args = args
        self.stdin = os.fdopen(stdin, "wb", buffering=0)
        self.stdout = os.fdopen(stdout, "rb", buffering=0)
        self.exit_fd = exit_fd
        self.cgroup = cgroup
        self.returncode: int | None = None
        self._life_fd: int | None = life_fd
        self._status = b""
        self._fds = [exit_fd, life_fd]
        self._finalizer = weakref.finalize(self, _release, self._fds, cgroup)

    def _read_status(self) -> None:
        """Read what the server wrote (the caller knows it is readable)."""
        while True:
            try:
                chunk = os.read(self.exit_fd, 4096)
            except BlockingIOError:
                return
            if not chunk:
                break
            self._status += chunk
        try:
            doc = json.loads(self._status)
            code = -int(doc["signal"]) if "signal" in doc else int(doc["exit"])
        except (ValueError, KeyError, TypeError):
            code = -9  # the server went down before it could report (its jail was killed)
        self.returncode = code

    def poll(self) -> int | None:
        if self.returncode is None:
            readable, _, _ = select.select([self.exit_fd], [], [], 0)
            if readable:
                os.set_blocking(self.exit_fd, False)
                self._read_status()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise subprocess.TimeoutExpired(self.args, timeout or 0)
            select.select([self.exit_fd], [], [], remaining)
        self._finalizer()  # close the pipes, remove the cgroup (after reading its OOM count)
        return self.returncode

    def kill(self) -> None:
        if self._life_fd is not None:
            fd, self._life_fd = self._life_fd, None
            self._fds.remove(fd)
            os.close(fd)
        if self.cgroup is not None and self.returncode is None:
            self.cgroup.kill_all()

    def jail_pids(self) -> list[int]:
        """Host pids of the runtime's processes still alive (its cgroup's; none once it ended)."""
        if self.cgroup is None or self.cgroup.removed:
            return []
        return sorted(self.cgroup.pids())

    @property
    def oom_killed(self) -> bool:
        if self.cgroup is None:
            return False
        if not self.cgroup.removed:
            self.cgroup.read_memory_stats()
        return self.cgroup.oom_kills > 0


def _release(fds: list[int], cgroup: JailCgroup | None) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)
    fds.clear()
    if cgroup is not None and not cgroup.removed:
        cgroup.remove()


class ForkServer:
    """One fork server in its jail, for runtimes of up to ``memory_mb`` (any timeout)."""

    def __init__(self, bwrap: BwrapLauncher, *, memory_mb: int) -> None:
        self.bwrap = bwrap
        self.memory_mb = memory_mb
        self.proc: JailProcess | None = None
        self.server_pid: int | None = None  # in the jail's PID namespace
        self.forks = 0
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._seccomp = seccomp_program() if bwrap.seccomp else None

    def argv(self, control_fd: int) -> list[str]:
        argv = [
            str(self.bwrap.python),
            "-I",
            "-B",
            f"{RUNTIME_MOUNT}/bootstrap.py",
            "--fork-server",
            "--control-fd",
            str(control_fd),
            "--task-root",
            TASK_ROOT,
        ]
        for mount in self.bwrap.package_mounts:
            argv += ["--packages", mount]
        argv += ["--map-user", f"{JAIL_UID}:{JAIL_GID}"]  # each runtime, in a user namespace of its own
        return argv

    def start(self, ready_timeout: float = 30.0) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            limits = self.bwrap.jail_limits
            self.proc = self.bwrap.popen(
                self.argv(theirs.fileno()),
                memory_mb=self.memory_mb,
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=None,  # the server's own complaints go to the worker's log
                fork_server=True,
                memory_bytes=limits.memory_limit_bytes(self.memory_mb) + SERVER_MEMORY_MB * MIB,
                pids_max=limits.pids_max + SERVER_EXTRA_PIDS,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self._sock = ours
        try:
            reply = self._receive(ready_timeout)
        except ForkServerError:
            self.close()
            raise
        if reply.get("op") != "ready":
            self.close()
            raise ForkServerError(f"the fork server's first message is not ready: {reply}")
        self.server_pid = reply.get("pid")

    def _receive(self, timeout: float) -> dict:
        assert self._sock is not None
        self._sock.settimeout(timeout)
        try:
            data = self._sock.recv(64 * 1024)
        except TimeoutError:
            raise ForkServerError(f"the fork server did not answer within {timeout:.0f} s") from None
        except OSError as exc:
            raise ForkServerError(f"the fork server's socket failed: {exc}") from None
        if not data:
            code = self.proc.poll() if self.proc is not None else None
            raise ForkServerError(f"the fork server exited (status {code})")
        try:
            return json.loads(data)
        except ValueError:
            raise ForkServerError("the fork server sent something that is not JSON") from None

    @property
    def alive(self) -> bool:
        return self._sock is not None and self.proc is not None and self.proc.poll() is None

    def fork(self, *, channel_fd: int, memory_mb: int, timeout_s: float) -> ForkedProcess:
        """A new runtime; ``channel_fd`` is the write end of its reply channel (the caller closes it)."""
        request = {
            "op": "fork",
            "rlimits": self.bwrap.rlimit_pairs(memory_mb, timeout_s),
            "tmp_bytes": self.bwrap.jail_limits.tmp_bytes,
            "task_bytes": self.bwrap.jail_limits.task_bytes,
            "seccomp": self._seccomp.hex() if self._seccomp else None,
        }
        parents = self.proc.cgroup.dirs if self.proc is not None and self.proc.cgroup is not None else {}
        cgroup = None
        ours: list[int] = []
        theirs: list[int] = []
        try:
            if parents:
                cgroup = JailCgroup(
                    parents,
                    pids_max=self.bwrap.jail_limits.pids_max,
                    memory_bytes=self.bwrap.jail_limits.memory_limit_bytes(memory_mb),
                )
            req_r, req_w = os.pipe()  # requests: we write, the runtime reads
            log_r, log_w = os.pipe()  # its log stream
            status_r, status_w = os.pipe()  # the server's report of how it ended
            life_r, life_w = os.pipe()  # closed by us: the end of the jail
            ours += [req_w, log_r, status_r, life_w]
            theirs += [req_r, log_w, status_w, life_r]
            procs = [
                os.open(path, os.O_WRONLY | os.O_CLOEXEC) for path in (cgroup.procs_files if cgroup else [])
            ]
            fds = [req_r, log_w, channel_fd, status_w, life_r, *procs]
            with self._lock:
                if self._sock is None:
                    raise ForkServerError("the fork server is closed")
                try:
                    socket.send_fds(self._sock, [json.dumps(request).encode()], fds)
                finally:
                    for fd in procs:
                        os.close(fd)
                reply = self._receive(REPLY_TIMEOUT_S)
            if reply.get("op") != "forked":
                raise ForkServerError(f"the fork server could not fork: {reply.get('error', reply)}")
            self.forks += 1
        except BaseException:
            for fd in ours + theirs:
                with contextlib.suppress(OSError):
                    os.close(fd)
            if cgroup is not None:
                cgroup.remove()
            raise
        for fd in (req_r, log_w, status_w, life_r):
            os.close(fd)
        return ForkedProcess(
            ["fork-server", str(self.server_pid)],
            stdin=req_w,
            stdout=log_r,
            exit_fd=status_r,
            life_fd=life_w,
            cgroup=cgroup,
        )

    def close(self) -> None:
        """Kill the server's jail (and every runtime still in it)."""
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()


class ForkServerLauncher:
    """A ``Launcher`` whose runtimes are forked by fork servers in ``base``'s jails."""

    isolated = True

    def __init__(self, base: BwrapLauncher, *, ready_timeout: float = 30.0) -> None:
        self.base = base
        self.name = f"{base.name}+fork"
        self.ready_timeout = ready_timeout
        # bwrap's --die-with-parent is the death of the *thread* that started it: servers are
        # started by this launcher's own thread, which lives until shutdown(), never by a
        # caller's thread that may end (a pool's warm-up thread, a request's thread).
        self._starter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fork-server-start")
        self._servers: dict[int, ForkServer] = {}  # by the memory size they are limited for
        self._locks: dict[int, threading.Lock] = {}
        self._lock = threading.Lock()
        self._closed = False

    @property
    def python(self):
        return self.base.python

    def describe(self) -> str:
        return self.base.describe() + ", forked from a warm server"

    def _server(self, memory_mb: int) -> ForkServer:
        key = max(
            memory_mb, MAX_FUNCTION_MEMORY_MB
        )  # a larger function (over the schema's maximum) gets its own
        with self._lock:
            if self._closed:
                raise ForkServerError("the fork servers were shut down")
            key_lock = self._locks.setdefault(key, threading.Lock())
        with key_lock:
            server = self._servers.get(key)
            if server is not None and server.alive:
                return server
            if server is not None:
                log.warning(
                    "fork server (up to %s MB) died (status %s): starting another", key, server.proc.poll()
                )
                server.close()
            server = ForkServer(self.base, memory_mb=key)
            self._starter.submit(server.start, self.ready_timeout).result()
            with self._lock:
                if self._closed:
                    server.close()
                    raise ForkServerError("the fork servers were shut down")
                self._servers[key] = server
            return server

    def spawn(self, *, channel_fd: int, memory_mb: int, timeout_s: float) -> ForkedProcess:
        server = self._server(int(memory_mb))
        try:
            return server.fork(channel_fd=channel_fd, memory_mb=memory_mb, timeout_s=timeout_s)
        except ForkServerError:
            server.close()  # the next spawn starts a new one
            raise

    def self_test(self, *, memory_mb: int = 128, timeout_s: float = 3.0) -> str:
        """Start a server and fork one runtime from it: "" when that works, else what failed.

        The server is kept (the pool uses it next)."""
        try:
            runtime = RuntimeProcess.start(self, memory_mb=memory_mb, timeout_s=timeout_s)
        except Exception as exc:  # every failure is the answer
            return f"{type(exc).__name__}: {exc}"
        runtime.kill()
        return ""

    def servers(self) -> list[ForkServer]:
        with self._lock:
            return list(self._servers.values())

    def shutdown(self) -> None:
        with self._lock:
            self._closed = True
            servers, self._servers = list(self._servers.values()), {}
        for server in servers:
            server.close()
        self._starter.shutdown(wait=False)
