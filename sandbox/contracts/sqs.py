"""What the SQS event source mapping does with a batch after the handler returns.

Rules from aws-lambda-facts.md §3 (Lambda developer guide, "Handling errors for an SQS event
source in Lambda"): without ReportBatchItemFailures, a batch is all-or-nothing; with it, the
function may name the messages that failed in `{"batchItemFailures": [{"itemIdentifier": id}]}`
and only those return to the queue. A malformed report fails the whole batch.
"""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """Which messages Lambda deletes from the queue and which become visible again.

    `retried` messages are received again after the visibility timeout (with
    ApproximateReceiveCount + 1), or go to the dead-letter queue once it exceeds maxReceiveCount.
    `reason` explains the outcome to the learner in plain language.
    """

    deleted: list[str]
    retried: list[str]
    whole_batch_failed: bool
    reason: str


def _all_deleted(message_ids: list[str], reason: str) -> BatchOutcome:
    return BatchOutcome(deleted=list(message_ids), retried=[], whole_batch_failed=False, reason=reason)


def _all_retried(message_ids: list[str], reason: str) -> BatchOutcome:
    return BatchOutcome(deleted=[], retried=list(message_ids), whole_batch_failed=True, reason=reason)


_WHOLE_BATCH = (
    " Lambda treats this as a failure of the whole batch: every message, including the ones "
    "already processed, returns to the queue."
)


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def sqs_batch_outcome(
    *, message_ids: list[str], response: object, raised: bool, report_batch_item_failures: bool
) -> BatchOutcome:
    """Apply the event source mapping's rules to one invocation's result.

    `message_ids` are the batch's messageIds in order; `response` is the handler's return value
    (JSON-decoded); `raised` is True when the invocation failed (an exception, a timeout, an
    invalid return value); `report_batch_item_failures` is the ESM's FunctionResponseTypes flag.
    """
    if raised:
        return _all_retried(
            message_ids,
            "The function raised an error (or timed out), so the whole batch failed: every message "
            "returns to the queue after the visibility timeout, including the ones already processed. "
            "Make the handler idempotent"
            + (
                ", or catch per-message errors and report them in batchItemFailures."
                if report_batch_item_failures
                else "."
            ),
        )

    if not report_batch_item_failures:
        reason = "The function returned without raising, so Lambda deleted the whole batch."
        if isinstance(response, dict) and response.get("batchItemFailures"):
            reason += (
                " The batchItemFailures you returned were ignored: this event source mapping does not "
                "have ReportBatchItemFailures in FunctionResponseTypes, so the failed messages are lost. "
                "Raise an exception to retry the batch instead."
            )
        return _all_deleted(message_ids, reason)

    if response is None:
        return _all_deleted(
            message_ids, "The function returned None: a complete success, every message deleted."
        )
    if not isinstance(response, dict):
        hint = ""
        if isinstance(response, str):
            hint = " If you returned json.dumps(...), return the dict itself."
        elif isinstance(response, list):
            hint = ' Wrap the list: {"batchItemFailures": [{"itemIdentifier": message_id}, ...]}.'
        return _all_retried(
            message_ids,
            f"The function returned {_show(response)}, which is not a batch response object "
            f'({{"batchItemFailures": [...]}}).{hint}' + _WHOLE_BATCH,
        )

    if "batchItemFailures" not in response:
        reason = "The response has no batchItemFailures: a complete success, every message deleted."
        near = [k for k in response if isinstance(k, str) and k.lower() == "batchitemfailures"]
        if near:
            reason += (
                f" Careful: the key is 'batchItemFailures' (case-sensitive); the {near[0]!r} you "
                "returned was ignored, so the messages you meant to retry were deleted."
            )
        elif response:
            reason += f" The keys {', '.join(map(repr, response))} mean nothing to Lambda and were ignored."
        return _all_deleted(message_ids, reason)

    failures = response["batchItemFailures"]
    if failures is None or failures == []:
        return _all_deleted(
            message_ids, "batchItemFailures is empty: a complete success, every message deleted."
        )
    if not isinstance(failures, list):
        return _all_retried(
            message_ids,
            f"batchItemFailures must be a list of {{'itemIdentifier': message_id}} objects, got "
            f"{_show(failures)}." + _WHOLE_BATCH,
        )

    known = set(message_ids)
    failed: set[str] = set()
    for index, item in enumerate(failures):
        where = f"batchItemFailures[{index}]"
        if not isinstance(item, dict):
            hint = " (wrap the id: {'itemIdentifier': id})" if isinstance(item, str) else ""
            return _all_retried(message_ids, f"{where} is {_show(item)}, not an object{hint}." + _WHOLE_BATCH)
        if "itemIdentifier" not in item:
            return _all_retried(
                message_ids,
                f"{where} has no 'itemIdentifier' key (it has {', '.join(map(repr, item)) or 'no keys'}); "
                "the key must be spelled exactly 'itemIdentifier'." + _WHOLE_BATCH,
            )
        identifier = item["itemIdentifier"]
        if identifier is None or identifier == "":
            return _all_retried(
                message_ids, f"{where} has an empty itemIdentifier ({_show(identifier)})." + _WHOLE_BATCH
            )
        if not isinstance(identifier, str) or identifier not in known:
            return _all_retried(
                message_ids,
                f"{where} names {_show(identifier)}, which is not the messageId of any message in this "
                "batch (use record['messageId'], not the receipt handle or the body)." + _WHOLE_BATCH,
            )
        failed.add(identifier)

    deleted = [m for m in message_ids if m not in failed]
    retried = [m for m in message_ids if m in failed]
    return BatchOutcome(
        deleted=deleted,
        retried=retried,
        whole_batch_failed=False,
        reason=(
            f"Partial batch response: {len(retried)} message(s) return to the queue for another try, "
            f"{len(deleted)} were deleted."
        ),
    )
