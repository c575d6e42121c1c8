"""The trusted grading path, without Celery: run_cases in the real jail, then judge."""

import pytest

from sandbox.cases import build_cases
from sandbox.exercise_files import checks_module, exercise_source
from sandbox.grading import judge, run_cases


@pytest.fixture(scope="module")
def s3():
    source = exercise_source("s3-to-lambda")
    checks = checks_module(source)
    return source.definition, checks, build_cases(source.definition, seed=42, checks=checks)


def _grade(s3, code: str) -> list[dict]:
    definition, checks, cases = s3
    return [
        judge(run, definition=definition, checks=checks)
        for run in run_cases(code=code, definition=definition, cases=cases)
    ]


def test_a_module_that_exits_during_init_crashes_every_case_with_the_reason(s3):
    results = _grade(s3, "import os\nos._exit(3)\n")
    assert [r["verdict"] for r in results] == ["crashed"] * 4
    assert "exit status 3" in results[0]["message"]
    assert results[-1]["message"] == results[0]["message"]


def test_an_init_error_is_reported_for_every_case(s3):
    results = _grade(s3, "import missing_module_xyz\n")
    assert {r["error"]["errorType"] for r in results} == {"Runtime.ImportModuleError"}
    assert "No module named 'missing_module_xyz'" in results[-1]["message"]


def test_a_hard_coded_answer_fails_the_learners_own_variant(s3):
    definition, checks, cases = s3
    first = cases[0].event["Records"][0]["s3"]
    code = (
        "def lambda_handler(event, context):\n"
        f"    return {{'bucket': {first['bucket']['name']!r}, 'key': 'uploads/photo.jpg', 'size': {first['object']['size']}}}\n"
    )
    results = _grade(s3, code)
    assert results[0]["verdict"] == "passed"
    assert results[-1]["verdict"] == "failed"


def test_warm_invocations_keep_module_globals_and_report_no_init(s3):
    code = (
        "import urllib.parse\nCOUNT = 0\n"
        "def lambda_handler(event, context):\n"
        "    global COUNT\n    COUNT += 1\n    print('invocation', COUNT)\n"
        "    s3 = event['Records'][0]['s3']\n"
        "    return {'bucket': s3['bucket']['name'], 'key': urllib.parse.unquote_plus(s3['object']['key']), 'size': s3['object']['size']}\n"
    )
    results = _grade(s3, code)
    assert all(r["verdict"] == "passed" for r in results)
    assert "invocation 1" in results[0]["logs"] and "invocation 4" in results[3]["logs"]
    assert results[0]["init_duration_ms"] is not None and "Init Duration" in results[0]["report"]
    assert results[1]["init_duration_ms"] is None and "Init Duration" not in results[1]["report"]
