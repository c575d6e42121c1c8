"""The function's log stream inside the runtime: fd 1 (stderr, fd 2, joins it).

As awslambdaric does it (reference/aws-lambda-facts.md §4-5):
- ``print`` goes out raw, unbuffered (``sys.stdout``/``sys.stderr`` flush on every write);
- the root logger gets one handler with the text format
  ``[%(levelname)s]\\t%(asctime)s.%(msecs)03dZ\\t%(aws_request_id)s\\t%(message)s\\n`` (UTC)
  and no level of its own, so Python's default WARNING applies unless the function
  sets ``AWS_LAMBDA_LOG_LEVEL`` (then ``logging.basicConfig`` is a no-op, as on Lambda);
- logging records and the runtime's own lines go to the log sink, which on Lambda
  is a telemetry fd, not ``sys.stdout``: replacing ``sys.stdout`` hides prints, not logs.
"""

import io
import logging
import os
import sys
import time

from .loglines import error_log_text

LOG_FORMAT = "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n"
DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"

# AWS_LAMBDA_LOG_LEVEL values (advanced logging controls) and the logging level each means.
_LOG_LEVELS = {
    "TRACE": logging.DEBUG,
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARN": logging.WARNING,
    "ERROR": logging.ERROR,
    "FATAL": logging.CRITICAL,
}

_request_id: str | None = None
_tenant_id: str | None = None


def set_request(request_id: str | None, tenant_id: str | None = None) -> None:
    global _request_id, _tenant_id
    _request_id, _tenant_id = request_id, tenant_id


def write_stream(text: str, fd: int = 1) -> None:
    """Write to the log stream itself, bypassing whatever ``sys.stdout`` is now."""
    data = memoryview(text.encode("utf-8", "backslashreplace"))
    while data:
        written = os.write(fd, data)
        data = data[written:]


class Unbuffered:
    """awslambdaric's wrapper: every write reaches the stream at once."""

    def __init__(self, stream: io.TextIOBase) -> None:
        self.stream = stream

    def __getattr__(self, attr: str) -> object:
        return getattr(self.stream, attr)

    def write(self, msg: str) -> int:
        written = self.stream.write(msg)
        self.stream.flush()
        return written

    def writelines(self, msgs: list[str]) -> None:
        self.stream.writelines(msgs)
        self.stream.flush()


def install_std_streams() -> None:
    for name, fd in (("stdout", 1), ("stderr", 2)):
        stream = io.TextIOWrapper(io.FileIO(fd, "w", closefd=False), encoding="utf-8", errors="strict")
        setattr(sys, name, Unbuffered(stream))


class LogSink:
    def log(self, msg: str, frame_type: bytes | None = None) -> None:
        write_stream(msg)

    def log_error(self, error: dict) -> None:
        write_stream(error_log_text(error))


class LambdaLoggerHandler(logging.Handler):
    def __init__(self, log_sink: LogSink) -> None:
        super().__init__()
        self.log_sink = log_sink

    def emit(self, record: logging.LogRecord) -> None:
        self.log_sink.log(self.format(record))


class LambdaLoggerFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = _request_id or ""
        record.tenant_id = _tenant_id
        return True


def setup_logging(sink: LogSink, log_level: str | None) -> None:
    logging.Formatter.converter = time.gmtime
    handler = LambdaLoggerHandler(sink)
    handler.setFormatter(logging.Formatter(LOG_FORMAT, DATE_FORMAT))
    handler.addFilter(LambdaLoggerFilter())
    root = logging.getLogger()
    level = _LOG_LEVELS.get((log_level or "").upper())
    if level is not None:
        root.setLevel(level)
    root.addHandler(handler)
