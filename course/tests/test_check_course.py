"""`manage.py check_course`: every way an exercise can be broken is caught, with a message that names
the file and the case; the real course passes.

Tests that run code go through the real jail (`sandbox.fleet.launcher()`), as grading does.
"""

import io
import json

from django.core.management import call_command
from django.core.management.base import CommandError

from course.tests.factories import write_exercise, write_lesson
from sandbox.events import build_event

ECHO_YAML = """
title: Double it
trigger: direct
cases:
  - name: doubles x
    event: {literal: {"x": 21}}
    checks: [doubles]
"""
ECHO_CHECKS = """
from sandbox.checks import expect_equal


def doubles(ctx):
    expect_equal(ctx.result, {"x": 2 * ctx.event["x"]}, what="The return value")
"""
SOLUTION = """
def lambda_handler(event, context):
    return {"x": 2 * event["x"]}
"""
STARTER = """
def lambda_handler(event, context):
    return {"x": event["x"]}
"""


def run_check(content_dir, settings, *args: str) -> tuple[str, str | None]:
    """(stdout, the CommandError's message or None)."""
    settings.COURSE_CONTENT_DIR = content_dir
    out = io.StringIO()
    try:
        call_command("check_course", *args, stdout=out)
    except CommandError as exc:
        return out.getvalue(), str(exc)
    return out.getvalue(), None


def make_exercise(
    root,
    folder="01-double-it",
    *,
    yaml_text=ECHO_YAML,
    starter=STARTER,
    solution=SOLUTION,
    checks=ECHO_CHECKS,
):
    lesson = write_lesson(root, folder, title=folder)
    return write_exercise(lesson, yaml_text=yaml_text, starter=starter, solution=solution, checks=checks)


# --- Problems found without running code


def test_a_schema_error_names_the_file_and_the_field(tmp_path, settings):
    make_exercise(tmp_path, yaml_text=ECHO_YAML.replace("trigger: direct", "trigger: kafka"))
    out, error = run_check(tmp_path, settings)
    assert "FAIL double-it: 01-double-it/exercise/exercise.yaml: at trigger: 'kafka' is not one of" in out
    assert error == "1 of 1 exercise failed the check."


def test_a_missing_check_function_is_named(tmp_path, settings):
    make_exercise(tmp_path, yaml_text=ECHO_YAML.replace("checks: [doubles]", "checks: [doubles, triples]"))
    out, error = run_check(tmp_path, settings)
    assert (
        "FAIL double-it: 01-double-it/exercise/exercise.yaml: case 'doubles x': "
        "check 'triples' is not defined in checks.py"
    ) in out
    assert error


def test_an_invalid_literal_event_is_caught_by_the_trigger_model(tmp_path, settings):
    event = build_event("s3.object_created", seed=1, bucket="photos", key="uploads/cat.jpg")
    event["Records"][0]["eventSource"] = "aws:s4"
    yaml_text = f"""
title: Bad event
trigger: s3
cases:
  - name: a typo in eventSource
    event: {{literal: {json.dumps(event)}}}
    checks: [doubles]
"""
    make_exercise(tmp_path, "02-bad-event", yaml_text=yaml_text)
    out, error = run_check(tmp_path, settings)
    assert (
        "FAIL bad-event: 02-bad-event/exercise/exercise.yaml: case 'a typo in eventSource': the event is not a "
        "valid S3 event (S3Model): Records.0.eventSource: Input should be 'aws:s3' (got 'aws:s4')"
    ) in out
    assert error


def test_a_factory_event_names_its_seed(tmp_path, settings):
    yaml_text = """
title: Wrong trigger
trigger: sqs
cases:
  - name: an S3 event on an SQS exercise
    event: {factory: s3.object_created}
    checks: [doubles]
"""
    make_exercise(tmp_path, "03-wrong-trigger", yaml_text=yaml_text)
    out, _ = run_check(tmp_path, settings)
    assert (
        "FAIL wrong-trigger: 03-wrong-trigger/exercise/exercise.yaml: case 'an S3 event on an SQS exercise' "
        "(seed 1): the event is not a valid SQS event (SqsModel): Records.0.messageId: Field required"
    ) in out


def test_a_seed_function_that_raises_names_the_case_and_the_line(tmp_path, settings):
    yaml_text = ECHO_YAML.replace("    checks: [doubles]", "    aws: seed_table\n    checks: [doubles]")
    checks = ECHO_CHECKS + "\n\ndef seed_table(event):\n    return {'dynamodb': [event['table']]}\n"
    make_exercise(tmp_path, yaml_text=yaml_text, checks=checks)
    out, _ = run_check(tmp_path, settings)
    assert (
        "FAIL double-it: 01-double-it/exercise/checks.py: the seed function 'seed_table' of case 'doubles x' "
        "(seed 1) raised KeyError: 'table' (line 10, in seed_table)"
    ) in out


def test_a_hidden_case_needs_a_rationale(tmp_path, settings):
    make_exercise(
        tmp_path,
        yaml_text=ECHO_YAML.replace("    checks: [doubles]", "    visibility: hidden\n    checks: [doubles]"),
    )
    out, _ = run_check(tmp_path, settings)
    assert "case 'doubles x' is hidden but has no rationale" in out


def test_every_exercise_reports_its_first_problem(tmp_path, settings):
    make_exercise(tmp_path, "01-one", yaml_text=ECHO_YAML.replace("trigger: direct", "trigger: kafka"))
    make_exercise(tmp_path, "02-two", checks="def broken(:\n")
    write_lesson(tmp_path, "03-text-only", title="No exercise")
    (tmp_path / "04-no-front-matter").mkdir()
    (tmp_path / "04-no-front-matter" / "lesson.md").write_text("no front matter")
    out, error = run_check(tmp_path, settings, "--no-run")
    lines = out.splitlines()
    assert lines[0].startswith("FAIL one: 01-one/exercise/exercise.yaml: at trigger:")
    assert lines[1] == "FAIL two: 02-two/exercise/checks.py: line 1: invalid syntax"
    assert (
        lines[2]
        == "FAIL no-front-matter: 04-no-front-matter/lesson.md: must start with YAML front matter between two '---' lines"
    )
    assert len(lines) == 3  # a lesson without an exercise has nothing to check
    assert error == "3 of 3 exercises failed the check."


def test_an_unknown_slug_is_an_error(tmp_path, settings):
    make_exercise(tmp_path)
    _, error = run_check(tmp_path, settings, "no-such-lesson")
    assert error == f"No lesson 'no-such-lesson' in {tmp_path}; known: double-it."


# --- Problems found by running the code in the jail


def test_a_broken_solution_is_caught(tmp_path, settings):
    make_exercise(
        tmp_path, solution=STARTER, starter="def lambda_handler(event, context):\n    return None\n"
    )
    out, error = run_check(tmp_path, settings)
    assert (
        "FAIL double-it: 01-double-it/exercise/solution.py fails case 'doubles x': failed: "
        'The return value is {"x": 21}, expected {"x": 42}.'
    ) in out
    assert error


def test_a_solution_that_raises_is_caught(tmp_path, settings):
    make_exercise(
        tmp_path, solution="def lambda_handler(event, context):\n    return {'x': 2 * event['y']}\n"
    )
    out, _ = run_check(tmp_path, settings)
    assert "solution.py fails case 'doubles x': error: Your handler raised KeyError: 'y'" in out


def test_a_starter_that_already_passes_is_caught(tmp_path, settings):
    make_exercise(tmp_path, starter=SOLUTION)
    out, error = run_check(tmp_path, settings)
    assert (
        "FAIL double-it: 01-double-it/exercise/starter.py passes every case (seed 1); it must fail at least one, "
        "or learners start from a solved exercise."
    ) in out
    assert error


def test_a_check_that_crashes_is_an_exercise_bug(tmp_path, settings):
    checks = ECHO_CHECKS + "\n\ndef crashes(ctx):\n    return ctx.result['missing']\n"
    make_exercise(tmp_path, yaml_text=ECHO_YAML.replace("[doubles]", "[doubles, crashes]"), checks=checks)
    out, _ = run_check(tmp_path, settings)
    assert (
        "checks.py raised KeyError: 'missing' (line 10, in crashes) while judging solution.py on case "
        "'doubles x'; a check must raise only CheckFailed."
    ) in out


def test_a_sound_exercise_passes(tmp_path, settings):
    make_exercise(tmp_path)
    out, error = run_check(tmp_path, settings)
    assert out.splitlines() == [
        "ok  double-it: solution 1/1, starter fails 1/1",
        "1 exercise checked, no problems.",
    ]
    assert error is None


def test_the_real_course_passes(settings):
    out, error = run_check(settings.COURSE_CONTENT_DIR, settings)
    assert error is None, out
    assert "ok  s3-to-lambda: solution 4/4, starter fails" in out
    assert "ok  thumbnail-pipeline: solution 6/6, starter fails 5/6" in out
    assert "ok  alb-to-lambda: solution 7/7, starter fails 5/7" in out
    assert "ok  sqs-event-source-mapping: solution 6/6, starter fails 6/6" in out
    assert "ok  event-and-context: solution 6/6, starter fails 6/6" in out
    assert "ok  timeouts-and-limits: solution 4/4, starter fails 3/4" in out
    assert "ok  pricing: solution 7/7, starter fails 7/7" in out
