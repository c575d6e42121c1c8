"""Trusted checks for the S3 -> Lambda exercise. Runs in the worker, never in the jail."""

import urllib.parse

from sandbox.checks import CheckContext, CheckFailed, expect_dict, expect_equal


def returns_object_summary(ctx: CheckContext) -> None:
    s3 = ctx.event["Records"][0]["s3"]
    raw_key = s3["object"]["key"]
    expected = {
        "bucket": s3["bucket"]["name"],
        "key": urllib.parse.unquote_plus(raw_key),
        "size": s3["object"]["size"],
    }
    got = expect_dict(
        ctx.result,
        what="The return value",
        keys=["bucket", "key", "size"],
        hint='Return a dict such as {"bucket": ..., "key": ..., "size": ...}.',
    )
    expect_equal(
        got["bucket"], expected["bucket"], what="'bucket'", hint="The bucket name is Records[0].s3.bucket.name."
    )
    if got["key"] != expected["key"]:
        hint = "The key is Records[0].s3.object.key, form-URL-encoded by S3."
        if got["key"] == raw_key:
            hint = "You returned the key exactly as it arrives. S3 encodes keys in events: decode it with urllib.parse.unquote_plus."
        elif got["key"] == urllib.parse.unquote(raw_key):
            hint = "urllib.parse.unquote leaves '+' as it is, but S3 encodes spaces as '+'. Use unquote_plus."
        raise CheckFailed(
            f"'key' is {got['key']!r}, expected {expected['key']!r}.", expected=expected, got=got, hint=hint
        )
    expect_equal(
        got["size"],
        expected["size"],
        what="'size'",
        hint="Records[0].s3.object.size is already an integer number of bytes; return it as it is.",
    )
