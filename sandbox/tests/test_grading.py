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


def _direct(trigger: str, **extra) -> dict:
    from sandbox.management.commands.invoke import DIRECT_DEFINITION

    return DIRECT_DEFINITION | {"trigger": trigger} | extra


def _run_one(definition: dict, event: dict, code: str) -> dict:
    from sandbox.cases import Case

    case = Case(0, "docs handler", "visible", 1, True, "", event, None, ())
    (run,) = run_cases(code=code, definition=definition, cases=[case])
    return judge(run, definition=definition, checks=None)


# Written the way the AWS documentation writes them (Lambda developer guide, "Using Lambda with Amazon SQS"
# and "Lambda functions as targets" in the ELB guide), and run unchanged.
SQS_DOCS_HANDLER = """
def lambda_handler(event, context):
    if event:
        batch_item_failures = []
        sqs_batch_response = {}
        for record in event["Records"]:
            try:
                process_message(record)
            except Exception as e:
                batch_item_failures.append({"itemIdentifier": record["messageId"]})
        sqs_batch_response["batchItemFailures"] = batch_item_failures
        return sqs_batch_response

def process_message(record):
    if record["body"] == "poison":
        raise ValueError("cannot process")
    print(f"Processed message {record['body']}")
"""

ALB_DOCS_HANDLER = """
import base64

def lambda_handler(event, context):
    return {
        "statusCode": 200,
        "statusDescription": "200 OK",
        "isBase64Encoded": True,
        "headers": {"Content-Type": "application/octet-stream"},
        "body": base64.b64encode(b"\\x00\\x01binary").decode("ascii"),
    }
"""


def test_the_aws_docs_sqs_handler_reports_partial_batch_failures():
    from sandbox.events import build_event

    event = build_event("sqs.batch", seed=5, bodies=["a", "poison", "c"])
    result = _run_one(_direct("sqs", report_batch_item_failures=True), event, SQS_DOCS_HANDLER)
    poison = event["Records"][1]["messageId"]
    assert result["verdict"] == "passed"
    assert result["batch"]["retried"] == [poison]
    assert len(result["batch"]["deleted"]) == 2
    assert "Processed message a" in result["logs"]


def test_the_aws_docs_alb_handler_returns_a_binary_body():
    from sandbox.events import build_event

    result = _run_one(
        _direct("alb"), build_event("alb.request", seed=1, method="GET", path="/file"), ALB_DOCS_HANDLER
    )
    assert result["http"]["ok"] and result["http"]["status"] == 200
    assert result["http"]["body"].startswith("\x00\x01binary")


def test_an_alb_handler_that_raises_is_a_502():
    from sandbox.events import build_event

    code = "def lambda_handler(event, context):\n    raise RuntimeError('boom')\n"
    result = _run_one(_direct("alb"), build_event("alb.request", seed=1), code)
    assert result["verdict"] == "error"
    assert result["http"]["status"] == 502
    assert result["error"]["errorType"] == "RuntimeError"
    assert "[ERROR] RuntimeError: boom" in result["logs"]


def test_each_run_knows_its_request_id_and_invocation_and_a_fault_starts_cold_again(s3):
    definition, checks, cases = s3
    slow_key = cases[1].event["Records"][0]["s3"]["object"]["key"]
    code = (
        "import time\nCOUNT = 0\n"
        "def lambda_handler(event, context):\n"
        "    global COUNT\n    COUNT += 1\n"
        f"    if event['Records'][0]['s3']['object']['key'] == {slow_key!r}:\n"
        "        time.sleep(60)\n"  # the second case times out: its runtime is discarded
        "    return {'count': COUNT, 'id': context.aws_request_id}\n"
    )
    runs = run_cases(code=code, definition=definition | {"timeout": 1}, cases=cases)
    assert [run.invocation for run in runs] == [1, 2, 1, 2]
    assert runs[1].fault == "timeout"
    assert [run.record["result"]["count"] for run in (runs[0], runs[2], runs[3])] == [1, 1, 2]
    assert all(run.record["result"]["id"] == run.request_id for run in (runs[0], runs[2], runs[3]))
    assert len({run.request_id for run in runs}) == 4
    assert f"START RequestId: {runs[2].request_id} " in runs[2].logs


def test_returning_something_that_is_not_json_teaches_why():
    code = "def lambda_handler(event, context):\n    return {'left': context.get_remaining_time_in_millis}\n"
    result = _run_one(_direct("direct"), {}, code)
    assert result["verdict"] == "error"
    assert result["error"]["errorType"] == "Runtime.MarshalError"
    assert "Object of type method is not JSON serializable" in result["message"]
    assert "a call without its parentheses" in result["hint"]


def test_an_sqs_timeout_says_the_whole_batch_comes_back():
    from sandbox.cases import Case
    from sandbox.grading import CaseRun

    case = Case(0, "slow batch", "visible", 1, True, "", {"Records": []}, None, ())
    run = CaseRun(case, None, "Task timed out after 3.00 seconds\n", fault="timeout", invocation=1)
    result = judge(run, definition=_direct("sqs"), checks=None)
    assert result["verdict"] == "timeout"
    assert "retries the whole batch, finished messages too" in result["message"]
