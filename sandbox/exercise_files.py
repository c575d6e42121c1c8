"""Trusted access to an exercise's files: its checks module and reference solution.

Only the worker (and `check_course`) reads these; nothing here is ever sent into the jail.
"""

import copy
import importlib.util
from functools import cache, lru_cache
from pathlib import Path
from types import ModuleType

from django.conf import settings

from course.content import EXERCISE_FILES, ExerciseSource, read_lesson


class ExerciseNotFound(LookupError):
    pass


def exercise_folder(slug: str, *, content_dir: Path | None = None) -> Path:
    root = content_dir or settings.COURSE_CONTENT_DIR
    matches = sorted(p for p in root.glob(f"[0-9][0-9]-{slug}") if (p / "exercise").is_dir())
    if not matches:
        raise ExerciseNotFound(f"No exercise folder for '{slug}' under {root}")
    return matches[0]


def exercise_source(slug: str, *, content_dir: Path | None = None) -> ExerciseSource:
    """The exercise as its files say now. Read (YAML, schema) once per version of the files:
    every submission needs it, and authors' edits show up at the next one."""
    folder = exercise_folder(slug, content_dir=content_dir)
    return copy.deepcopy(_read_exercise(folder, _stamp(folder)))


def _stamp(folder: Path) -> tuple:
    paths = [folder / "lesson.md", *(folder / "exercise" / name for name in EXERCISE_FILES)]
    stamp = []
    for path in paths:
        try:
            stat = path.stat()
        except OSError:
            stamp.append(None)  # read_lesson says what is missing
        else:
            stamp.append((stat.st_mtime_ns, stat.st_size))
    return tuple(stamp)


@lru_cache(maxsize=64)
def _read_exercise(folder: Path, stamp: tuple) -> ExerciseSource:
    lesson = read_lesson(folder)
    assert lesson.exercise is not None
    return lesson.exercise


@cache
def _load_module(path: Path, mtime_ns: int) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"coldstart_checks_{path.parent.parent.name}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def checks_module(source: ExerciseSource) -> ModuleType:
    """The exercise's checks.py, reloaded when the file changes (authors edit, then regrade)."""
    path = source.checks_path.resolve()
    return _load_module(path, path.stat().st_mtime_ns)
