"""Case verdicts and the plain-language messages that go with them."""

from enum import StrEnum


class Verdict(StrEnum):
    PASSED = "passed"
    FAILED = "failed"  # a check failed
    ERROR = "error"  # the handler (or its module) raised
    TIMEOUT = "timeout"
    MEMORY_LIMIT = "memory_limit"
    OUTPUT_LIMIT = "output_limit"
    CRASHED = "crashed"  # the runtime process died or its reply was forged/garbled
    SYSTEM_ERROR = "system_error"  # ours: retried, never counted against the learner


LABELS = {
    Verdict.PASSED: "Passed",
    Verdict.FAILED: "Failed",
    Verdict.ERROR: "Error",
    Verdict.TIMEOUT: "Timed out",
    Verdict.MEMORY_LIMIT: "Out of memory",
    Verdict.OUTPUT_LIMIT: "Too much output",
    Verdict.CRASHED: "Crashed",
    Verdict.SYSTEM_ERROR: "System error (ours)",
}


def timeout_message(timeout_s: float) -> str:
    return (
        f"Your handler did not return within the function's timeout of {timeout_s:.0f} s, so Lambda "
        "stopped it (see 'Task timed out' in the logs). Look for a loop that never ends, a sleep, "
        "or a call that waits forever. The next invocation starts cold: module globals are lost."
    )


def memory_message(memory_mb: int) -> str:
    return (
        f"Your handler ran out of memory (the function has {memory_mb} MB). On Lambda the runtime is "
        "killed ('Runtime exited with error: signal: killed'). Read large objects in chunks, and "
        "don't keep growing module-level lists across invocations."
    )


MARSHAL_ERROR_HINT = (
    "Lambda serializes the return value with json.dumps, so return only dicts, lists, strings, "
    "numbers, booleans and None. A bound method (a call without its parentheses), a set, a "
    "datetime, a Decimal or bytes is not JSON: convert it first."
)


OUTPUT_LIMIT_MESSAGE = (
    "Your handler wrote far more output than the log stream accepts, so it was stopped. "
    "Print summaries, not whole payloads, inside loops."
)


def crashed_message(detail: str) -> str:
    return (
        f"The runtime process died before it could reply ({detail}). This happens when code calls "
        "os._exit(), kills its own process, crashes the interpreter (e.g. with ctypes), or tampers "
        "with the runtime's reply channel."
    )


SYSTEM_ERROR_MESSAGE = (
    "Something went wrong on our side while grading this. It does not count against you; "
    "it has been retried automatically — please try again in a moment."
)
