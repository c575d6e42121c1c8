"""Fixtures shared by every app's tests."""

import os

import pytest

from course.models import Exercise
from course.services import course_sync

# Tests get their own Redis database, so they never touch a developer's queue (db 0).
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")


def pytest_configure(config) -> None:
    from django.conf import settings

    # Celery reads its configuration lazily, on first use: this is before it.
    settings.REDIS_URL = settings.CELERY_BROKER_URL = TEST_REDIS_URL


@pytest.fixture
def course(db, settings):
    """The real course content, synced into the test database."""
    course_sync(content_dir=settings.COURSE_CONTENT_DIR)


@pytest.fixture
def s3_exercise(course) -> Exercise:
    return Exercise.objects.get(slug="s3-to-lambda")
