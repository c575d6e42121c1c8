"""Helpers for exercise checks (course/content/*/exercise/checks.py).

Checks run in the trusted worker, never in the jail. A check is a plain function
`check(ctx: CheckContext) -> None` that raises CheckFailed with a message that teaches:
what was expected, what came back, and where to look.
"""

import json
from dataclasses import dataclass, field
from typing import Any

from sandbox.contracts.alb import HttpResult
from sandbox.contracts.sqs import BatchOutcome


class CheckFailed(Exception):
    def __init__(self, message: str, *, expected: Any = None, got: Any = None, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.expected = expected
        self.got = got
        self.hint = hint


@dataclass
class CheckContext:
    """What a check may look at: the case's event, the handler's answer, the AWS state after."""

    event: Any
    result: Any = None
    error: dict[str, Any] | None = None
    logs: str = ""
    aws_state: dict[str, Any] = field(default_factory=dict)
    seed_state: dict[str, Any] = field(default_factory=dict)
    http: HttpResult | None = None  # ALB exercises: the HTTP response the client would get
    batch: BatchOutcome | None = None  # SQS exercises: what the event source mapping would do
    env: dict[str, str] = field(default_factory=dict)

    # --- Conveniences for the common cases
    def s3_objects(self, bucket: str) -> dict[str, dict[str, Any]]:
        return self.aws_state.get("s3", {}).get(bucket, {})

    def dynamodb_items(self, table: str) -> list[dict[str, Any]]:
        return self.aws_state.get("dynamodb", {}).get(table, [])

    def sqs_messages(self, queue: str) -> list[dict[str, Any]]:
        return self.aws_state.get("sqs", {}).get(queue, [])


def show(value: Any) -> str:
    """A short, stable rendering of a value for messages."""
    try:
        text = json.dumps(value, sort_keys=True, default=repr)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 300 else text[:300] + "…"


def expect_equal(got: Any, expected: Any, *, what: str, hint: str = "") -> None:
    if got != expected or type(got) is not type(expected):
        if got == expected:  # e.g. 1 == 1.0 == True: the type is the mistake
            message = f"{what} has the right value but the wrong type: {type(got).__name__}, expected {type(expected).__name__}."
        else:
            message = f"{what} is {show(got)}, expected {show(expected)}."
        raise CheckFailed(message, expected=expected, got=got, hint=hint)


def expect_dict(got: Any, *, what: str, keys: list[str] | None = None, hint: str = "") -> dict[str, Any]:
    if not isinstance(got, dict):
        raise CheckFailed(
            f"{what} should be a JSON object (a Python dict), got {type(got).__name__}: {show(got)}.",
            got=got,
            hint=hint,
        )
    missing = [k for k in (keys or []) if k not in got]
    if missing:
        raise CheckFailed(
            f"{what} is missing the key{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))}; "
            f"it has {', '.join(map(repr, got)) or 'no keys'}.",
            got=got,
            hint=hint,
        )
    return got


def expect_true(condition: bool, message: str, *, hint: str = "") -> None:
    if not condition:
        raise CheckFailed(message, hint=hint)
