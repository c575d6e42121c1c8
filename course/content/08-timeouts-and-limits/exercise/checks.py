"""Trusted checks for the timeouts exercise. Runs in the worker, never in the jail.

A job counts as finished when its item is in the jobs table after the invocation. The checks hold
the handler to the time the jobs really take: a handler that "finishes" more work than fits in
the function's timeout skipped the work, whatever its table says.
"""

import json

from sandbox.checks import CheckContext, CheckFailed, expect_readable_batch_response, show

# Finishing the jobs that fit in the timeout minus this much is enough to pass: the handler
# needs a margin for the last write and its return, and a busy machine runs a little slower.
SLACK_MS = 1500


def _jobs(ctx: CheckContext) -> list[dict]:
    jobs = []
    for record in ctx.event["Records"]:
        body = json.loads(record["body"])
        jobs.append({"id": record["messageId"], "job_id": body["job_id"], "work_ms": body["work_ms"]})
    return jobs


def _finished(ctx: CheckContext) -> set[str]:
    return {str(item.get("job_id")) for item in ctx.dynamodb_items(ctx.env["TABLE_NAME"])}


def _enough(jobs: list[dict], budget_ms: int) -> list[dict]:
    """The jobs a careful handler finishes at least: in order, each one that still fits the budget."""
    done, spent = [], 0
    for job in jobs:
        if spent + job["work_ms"] <= budget_ms:
            spent += job["work_ms"]
            done.append(job)
    return done


def reports_unfinished_jobs(ctx: CheckContext) -> None:
    """Every job is either finished (in the table) or reported in batchItemFailures, never both."""
    jobs = _jobs(ctx)
    finished = _finished(ctx)
    expected = {"batchItemFailures": [{"itemIdentifier": j["id"]} for j in jobs if j["job_id"] not in finished]}
    batch = expect_readable_batch_response(ctx, expected=expected)
    retried = set(batch.retried)
    for job in jobs:
        done, reported = job["job_id"] in finished, job["id"] in retried
        if done and reported:
            raise CheckFailed(
                f"Job {job['job_id']} is finished, but you also reported its message as failed, so SQS "
                "delivers it again and it runs twice.",
                expected=expected,
                got=ctx.result,
                hint="Report only the jobs you did not start.",
            )
        if not done and not reported:
            raise CheckFailed(
                f"Job {job['job_id']} was not finished and its message was not reported, so Lambda "
                "deletes it from the queue: the job is lost.",
                expected=expected,
                got=ctx.result,
                hint='Add {"itemIdentifier": record["messageId"]} to batchItemFailures for every job you '
                "skip; SQS delivers those again after the visibility timeout.",
            )


def fits_the_timeout(ctx: CheckContext) -> None:
    """The finished jobs' work fits in the timeout, and the handler used the time it had."""
    jobs = _jobs(ctx)
    finished = _finished(ctx)
    timeout_ms = int(ctx.timeout_s * 1000)
    done = [j for j in jobs if j["job_id"] in finished]
    spent = sum(j["work_ms"] for j in done)
    if spent > timeout_ms:
        raise CheckFailed(
            f"The table says {len(done)} jobs finished, {spent} ms of work, in a function whose timeout "
            f"is {timeout_ms} ms: they cannot all have run.",
            got=sorted(finished),
            hint="Call do_work(job) for each job you mark as done; it is the work itself.",
        )
    fitting = _enough(jobs, timeout_ms - SLACK_MS)
    if len(done) < len(fitting):
        names = [j["job_id"] for j in fitting]
        raise CheckFailed(
            f"Only {len(done)} of {len(jobs)} jobs finished ({spent} ms of work), but {show(names)} "
            f"fit in the {timeout_ms} ms timeout with time to spare.",
            expected=len(fitting),
            got=len(done),
            hint="Keep going while context.get_remaining_time_in_millis() leaves room for the next job "
            "plus a margin; stop (and report the rest) only when it does not.",
        )
