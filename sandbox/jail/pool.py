"""Warm runtimes: pre-started, already-confined, each serving exactly one submission.

A fresh runtime costs about a second of CPU before it is ``ready`` (boto3, moto and
their warm-up, docs/runtime-protocol.md). A ``WarmPool`` pays that off the critical
path: it keeps runtimes waiting in the ``ready`` state, in their own jails, and hands
each one out once. After its submission the runtime is killed, never reused, so two
submissions are as isolated from each other as with a fresh process: the pool only
moves the start earlier in time. The Init Duration a learner sees is still the
import of their own module (the runtime times ``init`` only).

- **Keys.** Runtimes are started for the parameters that set their rlimits: the
  memory size and the timeout class (``ceil(timeout_s)``, what ``RuntimeLimits``
  uses). ``init`` then sets the function's exact timeout.
- **Refill.** ``acquire`` hands out an idle runtime of its key, or waits for a start
  already under way, or starts one in the calling thread; then background threads
  top the key up to ``size``, at most one start per CPU at a time (a start is
  CPU-bound), at a lower CPU priority than grading (put back to normal when the
  runtime is handed out, where allowed).
- **The threads that spawn live as long as the pool.** bwrap's ``--die-with-parent``
  is the *thread's* death: a jail started by a thread that exits is killed with it.
  A runtime started synchronously by ``acquire`` belongs to the caller's thread,
  which uses it right away.
- **Health.** Idle runtimes are checked every second and when handed out: one that
  died, closed its pipes or wrote anything on its reply channel is discarded and
  replaced; what it writes to its log pipe while idle is read and dropped (never
  attributed to the next learner), and past ``IDLE_OUTPUT_LIMIT`` it is discarded.
- **Failures.** A start that fails is retried with a growing delay. After
  ``failure_limit`` failures in a row the pool is *failing*: ``acquire`` raises
  ``PoolUnavailable`` at once instead of making every submission wait for a jail
  that does not start, until a start succeeds again (the refill threads keep
  trying). Grading turns that into an ``InfrastructureError``.
- **Disposal.** ``kill()`` on a handed-out runtime SIGKILLs its jail at once; the
  reaping (waiting for the PID namespace to empty, removing its cgroup) happens in
  a second background thread, so the learner's result does not wait for it.
- **Shutdown.** ``shutdown()`` kills the idle runtimes, the ones being started and
  the ones waiting to be reaped: no jail outlives the pool.

One pool per process, created after ``fork`` (Celery prefork: in the child, see
``sandbox.fleet`` and ``sandbox.signals``): threads do not survive a fork, and the
runtimes are children of the process that started them.
"""

import contextlib
import logging
import math
import os
import queue
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from .launcher import Launcher
from .process import RuntimeProcess

log = logging.getLogger(__name__)

CHECK_INTERVAL_S = 1.0  # how often idle runtimes are looked at
IDLE_OUTPUT_LIMIT = 64 * 1024  # log bytes an idle runtime may write before it is discarded
KEY_IDLE_TTL_S = 600.0  # a key nobody asked for in this long stops being kept warm (unless pre-warmed)
REFILL_NICE = 10  # background starts yield the CPU to grading
RETRY_BASE_S = 0.5  # the delay after a failed start, doubled per failure in a row
RETRY_MAX_S = 60.0


class PoolUnavailable(RuntimeError):
    """Runtimes failed to start several times in a row: an infrastructure failure."""


class PoolClosed(RuntimeError):
    """The pool was shut down (the worker is stopping)."""


@dataclass(frozen=True, order=True)
class PoolKey:
    """What a runtime was started (and limited) for."""

    memory_mb: int
    timeout_class: int  # whole seconds, rounded up: RuntimeLimits.for_function uses ceil(timeout_s)

    @classmethod
    def of(cls, memory_mb: int, timeout_s: float) -> "PoolKey":
        return cls(int(memory_mb), max(1, math.ceil(timeout_s)))

    @classmethod
    def parse(cls, text: str) -> "PoolKey":
        """``"128:3"``: memory size in MB, timeout in seconds (a setting's format)."""
        memory, _, timeout = text.partition(":")
        return cls.of(int(memory), float(timeout or 3))

    def __str__(self) -> str:
        return f"{self.memory_mb} MB/{self.timeout_class} s"


class PooledRuntime(RuntimeProcess):
    """A runtime from a pool: its jail dies at ``kill()``; the reaping is the pool's job."""

    _dispose = None  # the pool's reaper, once handed out
    _disposing = False
    idle_output = 0  # log bytes written while waiting in the pool

    def kill(self) -> None:
        dispose = self._dispose
        if self._disposing:
            return
        if dispose is None or self._state == "dead" or self.proc.returncode is not None:
            super().kill()
            return
        self._disposing = True
        self._killpg()  # the jail stops now: the process group, then the launcher's own kill
        dispose(self)

    def reap(self) -> None:
        """Wait until the jail is gone and close the pipes (``RuntimeProcess.kill``)."""
        self._dispose = None
        RuntimeProcess.kill(self)

    # -- while idle -------------------------------------------------------------

    def idle_check(self) -> str:
        """Read what an idle runtime wrote. "" when healthy, else why it must go."""
        if self._state != "ready" or not self.alive:
            return "it died"
        written = 0
        for fd, what in ((self.proc.stdout.fileno(), "logs"), (self._pipes.channel_fd, "channel")):
            while True:
                try:
                    data = os.read(fd, 64 * 1024)
                except BlockingIOError:
                    break
                except OSError as exc:
                    return f"its {what} pipe failed ({exc})"
                if not data:
                    return f"it closed its {what} pipe"
                if what == "channel":
                    return "it wrote on its reply channel while idle"
                written += len(data)
                self.idle_output += len(data)
                if written == len(data):
                    log.warning("an idle runtime wrote to its log: %r", data[:200])
                if self.idle_output > IDLE_OUTPUT_LIMIT:
                    return f"it wrote {self.idle_output} bytes of logs while idle"
        return ""

    def renice(self, value: int) -> None:
        """Set the CPU priority of every task of the jail (best effort)."""
        if self.proc.pid is None:
            return  # forked by a fork server: it has the server's priority
        for pid in _process_tree(self.proc.pid):
            with contextlib.suppress(OSError):
                for tid in os.listdir(f"/proc/{pid}/task"):
                    with contextlib.suppress(OSError):
                        os.setpriority(os.PRIO_PROCESS, int(tid), value)


def _kill(proc: subprocess.Popen[bytes], pidfd: int | None) -> None:
    """SIGKILL the spawned process (bwrap's --die-with-parent takes the jail with it)."""
    with contextlib.suppress(OSError):
        if pidfd is not None:
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        elif proc.pid is not None:
            os.kill(proc.pid, signal.SIGKILL)
        else:
            proc.kill()


def _process_tree(root: int) -> list[int]:
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        with contextlib.suppress(OSError, ValueError):
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/children", encoding="ascii") as children:
                    todo.extend(int(c) for c in children.read().split())
    return found


class _Spawner:
    """The pool's launcher: the real one, with every process it spawns registered first."""

    def __init__(self, launcher: Launcher, pool: "WarmPool") -> None:
        self.launcher = launcher
        self.name = launcher.name
        self.isolated = launcher.isolated
        self.pool = pool

    def spawn(self, *, channel_fd: int, memory_mb: int, timeout_s: float) -> subprocess.Popen[bytes]:
        proc = self.launcher.spawn(channel_fd=channel_fd, memory_mb=memory_mb, timeout_s=timeout_s)
        self.pool._track(proc)
        return proc


@dataclass
class _Stats:
    handed_out_warm: int = 0  # acquire found a ready runtime (or waited for one being started)
    started_on_demand: int = 0  # acquire had to start one itself
    started_in_background: int = 0
    discarded: int = 0  # idle runtimes that died or misbehaved
    retired: int = 0  # idle runtimes of a key nobody uses any more
    start_failures: int = 0
    last_error: str = ""


class WarmPool:
    """Ready runtimes per key, for one launcher, in one process. ``size=0``: no pool at all."""

    def __init__(
        self,
        launcher: Launcher,
        *,
        size: int,
        failure_limit: int = 3,
        ready_timeout: float = 30.0,
        refill_nice: int | None = None,
    ) -> None:
        self.launcher = launcher
        self.size = max(0, int(size))
        self.failure_limit = failure_limit
        self.ready_timeout = ready_timeout
        # Starting at a lower priority only pays if the runtime can get its priority back.
        self.refill_nice = (
            refill_nice if refill_nice is not None else (REFILL_NICE if os.geteuid() == 0 else 0)
        )
        self.stats = _Stats()
        self._pid = os.getpid()
        self._spawner = _Spawner(launcher, self)
        self._cond = threading.Condition()
        self._idle: dict[PoolKey, deque[PooledRuntime]] = {}
        self._wanted: dict[PoolKey, float] = {}  # key -> when it was last asked for (inf: pre-warmed)
        self._starting: dict[PoolKey, int] = {}  # background starts under way
        self._waiting: dict[PoolKey, int] = {}  # acquire calls waiting for one of those
        # Started, not ready yet: a pidfd each, for shutdown() to kill them without touching the
        # Popen that the starting thread is driving (JailProcess is not thread-safe).
        self._spawned: dict[subprocess.Popen[bytes], int | None] = {}
        self._local = threading.local()  # the process the current thread is starting
        self._failures = 0  # failed starts in a row
        self._retry_at = 0.0
        self._closed = False
        self._refill_threads: list[threading.Thread] = []
        self._parallel_starts = max(1, min(self.size, os.cpu_count() or 1))
        self._reaper_thread: threading.Thread | None = None
        self._reap_queue: queue.SimpleQueue[PooledRuntime | None] = queue.SimpleQueue()

    # -- handing out ---------------------------------------------------------------

    def acquire(self, *, memory_mb: int, timeout_s: float) -> RuntimeProcess:
        """A runtime in the ``ready`` state, started for this memory size and timeout class.

        The caller owns it: ``init`` (with the exact ``timeout_s``), invoke, then ``kill``.
        Raises ``PoolUnavailable`` while starts keep failing, ``PoolClosed`` after
        ``shutdown``, ``RuntimeStartError`` when a start in the calling thread fails.
        """
        if self.size == 0:
            return RuntimeProcess.start(
                self.launcher, memory_mb=memory_mb, timeout_s=timeout_s, ready_timeout=self.ready_timeout
            )
        key = PoolKey.of(memory_mb, timeout_s)
        began = time.monotonic()
        with self._cond:
            self._check_usable()
            if self._wanted.get(key) != math.inf:
                self._wanted[key] = began
            self._ensure_threads()
            runtime = self._take_idle(key)
            deadline = began + self.ready_timeout
            while runtime is None and self._starting.get(key, 0) > self._waiting.get(key, 0):
                # A start for this key is under way and nobody claimed it: it is ahead of a new one.
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._waiting[key] = self._waiting.get(key, 0) + 1
                try:
                    self._cond.wait(remaining)
                finally:
                    self._waiting[key] -= 1
                self._check_usable()
                runtime = self._take_idle(key)
            if runtime is not None:
                self.stats.handed_out_warm += 1
            self._cond.notify_all()  # the refill threads: top this key up again
        if runtime is not None:
            if self.refill_nice:
                runtime.renice(os.getpriority(os.PRIO_PROCESS, 0))
            runtime._dispose = self._reap_later
            return runtime
        runtime = self._start(key)
        with self._cond:
            self.stats.started_on_demand += 1
        runtime._dispose = self._reap_later
        return runtime

    def serves(self, launcher: Launcher) -> bool:
        """Whether this pool's runtimes are ``launcher``'s (itself, or forked in its jails)."""
        return self.launcher is launcher or getattr(self.launcher, "base", None) is launcher

    def prewarm(self, keys: Iterable[PoolKey]) -> None:
        """Keep these keys warm from now on, whether asked for or not."""
        if self.size == 0:
            return
        with self._cond:
            self._check_usable()
            for key in keys:
                self._wanted[key] = math.inf
            self._ensure_threads()
            self._cond.notify_all()

    def idle_count(self, key: PoolKey | None = None) -> int:
        with self._cond:
            if key is not None:
                return len(self._idle.get(key, ()))
            return sum(len(runtimes) for runtimes in self._idle.values())

    def wait_until_full(self, key: PoolKey, timeout: float) -> bool:
        """Block until ``size`` runtimes of ``key`` are idle (benchmarks and tests)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._idle.get(key, ())) < self.size:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._closed:
                    return False
                self._cond.wait(remaining)
            return True

    def describe(self) -> dict:
        """The pool's state, for logs, the fleet page and the benchmark."""
        with self._cond:
            return {
                "size": self.size,
                "idle": {str(k): len(v) for k, v in self._idle.items()},
                "starting": {str(k): n for k, n in self._starting.items() if n},
                "failing": self._failing(),
                "failures_in_a_row": self._failures,
                "handed_out_warm": self.stats.handed_out_warm,
                "started_on_demand": self.stats.started_on_demand,
                "started_in_background": self.stats.started_in_background,
                "discarded": self.stats.discarded,
                "retired": self.stats.retired,
                "start_failures": self.stats.start_failures,
                "last_error": self.stats.last_error,
            }

    # -- the state, under self._cond -------------------------------------------------

    def _check_usable(self) -> None:
        if self._closed:
            raise PoolClosed("the warm pool was shut down")
        if os.getpid() != self._pid:
            raise PoolClosed("a warm pool cannot be used after fork: make a new one in this process")
        if self._failing():
            raise PoolUnavailable(
                f"{self._failures} runtime starts failed in a row (next try in "
                f"{max(0.0, self._retry_at - time.monotonic()):.0f} s): {self.stats.last_error}"
            )

    def _failing(self) -> bool:
        return self._failures >= self.failure_limit and time.monotonic() < self._retry_at

    def _take_idle(self, key: PoolKey) -> PooledRuntime | None:
        runtimes = self._idle.get(key)
        while runtimes:
            runtime = runtimes.popleft()
            problem = runtime.idle_check()
            if not problem:
                return runtime
            self._discard(runtime, problem)
        return None

    def _discard(self, runtime: PooledRuntime, why: str) -> None:
        log.warning("discarding a warm runtime (%s MB): %s", runtime.memory_mb, why)
        self.stats.discarded += 1
        runtime._dispose = self._reap_later
        runtime.kill()

    def _ensure_threads(self) -> None:
        while len(self._refill_threads) < self._parallel_starts:
            thread = threading.Thread(target=self._refill_loop, name="warm-pool-refill", daemon=True)
            self._refill_threads.append(thread)
            thread.start()
        if self._reaper_thread is None:
            self._reaper_thread = threading.Thread(
                target=self._reap_loop, name="warm-pool-reaper", daemon=True
            )
            self._reaper_thread.start()

    def _next_key(self) -> PoolKey | None:
        """The key that needs a runtime most (the fewest idle), if any may be started now."""
        if time.monotonic() < self._retry_at:
            return None
        short = [
            (len(self._idle.get(key, ())) + self._starting.get(key, 0) - self._waiting.get(key, 0), key)
            for key in self._wanted
        ]
        short = [(have, key) for have, key in short if have < self.size]
        return min(short)[1] if short else None

    def _check_idle(self) -> None:
        now = time.monotonic()
        for key, runtimes in list(self._idle.items()):
            for runtime in list(runtimes):
                problem = runtime.idle_check()
                if problem:
                    runtimes.remove(runtime)
                    self._discard(runtime, problem)
            if now - self._wanted.get(key, -math.inf) > KEY_IDLE_TTL_S:
                self._wanted.pop(key, None)
                while runtimes:
                    self.stats.retired += 1
                    runtime = runtimes.popleft()
                    runtime._dispose = self._reap_later
                    runtime.kill()
        for key in [k for k, t in self._wanted.items() if now - t > KEY_IDLE_TTL_S]:
            del self._wanted[key]

    # -- starting ------------------------------------------------------------------------

    def _track(self, proc: subprocess.Popen[bytes]) -> None:
        """Called right after the spawn, in the thread that is starting the runtime."""
        pidfd = None
        with contextlib.suppress(OSError, TypeError):
            pidfd = os.pidfd_open(proc.pid)
        with self._cond:
            self._spawned[proc] = pidfd
            self._local.proc = proc
            if self._closed:  # shut down while it was being spawned: its start fails at once
                _kill(proc, pidfd)

    def _untrack(self) -> None:
        proc, self._local.proc = getattr(self._local, "proc", None), None
        with self._cond:
            pidfd = self._spawned.pop(proc, None) if proc is not None else None
            if pidfd is not None:
                os.close(pidfd)

    def _start(self, key: PoolKey) -> PooledRuntime:
        try:
            runtime = PooledRuntime.start(
                self._spawner,
                memory_mb=key.memory_mb,
                timeout_s=float(key.timeout_class),
                ready_timeout=self.ready_timeout,
            )
        except Exception as exc:
            self._untrack()
            with self._cond:
                if self._closed:
                    raise  # killed by shutdown(): not a failure of the jail
                self._failures += 1
                self.stats.start_failures += 1
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                self._retry_at = time.monotonic() + min(RETRY_MAX_S, RETRY_BASE_S * 2 ** (self._failures - 1))
                self._cond.notify_all()
            log.warning("a runtime (%s) did not start (%s in a row): %s", key, self._failures, exc)
            raise
        self._untrack()
        with self._cond:
            self._failures = 0
            self._retry_at = 0.0
        return runtime

    def _refill_loop(self) -> None:
        if self.refill_nice:
            with contextlib.suppress(OSError):  # this thread's jails inherit it
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), self.refill_nice)
        while True:
            with self._cond:
                key = None
                while not self._closed:
                    self._check_idle()
                    key = self._next_key()
                    if key is not None:
                        break
                    wait = CHECK_INTERVAL_S
                    if self._retry_at:
                        wait = min(wait, max(0.01, self._retry_at - time.monotonic()))
                    self._cond.wait(wait)
                if self._closed or key is None:
                    return
                self._starting[key] = self._starting.get(key, 0) + 1
            runtime = None
            with contextlib.suppress(Exception):  # counted and logged by _start; retried after a delay
                runtime = self._start(key)
            with self._cond:
                self._starting[key] -= 1
                if runtime is not None:
                    self.stats.started_in_background += 1
                    if self._closed:
                        runtime.kill()
                    else:
                        self._idle.setdefault(key, deque()).append(runtime)
                self._cond.notify_all()

    # -- reaping -------------------------------------------------------------------------

    def _reap_later(self, runtime: PooledRuntime) -> None:
        if self._reaper_thread is None or not self._reaper_thread.is_alive():
            runtime.reap()
        else:
            self._reap_queue.put(runtime)

    def _reap_loop(self) -> None:
        while True:
            runtime = self._reap_queue.get()
            if runtime is None:
                return
            try:
                runtime.reap()
            except Exception:
                log.exception("reaping a runtime failed")

    # -- the end -------------------------------------------------------------------------

    def shutdown(self, timeout: float = 10.0) -> None:
        """Kill every runtime of the pool (idle, starting, waiting to be reaped). Idempotent."""
        if os.getpid() != self._pid:
            return  # a forked copy: the runtimes belong to the parent
        with self._cond:
            self._closed = True
            idle = [runtime for runtimes in self._idle.values() for runtime in runtimes]
            self._idle.clear()
            for proc, pidfd in self._spawned.items():  # their starts fail, and reap them
                _kill(proc, pidfd)
            self._cond.notify_all()
        for runtime in idle:
            runtime._dispose = None
            runtime.kill()
        deadline = time.monotonic() + timeout
        for thread in self._refill_threads:
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))
        if self._reaper_thread is not None:
            self._reap_queue.put(None)
            if self._reaper_thread is not threading.current_thread():
                self._reaper_thread.join(max(0.0, deadline - time.monotonic()))
        while True:  # whatever is still queued (the reaper stopped, or never ran)
            try:
                runtime = self._reap_queue.get_nowait()
            except queue.Empty:
                break
            if runtime is not None:
                runtime.reap()
        shutdown_launcher = getattr(self.launcher, "shutdown", None)
        if shutdown_launcher is not None:  # fork servers
            shutdown_launcher()
