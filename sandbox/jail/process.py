"""The trusted driver of one runtime process (docs/runtime-protocol.md, worker side).

``RuntimeProcess.start(launcher)`` spawns a runtime and waits for ``ready``;
``init`` loads the function; each ``invoke`` runs one case and returns what
happened. Everything the runtime sends is untrusted: the function runs in that
process and may write anything anywhere. So the driver

- reads the reply channel and the log pipe together (``selectors``) in the
  calling thread, against a deadline, never with a read that can block;
- writes requests without blocking either;
- caps the logs of one exchange at 256 KiB (head and tail kept, a marker in
  between), keeps draining so the runtime never blocks on a full pipe, and kills
  it past 16 MiB (fault ``output_limit``);
- accepts exactly the expected replies, in order, each carrying the request's
  nonce, each line at most ``MAX_RECORD_BYTES``, the record matching its schema,
  and nothing after it (else fault ``bad_record``);
- enforces the function's timeout from the moment the runtime says the handler
  starts until it says the handler returned (seeding and exporting the mocked
  AWS state are not the function's time), kills the whole process group when it
  passes, and writes what Lambda writes for a timeout (fault ``timeout``);
- reports a runtime that died as fault ``crashed`` with its exit status/signal.

After any fault the runtime is dead; the next case needs a new (cold) one.
"""

import contextlib
import json
import math
import os
import secrets
import selectors
import signal
import subprocess
import time
from dataclasses import dataclass
from typing import Any, Literal

from sandbox.runtime import loglines
from sandbox.runtime.protocol import (
    MAX_RECORD_BYTES,
    MEMORY_BASELINE_MB,
    OP_END,
    OP_INIT,
    OP_INVOKE,
    OP_READY,
    OP_START,
)

from .launcher import Launcher

Fault = Literal["timeout", "crashed", "output_limit", "bad_record"]

DEFAULT_HANDLER = "lambda_function.lambda_handler"
LOG_CAP_BYTES = 256 * 1024  # kept per exchange: the first 240 KiB and the last 16 KiB
LOG_TAIL_BYTES = 16 * 1024
OUTPUT_KILL_BYTES = 16 * 1024 * 1024  # read per exchange before the runtime is killed
INIT_TIMEOUT_S = 10.0  # Lambda's init phase limit (reference/aws-lambda-facts.md §5)
INIT_MARGIN_S = 1.0  # writing the module and the environment, before the import starts
SETUP_TIMEOUT_S = 15.0  # reset + seed of the mocked AWS before the handler starts
FINISH_TIMEOUT_S = 15.0  # END/REPORT + state export after the handler returned
EXIT_DRAIN_S = 0.5  # how long logs are read after the runtime died (children may hold the pipe)
_READ_CHUNK = 256 * 1024


class RuntimeStartError(Exception):
    """The runtime did not become ready: an infrastructure failure, never the learner's."""

    def __init__(self, message: str, *, logs: str, exit_code: int | None, signal: int | None) -> None:
        super().__init__(message)
        self.logs = logs
        self.exit_code = exit_code
        self.signal = signal


def _describe(fault: Fault | None, detail: str, exit_code: int | None, signum: int | None, oom: bool) -> str:
    if fault is None:
        return ""
    text = f"{fault}: {detail}" if detail else fault
    if fault == "crashed":  # otherwise the status is our own SIGKILL
        if signum is not None:
            text += f" (signal {signum}, {_signal_name(signum)})"
        elif exit_code is not None:
            text += f" (exit status {exit_code})"
    if oom:
        text += "; killed by the out-of-memory killer"
    return text


@dataclass(frozen=True)
class InitOutcome:
    ok: bool  # the handler was found; False on an init error or a fault
    error: dict | None  # Lambda's error document when init failed inside the runtime
    init_duration_ms: float | None
    logs: str  # what the module printed/logged at import, and the [ERROR] lines
    logs_truncated: bool
    fault: Fault | None
    exit_code: int | None
    signal: int | None
    wall_ms: float
    detail: str = ""  # what went wrong, in words, when fault is set
    oom_killed: bool = False  # the jail's memory cgroup killed a process (launchers that know)

    def describe(self) -> str:
        """The fault in one line for logs and messages ("" when there is none)."""
        return _describe(self.fault, self.detail, self.exit_code, self.signal, self.oom_killed)


@dataclass(frozen=True)
class InvokeOutcome:
    record: dict | None  # the validated invocation record, without "op"/"nonce"; None on a fault
    logs: str  # START ... REPORT as CloudWatch shows them (plus Lambda's lines on timeout/crash)
    logs_truncated: bool
    fault: Fault | None
    exit_code: int | None
    signal: int | None
    wall_ms: float
    cold: bool = False  # the first invocation of this runtime (REPORT has Init Duration)
    detail: str = ""  # what went wrong, in words, when fault is set
    oom_killed: bool = False  # the jail's memory cgroup killed a process (launchers that know)

    def describe(self) -> str:
        """The fault in one line for logs and messages ("" when there is none)."""
        return _describe(self.fault, self.detail, self.exit_code, self.signal, self.oom_killed)


class _Fault(Exception):
    def __init__(self, fault: Fault, detail: str) -> None:
        super().__init__(detail)
        self.fault = fault
        self.detail = detail


class _Deadline(Exception):
    pass


class _Exited(Exception):
    pass


class _LogCapture:
    """The log bytes of one exchange: head and tail kept, the middle counted."""

    def __init__(self) -> None:
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0
        self.dropped = 0

    def feed(self, data: bytes) -> None:
        self.total += len(data)
        room = LOG_CAP_BYTES - LOG_TAIL_BYTES - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data
            excess = len(self.tail) - LOG_TAIL_BYTES
            if excess > 0:
                del self.tail[:excess]
                self.dropped += excess

    def text(self) -> tuple[str, bool]:
        if not self.dropped:
            return (bytes(self.head) + bytes(self.tail)).decode("utf-8", "replace"), False
        tail = bytes(self.tail)
        newline = tail.find(b"\n")
        dropped = self.dropped
        if 0 <= newline < len(tail) - 1:  # start the tail on a line of its own
            dropped += newline + 1
            tail = tail[newline + 1 :]
        head = bytes(self.head).decode("utf-8", "replace")
        marker = f"... [log output truncated: {dropped} bytes dropped]\n"
        if not head.endswith("\n"):
            marker = "\n" + marker
        return head + marker + tail.decode("utf-8", "replace"), True


class _Pipes:
    """Non-blocking I/O with one runtime: requests out, replies and logs in."""

    def __init__(self, proc: subprocess.Popen[bytes], channel_fd: int) -> None:
        assert proc.stdin is not None and proc.stdout is not None
        self.proc = proc
        self.channel_fd = channel_fd
        self.log_fd = proc.stdout.fileno()
        self.stdin_fd = proc.stdin.fileno()
        for fd in (channel_fd, self.log_fd, self.stdin_fd):
            os.set_blocking(fd, False)
        self.selector = selectors.DefaultSelector()
        self.selector.register(channel_fd, selectors.EVENT_READ, "channel")
        self.selector.register(self.log_fd, selectors.EVENT_READ, "logs")
        self.pidfd: int | None = None  # ours to close
        exit_fd = getattr(proc, "exit_fd", None)  # a forked runtime (not our child) says when it ended
        if exit_fd is None:
            with contextlib.suppress(AttributeError, OSError):
                exit_fd = self.pidfd = os.pidfd_open(proc.pid)
        self.exit_watched = exit_fd is not None  # else: poll() every 100 ms
        if exit_fd is not None:
            self.selector.register(exit_fd, selectors.EVENT_READ, "exit")
        self.channel_buf = bytearray()
        self._scanned = 0  # channel_buf[:_scanned] holds no newline
        self.channel_open = True
        self.logs_open = True
        self.exited = False
        self.capture = _LogCapture()
        self._out = memoryview(b"")
        self._sending = False

    def begin(self) -> _LogCapture:
        self.capture = _LogCapture()
        return self.capture

    def send(self, data: bytes) -> None:
        self._out = memoryview(data)
        if self._out and not self._sending:
            self.selector.register(self.stdin_fd, selectors.EVENT_WRITE, "stdin")
            self._sending = True

    def _stop_sending(self) -> None:
        self._out = memoryview(b"")
        if self._sending:
            self.selector.unregister(self.stdin_fd)
            self._sending = False

    def has_exited(self) -> bool:
        """Whether the runtime exited, without reaping it (its pid stays ours until wait())."""
        if self.exited or self.proc.returncode is not None:
            return True
        if self.proc.pid is None:  # a forked runtime: its poll() only reads its exit report
            self.exited = self.proc.poll() is not None
            return self.exited
        try:
            info = os.waitid(os.P_PID, self.proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return True
        self.exited = info is not None
        return self.exited

    def _read_logs(self) -> bool:
        """Read once from the log pipe; False when nothing more is there now."""
        try:
            data = os.read(self.log_fd, _READ_CHUNK)
        except BlockingIOError:
            return False
        if not data:
            self.logs_open = False
            self.selector.unregister(self.log_fd)
            return False
        self.capture.feed(data)
        if self.capture.total > OUTPUT_KILL_BYTES:
            raise _Fault("output_limit", f"the function wrote more than {OUTPUT_KILL_BYTES} bytes of logs")
        return True

    def _read_channel(self) -> bool:
        try:
            data = os.read(self.channel_fd, _READ_CHUNK)
        except BlockingIOError:
            return False
        if not data:
            self.channel_open = False
            self.selector.unregister(self.channel_fd)
            return False
        self.channel_buf += data
        return True

    def _write_stdin(self) -> None:
        try:
            written = os.write(self.stdin_fd, self._out)
        except BlockingIOError:
            return
        except (BrokenPipeError, ConnectionResetError):
            self._stop_sending()  # it is dying; the exit shows up next
            return
        self._out = self._out[written:]
        if not self._out:
            self._stop_sending()

    def _pop_line(self) -> bytes | None:
        newline = self.channel_buf.find(b"\n", self._scanned)
        if newline < 0:
            self._scanned = len(self.channel_buf)
            if self._scanned > MAX_RECORD_BYTES:
                raise _Fault("bad_record", f"a reply line longer than {MAX_RECORD_BYTES} bytes")
            return None
        if newline > MAX_RECORD_BYTES:
            raise _Fault("bad_record", f"a reply line longer than {MAX_RECORD_BYTES} bytes")
        line = bytes(self.channel_buf[:newline])
        del self.channel_buf[: newline + 1]
        self._scanned = 0
        return line

    def next_line(self, deadline: float) -> bytes:
        """The next reply line; raises _Deadline, _Exited or _Fault."""
        while True:
            line = self._pop_line()
            if line is not None:
                return line
            if self.exited or (not self.exit_watched and self.has_exited()):
                self.exited = True
                while self.channel_open and self._read_channel():  # what it wrote before dying
                    line = self._pop_line()  # bounded: raises past MAX_RECORD_BYTES
                    if line is not None:
                        return line
                raise _Exited()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _Deadline()
            wait = remaining if self.exit_watched else min(remaining, 0.1)
            for key, _events in self.selector.select(wait):
                if key.data == "channel":
                    self._read_channel()
                elif key.data == "logs":
                    self._read_logs()
                elif key.data == "stdin":
                    self._write_stdin()
                elif key.data == "exit":
                    self.exited = True
                    self.selector.unregister(key.fd)

    def drain_logs(self) -> None:
        """Read what the log pipe holds now (written before the reply that ended the exchange)."""
        while self.logs_open and self._read_logs():
            pass

    def drain_after_exit(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while self.logs_open:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            ready = selectors.DefaultSelector()
            try:
                ready.register(self.log_fd, selectors.EVENT_READ)
                if not ready.select(remaining):
                    return
            finally:
                ready.close()
            try:
                while self._read_logs():
                    pass
            except _Fault:
                return

    def channel_has_more(self) -> bool:
        """Whether anything follows the reply that ended the exchange (one read is enough)."""
        if not self.channel_buf and self.channel_open:
            self._read_channel()
        return bool(self.channel_buf)

    def close(self) -> None:
        self.selector.close()
        for fd in (self.channel_fd, self.pidfd):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


# -- schema of the replies ------------------------------------------------------


def _is_number(value: object) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value >= 0
    )


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _check_error_document(error: object) -> None:
    if not isinstance(error, dict) or set(error) != {"errorMessage", "errorType", "requestId", "stackTrace"}:
        raise _Fault("bad_record", "the error document does not have Lambda's four keys")
    if not all(isinstance(error[k], str) for k in ("errorMessage", "errorType", "requestId")):
        raise _Fault("bad_record", "the error document has a field that is not a string")
    trace = error["stackTrace"]
    if not isinstance(trace, list) or not all(isinstance(frame, str) for frame in trace):
        raise _Fault("bad_record", "the error document's stackTrace is not a list of strings")


def _check_aws_state(state: object) -> None:
    if not isinstance(state, dict) or not set(state) <= {"s3", "dynamodb", "sqs", "truncated"}:
        raise _Fault("bad_record", "aws_state is not {s3, dynamodb, sqs}")
    s3, dynamodb, sqs = state.get("s3", {}), state.get("dynamodb", {}), state.get("sqs", {})
    ok = (
        isinstance(s3, dict)
        and all(isinstance(objects, dict) for objects in s3.values())
        and all(isinstance(entry, dict) for objects in s3.values() for entry in objects.values())
        and isinstance(dynamodb, dict)
        and all(
            isinstance(items, list) and all(isinstance(i, dict) for i in items) for items in dynamodb.values()
        )
        and isinstance(sqs, dict)
        and all(
            isinstance(messages, list) and all(isinstance(m, dict) for m in messages)
            for messages in sqs.values()
        )
        and isinstance(state.get("truncated", False), bool)
    )
    if not ok:
        raise _Fault("bad_record", "aws_state has the wrong shape")


_RECORD_COMMON = {
    "op",
    "nonce",
    "request_id",
    "status",
    "duration_ms",
    "billed_duration_ms",
    "memory_size_mb",
    "max_memory_used_mb",
    "init_duration_ms",
    "aws_state",
}


def _check_record(doc: dict, *, memory_mb: int) -> dict:
    status = doc.get("status")
    if status == "ok":
        keys = set(doc) - _RECORD_COMMON
        if not ({"result", "response_bytes"} <= keys <= {"result", "response_bytes", "result_base64"}):
            raise _Fault("bad_record", "an ok record needs result and response_bytes, nothing else")
        if not _is_count(doc["response_bytes"]):
            raise _Fault("bad_record", "response_bytes is not a count")
        if "result_base64" in doc and (
            not isinstance(doc["result_base64"], str) or doc["result"] is not None
        ):
            raise _Fault("bad_record", "a bytes response has result null and result_base64 a string")
    elif status == "error":
        if set(doc) - _RECORD_COMMON != {"error"}:
            raise _Fault("bad_record", "an error record needs error, nothing else")
        _check_error_document(doc["error"])
    else:
        raise _Fault("bad_record", f"unknown record status {status!r}")
    if not set(doc) >= _RECORD_COMMON:
        raise _Fault("bad_record", f"the record lacks {sorted(_RECORD_COMMON - set(doc))}")
    if not (_is_number(doc["duration_ms"]) and _is_count(doc["billed_duration_ms"])):
        raise _Fault("bad_record", "bad durations")
    if doc["memory_size_mb"] != memory_mb or not _is_count(doc["max_memory_used_mb"]):
        raise _Fault("bad_record", "bad memory figures")
    if doc["init_duration_ms"] is not None and not _is_number(doc["init_duration_ms"]):
        raise _Fault("bad_record", "bad init duration")
    _check_aws_state(doc["aws_state"])
    return {k: v for k, v in doc.items() if k not in ("op", "nonce")}


def _parse_reply(line: bytes, *, nonce: str | None, request_id: str | None = None) -> dict:
    try:
        doc = json.loads(line)
    except (ValueError, RecursionError):
        raise _Fault("bad_record", "a reply that is not JSON") from None
    if not isinstance(doc, dict):
        raise _Fault("bad_record", "a reply that is not a JSON object")
    if nonce is not None and doc.get("nonce") != nonce:
        raise _Fault("bad_record", "a reply without this request's nonce (written by the function?)")
    if request_id is not None and doc.get("request_id") != request_id:
        raise _Fault("bad_record", "a reply for another request")
    return doc


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def _signal_words(signum: int) -> str:
    """Go's wording, as Lambda's platform prints it ("signal: killed")."""
    words = {signal.SIGKILL: "killed", signal.SIGSEGV: "segmentation fault", signal.SIGABRT: "aborted"}
    if signum in words:
        return words[signum]
    try:
        text = signal.strsignal(signum) or f"signal {signum}"
    except ValueError:
        text = f"signal {signum}"
    return text[:1].lower() + text[1:]


class RuntimeProcess:
    """One runtime process: ready → init → invoke, invoke, ... until killed or faulted."""

    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        channel_fd: int,
        *,
        launcher: Launcher,
        memory_mb: int,
        timeout_s: float,
    ) -> None:
        self.proc = proc
        self.launcher_name = launcher.name
        self.isolated = launcher.isolated
        self.memory_mb = memory_mb
        self.timeout_s = timeout_s
        self.startup_ms = 0.0
        self.startup_logs = ""
        self.init_duration_ms: float | None = None
        self.last_init: InitOutcome | None = None
        self.max_memory_used_mb: int | None = None  # from the last record (for a timeout's REPORT)
        self._pipes = _Pipes(proc, channel_fd)
        self._state = "starting"  # → ready → initialised; dead after kill() or a fault
        self._invoked = False

    # -- life cycle -----------------------------------------------------------

    @classmethod
    def start(
        cls, launcher: Launcher, *, memory_mb: int = 128, timeout_s: float = 3.0, ready_timeout: float = 30.0
    ) -> "RuntimeProcess":
        """Spawn a runtime and wait for its ``ready``. Raises RuntimeStartError."""
        read_fd, write_fd = os.pipe()
        started = time.monotonic()
        try:
            proc = launcher.spawn(channel_fd=write_fd, memory_mb=memory_mb, timeout_s=timeout_s)
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        runtime = cls(proc, read_fd, launcher=launcher, memory_mb=memory_mb, timeout_s=timeout_s)
        capture = runtime._pipes.begin()
        try:
            doc = _parse_reply(runtime._pipes.next_line(started + ready_timeout), nonce=None)
            if doc != {"op": OP_READY} or runtime._pipes.channel_has_more():
                raise _Fault("bad_record", "the runtime's first reply is not ready")
        except (_Fault, _Deadline, _Exited) as exc:
            reason = {_Deadline: f"not ready within {ready_timeout:.0f} s", _Exited: "exited"}.get(
                type(exc), str(exc)
            )
            runtime._end_with_fault()
            logs, _ = capture.text()
            code, sig = runtime._exit_status()
            raise RuntimeStartError(
                f"runtime {launcher.name} failed to start: {reason}", logs=logs, exit_code=code, signal=sig
            ) from None
        runtime._pipes.drain_logs()
        runtime.startup_logs, _ = capture.text()
        runtime.startup_ms = (time.monotonic() - started) * 1000
        runtime._state = "ready"
        return runtime

    @property
    def alive(self) -> bool:
        return self._state != "dead" and not self._pipes.has_exited()

    @property
    def cold(self) -> bool:
        """True until the first invocation: it will report an Init Duration."""
        return not self._invoked

    def kill(self) -> None:
        """Kill the runtime's whole process group (the jail) and reap it. Idempotent."""
        if self._state == "dead":
            return
        self._state = "dead"
        self._killpg()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._pipes.close()

    def _killpg(self) -> None:
        """SIGKILL the process group, then the launcher's own kill (a jail may need more).

        The group first: until the process is reaped its pid, the group's id, cannot be reused.
        """
        if self.proc.returncode is None and self.proc.pid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)  # start_new_session: the group id is the pid
        with contextlib.suppress(ProcessLookupError, PermissionError):
            self.proc.kill()

    def _oom_killed(self) -> bool:
        return bool(getattr(self.proc, "oom_killed", False))

    def _exit_status(self) -> tuple[int | None, int | None]:
        code = self.proc.returncode
        if code is None:
            return None, None
        return (None, -code) if code < 0 else (code, None)

    def __enter__(self) -> "RuntimeProcess":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.kill()

    def _end_with_fault(self) -> None:
        """Kill the group, reap, and collect the logs that are left.

        A runtime that already exited keeps its own status: killing the group only
        reaches what it left behind.
        """
        if self._state == "dead":
            return
        self._killpg()
        self.proc.wait()
        self._pipes.drain_after_exit(EXIT_DRAIN_S)
        self.kill()

    # -- init -------------------------------------------------------------------

    def init(
        self,
        *,
        code: str,
        function_name: str,
        handler: str = DEFAULT_HANDLER,
        timeout_s: float | None = None,
        region: str = "us-east-1",
        account_id: str = "123456789012",
        env: dict[str, str] | None = None,
        init_timeout_s: float = INIT_TIMEOUT_S,
        memory_mb: int | None = None,
    ) -> InitOutcome:
        """Load the function (Lambda's INIT phase). Also kept as ``last_init``."""
        if self._state != "ready":
            raise RuntimeError(f"init needs a ready runtime, this one is {self._state}")
        if memory_mb is not None and memory_mb != self.memory_mb:
            raise ValueError(
                f"this runtime was started (and limited) for {self.memory_mb} MB, not {memory_mb}"
            )
        self._state = "initialised"
        if timeout_s is not None:
            self.timeout_s = timeout_s
        nonce = secrets.token_hex(16)
        request = {
            "op": OP_INIT,
            "nonce": nonce,
            "code": code,
            "handler": handler,
            "function_name": function_name,
            "memory_mb": self.memory_mb,
            "timeout_s": self.timeout_s,
            "region": region,
            "account_id": account_id,
            "env": env or {},
        }
        pipes = self._pipes
        capture = pipes.begin()
        sent = time.monotonic()
        fault: Fault | None = None
        detail = ""
        doc: dict = {}
        try:
            pipes.send(json.dumps(request).encode("ascii") + b"\n")
            doc = _parse_reply(pipes.next_line(sent + INIT_MARGIN_S + init_timeout_s), nonce=nonce)
            ok = doc.get("ok")
            keys = {"op", "nonce", "ok", "init_duration_ms"} | (set() if ok is True else {"error"})
            if doc.get("op") != OP_INIT or set(doc) != keys or not isinstance(ok, bool):
                raise _Fault("bad_record", "the init reply has the wrong shape")
            if not _is_number(doc["init_duration_ms"]):
                raise _Fault("bad_record", "the init reply has a bad init duration")
            if not ok:
                _check_error_document(doc["error"])
            pipes.drain_logs()
            if pipes.channel_has_more():
                raise _Fault("bad_record", "more than one init reply")
        except _Fault as exc:
            fault, detail = exc.fault, exc.detail
            self._end_with_fault()
        except _Deadline:
            fault, detail = "timeout", f"init did not finish within {init_timeout_s:.0f} s"
            self._end_with_fault()
        except _Exited:
            fault, detail = "crashed", "the runtime exited during init"
            self._end_with_fault()
        wall_ms = (time.monotonic() - sent) * 1000
        logs, truncated = capture.text()
        code_, sig = self._exit_status()
        if fault is not None:
            outcome = InitOutcome(
                False, None, None, logs, truncated, fault, code_, sig, wall_ms, detail, self._oom_killed()
            )
        else:
            self.init_duration_ms = float(doc["init_duration_ms"])
            outcome = InitOutcome(
                doc["ok"], doc.get("error"), self.init_duration_ms, logs, truncated, None, None, None, wall_ms
            )
        self.last_init = outcome
        return outcome

    # -- invoke -----------------------------------------------------------------

    def invoke(
        self, request_id: str, event: Any, aws_state: dict | None = None, timeout_s: float | None = None
    ) -> InvokeOutcome:
        if self._state != "initialised":
            raise RuntimeError(f"invoke needs an initialised runtime, this one is {self._state}")
        timeout = float(timeout_s if timeout_s is not None else self.timeout_s)
        nonce = secrets.token_hex(16)
        request = {
            "op": OP_INVOKE,
            "nonce": nonce,
            "request_id": request_id,
            "event": event,
            "aws_state": aws_state,
            "timeout_s": timeout,
        }
        cold = not self._invoked
        self._invoked = True
        pipes = self._pipes
        capture = pipes.begin()
        sent = time.monotonic()
        phase, deadline, handler_started = "setup", sent + SETUP_TIMEOUT_S, sent
        record: dict | None = None
        fault: Fault | None = None
        detail = ""
        lambda_lines = ""
        try:
            pipes.send(json.dumps(request).encode("ascii") + b"\n")
            while record is None:
                doc = _parse_reply(pipes.next_line(deadline), nonce=nonce, request_id=request_id)
                op = doc.get("op")
                if phase == "setup" and op == OP_START and len(doc) == 3:
                    phase, handler_started = "running", time.monotonic()
                    deadline = handler_started + timeout
                elif phase == "running" and op == OP_END and len(doc) == 3:
                    phase, deadline = "finishing", time.monotonic() + FINISH_TIMEOUT_S
                elif phase == "finishing" and op == OP_INVOKE:
                    record = _check_record(doc, memory_mb=self.memory_mb)
                else:
                    raise _Fault("bad_record", f"unexpected reply {op!r} while {phase}")
            pipes.drain_logs()
            if pipes.channel_has_more():
                raise _Fault("bad_record", "more than one record")
        except _Fault as exc:
            record, fault, detail = None, exc.fault, exc.detail
            self._end_with_fault()
        except _Deadline:
            fault = "timeout"
            if phase == "running":
                elapsed = time.monotonic() - handler_started
                self._end_with_fault()
                detail = f"the handler ran for more than {timeout:.2f} s"
                lambda_lines = loglines.timeout_line(request_id, elapsed) + self._closing_lines(
                    request_id, timeout * 1000, cold, status="timeout"
                )
            else:
                self._end_with_fault()
                detail = f"the runtime did not answer while {phase} (not the handler's time)"
        except _Exited:
            fault = "crashed"
            elapsed_ms = (time.monotonic() - handler_started) * 1000
            self._end_with_fault()
            code, sig = self._exit_status()
            detail = f"the runtime exited while {phase}"
            if sig is not None:
                message = f"Runtime exited with error: signal: {_signal_words(sig)}"
            elif code:
                message = f"Runtime exited with error: exit status {code}"
            else:
                message = "Runtime exited without providing a reason"
            if phase == "running":
                oom = self._oom_killed()
                lambda_lines = loglines.platform_error_lines(
                    request_id, message, "Runtime.ExitError"
                ) + self._closing_lines(
                    request_id,
                    elapsed_ms,
                    cold,
                    status="error",
                    error_type="Runtime.ExitError",
                    max_memory_used_mb=self.memory_mb if oom else None,
                )
        wall_ms = (time.monotonic() - sent) * 1000
        logs, truncated = capture.text()
        if record is not None:
            self.max_memory_used_mb = record["max_memory_used_mb"]
        code, sig = self._exit_status()
        oom = fault is not None and self._oom_killed()
        return InvokeOutcome(
            record, logs + lambda_lines, truncated, fault, code, sig, wall_ms, cold, detail, oom
        )

    def _closing_lines(
        self,
        request_id: str,
        duration_ms: float,
        cold: bool,
        *,
        status: str,
        error_type: str | None = None,
        max_memory_used_mb: int | None = None,
    ) -> str:
        """END and REPORT as Lambda writes them when it stopped the function itself.

        Max Memory Used: the runtime cannot tell any more; the last figure it reported
        (or the baseline), or the memory size when the OOM killer struck, as Lambda shows.
        """
        return loglines.end_line(request_id) + loglines.report_line(
            request_id,
            duration_ms=duration_ms,
            memory_size_mb=self.memory_mb,
            max_memory_used_mb=max_memory_used_mb or self.max_memory_used_mb or MEMORY_BASELINE_MB,
            init_duration_ms=self.init_duration_ms if cold else None,
            status=status,
            error_type=error_type,
        )
