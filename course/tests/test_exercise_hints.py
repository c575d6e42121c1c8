"""The classic mistakes in lessons 7 and 10 get the hint that names them.

check_course proves the solutions pass and the starters fail; these prove the feedback is the
right one, by calling the exercises' checks on the answers a learner with that mistake returns.
"""

import json

import pytest

from sandbox.checks import CheckContext, CheckFailed
from sandbox.exercise_files import checks_module, exercise_source

REQUEST_ID = "4299ee26-8d1d-4ea9-bd43-77b85ed96cfe"


def _checks(slug: str):
    return checks_module(exercise_source(slug))


def _failure(check, ctx: CheckContext) -> CheckFailed:
    with pytest.raises(CheckFailed) as failed:
        check(ctx)
    return failed.value


def _whoami(event, *, calls: int = 1, logs: str = "", **answer) -> CheckContext:
    """What the checks see after invocation number `calls`, for a handler that returned `answer`."""
    result = {
        "requestId": REQUEST_ID,
        "functionName": "whoami",
        "memoryMb": 256,
        "remainingMs": 2990,
        "coldStart": calls == 1,
        "invocation": calls,
        "eventType": "object",
    } | answer
    return CheckContext(
        event=event,
        result=result,
        logs=logs,
        request_id=REQUEST_ID,
        invocation=calls,
        function_name="whoami",
        memory_mb=256,
        timeout_s=3.0,
    )


def test_context_mistakes_are_named():
    checks = _checks("event-and-context")
    assert "convert it with int()" in _failure(checks.reads_the_context, _whoami({}, memoryMb="256")).hint
    own_id = _failure(checks.reads_the_context, _whoami({}, requestId="0b5a9e0c-3f3c-4c8e-9a57-2d5f1c6b7a10"))
    assert "fresh UUID of your own" in own_id.hint
    too_long = _failure(checks.reads_the_context, _whoami({}, remainingMs=30_000))
    assert "between 0 and 3000" in too_long.message


def test_a_counter_inside_the_handler_is_told_about_warm_starts():
    checks = _checks("event-and-context")
    failure = _failure(checks.counts_invocations, _whoami({}, calls=3, invocation=1))
    assert failure.message == "invocation is 1; this is invocation 3 of this execution environment."
    assert "module-level one (with `global`) is kept" in failure.hint
    checks.counts_invocations(_whoami({}, calls=3))  # the right answer passes


def test_event_types_use_json_names_and_true_is_not_a_number():
    checks = _checks("event-and-context")
    assert "Python's name" in _failure(checks.names_the_event_type, _whoami([1], eventType="list")).hint
    assert (
        "bool subclasses int" in _failure(checks.names_the_event_type, _whoami(True, eventType="number")).hint
    )
    checks.names_the_event_type(_whoami(None, eventType="null"))


def test_an_info_line_needs_the_log_level_set():
    checks = _checks("event-and-context")
    silent = _failure(
        checks.logs_at_info, _whoami({}, logs=f"START RequestId: {REQUEST_ID} Version: $LATEST\n")
    )
    assert "starts at WARNING" in silent.hint
    checks.logs_at_info(_whoami({}, logs=f"[INFO]\t2026-12-04T05:00:00.000Z\t{REQUEST_ID}\thello\n"))


EVENT = {
    "requestsPerMonth": 10_000_000,
    "memoryMb": 512,
    "avgBilledMs": 200,
    "architecture": "arm64",
    "freeTier": True,
}
RIGHT = {"gbSeconds": 1_000_000.0, "requestCost": 1.8, "durationCost": 8.0, "totalCost": 9.8}


def _bill(**answer) -> CheckContext:
    return CheckContext(event=EVENT, result=RIGHT | answer)


@pytest.mark.parametrize(
    ("check", "answer", "hint"),
    [
        ("counts_gb_seconds", {"gbSeconds": 1_024_000.0}, "divide memoryMb by 1024, not 1000"),
        ("counts_gb_seconds", {"gbSeconds": 600_000.0}, "before the free tier"),
        ("prices_requests", {"requestCost": 2.0}, "first 1,000,000 requests"),
        ("prices_duration", {"durationCost": 10.0}, "runs on arm64: use its rate, $0.0000133334"),
        ("prices_duration", {"durationCost": 13.33}, "Subtract the free 400,000 GB-seconds"),
        ("prices_duration", {"durationCost": -1.5}, "never negative"),
        ("prices_requests", {"requestCost": 1.8000004}, "round(value, 2)"),
        ("prices_requests", {"requestCost": "$1.80"}, "not strings"),
    ],
)
def test_pricing_mistakes_are_named(check, answer, hint):
    failure = _failure(getattr(_checks("pricing"), check), _bill(**answer))
    assert hint in failure.hint


def test_the_right_bill_passes_every_check():
    checks = _checks("pricing")
    for name in ("returns_an_estimate", "counts_gb_seconds", "prices_requests", "prices_duration", "adds_up"):
        getattr(checks, name)(_bill())


def _jobs_run(work_ms: list[int], *, finished: list[int], reported: list[int]) -> CheckContext:
    """The timeouts exercise after a handler that finished and reported these jobs (by position)."""
    from sandbox.contracts.sqs import sqs_batch_outcome
    from sandbox.events import build_event

    bodies = [json.dumps({"job_id": f"J-{n}", "work_ms": ms}) for n, ms in enumerate(work_ms)]
    event = build_event("sqs.batch", seed=3, bodies=bodies)
    ids = [r["messageId"] for r in event["Records"]]
    result = {"batchItemFailures": [{"itemIdentifier": ids[n]} for n in reported]}
    items = [{"job_id": f"J-{n}", "status": "done"} for n in finished]
    return CheckContext(
        event=event,
        result=result,
        aws_state={"dynamodb": {"coldstart-jobs": items}},
        batch=sqs_batch_outcome(
            message_ids=ids, response=result, raised=False, report_batch_item_failures=True
        ),
        env={"TABLE_NAME": "coldstart-jobs"},
        timeout_s=3.0,
    )


def test_timeouts_exercise_holds_the_handler_to_the_clock():
    checks = _checks("timeouts-and-limits")
    work = [600, 700, 500, 800, 900, 400]
    good = _jobs_run(work, finished=[0, 1, 2, 5], reported=[3, 4])
    checks.reports_unfinished_jobs(good)
    checks.fits_the_timeout(good)

    lost = _failure(checks.reports_unfinished_jobs, _jobs_run(work, finished=[0, 1, 2], reported=[]))
    assert lost.message.startswith("Job J-3 was not finished and its message was not reported")
    twice = _failure(
        checks.reports_unfinished_jobs, _jobs_run(work, finished=[0, 1], reported=[0, 2, 3, 4, 5])
    )
    assert "runs twice" in twice.message
    skipped_work = _failure(checks.fits_the_timeout, _jobs_run(work, finished=list(range(6)), reported=[]))
    assert "3900 ms of work, in a function whose timeout is 3000 ms" in skipped_work.message
    gave_up = _failure(checks.fits_the_timeout, _jobs_run(work, finished=[], reported=list(range(6))))
    assert 'but ["J-0", "J-1"] fit in the 3000 ms timeout' in gave_up.message
