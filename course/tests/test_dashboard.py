import csv
import io
import os
import socket

import pytest
from django.urls import reverse

from course.tests.factories import make_instructor, make_learner
from sandbox.jail.bwrap import BwrapLauncher, find_bwrap
from sandbox.jail.forkserver import ForkServerLauncher
from sandbox.jail.pool import PoolKey, WarmPool
from sandbox.models import Submission
from sandbox.variants import variant_seed

pytestmark = pytest.mark.django_db


def _submission(learner, exercise, *, status, verdicts, kind="submit"):
    return Submission.objects.create(
        learner=learner, exercise=exercise, code="def lambda_handler(e, c): ...", code_sha256=str(status),
        kind=kind, status=status, variant_seed=1, score=verdicts.count("passed"), max_score=len(verdicts),
        results=[
            {"name": f"case {i}", "visibility": "visible", "points": 1, "earned": int(v == "passed"), "verdict": v,
             "message": "", "error": {"errorType": "KeyError", "errorMessage": "'Records'"} if v == "error" else None}
            for i, v in enumerate(verdicts)
        ],
    )  # fmt: skip


def test_learners_cannot_open_the_dashboard(client, course):
    client.force_login(make_learner())
    response = client.get(reverse("dashboard:overview"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_overview_shows_pass_rates_common_errors_and_who_is_stuck(client, s3_exercise):
    ada, bob = make_learner("ada"), make_learner("bob")
    _submission(ada, s3_exercise, status="failed", verdicts=["passed", "error"])
    _submission(ada, s3_exercise, status="passed", verdicts=["passed", "passed"])
    _submission(bob, s3_exercise, status="failed", verdicts=["error", "error"])
    client.force_login(make_instructor())
    html = client.get(reverse("dashboard:overview")).content.decode()
    assert "50%" in html  # 1 of 2 learners passed
    assert "<code>KeyError</code> × 2" in html
    stuck = html.split("Who is stuck")[1]
    assert "bob" in stuck and "ada" not in stuck


def test_submission_detail_shows_code_and_hidden_cases(client, s3_exercise):
    submission = _submission(make_learner(), s3_exercise, status="failed", verdicts=["failed"])
    submission.results[0] |= {"visibility": "hidden", "event": {"secret": "HIDDEN-EVENT"}}
    submission.save()
    client.force_login(make_instructor())
    html = client.get(reverse("dashboard:submission", args=[submission.pk])).content.decode()
    assert "def lambda_handler(e, c)" in html
    assert "HIDDEN-EVENT" in html


def test_csv_export_has_a_row_per_submission(client, s3_exercise):
    _submission(make_learner(), s3_exercise, status="passed", verdicts=["passed", "passed"])
    client.force_login(make_instructor())
    response = client.get(reverse("dashboard:export"))
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert response["Content-Type"].startswith("text/csv")
    assert rows[0]["learner"] == "ada" and rows[0]["status"] == "passed" and rows[0]["cases_passed"] == "2"


def test_regrade_requeues_on_the_regrade_queue(
    client, s3_exercise, django_capture_on_commit_callbacks, monkeypatch
):
    submission = _submission(make_learner(), s3_exercise, status="failed", verdicts=["failed"])
    sent = []
    monkeypatch.setattr(
        "sandbox.tasks.grade_submission.apply_async", lambda args, queue: sent.append((args, queue))
    )
    client.force_login(make_instructor())
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("dashboard:regrade"), {"exercise": "s3-to-lambda"})
    submission.refresh_from_db()
    assert submission.status == Submission.Status.QUEUED
    assert sent == [((submission.pk,), "regrade")]


def test_variant_page_shows_that_learners_events(client, s3_exercise):
    from sandbox.events import build_event

    ada = make_learner()
    client.force_login(make_instructor())
    html = client.get(reverse("dashboard:variant", args=[ada.pk, "s3-to-lambda"])).content.decode()
    seed = variant_seed(learner_id=ada.pk, exercise_slug="s3-to-lambda")
    own = build_event("s3.object_created", seed=seed + 3)  # the 4th case has no fixed params
    assert own["Records"][0]["s3"]["bucket"]["name"] in html


def test_fleet_health_shows_queues_latency_and_jail(client, s3_exercise):
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    s = _submission(make_learner(), s3_exercise, status="passed", verdicts=["passed"])
    Submission.objects.filter(pk=s.pk).update(
        queued_at=now - timedelta(milliseconds=900), started_at=now - timedelta(milliseconds=800),
        finished_at=now, isolation="namespaces (bubblewrap 0.8.0)",
    )  # fmt: skip
    client.force_login(make_instructor())
    html = client.get(reverse("dashboard:fleet"), HTTP_HX_REQUEST="true").content.decode()
    assert html.lstrip().startswith('<section id="fleet"')
    assert "median 900 ms" in html and "wait 100 ms" in html
    assert "grading: " in html  # queue depth from the test Redis
    assert "namespaces (bubblewrap 0.8.0)" in html


@pytest.mark.skipif(find_bwrap() is None, reason="bubblewrap is not installed (apt-get install bubblewrap)")
def test_fleet_health_shows_each_worker_processes_warm_runtimes(client, s3_exercise):
    from config.celery import app
    from sandbox import fleet as worker_fleet

    launcher = ForkServerLauncher(BwrapLauncher())
    pool = WarmPool(launcher, size=1)
    key = PoolKey.of(128, 3)
    try:
        pool.prewarm([key])
        assert pool.wait_until_full(key, timeout=60), pool.describe()
        worker_fleet.publish_pool_status(pool)  # what a worker process does every 10 s
        client.force_login(make_instructor())
        html = client.get(reverse("dashboard:fleet"), HTTP_HX_REQUEST="true").content.decode()
        assert f"{socket.gethostname()}:{os.getpid()}" in html
        assert "fork server" in html and "128 MB/3 s: 1" in html
        assert "up to 1024 MB: up, 1 forks" in html  # the one ready runtime, forked by a live server
    finally:
        pool.shutdown()
        with app.connection_for_write() as conn:
            conn.default_channel.client.delete(
                f"{worker_fleet.POOL_STATUS_PREFIX}{socket.gethostname()}:{os.getpid()}"
            )
