"""The lines Lambda writes into a function's log stream, as CloudWatch shows them.

Pure functions, shared by the runtime (START/END/REPORT, ``[ERROR]`` lines) and
by the worker (the lines Lambda writes when it kills a function: timeout, crash).
Formats from reference/aws-lambda-facts.md §5:

    START RequestId: <id> Version: $LATEST
    END RequestId: <id>
    REPORT RequestId: <id>\\tDuration: 1006.16 ms\\tBilled Duration: 4262 ms\\tMemory Size: 160 MB\\t
        Max Memory Used: 160 MB\\tInit Duration: 3254.98 ms      (Init Duration on cold starts only)
    <ISO8601>Z <id> Task timed out after 3.00 seconds

Billing (§5 "Billing"): Duration rounded up to the next millisecond; since
1 Aug 2025 the INIT phase is billed too for on-demand ZIP functions on managed
runtimes, so on a cold start Billed Duration = ceil(Duration + Init Duration).
"""

import time

ERROR_LOG_IDENT = "\u00a0"  # awslambdaric replaces leading spaces of traceback lines with U+00A0


def start_line(request_id: str, version: str = "$LATEST") -> str:
    return f"START RequestId: {request_id} Version: {version}\n"


def end_line(request_id: str) -> str:
    return f"END RequestId: {request_id}\n"


def _hundredths(ms: float) -> int:
    return round(ms * 100)


def billed_duration_ms(duration_ms: float, init_duration_ms: float | None = None) -> int:
    """ceil(Duration [+ Init Duration]) on the values as printed (2 decimals), at least 1 ms."""
    total = _hundredths(duration_ms) + (_hundredths(init_duration_ms) if init_duration_ms is not None else 0)
    return max(1, -(-total // 100))


def report_line(
    request_id: str,
    *,
    duration_ms: float,
    memory_size_mb: int,
    max_memory_used_mb: int,
    init_duration_ms: float | None = None,
    status: str | None = None,
    error_type: str | None = None,
) -> str:
    fields = [
        f"REPORT RequestId: {request_id}",
        f"Duration: {duration_ms:.2f} ms",
        f"Billed Duration: {billed_duration_ms(duration_ms, init_duration_ms)} ms",
        f"Memory Size: {memory_size_mb} MB",
        f"Max Memory Used: {max_memory_used_mb} MB",
    ]
    if init_duration_ms is not None:
        fields.append(f"Init Duration: {init_duration_ms:.2f} ms")
    if status is not None:
        fields.append(f"Status: {status}")
    if error_type is not None:
        fields.append(f"Error Type: {error_type}")
    return "\t".join(fields) + "\n"


def iso_timestamp(epoch_s: float | None = None) -> str:
    """2020-11-10T05:46:57.874Z"""
    if epoch_s is None:
        epoch_s = time.time()
    millis = int(epoch_s * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch_s)) + f".{millis:03d}Z"


def timeout_line(request_id: str, elapsed_s: float, epoch_s: float | None = None) -> str:
    return f"{iso_timestamp(epoch_s)} {request_id} Task timed out after {elapsed_s:.2f} seconds\n"


def platform_error_lines(request_id: str, message: str, error_type: str) -> str:
    """How the platform reports a fault it detected itself (reference §5, RIE events_api.go)."""
    return f"RequestId: {request_id} Error: {message}\n{error_type}\n"


def _replace_indentation(line: str) -> str:
    stripped = line.lstrip(" ")
    return ERROR_LOG_IDENT * (len(line) - len(stripped)) + stripped


def error_log_text(error: dict) -> str:
    """awslambdaric's ``log_error`` for the text log format.

    ``[ERROR] <Type>: <message>`` then ``Traceback (most recent call last):`` then the
    frames, leading spaces as U+00A0. No timestamp or request id (those belong to
    ``logging`` records). On Lambda the lines travel as one framed record, which
    CloudWatch shows as one event with ``\\n`` between the lines.
    """
    description = "[ERROR]"
    error_type = error.get("errorType")
    error_message = error.get("errorMessage")
    if error_type:
        description += " " + error_type
    if error_message:
        if error_type:
            description += ":"
        description += " " + error_message
    lines = [description]
    stack_trace = error.get("stackTrace")
    if stack_trace is not None:
        lines.append("Traceback (most recent call last):")
        for element in stack_trace:
            if element == "":
                lines.append("")
            else:
                lines.extend(_replace_indentation(line) for line in element.splitlines())
    return "\n".join(lines) + "\n"
