"""The check helpers exercise authors use: each passes on a match and teaches on a mismatch."""

import pytest

from sandbox.checks import (
    CheckContext,
    CheckFailed,
    expect_batch,
    expect_dict,
    expect_dynamodb_item,
    expect_equal,
    expect_http,
    expect_log_line,
    expect_readable_batch_response,
    expect_s3_object,
    expect_schema,
)
from sandbox.contracts.alb import alb_http_response
from sandbox.contracts.sqs import sqs_batch_outcome

STATE = {
    "s3": {"photos": {"thumbnails/cat.jpg": {"size": 10, "content_type": "image/jpeg"}}},
    "dynamodb": {"orders": [{"order_id": "a1", "amount": 12.5}]},
}


def test_expect_equal_names_the_type_mistake():
    expect_equal(3, 3, what="'size'")
    with pytest.raises(CheckFailed, match="right value but the wrong type: bool, expected int"):
        expect_equal(True, 1, what="'size'")
    with pytest.raises(CheckFailed, match=r"'size' is \"3\", expected 3"):
        expect_equal("3", 3, what="'size'")


def test_expect_dict_lists_missing_keys():
    with pytest.raises(CheckFailed, match="missing the key 'size'; it has 'bucket', 'key'"):
        expect_dict({"bucket": 1, "key": 2}, what="The return value", keys=["bucket", "key", "size"])


def test_expect_schema():
    schema = {"type": "object", "required": ["thumbnails"], "properties": {"thumbnails": {"type": "array"}}}
    expect_schema({"thumbnails": []}, schema, what="The return value")
    with pytest.raises(CheckFailed, match="at thumbnails: 'x' is not of type 'array'"):
        expect_schema({"thumbnails": "x"}, schema, what="The return value")


def test_expect_s3_object():
    ctx = CheckContext(event={}, aws_state=STATE)
    assert (
        expect_s3_object(ctx, bucket="photos", key="thumbnails/cat.jpg", content_type="image/jpeg")["size"]
        == 10
    )
    with pytest.raises(
        CheckFailed,
        match=r"Expected an object s3://photos/thumbnails/dog.jpg; the bucket has 'thumbnails/cat.jpg'",
    ):
        expect_s3_object(ctx, bucket="photos", key="thumbnails/dog.jpg")
    with pytest.raises(CheckFailed, match="has ContentType 'image/jpeg', expected 'image/png'"):
        expect_s3_object(ctx, bucket="photos", key="thumbnails/cat.jpg", content_type="image/png")


def test_expect_dynamodb_item():
    ctx = CheckContext(event={}, aws_state=STATE)
    expect_dynamodb_item(ctx, table="orders", key={"order_id": "a1"}, fields={"amount": 12.5})
    with pytest.raises(CheckFailed, match="has amount = 12.5, expected 13"):
        expect_dynamodb_item(ctx, table="orders", key={"order_id": "a1"}, fields={"amount": 13})
    with pytest.raises(CheckFailed, match="it is not there"):
        expect_dynamodb_item(ctx, table="orders", key={"order_id": "zz"})


def test_expect_http_compares_header_names_case_insensitively():
    response = {"statusCode": 200, "statusDescription": "200 OK", "isBase64Encoded": False,
                "headers": {"content-type": "application/json"}, "body": '{"ok": true}'}  # fmt: skip
    ctx = CheckContext(event={}, http=alb_http_response(response, multi_value=False))
    expect_http(ctx, status=200, headers={"Content-Type": "application/json"}, body='{"ok": true}')
    with pytest.raises(CheckFailed, match="The status is 200, expected 405"):
        expect_http(ctx, status=405)
    with pytest.raises(CheckFailed, match="The response has no Allow header"):
        expect_http(ctx, status=200, headers={"Allow": "GET"})
    broken = CheckContext(event={}, http=alb_http_response({"statusCode": "200"}, multi_value=False))
    with pytest.raises(CheckFailed, match="ALB answered 502 itself"):
        expect_http(broken, status=200)


def test_expect_batch():
    outcome = sqs_batch_outcome(
        message_ids=["m1", "m2"], response={"batchItemFailures": [{"itemIdentifier": "m2"}]}, raised=False,
        report_batch_item_failures=True,
    )  # fmt: skip
    ctx = CheckContext(event={}, batch=outcome)
    expect_batch(ctx, retried=["m2"])
    with pytest.raises(CheckFailed, match='Expected only \\["m1"\\] to be retried'):
        expect_batch(ctx, retried=["m1"])


def test_expect_readable_batch_response():
    ids = ["m1", "m2"]
    readable = {"batchItemFailures": [{"itemIdentifier": "m2"}]}
    ctx = CheckContext(
        event={}, result=readable,
        batch=sqs_batch_outcome(message_ids=ids, response=readable, raised=False, report_batch_item_failures=True),
    )  # fmt: skip
    assert expect_readable_batch_response(ctx, expected=readable).retried == ["m2"]
    unreadable = {"batchItemFailures": [{"id": "m2"}]}  # no itemIdentifier: Lambda cannot use it
    ctx = CheckContext(
        event={}, result=unreadable,
        batch=sqs_batch_outcome(message_ids=ids, response=unreadable, raised=False, report_batch_item_failures=True),
    )  # fmt: skip
    with pytest.raises(
        CheckFailed, match="could not read your response, so the whole batch comes back"
    ) as failed:
        expect_readable_batch_response(ctx, expected=readable)
    assert failed.value.expected == readable and failed.value.got == unreadable


def test_expect_log_line():
    ctx = CheckContext(event={}, logs="START RequestId: 1\nProcessed order a1\nEND RequestId: 1\n")
    expect_log_line(ctx, r"Processed order \w+")
    with pytest.raises(CheckFailed, match="No log line matches"):
        expect_log_line(ctx, r"Skipped")
