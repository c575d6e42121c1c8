"""A real Celery worker on a real Redis, for the integration and browser tests."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def redis_broker() -> str:
    from django.conf import settings

    url = settings.CELERY_BROKER_URL
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        pytest.fail(f"Integration tests need Redis at {url} (make test starts one): {exc}")
    assert url.endswith("/14") or os.environ.get("TEST_REDIS_URL"), url  # never flush a real queue
    client.flushdb()
    return url


@pytest.fixture
def celery_worker(redis_broker, transactional_db, settings, tmp_path):
    """Start `celery worker` as a subprocess against the test database; stop it afterwards.

    The web side (this process) enqueues through the same broker.
    """
    db_name = settings.DATABASES["default"]["NAME"]
    env = {
        **os.environ,
        "REDIS_URL": redis_broker,
        "DATABASE_URL": f"sqlite:///{db_name}",
        "SANDBOX_ALLOW_UNISOLATED": os.environ.get("SANDBOX_ALLOW_UNISOLATED", "0"),
        "PYTHONUNBUFFERED": "1",
    }
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel", "INFO",
             "--concurrency", "2", "-Q", "grading,regrade,interactive", "--without-mingle",
             "--without-gossip", "--hostname", f"test-{os.getpid()}@%h"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        _wait_until_ready(log_path, proc)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if os.environ.get("SHOW_WORKER_LOG"):
            print(log_path.read_text())


def _wait_until_ready(log_path: Path, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log_path.read_text(errors="replace")
        if " ready." in text:
            return
        if proc.poll() is not None:
            pytest.fail(f"the Celery worker exited with {proc.returncode}:\n{text[-4000:]}")
        time.sleep(0.2)
    pytest.fail(f"the Celery worker was not ready after {timeout} s:\n{log_path.read_text()[-4000:]}")


def wait_for_final(submission, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        submission.refresh_from_db()
        if submission.is_final:
            return submission
        time.sleep(0.2)
    raise AssertionError(f"submission {submission.pk} still {submission.status} after {timeout} s")
