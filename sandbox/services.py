"""Writes for submissions: create one, start it, finish it, give up on a stale one."""

import hashlib
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from course.models import Exercise
from sandbox.attempts import submit_allowance, test_allowed
from sandbox.models import Submission
from sandbox.variants import variant_seed

# Two identical clicks within this window are one submission (a double-click, a retried POST).
DUPLICATE_WINDOW = timedelta(seconds=10)


class SubmissionRejected(Exception):
    """The code cannot be graded as it is; the message says why, for the learner."""


def validate_code(code: str) -> str:
    code = code.replace("\r\n", "\n")
    if not code.strip():
        raise SubmissionRejected(
            "Your code is empty. Write a function named lambda_handler(event, context) in lambda_function.py."
        )
    size = len(code.encode("utf-8"))
    limit = settings.SUBMISSION_MAX_CODE_BYTES
    if size > limit:
        raise SubmissionRejected(
            f"Your code is {size / 1024:.0f} KB; the limit here is {limit // 1024} KB. "
            "A handler for this exercise fits in a few dozen lines."
        )
    if "\x00" in code:
        raise SubmissionRejected("Your code contains a NUL character, which Python source cannot contain.")
    return code


def submission_create(*, learner, exercise: Exercise, code: str, kind: str) -> Submission:
    """Queue code for grading. Enqueues the task after the transaction commits.

    A double-click (same learner, exercise, kind and code while the first is still pending or
    only seconds old) returns the existing submission instead of starting a second grading.
    """
    from sandbox.tasks import grade_submission

    code = validate_code(code)
    digest = hashlib.sha256(code.encode()).hexdigest()
    with transaction.atomic():
        duplicate = (
            Submission.objects.select_for_update()
            .filter(learner=learner, exercise=exercise, kind=kind, code_sha256=digest)
            .filter(created_at__gte=timezone.now() - DUPLICATE_WINDOW)
            .exclude(status=Submission.Status.SYSTEM_ERROR)
            .first()
        )
        if duplicate:
            return duplicate
        _check_allowance(learner=learner, exercise=exercise, kind=kind)
        submission = Submission.objects.create(
            learner=learner,
            exercise=exercise,
            code=code,
            code_sha256=digest,
            kind=kind,
            variant_seed=variant_seed(learner_id=learner.pk, exercise_slug=exercise.slug),
        )
        transaction.on_commit(lambda: grade_submission.delay(submission.pk))
    return submission


def _check_allowance(*, learner, exercise: Exercise, kind: str) -> None:
    if kind == Submission.Kind.TEST:
        allowed, why = test_allowed(learner=learner, exercise=exercise)
        if not allowed:
            raise SubmissionRejected(why)
        return
    allowance = submit_allowance(learner=learner, exercise=exercise)
    if allowance.remaining == 0:
        wait = ""
        if allowance.next_refill_at:
            minutes = max(1, round((allowance.next_refill_at - timezone.now()).total_seconds() / 60))
            wait = f" The next one comes back in about {minutes} minute{'s' if minutes != 1 else ''}."
        raise SubmissionRejected(
            f"You have used all {allowance.capacity} graded submits for now.{wait} "
            "Test is still free: use it to check your handler against the sample event."
        )


def submission_start(*, submission_id: int) -> Submission | None:
    """Claim a submission for grading. None when it is gone or already final (a redelivery)."""
    with transaction.atomic():
        submission = Submission.objects.select_for_update().filter(pk=submission_id).first()
        if submission is None or submission.is_final:
            return None
        submission.status = Submission.Status.RUNNING
        submission.started_at = timezone.now()
        submission.attempts += 1
        submission.save(update_fields=["status", "started_at", "attempts"])
    return submission


def submission_finish(
    *, submission: Submission, status: str, results: list[dict], score: int, max_score: int, message: str,
    isolation: str,
) -> None:  # fmt: skip
    submission.status = status
    submission.results = results
    submission.score = score
    submission.max_score = max_score
    submission.message = message
    submission.isolation = isolation
    submission.finished_at = timezone.now()
    submission.save(
        update_fields=["status", "results", "score", "max_score", "message", "isolation", "finished_at"]
    )


def submission_fail_system(*, submission_id: int, message: str) -> None:
    """Mark a submission as the platform's fault (never counted against the learner)."""
    Submission.objects.filter(pk=submission_id).exclude(status__in=Submission.FINAL_STATUSES).update(
        status=Submission.Status.SYSTEM_ERROR, message=message, finished_at=timezone.now()
    )


def submissions_expire_stale(*, now=None) -> int:
    """Queued or running for too long (a lost task, a dead worker): a system error, not the learner's."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.SUBMISSION_STALE_AFTER_SECONDS)
    return Submission.objects.filter(
        status__in=[Submission.Status.QUEUED, Submission.Status.RUNNING], queued_at__lt=cutoff
    ).update(
        status=Submission.Status.SYSTEM_ERROR,
        message=(
            "Grading took far too long (a worker was lost or the queue is stuck). "
            "This does not count against you; please submit again."
        ),
        finished_at=now,
    )


def submissions_regrade(*, submission_ids: list[int]) -> int:
    """Grade these submissions again (after an exercise was fixed), on the regrade queue so that
    a thousand regrades never delay a learner's Test."""
    from sandbox.tasks import grade_submission

    with transaction.atomic():
        count = Submission.objects.filter(pk__in=submission_ids).update(
            status=Submission.Status.QUEUED,
            attempts=0,
            started_at=None,
            finished_at=None,
            queued_at=timezone.now(),
        )
        for pk in submission_ids:
            transaction.on_commit(lambda pk=pk: grade_submission.apply_async((pk,), queue="regrade"))
    return count
