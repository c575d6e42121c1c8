"""Test data made through the same services the product uses."""

import textwrap
from pathlib import Path

from django.contrib.auth import get_user_model

from course.roles import INSTRUCTORS, LEARNERS, add_to_group

PASSWORD = "a-long-test-password-1"


def make_learner(username: str = "ada"):
    user = get_user_model().objects.create_user(username=username, password=PASSWORD)
    add_to_group(user, LEARNERS)
    return user


def make_instructor(username: str = "grace"):
    user = get_user_model().objects.create_user(username=username, password=PASSWORD)
    add_to_group(user, INSTRUCTORS)
    return user


def write_lesson(
    root: Path, folder: str, *, title: str, body: str = "Some text.", order: int | None = None
) -> Path:
    path = root / folder
    path.mkdir(parents=True, exist_ok=True)
    meta = f"title: {title}\n" + (f"order: {order}\n" if order is not None else "") + "summary: A summary.\n"
    (path / "lesson.md").write_text(f"---\n{meta}---\n{body}\n")
    return path


def write_exercise(lesson_folder: Path, *, yaml_text: str, starter: str, solution: str, checks: str) -> Path:
    folder = lesson_folder / "exercise"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "exercise.yaml").write_text(textwrap.dedent(yaml_text))
    (folder / "starter.py").write_text(textwrap.dedent(starter))
    (folder / "solution.py").write_text(textwrap.dedent(solution))
    (folder / "checks.py").write_text(textwrap.dedent(checks))
    return folder
