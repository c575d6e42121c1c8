"""Trusted checks for the event and context exercise. Runs in the worker, never in the jail.

What the handler should have said comes from the worker's own view of the invocation
(`ctx.request_id`, `ctx.invocation`, the function's configuration), never from the jail.
"""

import re

from sandbox.checks import CheckContext, CheckFailed, expect_dict, expect_equal, show

KEYS = ["requestId", "functionName", "memoryMb", "remainingMs", "coldStart", "invocation", "eventType"]
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def json_type(value: object) -> str:
    """The JSON type name of a parsed event."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def returns_the_invocation(ctx: CheckContext) -> None:
    """The handler returns an object with every key the exercise asks for."""
    expect_dict(
        ctx.result,
        what="The return value",
        keys=KEYS,
        hint="Return a dict with the keys " + ", ".join(KEYS) + ".",
    )


def reads_the_context(ctx: CheckContext) -> None:
    """requestId, functionName, memoryMb and remainingMs come from the context object."""
    result = ctx.result
    request_id = result["requestId"]
    if request_id != ctx.request_id:
        hint = "Lambda gives every invocation its id: return context.aws_request_id."
        if isinstance(request_id, str) and UUID_RE.match(request_id):
            hint = (
                "That is a fresh UUID of your own, not the invocation's. The id that appears in START, END "
                "and REPORT is context.aws_request_id."
            )
        raise CheckFailed(
            f"requestId is {show(request_id)}; this invocation's id is {show(ctx.request_id)}.",
            expected=ctx.request_id,
            got=request_id,
            hint=hint,
        )
    expect_equal(
        result["functionName"],
        ctx.function_name,
        what="functionName",
        hint="context.function_name holds the function's name.",
    )
    memory = result["memoryMb"]
    hint = "context.memory_limit_in_mb is the configured memory in MB."
    if memory == str(ctx.memory_mb):
        hint = "context.memory_limit_in_mb is a string such as '256': convert it with int()."
    expect_equal(memory, ctx.memory_mb, what="memoryMb", hint=hint)
    remaining = result["remainingMs"]
    timeout_ms = int(ctx.timeout_s * 1000)
    if not isinstance(remaining, int) or isinstance(remaining, bool):
        raise CheckFailed(
            f"remainingMs is {show(remaining)}; expected the whole number of milliseconds left.",
            got=remaining,
            hint="Call context.get_remaining_time_in_millis(), with the parentheses: it returns an int.",
        )
    if not 0 < remaining <= timeout_ms:
        raise CheckFailed(
            f"remainingMs is {remaining}; with a {ctx.timeout_s:g} s timeout and a quick handler it is "
            f"between 0 and {timeout_ms}.",
            got=remaining,
            hint="Return what context.get_remaining_time_in_millis() says when the handler runs.",
        )


def counts_invocations(ctx: CheckContext) -> None:
    """invocation counts the invokes of this environment; coldStart is true for the first only."""
    result = ctx.result
    got = result["invocation"]
    if got != ctx.invocation or isinstance(got, bool):
        hint = "Count with a module-level variable: `invocations = 0` outside the handler, `+= 1` inside."
        if got == 1 and ctx.invocation > 1:
            hint = (
                "This is a warm start: the same environment already ran the handler. A variable set inside "
                "the handler starts again every time; a module-level one (with `global`) is kept."
            )
        raise CheckFailed(
            f"invocation is {show(got)}; this is invocation {ctx.invocation} of this execution environment.",
            expected=ctx.invocation,
            got=got,
            hint=hint,
        )
    kind = "the cold start" if ctx.cold_start else "a warm start"
    expect_equal(
        result["coldStart"],
        ctx.cold_start,
        what=f"coldStart (this invocation was {kind})",
        hint="Only the first invocation in an environment runs Init: coldStart is invocation == 1.",
    )


def names_the_event_type(ctx: CheckContext) -> None:
    """eventType is the JSON type of the event: object, array, string, number, boolean or null."""
    expected = json_type(ctx.event)
    got = ctx.result["eventType"]
    if got == expected:
        return
    hint = "Use the JSON names: object, array, string, number, boolean or null."
    if got == type(ctx.event).__name__:
        hint = (
            f"{got!r} is Python's name for it. Lambda parsed JSON: say {expected!r}, the JSON type name "
            "(dict is object, list is array, str is string, int and float are number, None is null)."
        )
    elif expected == "boolean" and got == "number":
        hint = "True is an int in Python (bool subclasses int): check isinstance(event, bool) before int."
    raise CheckFailed(
        f"eventType is {show(got)}; the event {show(ctx.event)} is a JSON {expected}.",
        expected=expected,
        got=got,
        hint=hint,
    )


def logs_at_info(ctx: CheckContext) -> None:
    """The handler logs at least one line at INFO level, which Lambda stamps with the request id."""
    pattern = re.compile(rf"^\[INFO\]\t\S+\t{re.escape(ctx.request_id)}\t", re.MULTILINE)
    if pattern.search(ctx.logs):
        return
    hint = (
        "Log one line with logger.info(...). Lambda's root logger starts at WARNING: set "
        "logging.getLogger().setLevel(logging.INFO) at module level, or the line is dropped."
    )
    if re.search(r"^\[WARNING\]", ctx.logs, re.MULTILINE):
        hint = "Your line went out as [WARNING]; the exercise asks for logger.info(...) at INFO level."
    raise CheckFailed(
        "The log of this invocation has no [INFO] line. Lambda prefixes each logging record with its "
        "level, a timestamp and the request id; print() lines get no prefix.",
        hint=hint,
    )
