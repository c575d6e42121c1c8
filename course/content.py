"""Read the course from files: course/content/<NN-slug>/lesson.md (+ optional exercise/).

Pure functions over the file system; `course.services.course_sync` writes what they read
into the database. Every problem is a ContentError naming the file and what is wrong.
"""

import functools
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from course.exercise_schema import EXERCISE_SCHEMA

FOLDER_RE = re.compile(r"^(?P<order>\d{2})-(?P<slug>[a-z0-9]+(?:-[a-z0-9]+)*)$")
FRONT_MATTER_RE = re.compile(r"\A---\n(?P<meta>.*?)\n---\n(?P<body>.*)\Z", re.DOTALL)
EXERCISE_FILES = ("exercise.yaml", "starter.py", "solution.py", "checks.py")


class ContentError(Exception):
    def __init__(self, path: Path, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


@dataclass(frozen=True)
class ExerciseSource:
    slug: str
    folder: Path
    title: str
    definition: dict[str, Any]
    starter: str
    source_hash: str

    @property
    def solution_path(self) -> Path:
        return self.folder / "solution.py"

    @property
    def checks_path(self) -> Path:
        return self.folder / "checks.py"


@dataclass(frozen=True)
class LessonSource:
    slug: str
    folder: Path
    order: int
    title: str
    summary: str
    minutes: int
    body_markdown: str
    source_hash: str
    exercise: ExerciseSource | None


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()


def read_lesson(folder: Path) -> LessonSource:
    match = FOLDER_RE.match(folder.name)
    if not match:
        raise ContentError(folder, "lesson folders are named NN-slug, e.g. 03-s3-to-lambda")
    path = folder / "lesson.md"
    if not path.is_file():
        raise ContentError(path, "missing lesson.md")
    raw = path.read_bytes()
    parts = FRONT_MATTER_RE.match(raw.decode("utf-8"))
    if not parts:
        raise ContentError(path, "must start with YAML front matter between two '---' lines")
    try:
        meta = yaml.safe_load(parts["meta"]) or {}
    except yaml.YAMLError as exc:
        raise ContentError(path, f"front matter is not valid YAML: {exc}") from exc
    if not isinstance(meta, dict) or not isinstance(meta.get("title"), str):
        raise ContentError(path, "front matter needs a 'title'")
    order = meta.get("order", int(match["order"]))
    if not isinstance(order, int):
        raise ContentError(path, "'order' must be a whole number")
    exercise = (
        read_exercise(folder / "exercise", slug=match["slug"]) if (folder / "exercise").exists() else None
    )
    return LessonSource(
        slug=match["slug"],
        folder=folder,
        order=order,
        title=meta["title"],
        summary=str(meta.get("summary", "")),
        minutes=int(meta.get("minutes", 10)),
        body_markdown=parts["body"],
        source_hash=_digest(raw),
        exercise=exercise,
    )


def read_exercise(folder: Path, *, slug: str) -> ExerciseSource:
    for name in EXERCISE_FILES:
        if not (folder / name).is_file():
            raise ContentError(folder / name, "missing: an exercise needs " + ", ".join(EXERCISE_FILES))
    path = folder / "exercise.yaml"
    try:
        definition = yaml.safe_load(path.read_text("utf-8"))
    except yaml.YAMLError as exc:
        raise ContentError(path, f"not valid YAML: {exc}") from exc
    validate_definition(definition, path=path)
    starter = (folder / "starter.py").read_text("utf-8")
    return ExerciseSource(
        slug=slug,
        folder=folder,
        title=definition["title"],
        definition=with_defaults(definition),
        starter=starter,
        source_hash=_digest(*((folder / name).read_bytes() for name in EXERCISE_FILES)),
    )


@functools.cache
def _exercise_validator() -> jsonschema.protocols.Validator:
    """Checking the schema itself takes ~80 ms: once per process, not per exercise read."""
    cls = jsonschema.validators.validator_for(EXERCISE_SCHEMA)
    cls.check_schema(EXERCISE_SCHEMA)
    return cls(EXERCISE_SCHEMA)


def validate_definition(definition: object, *, path: Path) -> None:
    error = jsonschema.exceptions.best_match(_exercise_validator().iter_errors(definition))
    if error is not None:  # the error jsonschema.validate would raise
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        raise ContentError(path, f"at {where}: {error.message}")
    assert isinstance(definition, dict)
    names = [case["name"] for case in definition["cases"]]
    if len(set(names)) != len(names):
        raise ContentError(path, "case names must be unique")


def with_defaults(definition: dict[str, Any]) -> dict[str, Any]:
    """Fill the optional fields, so that readers never guess a default."""
    d = {
        "handler": "lambda_function.lambda_handler",
        "function_name": "coldstart-exercise",
        "timeout": 3,
        "memory": 128,
        "alb_multi_value": False,
        "report_batch_item_failures": False,
        "env": {},
        "attempts": {},
        "hints": [],
        **definition,
    }
    d["attempts"] = {"submits": 10, "refill_minutes": 10, **d["attempts"]}
    d["cases"] = [{"visibility": "visible", "points": 1, "sample": False, **case} for case in d["cases"]]
    if not any(case["sample"] for case in d["cases"]):
        first_visible = next((c for c in d["cases"] if c["visibility"] == "visible"), d["cases"][0])
        first_visible["sample"] = True
    return d


def read_course(content_dir: Path) -> list[LessonSource]:
    lessons = [read_lesson(folder) for folder in sorted(content_dir.iterdir()) if folder.is_dir()]
    seen: dict[int, str] = {}
    for lesson in lessons:
        if lesson.order in seen:
            raise ContentError(lesson.folder, f"order {lesson.order} is also used by {seen[lesson.order]}")
        seen[lesson.order] = lesson.slug
    return lessons
