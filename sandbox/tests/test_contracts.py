"""The ALB response contract (aws-lambda-facts.md §2) and the SQS batch contract (§3), rule by rule."""

import base64
import dataclasses
import json
from typing import Any

import pytest

from sandbox.contracts.alb import (
    MAX_REQUEST_BODY_BYTES,
    MAX_RESPONSE_BYTES,
    HttpResult,
    alb_error_response,
    alb_http_response,
    alb_request_too_large,
)
from sandbox.contracts.sqs import BatchOutcome, sqs_batch_outcome
from sandbox.events import alb as alb_events

# --- ALB: responses ALB relays ----------------------------------------------------------------

OK = {"statusCode": 200, "isBase64Encoded": False}


@pytest.mark.parametrize(
    ("response", "multi_value", "status", "headers", "body"),
    [
        pytest.param(
            OK, False, 200, [("content-length", "0")], b"", id="minimal: statusCode + isBase64Encoded"
        ),
        pytest.param(
            {
                **OK,
                "statusDescription": "200 OK",
                "headers": {"Content-Type": "text/html"},
                "body": "<p>hé</p>",
            },
            False,
            200,
            [("Content-Type", "text/html"), ("content-length", "10")],
            "<p>hé</p>".encode(),
            id="full single-value response, body sent as UTF-8",
        ),
        pytest.param(
            {**OK, "statusCode": 404, "statusDescription": "404 Not Found", "body": "nope"},
            False,
            404,
            [("content-length", "4")],
            b"nope",
            id="statusDescription matching statusCode",
        ),
        pytest.param(
            {**OK, "statusCode": 299, "statusDescription": "299 Custom Thing"},
            False,
            299,
            [("content-length", "0")],
            b"",
            id="any code 100-599 with any reason phrase",
        ),
        pytest.param(
            {"statusCode": 200, "isBase64Encoded": True, "body": base64.b64encode(b"\x89PNG").decode()},
            False,
            200,
            [("content-length", "4")],
            b"\x89PNG",
            id="base64 body is decoded before it reaches the client",
        ),
        pytest.param(
            {**OK, "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"], "X-Empty": []}, "body": "x"},
            True,
            200,
            [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"), ("content-length", "1")],
            b"x",
            id="multi-value headers expand to one header line per value",
        ),
        pytest.param(
            {
                **OK,
                "headers": {"Connection": "close", "Transfer-Encoding": "chunked", "Content-Length": "99"},
            },
            False,
            200,
            [("content-length", "0")],
            b"",
            id="hop-by-hop headers dropped, Content-Length computed by ALB",
        ),
        pytest.param(
            {**OK, "statusCode": 204, "headers": {"X-A": "1"}},
            False,
            204,
            [("X-A", "1")],
            b"",
            id="no content-length on a 204",
        ),
        pytest.param(
            {**OK, "unknownKey": 1}, False, 200, [("content-length", "0")], b"", id="unknown keys ignored"
        ),
    ],
)
def test_alb_relays_valid_responses(
    response: dict[str, Any], multi_value: bool, status: int, headers: list[tuple[str, str]], body: bytes
) -> None:
    result = alb_http_response(response, multi_value=multi_value)
    assert result == HttpResult(status=status, headers=headers, body=body, ok=True, reason="")


# --- ALB: responses ALB refuses with its own 502 -----------------------------------------------


@pytest.mark.parametrize(
    ("response", "multi_value", "reason"),
    [
        # statusCode
        ({"isBase64Encoded": False}, False, "statusCode is missing"),
        (
            {"StatusCode": 200, "isBase64Encoded": False},
            False,
            "statusCode is missing (you returned 'StatusCode'",
        ),
        ({**OK, "statusCode": "200"}, False, "statusCode must be an integer, got str '200'"),
        ({**OK, "statusCode": 200.0}, False, "statusCode must be an integer, got float 200.0"),
        ({**OK, "statusCode": True}, False, "statusCode must be an integer, got bool True"),
        ({**OK, "statusCode": None}, False, "statusCode must be an integer, got None (null)"),
        ({**OK, "statusCode": 99}, False, "statusCode must be between 100 and 599, got 99"),
        ({**OK, "statusCode": 600}, False, "statusCode must be between 100 and 599, got 600"),
        # statusDescription
        (
            {**OK, "statusDescription": "OK"},
            False,
            "statusDescription must be the status code, one space and the ",
        ),
        ({**OK, "statusDescription": "200  OK"}, False, "e.g. '200 OK', got str '200  OK'"),
        ({**OK, "statusDescription": "200"}, False, "statusDescription must be"),
        ({**OK, "statusDescription": 200}, False, "got int 200"),
        (
            {**OK, "statusDescription": "404 Not Found"},
            False,
            "'404 Not Found' does not match statusCode 200",
        ),
        # headers, single-value target group
        ({**OK, "headers": {"Set-Cookie": ["a=1", "b=2"]}}, False, "headers['Set-Cookie'] is a list"),
        (
            {**OK, "headers": {"X-Count": 5}},
            False,
            "headers['X-Count'] must be a string, got int 5; write '5'",
        ),
        ({**OK, "headers": {"X-Flag": True}}, False, "got bool True; write 'true'"),
        ({**OK, "headers": {"X-None": None}}, False, "headers['X-None'] must be a string, got None (null)"),
        ({**OK, "headers": [["a", "b"]]}, False, "headers must be an object of header name to string"),
        ({**OK, "headers": {"Bad Name": "x"}}, False, "invalid header name 'Bad Name'"),
        ({**OK, "headers": {"X-A": "a\r\nSet-Cookie: evil=1"}}, False, "contains a line break"),
        ({**OK, "multiValueHeaders": {"a": ["b"]}}, False, "does not have multi-value headers enabled"),
        # headers, multi-value target group
        ({**OK, "headers": {"a": "b"}}, True, "must use 'multiValueHeaders'"),
        ({**OK, "multiValueHeaders": {"a": "b"}}, True, "multiValueHeaders['a'] must be a list of strings"),
        ({**OK, "multiValueHeaders": {"a": [1]}}, True, "multiValueHeaders['a'] must be a string, got int 1"),
        ({**OK, "multiValueHeaders": "a: b"}, True, "multiValueHeaders must be an object"),
        # isBase64Encoded
        ({"statusCode": 200}, False, "isBase64Encoded is missing: ALB requires it"),
        ({"statusCode": 200, "isBase64Encoded": "false"}, False, "isBase64Encoded must be a boolean"),
        (
            {"statusCode": 200, "isBase64Encoded": 0},
            False,
            "isBase64Encoded must be a boolean (True or False), got int 0",
        ),
        # body
        ({**OK, "body": {"a": 1}}, False, "body must be a string (use json.dumps(...) for JSON), got dict"),
        ({**OK, "body": None}, False, "body must be a string, got None (null)"),
        ({**OK, "body": b"x"}, False, "the response is not JSON-serializable"),
        ({**OK, "body": 5}, False, "body must be a string, got int 5"),
        (
            {"statusCode": 200, "isBase64Encoded": True, "body": "not base64!"},
            False,
            "body is not valid base64",
        ),
        ({"statusCode": 200, "isBase64Encoded": True, "body": "QUJD="}, False, "body is not valid base64"),
        # not an object at all
        (
            '{"statusCode": 200}',
            False,
            "got str '{\"statusCode\": 200}'; it looks like json.dumps(...) output",
        ),
        ([200, "OK"], False, "must return an object (a dict)"),
        (None, False, "got None (null)"),
        (200, False, "got int 200"),
        ({**OK, "body": {1, 2}}, False, "not JSON-serializable"),
    ],
)
def test_alb_answers_502_for_invalid_responses(response: Any, multi_value: bool, reason: str) -> None:
    result = alb_http_response(response, multi_value=multi_value)
    assert result.ok is False
    assert result.status == 502
    assert result.reason.startswith("LambdaInvalidResponse: ")
    assert reason in result.reason
    assert result.body.startswith(b"<html>") and b"502 Bad Gateway" in result.body
    assert ("server", "awselb/2.0") in result.headers


def test_alb_reason_reads_like_the_example_in_the_spec() -> None:
    result = alb_http_response({**OK, "statusCode": "200"}, multi_value=False)
    assert result.reason == "LambdaInvalidResponse: statusCode must be an integer, got str '200'"


def test_alb_reports_every_problem_at_once() -> None:
    result = alb_http_response({"statusCode": "200", "headers": {"a": 1}}, multi_value=False)
    assert result.reason.count(";") >= 2
    for part in (
        "statusCode must be an integer",
        "headers['a'] must be a string",
        "isBase64Encoded is missing",
    ):
        assert part in result.reason


def _response_of_size(size: int) -> dict[str, Any]:
    response = {**OK, "body": ""}
    response["body"] = "x" * (size - len(json.dumps(response, ensure_ascii=False).encode()))
    assert len(json.dumps(response, ensure_ascii=False).encode()) == size
    return response


@pytest.mark.parametrize(
    ("size", "ok"),
    [(MAX_RESPONSE_BYTES - 1, True), (MAX_RESPONSE_BYTES, True), (MAX_RESPONSE_BYTES + 1, False)],
)
def test_alb_response_size_limit_is_1_mb_of_json(size: int, ok: bool) -> None:
    assert MAX_RESPONSE_BYTES == 1_048_576
    result = alb_http_response(_response_of_size(size), multi_value=False)
    assert result.ok is ok
    if not ok:
        assert result.status == 502
        assert result.reason.startswith("LambdaResponseTooLarge: the response JSON is 1,048,577 bytes")


def test_alb_response_size_counts_utf8_bytes_not_characters() -> None:
    response = {**OK, "body": "é" * (MAX_RESPONSE_BYTES // 2)}  # fewer characters than the limit, more bytes
    assert alb_http_response(response, multi_value=False).reason.startswith("LambdaResponseTooLarge")


@pytest.mark.parametrize(
    ("kind", "status", "reason"),
    [
        ("unhandled", 502, "LambdaUnhandled: the function raised an exception (KeyError: 'id')"),
        ("timeout", 502, "did not return before its timeout (KeyError: 'id')"),
        ("request_too_large", 413, "LambdaRequestTooLarge"),
    ],
)
def test_alb_error_responses(kind: Any, status: int, reason: str) -> None:
    result = alb_error_response(kind, detail="KeyError: 'id'")
    assert (result.status, result.ok) == (status, False)
    assert reason in result.reason
    assert str(status).encode() in result.body
    assert ("content-length", str(len(result.body))) in result.headers


def test_alb_error_response_rejects_unknown_kinds() -> None:
    with pytest.raises(ValueError, match="unknown ALB error kind 'oops'"):
        alb_error_response("oops")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("body", "content_type", "too_large"),
    [
        ("x" * MAX_REQUEST_BODY_BYTES, "text/plain", False),
        ("x" * (MAX_REQUEST_BODY_BYTES + 1), "text/plain", True),
        (
            b"\x00" * MAX_REQUEST_BODY_BYTES,
            "application/octet-stream",
            False,
        ),  # base64 is longer; decoded counts
        (b"\x00" * (MAX_REQUEST_BODY_BYTES + 1), "application/octet-stream", True),
        (None, None, False),
    ],
)
def test_alb_413_for_request_bodies_over_1_mb(body: Any, content_type: str | None, too_large: bool) -> None:
    event = alb_events.request(method="POST", body=body, content_type=content_type)
    result = alb_request_too_large(event)
    if too_large:
        assert result is not None and result.status == 413 and result.ok is False
        assert "413 Request Entity Too Large" in result.body.decode()
    else:
        assert result is None


def test_http_result_is_frozen() -> None:
    result = alb_http_response(OK, multi_value=False)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.status = 500  # type: ignore[misc]


# --- SQS: the event source mapping's verdict ---------------------------------------------------

IDS = ["m1", "m2", "m3"]
ALL_DELETED = (IDS, [], False)
WHOLE_BATCH = ([], IDS, True)


def failures(*ids: Any) -> dict[str, Any]:
    return {"batchItemFailures": [{"itemIdentifier": i} for i in ids]}


@pytest.mark.parametrize(
    ("response", "raised", "flag", "expected", "reason"),
    [
        # The function raised (or timed out): always the whole batch.
        pytest.param(None, True, False, WHOLE_BATCH, "whole batch failed", id="raised, flag off"),
        pytest.param(failures("m1"), True, True, WHOLE_BATCH, "whole batch failed", id="raised, flag on"),
        # Without ReportBatchItemFailures any return is a complete success and the list is ignored.
        pytest.param(None, False, False, ALL_DELETED, "deleted the whole batch", id="off: None"),
        pytest.param(
            {"statusCode": 500}, False, False, ALL_DELETED, "deleted the whole batch", id="off: any dict"
        ),
        pytest.param("error", False, False, ALL_DELETED, "deleted the whole batch", id="off: a string"),
        pytest.param(failures("m1"), False, False, ALL_DELETED, "were ignored", id="off: list ignored, lost"),
        # With the flag: complete success.
        pytest.param(None, False, True, ALL_DELETED, "complete success", id="on: null response"),
        pytest.param({}, False, True, ALL_DELETED, "complete success", id="on: empty response"),
        pytest.param({"batchItemFailures": []}, False, True, ALL_DELETED, "empty", id="on: empty list"),
        pytest.param({"batchItemFailures": None}, False, True, ALL_DELETED, "empty", id="on: null list"),
        pytest.param(
            {"status": "ok"}, False, True, ALL_DELETED, "mean nothing to Lambda", id="on: other keys"
        ),
        pytest.param(
            {"BatchItemFailures": [{"itemIdentifier": "m1"}]},
            False,
            True,
            ALL_DELETED,
            "'BatchItemFailures' you returned was ignored",
            id="on: miscased top-level key is an unknown key",
        ),
        # With the flag: partial failure.
        pytest.param(
            failures("m2"), False, True, (["m1", "m3"], ["m2"], False), "1 message(s) return", id="on: one"
        ),
        pytest.param(
            failures("m3", "m1", "m3"),
            False,
            True,
            (["m2"], ["m1", "m3"], False),
            "2 message(s)",
            id="on: duplicates",
        ),
        pytest.param(
            failures(*IDS), False, True, ([], IDS, False), "3 message(s)", id="on: every id, not whole-batch"
        ),
        pytest.param(
            {"batchItemFailures": [{"itemIdentifier": "m1", "note": "x"}]},
            False,
            True,
            (["m2", "m3"], ["m1"], False),
            "1 message(s)",
            id="on: extra keys in an item are fine",
        ),
        # With the flag: complete failure.
        pytest.param(
            failures("nope"), False, True, WHOLE_BATCH, "not the messageId of any message", id="unknown id"
        ),
        pytest.param(failures(""), False, True, WHOLE_BATCH, "empty itemIdentifier", id="empty-string id"),
        pytest.param(failures(None), False, True, WHOLE_BATCH, "empty itemIdentifier", id="null id"),
        pytest.param(
            failures(1), False, True, WHOLE_BATCH, "names 1, which is not the messageId", id="int id"
        ),
        pytest.param(
            {"batchItemFailures": [{"itemIdentifer": "m1"}]},
            False,
            True,
            WHOLE_BATCH,
            "has no 'itemIdentifier' key (it has 'itemIdentifer')",
            id="misspelt key",
        ),
        pytest.param(
            {"batchItemFailures": [{"messageId": "m1"}]},
            False,
            True,
            WHOLE_BATCH,
            "spelled exactly",
            id="wrong key",
        ),
        pytest.param(
            {"batchItemFailures": ["m1"]}, False, True, WHOLE_BATCH, "wrap the id", id="bare id in list"
        ),
        pytest.param(
            {"batchItemFailures": "m1"}, False, True, WHOLE_BATCH, "must be a list", id="list is a string"
        ),
        pytest.param(
            {"batchItemFailures": {"itemIdentifier": "m1"}},
            False,
            True,
            WHOLE_BATCH,
            "must be a list",
            id="dict",
        ),
        pytest.param(
            '{"batchItemFailures": []}', False, True, WHOLE_BATCH, "return the dict itself", id="json string"
        ),
        pytest.param(
            [{"itemIdentifier": "m1"}], False, True, WHOLE_BATCH, "Wrap the list", id="top-level list"
        ),
        pytest.param(42, False, True, WHOLE_BATCH, "not a batch response object", id="a number"),
        pytest.param(
            failures("m1", "bad"),
            False,
            True,
            WHOLE_BATCH,
            "including the ones already processed",
            id="one bad id",
        ),
    ],
)
def test_sqs_batch_outcome(
    response: Any, raised: bool, flag: bool, expected: tuple[list[str], list[str], bool], reason: str
) -> None:
    outcome = sqs_batch_outcome(
        message_ids=IDS, response=response, raised=raised, report_batch_item_failures=flag
    )
    assert (outcome.deleted, outcome.retried, outcome.whole_batch_failed) == expected
    assert reason in outcome.reason


def test_sqs_outcome_keeps_the_batch_order_and_does_not_share_the_input_list() -> None:
    ids = ["c", "a", "b"]
    outcome = sqs_batch_outcome(message_ids=ids, response=None, raised=True, report_batch_item_failures=True)
    assert outcome.retried == ["c", "a", "b"]
    outcome.retried.append("x")
    assert ids == ["c", "a", "b"]


def test_sqs_outcome_with_a_real_batch() -> None:
    from sandbox.events import sqs

    records = sqs.batch(seed=11, size=4)["Records"]
    ids = [r["messageId"] for r in records]
    response = {"batchItemFailures": [{"itemIdentifier": records[2]["messageId"]}]}
    outcome = sqs_batch_outcome(
        message_ids=ids, response=response, raised=False, report_batch_item_failures=True
    )
    assert outcome == BatchOutcome(
        deleted=[ids[0], ids[1], ids[3]], retried=[ids[2]], whole_batch_failed=False, reason=outcome.reason
    )
    receipt = sqs_batch_outcome(
        message_ids=ids,
        response={"batchItemFailures": [{"itemIdentifier": records[2]["receiptHandle"]}]},
        raised=False,
        report_batch_item_failures=True,
    )
    assert receipt.whole_batch_failed and "not the receipt handle" in receipt.reason
