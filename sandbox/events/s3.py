"""Seeded S3 event notifications, shaped as S3 delivers them to Lambda.

The shape is the S3 User Guide's event message structure (eventVersion 2.1), i.e. SAM's
`s3 put` / `s3 delete` templates with the fixes of aws-lambda-facts.md §1a and §8: eventVersion
"2.1" and keys form-URL-encoded as S3 does ("red flower.jpg" arrives as "red+flower.jpg", so a
handler must `urllib.parse.unquote_plus` it).
"""

import random
import re
import urllib.parse
from datetime import datetime
from typing import Any

from sandbox.events import _common as c

_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_ETAG = re.compile(r"[0-9a-f]{32}(-[0-9]{1,5})?")  # plain MD5, or `md5-<parts>` for multipart uploads
_MAX_KEY_BYTES = 1024

_BUCKET_WORDS = ("photos", "uploads", "invoices", "media", "reports", "backups", "assets", "exports", "inbox")
_BUCKET_KINDS = ("store", "bucket", "data", "archive", "drop", "prod", "dev")

# Random keys mix plain names with the characters that break a handler which forgets
# unquote_plus: spaces (→ "+"), "+" (→ "%2B"), unicode (é → "%C3%A9"), parentheses, and
# nested prefixes (the "/" stays literal).
_KEY_PREFIXES = (
    "",
    "uploads/",
    "incoming/2024/06/",
    "photos/summer trip/",
    "reports/Q3/",
    "users/{n}/avatars/",
    "café/menus/",
    "raw/a+b/",
)
_KEY_NAMES = (
    "red flower.jpg",
    "résumé {n}.pdf",
    "invoice-{n}.pdf",
    "IMG_{n}.JPG",
    "data+backup-{n}.csv",
    "notes (final) {n}.txt",
    "photo {n}.png",
    "report_{n}.json",
    "crème brûlée {n}.jpg",
    "{n}.txt",
)


def encode_key(key: str) -> str:
    """Encode an object key as it appears in an S3 event: form-URL-encoding, `/` kept literal."""
    return urllib.parse.quote_plus(key, safe="/")


def _random_bucket(rng: random.Random) -> str:
    return f"{rng.choice(_BUCKET_WORDS)}-{rng.choice(_BUCKET_KINDS)}-{c.hex_string(rng, 6)}"


def _random_key(rng: random.Random) -> str:
    prefix = rng.choice(_KEY_PREFIXES).format(n=rng.randint(1, 9999))
    return prefix + rng.choice(_KEY_NAMES).format(n=rng.randint(1, 99999))


def _check_bucket(bucket: object) -> str:
    if not isinstance(bucket, str) or not _BUCKET_NAME.fullmatch(bucket) or ".." in bucket:
        raise ValueError(
            "bucket must be a valid S3 bucket name (3-63 lowercase letters, digits, '-' or '.'), "
            f"got {bucket!r}"
        )
    return bucket


def _check_key(key: object) -> str:
    key = c.check_str(key, param="key")
    if len(key.encode()) > _MAX_KEY_BYTES:
        raise ValueError(f"key must be at most {_MAX_KEY_BYTES} bytes of UTF-8, got {len(key.encode())}")
    return key


def _record(
    rng: random.Random,
    *,
    event_name: str,
    bucket: str | None,
    key: str | None,
    region: str,
    event_time: datetime | str | None,
    version_id: str | None,
    obj_extra: dict[str, Any],
) -> dict[str, Any]:
    # Draw every random value first, in a fixed order, so overriding one parameter never
    # changes the others: object_created(seed=5, key="x") has seed 5's bucket.
    random_bucket = _random_bucket(rng)
    random_key = _random_key(rng)
    random_moment = c.random_time(rng)
    sequencer = c.hex_string(rng, 18, upper=True)
    principal = "AWS:AIDA" + c.upper_alnum(rng, 17)
    owner = "A" + c.upper_alnum(rng, 13)
    source_ip = c.random_ip(rng)
    request_id = c.hex_string(rng, 16, upper=True)
    host_id = c.b64_token(rng, 48)
    configuration_id = c.uuid4(rng)

    region = c.check_region(region)
    bucket = random_bucket if bucket is None else _check_bucket(bucket)
    key = random_key if key is None else _check_key(key)
    moment = random_moment if event_time is None else c.parse_time(event_time, param="event_time")
    obj: dict[str, Any] = {"key": encode_key(key), **obj_extra}
    if version_id is not None:
        obj["versionId"] = c.check_str(version_id, param="version_id")
    obj["sequencer"] = sequencer
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": region,
        "eventTime": c.iso_millis(moment),
        "eventName": event_name,
        "userIdentity": {"principalId": principal},
        "requestParameters": {"sourceIPAddress": source_ip},
        "responseElements": {"x-amz-request-id": request_id, "x-amz-id-2": host_id},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": configuration_id,
            "bucket": {
                "name": bucket,
                "ownerIdentity": {"principalId": owner},
                "arn": f"arn:{c.partition(region)}:s3:::{bucket}",
            },
            "object": obj,
        },
    }


def object_created(
    *,
    seed: int = 0,
    bucket: str | None = None,
    key: str | None = None,
    size: int | None = None,
    etag: str | None = None,
    region: str = "us-east-1",
    event_time: datetime | str | None = None,
    version_id: str | None = None,
) -> dict[str, Any]:
    """An `ObjectCreated:Put` notification for one object.

    `key` is the real object key ("red flower.jpg"); the event carries it encoded as S3 does
    ("red+flower.jpg"). Parameters left as None are chosen from the seed.
    """
    rng = c.new_rng(seed, namespace="s3")
    random_size = rng.randint(1, 10_000_000)
    random_etag = c.hex_string(rng, 32)
    size = random_size if size is None else c.check_int(size, param="size", low=0)
    if etag is None:
        etag = random_etag
    elif not isinstance(etag, str) or not _ETAG.fullmatch(etag):
        raise ValueError(f"etag must be 32 lowercase hex digits (an MD5), got {etag!r}")
    record = _record(
        rng,
        event_name="ObjectCreated:Put",
        bucket=bucket,
        key=key,
        region=region,
        event_time=event_time,
        version_id=version_id,
        obj_extra={"size": size, "eTag": etag},
    )
    return {"Records": [record]}


def object_removed(
    *,
    seed: int = 0,
    bucket: str | None = None,
    key: str | None = None,
    region: str = "us-east-1",
    event_time: datetime | str | None = None,
    version_id: str | None = None,
) -> dict[str, Any]:
    """An `ObjectRemoved:Delete` notification: the object has only key and sequencer (+versionId)."""
    rng = c.new_rng(seed, namespace="s3")
    rng.randint(1, 10_000_000)  # keep the draws in step with object_created: same seed, same bucket and key
    c.hex_string(rng, 32)
    record = _record(
        rng,
        event_name="ObjectRemoved:Delete",
        bucket=bucket,
        key=key,
        region=region,
        event_time=event_time,
        version_id=version_id,
        obj_extra={},
    )
    return {"Records": [record]}
