"""Trusted checks for the SQS event source mapping exercise. Runs in the worker, never in the jail.

`ctx.batch` says what the event source mapping does with the response (which messages are
deleted, which come back); `ctx.dynamodb_items` is the table after the invocation.
"""

import json
from decimal import Decimal, InvalidOperation

from sandbox.checks import CheckContext, CheckFailed, expect_readable_batch_response, show

FLOAT_ERROR = "Float types are not supported"
DECIMAL_HINT = (
    "The boto3 DynamoDB resource rejects Python floats (look for 'Float types are not supported' in "
    "your logs): parse the body with json.loads(body, parse_float=decimal.Decimal)."
)
STOPPED_HINT = (
    "You stopped at the first bad message. On a standard queue, go on with the next record (`continue`, not "
    "`break` or `return`): stopping at the first failure is for FIFO queues only."
)


def verdict(body: str) -> tuple[bool, str, Decimal | None]:
    """(fails?, why, amount) for one message body, by the exercise's rules."""
    try:
        order = json.loads(body, parse_float=Decimal)
    except json.JSONDecodeError:
        return True, "its body is not valid JSON", None
    amount = order["amount"]
    if amount < 0:
        return True, f"its amount {amount} is negative", Decimal(amount)
    return False, "", Decimal(amount)


def _good_reported_hint(ctx: CheckContext, reported: list[dict]) -> str:
    if FLOAT_ERROR in ctx.logs:
        return DECIMAL_HINT
    if all(m["amount"] == 0 for m in reported):
        return "0 is not negative: test `amount < 0`, not `not amount` or `amount <= 0`."
    if all(m["amount"] != m["amount"].to_integral_value() for m in reported):
        return DECIMAL_HINT
    return (
        "Report a message only when it fails (its body is not JSON or its amount is negative): collect "
        "its id inside the except, or the `amount < 0` branch, of the loop over the records."
    )


def _stopped_early(ctx: CheckContext, messages: list[dict]) -> bool:
    """The first bad message was reported, and nothing after it was handled: a `break` in the loop."""
    stored = {item.get("order_id") for item in ctx.dynamodb_items(ctx.env["TABLE_NAME"])}
    retried = set(ctx.batch.retried) if ctx.batch else set()
    done = retried | {
        m["id"] for m in messages if not m["fails"] and json.loads(m["body"])["order_id"] in stored
    }
    first = next((i for i, m in enumerate(messages) if m["fails"]), None)
    if first is None or messages[first]["id"] not in retried:
        return False
    later = messages[first + 1 :]
    return bool(later) and not any(m["id"] in done for m in later)


def _messages(ctx: CheckContext) -> list[dict]:
    found = []
    for number, record in enumerate(ctx.event["Records"], start=1):
        fails, why, amount = verdict(record["body"])
        found.append(
            {
                "n": number,
                "id": record["messageId"],
                "body": record["body"],
                "fails": fails,
                "why": why,
                "amount": amount,
            }
        )
    return found


def _describe(message: dict) -> str:
    return f"message {message['n']} ({message['id']}, body {show(message['body'])})"


def reports_failures(ctx: CheckContext) -> None:
    """Exactly the bad messages are reported, in record order; the others are deleted."""
    messages = _messages(ctx)
    expected_ids = [m["id"] for m in messages if m["fails"]]
    expected = {"batchItemFailures": [{"itemIdentifier": i} for i in expected_ids]}
    batch = expect_readable_batch_response(ctx, expected=expected)

    retried = set(batch.retried)
    good = [m for m in messages if not m["fails"]]
    good_reported = [m for m in good if m["id"] in retried]
    if good_reported:
        if len(good_reported) == len(good) and len(messages) > 1:
            message = (
                "You reported every message as failed (good ones included), so all "
                f"{len(batch.retried)} come back after the visibility timeout and are processed again."
            )
        else:
            message = (
                f"You reported {_describe(good_reported[0])} as failed, but it is a valid order, so it "
                "would be processed again."
            )
        raise CheckFailed(
            message, expected=expected, got=ctx.result, hint=_good_reported_hint(ctx, good_reported)
        )
    for m in messages:
        if m["fails"] and m["id"] not in retried:
            hint = (
                "Catch the error for this one message and add {'itemIdentifier': record['messageId']} to the "
                "failures; the other messages still succeed."
            )
            if _stopped_early(ctx, messages):
                hint = STOPPED_HINT
            elif not isinstance(ctx.result, dict) or not ctx.result.get("batchItemFailures"):
                hint += ' Return {"batchItemFailures": failures}.'
            raise CheckFailed(
                f"M{_describe(m)[1:]} should fail because {m['why']}, but it was not reported, so "
                "Lambda deleted it: the bad order is lost instead of being retried (and, after enough "
                "receives, moved to the dead-letter queue).",
                expected=expected,
                got=ctx.result,
                hint=hint,
            )

    # The right messages; now the shape the exercise asks for.
    result = ctx.result
    if not isinstance(result, dict) or not isinstance(result.get("batchItemFailures"), list):
        raise CheckFailed(
            f"The return value is {show(result)}; expected {show(expected)}.",
            expected=expected,
            got=result,
            hint='Lambda accepts None for "no failures", but the exercise asks for '
            '{"batchItemFailures": []}: return the list even when it is empty.',
        )
    reported = [item.get("itemIdentifier") for item in result["batchItemFailures"] if isinstance(item, dict)]
    if reported != expected_ids:
        raise CheckFailed(
            f"batchItemFailures lists {show(reported)}; expected {show(expected_ids)}.",
            expected=expected,
            got=result,
            hint="List each failed message once, in the order of event['Records'].",
        )


def _number(value: object) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def writes_good_orders(ctx: CheckContext) -> None:
    """The table holds exactly the seeded items plus the good orders, with their exact amounts."""
    table = ctx.env["TABLE_NAME"]
    messages = _messages(ctx)
    seeded = [
        item
        for spec in ctx.seed_state.get("dynamodb", [])
        if spec["table"] == table
        for item in spec.get("items", [])
    ]
    expected = {item["order_id"]: _number(item["amount"]) for item in seeded}
    for m in messages:
        if not m["fails"]:
            expected[json.loads(m["body"])["order_id"]] = m["amount"]
    items = ctx.dynamodb_items(table)
    got = {item.get("order_id"): item for item in items}

    for m in messages:
        order_id = None
        if m["fails"] and m["amount"] is not None:
            order_id = json.loads(m["body"])["order_id"]
        if order_id in got and order_id not in expected:
            raise CheckFailed(
                f"The table has {order_id} (amount {m['amount']}), but {_describe(m)} fails because "
                f"{m['why']}: nothing should be written for it.",
                got=got[order_id],
                hint="Validate first (parse the JSON, check amount < 0), and put_item only when the "
                "message is good.",
            )
    for order_id, amount in expected.items():
        if order_id not in got:
            raise CheckFailed(
                f"The order {order_id} (amount {amount}) is not in the table {table!r}.",
                expected={"order_id": order_id, "amount": amount},
                got=sorted(map(str, got)),
                hint=STOPPED_HINT
                if _stopped_early(ctx, messages)
                else "For every good message, table.put_item(Item={'order_id': ..., 'amount': ...}), with "
                "the table named by os.environ['TABLE_NAME'].",
            )
        stored = got[order_id].get("amount")
        number = _number(stored)
        if number is None:
            hint = "Store the amount as a number (a Decimal with the boto3 resource), not as a string."
            raise CheckFailed(
                f"The order {order_id} has amount {show(stored)}; expected the number {amount}.",
                expected=amount,
                got=stored,
                hint=hint,
            )
        if number != amount:
            raise CheckFailed(
                f"The order {order_id} has amount {number}; expected exactly {amount}.",
                expected=amount,
                got=stored,
                hint="Keep the amount exact: json.loads(body, parse_float=decimal.Decimal) gives "
                "Decimal('19.99'); Decimal(19.99) from a float does not.",
            )
    extra = sorted(str(order_id) for order_id in got if order_id not in expected)
    if extra:
        raise CheckFailed(
            f"The table also holds {', '.join(extra)}, which no good message asked for.",
            hint="Write one item per good message, keyed by its order_id.",
        )
