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
    # The invocation as the worker made it (never taken from the jail's record).
    request_id: str = ""
    invocation: int = 0  # which invoke of its runtime: 1 is the cold start, 2 and on are warm
    function_name: str = ""
    memory_mb: int = 128
    timeout_s: float = 3.0

    @property
    def cold_start(self) -> bool:
        return self.invocation == 1

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


# --- Helpers for what exercises check most often. Each raises CheckFailed with a message that teaches.


def expect_schema(got: Any, schema: dict[str, Any], *, what: str, hint: str = "") -> None:
    """The value matches a JSON Schema."""
    import jsonschema

    try:
        jsonschema.validate(got, schema)
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path)
        raise CheckFailed(
            f"{what}{' at ' + where if where else ''}: {exc.message}.", got=got, hint=hint
        ) from None


def expect_s3_object(
    ctx: CheckContext, *, bucket: str, key: str, content_type: str | None = None, hint: str = ""
) -> dict[str, Any]:
    """An object exists in mocked S3 after the invocation (optionally with a content type)."""
    objects = ctx.s3_objects(bucket)
    if key not in objects:
        near = ", ".join(repr(k) for k in sorted(objects)[:5]) or "no objects"
        raise CheckFailed(f"Expected an object s3://{bucket}/{key}; the bucket has {near}.", hint=hint)
    found = objects[key]
    if content_type is not None and found.get("content_type") != content_type:
        raise CheckFailed(
            f"s3://{bucket}/{key} has ContentType {found.get('content_type')!r}, expected {content_type!r}.",
            expected=content_type,
            got=found.get("content_type"),
            hint=hint or "Pass ContentType=... to put_object.",
        )
    return found


def expect_dynamodb_item(
    ctx: CheckContext,
    *,
    table: str,
    key: dict[str, Any],
    fields: dict[str, Any] | None = None,
    hint: str = "",
) -> dict[str, Any]:
    """An item with this key exists in the mocked table, with these field values."""
    items = [i for i in ctx.dynamodb_items(table) if all(i.get(k) == v for k, v in key.items())]
    if not items:
        raise CheckFailed(f"Expected an item {show(key)} in table {table!r}; it is not there.", hint=hint)
    item = items[0]
    for name, value in (fields or {}).items():
        if item.get(name) != value:
            raise CheckFailed(
                f"Item {show(key)} in {table!r} has {name} = {show(item.get(name))}, expected {show(value)}.",
                expected=value,
                got=item.get(name),
                hint=hint,
            )
    return item


def expect_http(
    ctx: CheckContext,
    *,
    status: int,
    headers: dict[str, str] | None = None,
    body: str | None = None,
    hint: str = "",
) -> None:
    """The HTTP response the ALB client receives. Header names compare case-insensitively."""
    http = ctx.http
    if http is None:
        raise CheckFailed("This case did not come through an ALB.")
    if not http.ok:
        raise CheckFailed(f"ALB answered {http.status} itself: {http.reason}", hint=hint)
    if http.status != status:
        raise CheckFailed(
            f"The status is {http.status}, expected {status}.", expected=status, got=http.status, hint=hint
        )
    got_headers = {name.lower(): value for name, value in http.headers}
    for name, value in (headers or {}).items():
        if got_headers.get(name.lower()) != value:
            found = got_headers.get(name.lower())
            raise CheckFailed(
                f"The {name} header is {found!r}, expected {value!r}."
                if found
                else f"The response has no {name} header.",
                expected=value,
                got=found,
                hint=hint,
            )
    if body is not None and http.body.decode("utf-8", "replace") != body:
        raise CheckFailed(
            f"The body is {show(http.body.decode('utf-8', 'replace'))}, expected {show(body)}.", hint=hint
        )


def expect_batch(ctx: CheckContext, *, retried: list[str], hint: str = "") -> None:
    """Exactly these SQS messages go back to the queue; every other one is deleted."""
    batch = ctx.batch
    if batch is None:
        raise CheckFailed("This case did not come from an SQS event source mapping.")
    if sorted(batch.retried) != sorted(retried):
        raise CheckFailed(
            f"{batch.reason} Expected only {show(sorted(retried)) if retried else 'no messages'} to be retried.",
            expected=sorted(retried),
            got=sorted(batch.retried),
            hint=hint,
        )


def expect_readable_batch_response(ctx: CheckContext, *, expected: dict[str, Any]):
    """The SQS batch outcome, once Lambda could read the response (else the whole batch comes back)."""
    batch = ctx.batch
    if batch is None:
        raise CheckFailed("This case did not come from an SQS event source mapping.")
    if batch.whole_batch_failed:
        raise CheckFailed(
            f"Lambda could not read your response, so the whole batch comes back: {batch.reason}",
            expected=expected,
            got=ctx.result,
            hint='Return {"batchItemFailures": [{"itemIdentifier": record["messageId"]}, ...]}.',
        )
    return batch


def expect_log_line(ctx: CheckContext, pattern: str, *, hint: str = "") -> None:
    """A line of the invocation's log matches this regular expression."""
    import re

    if not any(re.search(pattern, line) for line in ctx.logs.splitlines()):
        raise CheckFailed(
            f"No log line matches {pattern!r}.", hint=hint or "print() and logging both reach the log."
        )
