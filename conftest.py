"""Fixtures shared by every app's tests."""

import pytest

from course.models import Exercise
from course.services import course_sync


@pytest.fixture
def course(db, settings):
    """The real course content, synced into the test database."""
    course_sync(content_dir=settings.COURSE_CONTENT_DIR)


@pytest.fixture
def s3_exercise(course) -> Exercise:
    return Exercise.objects.get(slug="s3-to-lambda")
