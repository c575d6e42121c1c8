import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from course.tests.factories import make_instructor, make_learner
from sandbox.models import Submission

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def _poll_delay(html: str) -> int:
    return int(re.search(r'hx-trigger="load delay:(\d+)ms"', html).group(1))


def test_index_lists_lessons_for_anyone(client, course):
    response = client.get(reverse("course:index"))
    assert response.status_code == 200
    assert "S3" in response.content.decode()
    assert "Create a free account" in response.content.decode()


def test_lesson_page_has_editor_and_asks_anonymous_to_sign_in(client, s3_exercise):
    html = client.get(reverse("course:lesson", args=["s3-to-lambda"])).content.decode()
    assert 'data-editor="python"' in html
    assert "def lambda_handler" in html  # the starter, in a textarea that works without JS
    assert "to run and submit your code" in html
    assert "data-editor-run" not in html


def test_signed_in_learner_sees_buttons_and_attempts(client, s3_exercise):
    client.force_login(make_learner())
    html = client.get(reverse("course:lesson", args=["s3-to-lambda"])).content.decode()
    assert "data-editor-run" in html and "data-editor-submit" in html
    assert "Graded submits left: <strong>10</strong> of 10" in html


def test_run_requires_an_account(client, s3_exercise):
    response = client.post(reverse("sandbox:run", args=["s3-to-lambda"]), {"code": "x", "kind": "test"})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_htmx_run_returns_the_polling_status_fragment(
    client, s3_exercise, django_capture_on_commit_callbacks
):
    client.force_login(make_learner())
    with django_capture_on_commit_callbacks():
        response = client.post(
            reverse("sandbox:run", args=["s3-to-lambda"]),
            {"code": "def lambda_handler(e, c):\n    return {}\n", "kind": "submit"},
            **HTMX,
        )
    html = response.content.decode()
    submission = Submission.objects.get()
    assert html.lstrip().startswith('<div id="status"')
    assert f'hx-get="/submissions/{submission.pk}/"' in html
    # A warm grade takes ~100 ms: the first look comes soon, not after the 700 ms of later polls.
    assert 150 < _poll_delay(html) <= 250
    assert "Queued" in html and "<progress" in html
    assert "<html" not in html


def test_rejected_code_shows_why_in_the_fragment(client, s3_exercise):
    client.force_login(make_learner())
    response = client.post(
        reverse("sandbox:run", args=["s3-to-lambda"]), {"code": "  ", "kind": "test"}, **HTMX
    )
    assert "Your code is empty" in response.content.decode()
    assert not Submission.objects.exists()


def test_without_javascript_run_redirects_to_the_lesson(
    client, s3_exercise, django_capture_on_commit_callbacks
):
    client.force_login(make_learner())
    with django_capture_on_commit_callbacks():
        response = client.post(
            reverse("sandbox:run", args=["s3-to-lambda"]),
            {"code": "def lambda_handler(e, c): ...", "kind": "test"},
        )
    submission = Submission.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/lessons/s3-to-lambda/?submission={submission.pk}#status"


def _graded(learner, exercise, *, hidden_event="SECRET-EVENT"):
    return Submission.objects.create(
        learner=learner,
        exercise=exercise,
        code="def lambda_handler(e, c): ...",
        code_sha256="x",
        kind="submit",
        status=Submission.Status.FAILED,
        variant_seed=1,
        score=1,
        max_score=2,
        results=[
            {"name": "A plain key", "visibility": "visible", "points": 1, "earned": 1, "verdict": "passed",
             "message": "", "hint": "", "event": {"Records": []}, "result": {"bucket": "b"},
             "logs": "START RequestId: 1 Version: $LATEST\n<script>alert(1)</script>\n"},
            {"name": "Your own variant", "visibility": "hidden", "rationale": "Hard-coding fails here.",
             "points": 1, "earned": 0, "verdict": "failed", "message": "'key' is 'a', expected 'b'.",
             "hint": "use unquote_plus", "event": {"k": hidden_event}, "result": {"key": "a"}, "logs": hidden_event,
             "expected": {"key": "b"}},
        ],
    )  # fmt: skip


def test_polling_a_queued_submission_is_cheap_and_keeps_polling(
    client, s3_exercise, django_assert_max_num_queries
):
    learner = make_learner()
    submission = Submission.objects.create(
        learner=learner,
        exercise=s3_exercise,
        code="x = 1\n",
        code_sha256="a" * 64,
        kind="submit",
        variant_seed=1,
        queued_at=timezone.now() - timedelta(seconds=1),
    )
    client.force_login(learner)
    url = reverse("sandbox:submission", args=[submission.pk])
    client.get(url, **HTMX)  # the session and the user are loaded once per request either way
    # Every waiting learner polls: the session, the user, the submission; no more.
    with django_assert_max_num_queries(3):
        response = client.get(url, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert f'hx-get="{url}"' in html and "Queued" in html
    assert 350 < _poll_delay(html) <= 400  # queued 1 s ago: the next 700 ms grid point is at 1.4 s
    assert 'id="attempts"' not in html  # refreshed once the submission is final, not while waiting


def test_final_status_stops_polling_and_shows_cases(client, s3_exercise):
    learner = make_learner()
    submission = _graded(learner, s3_exercise)
    client.force_login(learner)
    response = client.get(reverse("sandbox:submission", args=[submission.pk]), **HTMX)
    html = response.content.decode()
    assert response.status_code == 286
    assert "hx-get" not in html
    assert "✓ Passed" in html and "✗ Failed" in html
    assert "A plain key" in html and "Your own variant" in html
    # Logs are text: a printed <script> is escaped.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)" not in html
    # A hidden case shows its name and rationale, never its event, logs or expected value.
    assert "SECRET-EVENT" not in html
    assert "expected &#x27;b&#x27;" not in html
    assert "Hard-coding fails here." in html
    # The attempts counter and the hints outside the fragment are refreshed out of band.
    assert '<p id="attempts" class="attempts" hx-swap-oob="true">' in html
    assert "Graded submits left: <strong>9</strong> of 10" in html
    assert '<section id="hints" class="hints" aria-label="Hints" hx-swap-oob="true">' in html


def test_instructor_sees_hidden_case_details(client, s3_exercise):
    submission = _graded(make_learner(), s3_exercise)
    client.force_login(make_instructor())
    html = client.get(reverse("sandbox:submission", args=[submission.pk]), **HTMX).content.decode()
    assert "SECRET-EVENT" in html


def test_other_learners_cannot_see_a_submission(client, s3_exercise):
    submission = _graded(make_learner("ada"), s3_exercise)
    client.force_login(make_learner("eve"))
    assert client.get(reverse("sandbox:submission", args=[submission.pk]), **HTMX).status_code == 404


def test_signup_creates_a_learner_and_signs_in(client, course):
    response = client.post(
        reverse("signup"),
        {"username": "newbie", "password1": "a-long-test-password-1", "password2": "a-long-test-password-1"},
    )
    assert response.status_code == 302
    html = client.get(reverse("course:index")).content.decode()
    assert "newbie" in html and "Sign out" in html


def test_index_shows_progress_and_continue_where_you_left_off(client, s3_exercise):
    learner = make_learner()
    client.force_login(learner)
    client.get(reverse("course:lesson", args=["what-serverless-means"]))
    client.get(reverse("course:lesson", args=["s3-to-lambda"]))
    Submission.objects.create(
        learner=learner, exercise=s3_exercise, code="x", code_sha256="x", kind="submit",
        status=Submission.Status.FAILED, variant_seed=1, score=2, max_score=6,
    )  # fmt: skip
    html = client.get(reverse("course:index")).content.decode()
    assert "Continue: S3" in html
    assert "Attempted · best 2/6" in html
    assert ">Read<" in html  # lesson 1 was opened
    assert ">Not started<" in html


def test_lesson_shows_the_learners_own_sample_event(client, s3_exercise):
    from sandbox.cases import case_event
    from sandbox.variants import variant_seed

    learner = make_learner()
    client.force_login(learner)
    html = client.get(reverse("course:lesson", args=["s3-to-lambda"])).content.decode()
    seed = variant_seed(learner_id=learner.pk, exercise_slug="s3-to-lambda")
    event = case_event(s3_exercise.definition["cases"][0], index=0, seed=seed)
    assert "The sample event (what Test sends)" in html
    assert event["Records"][0]["s3"]["bucket"]["name"] in html


def test_only_instructors_see_the_dashboard_link(client, course):
    client.force_login(make_learner())
    assert "Instructor dashboard" not in client.get(reverse("course:index")).content.decode()
    client.force_login(make_instructor())
    assert "Instructor dashboard" in client.get(reverse("course:index")).content.decode()
