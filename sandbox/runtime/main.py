"""The runtime: start-up, then one request at a time from the worker (docs/runtime-protocol.md).

File descriptors, after start-up:
- 0 is /dev/null (a function reading stdin gets EOF, as on Lambda);
- 1 and 2 are the log stream;
- the requests (the original fd 0) and the reply channel (``--channel-fd``) are
  moved to the top of the descriptor table (1022 and 1023 under Lambda's limit of
  1024 open files), close-on-exec, so that neither a careless ``os.write(3, ...)``
  nor a child process reaches them. A function that hunts them down can forge its
  own record; the worker sees a record without the request's nonce, or one line
  too many, and reports ``bad_record``.
"""

import argparse
import base64
import contextlib
import gc
import importlib
import json
import logging
import mmap
import os
import resource
import secrets
import sys
import tempfile
import time
import traceback
import uuid
from collections.abc import Callable

from . import logs
from .awsmock import DUMMY_CREDENTIALS, MockedAws
from .errors import (
    LAMBDA_UNHANDLED_EXCEPTION_WARNING,
    RUNTIME_DIR,
    FaultError,
    clip_error,
    error_from_exception,
    get_handler,
    make_error,
    split_handler,
)
from .lambda_context import LambdaContext
from .loglines import billed_duration_ms, end_line, report_line, start_line
from .marshal import marshal_response, to_json
from .memory import MemoryMeter
from .protocol import (
    ERROR_MESSAGE_MAX_CHARS,
    EXIT_RUNTIME_ERROR,
    MAX_RESPONSE_BYTES,
    OP_END,
    OP_INIT,
    OP_INVOKE,
    OP_READY,
    OP_START,
    RESPONSE_TOO_LARGE_MESSAGE,
    RESPONSE_TOO_LARGE_TYPE,
    STACK_TRACE_MAX_CHARS,
)

DEFAULT_TASK_ROOT = "/var/task"
# Address space held back and freed on MemoryError, so that the runtime can still write the
# record: RLIMIT_AS is what raises it. Untouched anonymous memory: it costs no page.
PARACHUTE_BYTES = 8 * 1024 * 1024


def _move_fd(fd: int, target: int) -> int:
    if fd != target:
        os.dup2(fd, target, inheritable=False)
        os.close(fd)
    else:
        os.set_inheritable(fd, False)
    return target


def _private_fd_ceiling() -> int:
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return 1024 if soft == resource.RLIM_INFINITY else min(int(soft), 1024)


def _limit_malloc_arenas() -> None:
    """glibc reserves 64 MiB of address space per thread arena; under RLIMIT_AS that is
    memory the function never used (s3transfer's 10 threads would reserve 640 MiB)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        libc.mallopt(ctypes.c_int(-8), ctypes.c_int(2))  # M_ARENA_MAX = 2
    except (OSError, AttributeError):
        pass  # not glibc


def _add_packages(packages: list[str]) -> None:
    """Put the package folders after the standard library and before any site-packages."""
    position = next(
        (i for i, p in enumerate(sys.path) if p.endswith(("site-packages", "dist-packages"))), len(sys.path)
    )
    sys.path[position:position] = [p for p in packages if p not in sys.path]


def _write_module(root: str, module_name: str, code: str) -> None:
    path = os.path.join(root, *module_name.split(".")) + ".py"
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as module_file:
        module_file.write(code)


def _write_code(preferred_root: str | None, module_name: str, code: str) -> str:
    """Write the function's module into the task root: /var/task when writable, else a temp dir."""
    root = preferred_root or DEFAULT_TASK_ROOT
    try:
        _write_module(root, module_name, code)
    except OSError:
        root = tempfile.mkdtemp(prefix="lambda-task-")
        _write_module(root, module_name, code)
    return root


class Runtime:
    def __init__(
        self, *, reply_fd: int, request_fd: int, task_root: str | None, aws: MockedAws | None = None
    ) -> None:
        self._reply_fd = reply_fd
        self._requests = os.fdopen(request_fd, "rb", buffering=1 << 16)
        self._preferred_task_root = task_root
        self._aws_started = aws is not None  # the fork server started it before forking us
        self.aws = aws or MockedAws()
        self.memory = MemoryMeter()
        self.sink = logs.LogSink()
        self.handler: Callable | None = None
        self.init_error: dict | None = None
        self.init_duration_ms: float | None = None
        self.initialised = False
        self.invoked = False
        self.function_name = ""
        self.memory_mb = 128
        self.timeout_s = 3.0
        self.region = "us-east-1"
        self.account_id = "123456789012"
        self._parachute: mmap.mmap | None = None

    # -- channel ------------------------------------------------------------

    def send(self, line: bytes) -> None:
        data = memoryview(line)
        while data:
            data = data[os.write(self._reply_fd, data) :]

    def send_doc(self, doc: dict) -> None:
        self.send(to_json(doc).encode("ascii") + b"\n")

    # -- life cycle ---------------------------------------------------------

    def start(self) -> None:
        if not self._aws_started:
            self.aws.start()
        self._parachute = mmap.mmap(-1, PARACHUTE_BYTES)
        gc.collect()
        self.send_doc({"op": OP_READY})

    def serve(self) -> None:
        while True:
            line = self._requests.readline()
            if not line:
                return
            request = json.loads(line)
            op = request.get("op")
            if op == OP_INIT and not self.initialised:
                self.init(request)
            elif op == OP_INVOKE and self.initialised:
                self.invoke(request)
            else:
                raise RuntimeError(f"unexpected request {op!r} (initialised: {self.initialised})")

    # -- init ---------------------------------------------------------------

    def _set_environment(self, handler: str, task_root: str, env: dict[str, str]) -> None:
        name = self.function_name
        stream = time.strftime("%Y/%m/%d", time.gmtime()) + "/[$LATEST]" + uuid.uuid4().hex
        os.environ.update({str(k): str(v) for k, v in env.items()})
        os.environ.update(
            {
                "AWS_LAMBDA_FUNCTION_NAME": name,
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.memory_mb),
                "AWS_REGION": self.region,
                "AWS_DEFAULT_REGION": self.region,
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
                "AWS_LAMBDA_LOG_STREAM_NAME": stream,
                "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
                "AWS_EXECUTION_ENV": f"AWS_Lambda_python{sys.version_info.major}.{sys.version_info.minor}",
                "_HANDLER": handler,
                "LAMBDA_TASK_ROOT": task_root,
                "LAMBDA_RUNTIME_DIR": RUNTIME_DIR,
                "TZ": ":UTC",
                **DUMMY_CREDENTIALS,
            }
        )
        time.tzset()

    def init(self, request: dict) -> None:
        nonce = request["nonce"]
        handler = request.get("handler") or "lambda_function.lambda_handler"
        self.function_name = request["function_name"]
        self.memory_mb = int(request["memory_mb"])
        self.timeout_s = float(request["timeout_s"])
        self.region = request.get("region") or "us-east-1"
        self.account_id = request.get("account_id") or "123456789012"
        env = request.get("env") or {}
        self.initialised = True

        error: dict | None = None
        try:
            module_name, _ = split_handler(handler)
        except FaultError as e:
            module_name, error = "", make_error(e.msg, e.exception_type, e.trace)
        task_root = _write_code(self._preferred_task_root, module_name or "lambda_function", request["code"])
        self._set_environment(handler, task_root, env)
        os.chdir(task_root)
        sys.path.insert(0, task_root)
        importlib.invalidate_caches()
        self.aws.set_account(self.account_id)
        logs.setup_logging(self.sink, env.get("AWS_LAMBDA_LOG_LEVEL"))

        self.memory.mark_baseline()
        started = time.perf_counter()
        if error is None:
            try:
                self.handler = get_handler(handler)
            except Exception as exc:  # the function's module failed: report it as Lambda does
                self._release_parachute(exc)
                error = error_from_exception(exc)
                traceback.clear_frames(exc.__traceback__)
        self.init_duration_ms = round((time.perf_counter() - started) * 1000, 2)
        if error is not None:
            logging.warning(LAMBDA_UNHANDLED_EXCEPTION_WARNING)
            self.sink.log_error(error)
            self.init_error = error
        reply = {
            "op": OP_INIT,
            "nonce": nonce,
            "ok": error is None,
            "init_duration_ms": self.init_duration_ms,
        }
        if error is not None:
            reply["error"] = clip_error(error, ERROR_MESSAGE_MAX_CHARS, STACK_TRACE_MAX_CHARS)
        self.send_doc(reply)
        self._restore_parachute()

    # -- invoke -------------------------------------------------------------

    def _release_parachute(self, exc: BaseException) -> None:
        if isinstance(exc, MemoryError) and self._parachute is not None:
            self._parachute.close()
            self._parachute = None
            gc.collect()

    def _restore_parachute(self) -> None:
        if self._parachute is None:
            with contextlib.suppress(MemoryError, OSError):
                self._parachute = mmap.mmap(-1, PARACHUTE_BYTES)

    def _call_handler(
        self, request_id: str, event: object, timeout_s: float
    ) -> tuple[bytes | None, bool, dict | None]:
        """(payload, is_json, error). The handler's time window is this call."""
        if self.init_error is not None:
            return None, True, {**self.init_error, "requestId": request_id}
        assert self.handler is not None
        deadline_ms = int(time.time() * 1000 + timeout_s * 1000)
        arn = f"arn:aws:lambda:{self.region}:{self.account_id}:function:{self.function_name}"
        context = LambdaContext(request_id, deadline_ms, arn)
        try:
            response = self.handler(event, context)
            payload, is_json = marshal_response(response)
            del response
        except Exception as exc:  # the function failed: this is the error document it earned
            self._release_parachute(exc)
            error = error_from_exception(exc, request_id)
            traceback.clear_frames(exc.__traceback__)
            return None, True, error
        if len(payload) > MAX_RESPONSE_BYTES:
            error = make_error(RESPONSE_TOO_LARGE_MESSAGE, RESPONSE_TOO_LARGE_TYPE, None, request_id)
            return None, True, error
        return payload, is_json, None

    def invoke(self, request: dict) -> None:
        request_id = request["request_id"]
        nonce = request["nonce"]
        timeout_s = float(request.get("timeout_s") or self.timeout_s)
        self.aws.reset()
        self.aws.seed(request.get("aws_state"), self.region)
        os.environ["_X_AMZN_TRACE_ID"] = (
            f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)};Parent={secrets.token_hex(8)};Sampled=0"
        )
        logs.set_request(request_id)
        cold = not self.invoked
        self.invoked = True

        logs.write_stream(start_line(request_id))
        self.send_doc({"op": OP_START, "nonce": nonce, "request_id": request_id})
        started = time.perf_counter()
        payload, is_json, error = self._call_handler(request_id, request.get("event"), timeout_s)
        duration_ms = round((time.perf_counter() - started) * 1000, 2)
        self.send_doc({"op": OP_END, "nonce": nonce, "request_id": request_id})

        if error is not None and error["errorType"] != RESPONSE_TOO_LARGE_TYPE:
            self.sink.log_error(error)
        logs.write_stream(end_line(request_id))
        max_used = self.memory.max_memory_used_mb(self.memory_mb)
        init_ms = self.init_duration_ms if cold else None
        logs.write_stream(
            report_line(
                request_id,
                duration_ms=duration_ms,
                memory_size_mb=self.memory_mb,
                max_memory_used_mb=max_used,
                init_duration_ms=init_ms,
            )
        )
        record: dict = {
            "op": OP_INVOKE,
            "nonce": nonce,
            "request_id": request_id,
            "status": "error" if error is not None else "ok",
            "duration_ms": duration_ms,
            "billed_duration_ms": billed_duration_ms(duration_ms, init_ms),
            "memory_size_mb": self.memory_mb,
            "max_memory_used_mb": max_used,
            "init_duration_ms": init_ms,
            "aws_state": self.aws.export(self.region),
        }
        if error is not None:
            record["error"] = clip_error(error, ERROR_MESSAGE_MAX_CHARS, STACK_TRACE_MAX_CHARS)
            self.send(to_json(record).encode("ascii") + b"\n")
        else:
            assert payload is not None
            record["response_bytes"] = len(payload)
            if not is_json:
                record["result_base64"] = base64.b64encode(payload).decode("ascii")
                payload = b"null"
            head = to_json(record).encode("ascii")
            self.send(head[:-1] + b', "result": ' + payload + b"}\n")
        self._restore_parachute()


def _parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bootstrap.py", description="Coldstart Lambda runtime emulator")
    parser.add_argument("--channel-fd", type=int, required=True, help="fd the replies are written to")
    parser.add_argument("--packages", action="append", default=[], help="a site-packages folder (repeatable)")
    parser.add_argument(
        "--task-root", help="LAMBDA_TASK_ROOT (default: /var/task if writable, else a tmp dir)"
    )
    return parser.parse_args(argv)


def main(argv: list[str], script: str) -> int:
    args = _parse_args(argv)
    ceiling = _private_fd_ceiling()
    reply_fd = _move_fd(args.channel_fd, ceiling - 1)
    request_fd = _move_fd(0, ceiling - 2)
    devnull = os.open(os.devnull, os.O_RDONLY)
    if devnull != 0:
        os.dup2(devnull, 0)
        os.close(devnull)
    sys.argv = [script]
    _limit_malloc_arenas()
    logs.install_std_streams()
    _add_packages(args.packages)
    runtime = Runtime(reply_fd=reply_fd, request_fd=request_fd, task_root=args.task_root)
    try:
        runtime.start()
        runtime.serve()
    except Exception:  # the runtime's own failure (a seed it cannot apply...): say so, exit 70
        traceback.print_exc()
        return EXIT_RUNTIME_ERROR
    return 0
