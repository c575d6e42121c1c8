from datetime import timedelta

import pytest
from django.utils import timezone

from course.tests.factories import make_learner
from sandbox.attempts import submit_allowance
from sandbox.models import Submission
from sandbox.services import (
    SubmissionRejected,
    submission_create,
    submission_start,
    submissions_expire_stale,
)

pytestmark = pytest.mark.django_db

CODE = "def lambda_handler(event, context):\n    return 1\n"


def test_create_queues_and_enqueues_after_commit(
    s3_exercise, django_capture_on_commit_callbacks, monkeypatch
):
    sent = []
    monkeypatch.setattr("sandbox.tasks.grade_submission.delay", sent.append)
    learner = make_learner()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        submission = submission_create(learner=learner, exercise=s3_exercise, code=CODE, kind="submit")
    assert len(callbacks) == 1
    assert sent == [submission.pk]
    assert submission.status == Submission.Status.QUEUED
    assert submission.variant_seed == Submission.objects.get().variant_seed


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("", "Your code is empty"),
        ("   \n\t\n", "Your code is empty"),
        ("x = 1\n" * 20_000, "the limit here is 64 KB"),
        ("x = '\x00'", "NUL character"),
    ],
)
def test_bad_code_is_rejected_with_a_specific_message(s3_exercise, code, message):
    with pytest.raises(SubmissionRejected, match=message):
        submission_create(learner=make_learner(), exercise=s3_exercise, code=code, kind="submit")
    assert not Submission.objects.exists()


def test_double_click_returns_the_same_submission(s3_exercise, django_capture_on_commit_callbacks):
    learner = make_learner()
    with django_capture_on_commit_callbacks() as callbacks:
        first = submission_create(learner=learner, exercise=s3_exercise, code=CODE, kind="submit")
        second = submission_create(learner=learner, exercise=s3_exercise, code=CODE, kind="submit")
    assert first.pk == second.pk
    assert len(callbacks) == 1
    assert Submission.objects.count() == 1


def test_different_code_is_a_new_submission(s3_exercise, django_capture_on_commit_callbacks):
    learner = make_learner()
    with django_capture_on_commit_callbacks():
        first = submission_create(learner=learner, exercise=s3_exercise, code=CODE, kind="submit")
        second = submission_create(learner=learner, exercise=s3_exercise, code=CODE + "# v2\n", kind="submit")
    assert first.pk != second.pk


def test_variants_differ_between_learners_and_are_stable(s3_exercise):
    ada, bob = make_learner("ada"), make_learner("bob")
    a1 = submission_create(learner=ada, exercise=s3_exercise, code=CODE, kind="test")
    a1.status = Submission.Status.PASSED
    a1.save()
    a2 = submission_create(learner=ada, exercise=s3_exercise, code=CODE + "\n", kind="submit")
    b1 = submission_create(learner=bob, exercise=s3_exercise, code=CODE, kind="test")
    assert a1.variant_seed == a2.variant_seed != b1.variant_seed


def test_start_claims_once_and_ignores_final_submissions(s3_exercise):
    submission = submission_create(learner=make_learner(), exercise=s3_exercise, code=CODE, kind="submit")
    started = submission_start(submission_id=submission.pk)
    assert started.status == Submission.Status.RUNNING and started.attempts == 1
    Submission.objects.filter(pk=submission.pk).update(status=Submission.Status.PASSED)
    assert submission_start(submission_id=submission.pk) is None
    assert submission_start(submission_id=999_999) is None


def test_stale_submissions_become_system_errors(s3_exercise):
    submission = submission_create(learner=make_learner(), exercise=s3_exercise, code=CODE, kind="submit")
    Submission.objects.filter(pk=submission.pk).update(queued_at=timezone.now() - timedelta(hours=1))
    assert submissions_expire_stale() == 1
    submission.refresh_from_db()
    assert submission.status == Submission.Status.SYSTEM_ERROR
    assert "does not count against you" in submission.message
    assert not submission.counts


def test_submits_use_a_token_bucket_and_system_errors_are_free(s3_exercise):
    learner = make_learner()
    capacity = s3_exercise.definition["attempts"]["submits"]
    for i in range(capacity):
        s = submission_create(learner=learner, exercise=s3_exercise, code=CODE + f"# {i}\n", kind="submit")
        s.status = Submission.Status.FAILED if i else Submission.Status.SYSTEM_ERROR
        s.save()
    allowance = submit_allowance(learner=learner, exercise=s3_exercise)
    assert allowance.remaining == 1  # the system error cost nothing
    last = submission_create(learner=learner, exercise=s3_exercise, code=CODE + "# last\n", kind="submit")
    last.status = Submission.Status.FAILED
    last.save()
    with pytest.raises(SubmissionRejected, match="used all 10 graded submits"):
        submission_create(learner=learner, exercise=s3_exercise, code=CODE + "# more\n", kind="submit")
    later = timezone.now() + timedelta(minutes=s3_exercise.definition["attempts"]["refill_minutes"] + 1)
    assert submit_allowance(learner=learner, exercise=s3_exercise, now=later).remaining >= 1


def test_only_one_test_run_at_a_time(s3_exercise):
    learner = make_learner()
    submission_create(learner=learner, exercise=s3_exercise, code=CODE, kind="test")
    with pytest.raises(SubmissionRejected, match="still in progress"):
        submission_create(learner=learner, exercise=s3_exercise, code=CODE + "\n", kind="test")
