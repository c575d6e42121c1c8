"""Prove that every exercise is sound: the logic behind `manage.py check_course`.

For each lesson, in order, until the first problem of that lesson:

1. its files parse and validate (`course.content`), checks.py imports, starter.py and
   solution.py compile, every hidden case has a rationale;
2. its cases build under two seeds (a fixed one and a learner's), so every factory, seed
   function and check named in exercise.yaml exists (`sandbox.cases.build_cases`);
3. every event is valid for the trigger (Powertools' S3Model, SqsModel, AlbModel);
4. the reference solution passes every case under both seeds, through the real jail
   (`sandbox.grading.run_cases` + `judge`), and the starter fails at least one case
   under each seed without failing to load.

A broken exercise never stops the others: each reports its first problem, naming the file,
the case and the seed.
"""

import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from aws_lambda_powertools.utilities.parser.models import AlbModel, S3Model, SqsModel
from pydantic import BaseModel, ValidationError

from course.content import FOLDER_RE, ContentError, ExerciseSource, read_course, read_lesson
from sandbox.cases import Case, CaseDefinitionError, build_cases
from sandbox.events.models import AlbMultiValueModel
from sandbox.exercise_files import checks_module
from sandbox.variants import variant_seed

FIXED_SEED = 1
SECOND_LEARNER_ID = 1  # the second seed is this learner's variant of the exercise


class ExerciseProblem(Exception):
    """The first problem found in one exercise; the message names the file (and case, and seed)."""


@dataclass(frozen=True)
class ExerciseReport:
    slug: str
    problem: str = ""
    cases: int = 0
    starter_failed: int = 0  # under the fixed seed
    ran: bool = True  # False with run_code=False: only the static checks were made

    @property
    def ok(self) -> bool:
        return not self.problem

    def line(self) -> str:
        if self.problem:
            return f"FAIL {self.slug}: {self.problem}"
        if not self.ran:
            return f"ok  {self.slug}: {self.cases} cases valid (code not run)"
        return f"ok  {self.slug}: solution {self.cases}/{self.cases}, starter fails {self.starter_failed}/{self.cases}"


def default_seeds(slug: str) -> tuple[int, int]:
    return FIXED_SEED, variant_seed(learner_id=SECOND_LEARNER_ID, exercise_slug=slug)


def check_course(
    content_dir: Path, *, slugs: Sequence[str] = (), extra_seeds: Sequence[int] = (), run_code: bool = True
) -> Iterator[ExerciseReport]:
    """Check every exercise under content_dir (or only `slugs`), one report each, as each finishes.

    Lessons without an exercise give no report unless their lesson.md is broken. Raises
    LookupError for a slug that names no lesson.
    """
    folders = [f for f in sorted(content_dir.iterdir()) if f.is_dir()]
    slug_of = {f: (m["slug"] if (m := FOLDER_RE.match(f.name)) else f.name) for f in folders}
    unknown = sorted(set(slugs) - set(slug_of.values()))
    if unknown:
        raise LookupError(
            f"No lesson {', '.join(map(repr, unknown))} in {content_dir}; "
            f"known: {', '.join(sorted(slug_of.values()))}."
        )
    broken = False
    for folder in folders:
        if slugs and slug_of[folder] not in slugs:
            continue
        try:
            lesson = read_lesson(folder)
        except ContentError as exc:
            broken = True
            yield ExerciseReport(slug_of[folder], problem=_content_problem(exc, content_dir))
            continue
        if lesson.exercise is None:
            continue
        report = check_exercise(
            lesson.exercise,
            content_dir=content_dir,
            seeds=(*default_seeds(lesson.slug), *extra_seeds),
            run_code=run_code,
        )
        yield report
    if not slugs and not broken:
        try:
            read_course(content_dir)  # what only the whole course can get wrong (duplicate orders)
        except ContentError as exc:
            yield ExerciseReport("(course)", problem=_content_problem(exc, content_dir))


def check_exercise(
    source: ExerciseSource, *, content_dir: Path, seeds: Sequence[int], run_code: bool = True
) -> ExerciseReport:
    try:
        cases, starter_failed = _check(source, content_dir=content_dir, seeds=seeds, run_code=run_code)
    except ExerciseProblem as problem:
        return ExerciseReport(source.slug, problem=str(problem))
    return ExerciseReport(source.slug, cases=cases, starter_failed=starter_failed, ran=run_code)


# --- The steps


def _check(
    source: ExerciseSource, *, content_dir: Path, seeds: Sequence[int], run_code: bool
) -> tuple[int, int]:
    where = _Where(source, content_dir)
    definition = source.definition
    checks = _import_checks(source, where)
    solution = _compile(source.solution_path, where)
    starter = _compile(source.folder / "starter.py", where)
    for spec in definition["cases"]:
        if spec["visibility"] == "hidden" and not spec.get("rationale", "").strip():
            raise ExerciseProblem(
                f"{where.yaml}: case '{spec['name']}' is hidden but has no rationale; learners see only the name "
                "and the rationale of a hidden case."
            )

    cases_by_seed = {seed: _build_cases(definition, seed=seed, checks=checks, where=where) for seed in seeds}
    for seed, cases in cases_by_seed.items():
        for case in cases:
            _validate_event(case, definition=definition, seed=seed, where=where)
    count = len(definition["cases"])
    if not run_code:
        return count, 0

    starter_failed = 0
    for index, (seed, cases) in enumerate(cases_by_seed.items()):
        results = _run(
            solution,
            definition=definition,
            cases=cases,
            checks=checks,
            seed=seed,
            who="solution.py",
            where=where,
        )
        for result in results:
            if result["verdict"] != "passed":
                hint = f" (hint: {_one_line(result['hint'], 200)})" if result.get("hint") else ""
                raise ExerciseProblem(
                    f"{where.file('solution.py')} fails case '{result['name']}'{result['seed_text']}: "
                    f"{result['verdict']}: {_one_line(result['message'])}{hint}"
                )
        results = _run(
            starter,
            definition=definition,
            cases=cases,
            checks=checks,
            seed=seed,
            who="starter.py",
            where=where,
        )
        failed = [r for r in results if r["verdict"] != "passed"]
        init_error = next((r for r in results if r.get("init_error")), None)
        if init_error is not None:
            raise ExerciseProblem(
                f"{where.file('starter.py')} does not load (seed {seed}): {_one_line(init_error['message'])} "
                "Learners must start from code that runs."
            )
        if not failed:
            raise ExerciseProblem(
                f"{where.file('starter.py')} passes every case (seed {seed}); it must fail at least one, "
                "or learners start from a solved exercise."
            )
        if index == 0:
            starter_failed = len(failed)
    return count, starter_failed


@dataclass(frozen=True)
class _Where:
    """File names for messages, relative to the content folder: 05-alb-to-lambda/exercise/checks.py."""

    source: ExerciseSource
    content_dir: Path

    def file(self, name: str) -> str:
        return _relative(self.source.folder / name, self.content_dir)

    @property
    def yaml(self) -> str:
        return self.file("exercise.yaml")


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def _content_problem(exc: ContentError, content_dir: Path) -> str:
    return f"{_relative(exc.path, content_dir)}: {exc.message}"


def _one_line(text: str, limit: int = 400) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _checks_frame(exc: BaseException, where: _Where) -> str:
    """' (checks.py line 42, in seed_images)' for the innermost frame of checks.py in a traceback."""
    path = str(where.source.checks_path.resolve())
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if str(Path(f.filename).resolve()) == path]
    if not frames:
        return ""
    frame = frames[-1]
    return f" (line {frame.lineno}, in {frame.name})"


def _import_checks(source: ExerciseSource, where: _Where) -> ModuleType:
    try:
        return checks_module(source)
    except SyntaxError as exc:
        raise ExerciseProblem(f"{where.file('checks.py')}: line {exc.lineno}: {exc.msg}") from exc
    except Exception as exc:
        raise ExerciseProblem(
            f"{where.file('checks.py')} does not import: {type(exc).__name__}: {exc}{_checks_frame(exc, where)}"
        ) from exc


def _compile(path: Path, where: _Where) -> str:
    code = path.read_text("utf-8")
    try:
        compile(code, str(path), "exec")
    except SyntaxError as exc:
        raise ExerciseProblem(f"{where.file(path.name)}: line {exc.lineno}: {exc.msg}") from exc
    return code


def _build_cases(definition: dict[str, Any], *, seed: int, checks: ModuleType, where: _Where) -> list[Case]:
    try:
        return build_cases(definition, seed=seed, checks=checks)
    except CaseDefinitionError as exc:
        raise ExerciseProblem(f"{where.yaml}: {exc}") from exc
    except Exception as exc:
        # A seed function raised: find which case, by building the cases one by one.
        case = _failing_case(definition, seed=seed, checks=checks)
        raise ExerciseProblem(
            f"{where.file('checks.py')}: the seed function {_aws_name(case)} of case '{case['name']}' (seed {seed}) "
            f"raised {type(exc).__name__}: {exc}{_checks_frame(exc, where)}"
        ) from exc


def _failing_case(definition: dict[str, Any], *, seed: int, checks: ModuleType) -> dict[str, Any]:
    for index in range(len(definition["cases"])):
        try:
            build_cases({**definition, "cases": definition["cases"][: index + 1]}, seed=seed, checks=checks)
        except Exception:
            return definition["cases"][index]
    return definition["cases"][-1]  # pragma: no cover - the full build failed, so a prefix does


def _aws_name(spec: dict[str, Any]) -> str:
    return repr(spec.get("aws")) if isinstance(spec.get("aws"), str) else "(literal)"


def _event_model(definition: dict[str, Any]) -> tuple[str, type[BaseModel]] | None:
    trigger = definition["trigger"]
    if trigger == "s3":
        return "S3", S3Model
    if trigger == "sqs":
        return "SQS", SqsModel
    if trigger == "alb":
        return ("multi-value ALB", AlbMultiValueModel) if definition["alb_multi_value"] else ("ALB", AlbModel)
    return None  # direct: any JSON


def _validate_event(case: Case, *, definition: dict[str, Any], seed: int, where: _Where) -> None:
    spec = definition["cases"][case.index]
    model = _event_model(definition)
    if model is None:
        return
    kind, cls = model
    literal = "literal" in spec["event"]
    where_seed = "" if literal else f" (seed {seed})"
    try:
        cls.model_validate(case.event)
    except ValidationError as exc:
        error = exc.errors()[0]
        location = ".".join(str(part) for part in error["loc"]) or "(top level)"
        got = "" if error["type"] == "missing" else f" (got {_one_line(repr(error.get('input')), 80)})"
        more = f"; {exc.error_count() - 1} more error(s)" if exc.error_count() > 1 else ""
        raise ExerciseProblem(
            f"{where.yaml}: case '{case.name}'{where_seed}: the event is not a valid {kind} event "
            f"({cls.__name__}): {location}: {error['msg']}{got}{more}"
        ) from exc
    if kind == "multi-value ALB" and ("headers" in case.event or "queryStringParameters" in case.event):
        raise ExerciseProblem(
            f"{where.yaml}: case '{case.name}'{where_seed}: a multi-value ALB event has multiValueHeaders and "
            "multiValueQueryStringParameters instead of headers and queryStringParameters, never both."
        )
    if kind == "ALB" and (
        "multiValueHeaders" in case.event or "multiValueQueryStringParameters" in case.event
    ):
        raise ExerciseProblem(
            f"{where.yaml}: case '{case.name}'{where_seed}: this target group has alb_multi_value: false, so "
            "its events carry headers and queryStringParameters, not the multi-value fields."
        )


def _run(
    code: str,
    *,
    definition: dict[str, Any],
    cases: list[Case],
    checks: ModuleType,
    seed: int,
    who: str,
    where: _Where,
) -> list[dict[str, Any]]:
    """Run `code` on the cases through the real jail path and judge every case, as grading does."""
    from sandbox import grading  # loads the jail: only needed once the static checks have passed

    try:
        runs = grading.run_cases(code=code, definition=definition, cases=cases)
    except Exception as exc:
        raise ExerciseProblem(f"could not run {who} in the jail: {type(exc).__name__}: {exc}") from exc
    results = []
    for run in runs:
        literal = "literal" in definition["cases"][run.case.index]["event"]
        seed_text = "" if literal else f" (seed {seed})"
        try:
            result = grading.judge(run, definition=definition, checks=checks)
        except Exception as exc:
            raise ExerciseProblem(
                f"{where.file('checks.py')} raised {type(exc).__name__}: {_one_line(str(exc), 200)}"
                f"{_checks_frame(exc, where)} while judging {who} on case '{run.case.name}'{seed_text}; "
                "a check must raise only CheckFailed."
            ) from exc
        results.append({**result, "init_error": run.init_error is not None, "seed_text": seed_text})
    return results
