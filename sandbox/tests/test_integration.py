"""End to end through a real Celery worker and Redis: the path every learner's code takes."""

import pytest

from course.models import Exercise
from course.services import course_sync
from course.tests.factories import make_learner
from sandbox.models import Submission
from sandbox.services import submission_create
from sandbox.tests.conftest import wait_for_final

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def exercise(settings, celery_worker) -> Exercise:
    course_sync(content_dir=settings.COURSE_CONTENT_DIR)
    return Exercise.objects.get(slug="s3-to-lambda")


def _solution(exercise) -> str:
    from sandbox.exercise_files import exercise_source

    return exercise_source(exercise.slug).solution_path.read_text()


def test_correct_and_wrong_submissions_are_graded_by_a_real_worker(exercise):
    learner = make_learner()
    good = submission_create(learner=learner, exercise=exercise, code=_solution(exercise), kind="submit")
    wrong_code = _solution(exercise).replace("unquote_plus", "unquote")
    wrong = submission_create(learner=learner, exercise=exercise, code=wrong_code, kind="submit")

    good, wrong = wait_for_final(good), wait_for_final(wrong)

    assert good.status == Submission.Status.PASSED, good.results
    assert good.score == good.max_score == 6
    assert [case["verdict"] for case in good.results] == ["passed"] * 4
    assert good.results[0]["logs"].startswith("START RequestId: ")
    assert "REPORT RequestId: " in good.results[0]["logs"]

    assert wrong.status == Submission.Status.FAILED
    by_name = {case["name"]: case for case in wrong.results}
    assert by_name["A plain key"]["verdict"] == "passed"
    assert by_name["A key with spaces"]["verdict"] == "failed"
    assert "unquote_plus" in by_name["A key with spaces"]["hint"]


def test_syntax_error_and_missing_handler_get_clear_messages(exercise):
    learner = make_learner()
    broken = submission_create(
        learner=learner, exercise=exercise, code="def lambda_handler(event, context)\n", kind="test"
    )
    misnamed = submission_create(
        learner=learner, exercise=exercise, code="def handler(event, context):\n    return 1\n", kind="submit"
    )

    broken, misnamed = wait_for_final(broken), wait_for_final(misnamed)

    assert broken.status == Submission.Status.FAILED
    assert broken.results[0]["error"]["errorType"] == "Runtime.UserCodeSyntaxError"
    assert "could not parse" in broken.results[0]["message"]
    assert misnamed.results[0]["error"]["errorType"] == "Runtime.HandlerNotFound"
    assert "lambda_handler" in misnamed.results[0]["message"]


def test_a_timeout_is_a_verdict_and_the_next_case_starts_cold(exercise):
    code = (
        "import time\n"
        "def lambda_handler(event, context):\n"
        "    if event['Records'][0]['s3']['object']['key'] == 'uploads/photo.jpg':\n"
        "        time.sleep(30)\n"
        "    return {}\n"
    )
    submission = wait_for_final(
        submission_create(learner=make_learner(), exercise=exercise, code=code, kind="submit")
    )
    first, second = submission.results[0], submission.results[1]
    assert first["verdict"] == "timeout"
    assert "Task timed out after 3.00 seconds" in first["logs"]
    assert "did not return within the function's timeout of 3 s" in first["message"]
    # The timed-out runtime was discarded: the next case runs in a fresh one, a cold start.
    assert second["init_duration_ms"] is not None
    assert "Init Duration:" in second["report"]
    assert second["verdict"] == "failed"
    assert submission.status == Submission.Status.FAILED


def test_a_worker_process_killed_mid_grading_is_redelivered_and_finishes(exercise, celery_worker):
    import os
    import signal
    import time
    from pathlib import Path

    slow = _solution(exercise).replace("    s3 = event", "    import time\n    time.sleep(1)\n    s3 = event")
    submission = submission_create(learner=make_learner(), exercise=exercise, code=slow, kind="submit")
    deadline = time.monotonic() + 30
    while Submission.objects.get(pk=submission.pk).status != Submission.Status.RUNNING:
        assert time.monotonic() < deadline, "never started"
        time.sleep(0.1)
    # Kill the pool processes (the one grading included); the main worker process survives.
    children_file = Path(f"/proc/{celery_worker.pid}/task/{celery_worker.pid}/children")
    children = [int(pid) for pid in children_file.read_text().split()]
    for pid in children:
        os.kill(pid, signal.SIGKILL)

    submission = wait_for_final(submission, timeout=90)
    assert submission.status == Submission.Status.PASSED, submission.message
    assert submission.attempts == 2  # graded again from the start after the redelivery


def test_a_worker_without_a_jail_refuses_to_start_and_says_why(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    # A PATH with Python but without bubblewrap.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(sys.executable)
    env = {**os.environ, "PATH": str(bin_dir), "SANDBOX_ALLOW_UNISOLATED": "0"}
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--concurrency", "1", "--loglevel", "INFO"],
        cwd=root, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 78
    assert "refusing to start" in done.stderr
    assert "bubblewrap (bwrap) is not installed" in done.stderr
    assert "SANDBOX_ALLOW_UNISOLATED=1" in done.stderr
