"""Celery tasks: thin. They take a primary key and call the grading service."""

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

from sandbox.grading import InfrastructureError, grade
from sandbox.services import submission_fail_system
from sandbox.verdicts import SYSTEM_ERROR_MESSAGE

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=MAX_ATTEMPTS - 1,
    ignore_result=True,
)
def grade_submission(self, submission_id: int) -> None:
    from sandbox.models import Submission

    attempts = Submission.objects.filter(pk=submission_id).values_list("attempts", flat=True).first()
    if attempts is not None and attempts >= MAX_ATTEMPTS:
        # Redelivered after workers died on it again and again: stop, it's ours to fix.
        submission_fail_system(submission_id=submission_id, message=SYSTEM_ERROR_MESSAGE)
        return
    try:
        grade(submission_id)
    except InfrastructureError as exc:
        log.warning("grading %s hit an infrastructure error: %s", submission_id, exc)
        if self.request.retries >= self.max_retries:
            submission_fail_system(submission_id=submission_id, message=SYSTEM_ERROR_MESSAGE)
            return
        _requeue(submission_id)
        raise self.retry(exc=exc, countdown=2) from exc
    except SoftTimeLimitExceeded:
        submission_fail_system(submission_id=submission_id, message=SYSTEM_ERROR_MESSAGE)
    except Exception:
        log.exception("grading %s failed", submission_id)
        submission_fail_system(submission_id=submission_id, message=SYSTEM_ERROR_MESSAGE)


def _requeue(submission_id: int) -> None:
    from sandbox.models import Submission

    Submission.objects.filter(pk=submission_id, status=Submission.Status.RUNNING).update(
        status=Submission.Status.QUEUED
    )
