"""Seeded SQS batches, shaped as the Lambda event source mapping delivers them.

Shapes follow aws-lambda-facts.md §1b (Lambda developer guide, "Using Lambda with Amazon SQS"):
string-valued `attributes` with epoch-millisecond timestamps, the FIFO-only attributes,
`messageAttributes` in Lambda's camelCase shape, `md5OfBody`, and `md5OfMessageAttributes` when
the message has attributes.
"""

import base64
import hashlib
import json
import math
import random
import re
import struct
from collections.abc import Mapping, Sequence
from typing import Any

from sandbox.events import _common as c

AttributeValue = str | int | float | bytes

MAX_BATCH = 10  # a FIFO queue's maximum BatchSize, and the default for standard queues
_MAX_ATTRIBUTES = 10
_ATTRIBUTE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,256}")
_QUEUE_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")
# The characters SQS accepts in a message body or string attribute (SQS API reference, SendMessage).
_INVALID_BODY_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

_QUEUE_WORDS = ("orders", "payments", "thumbnails", "emails", "signups", "invoices", "events")
_QUEUE_KINDS = ("queue", "jobs", "ingest", "work", "tasks")
_SKUS = ("SKU-RED-MUG", "SKU-TEE-L", "SKU-CAFÉ-BEANS", "SKU-BOOK-42", "SKU-CABLE-2M")
_NOTES = ("", "gift wrap", "leave at the door", "fragile — handle with care", "appel avant livraison")


def body_md5(body: str) -> str:
    """`md5OfBody`: the hex MD5 of the UTF-8 body."""
    return hashlib.md5(body.encode()).hexdigest()


def message_attributes_md5(attributes: Mapping[str, Mapping[str, Any]]) -> str:
    """`md5OfMessageAttributes`, computed as SQS does (SQS developer guide, "Calculating the MD5
    message digest for message attributes"): for each attribute sorted by name, the 4-byte
    big-endian length and UTF-8 bytes of the name, then of the data type, then a transport byte
    (1 for String and Number, 2 for Binary), then the length and bytes of the value (UTF-8 text,
    or the raw bytes of a Binary value). `attributes` is in Lambda's camelCase event shape.
    """
    digest = hashlib.md5()

    def put(data: bytes) -> None:
        digest.update(struct.pack("!I", len(data)))
        digest.update(data)

    for name in sorted(attributes):
        attribute = attributes[name]
        put(name.encode())
        put(attribute["dataType"].encode())
        if attribute.get("binaryValue") is not None:
            digest.update(b"\x02")
            put(base64.b64decode(attribute["binaryValue"]))
        else:
            digest.update(b"\x01")
            put(attribute["stringValue"].encode())
    return digest.hexdigest()


def _attribute(name: str, value: object) -> dict[str, Any]:
    if not _ATTRIBUTE_NAME.fullmatch(name) or name.startswith((".", "AWS.", "Amazon.")) or ".." in name:
        raise ValueError(
            f"message attribute name {name!r} is invalid: use up to 256 letters, digits, '_', '-' or '.', "
            "not starting with '.', 'AWS.' or 'Amazon.'"
        )
    shape: dict[str, Any]
    if isinstance(value, str):
        if not value:
            raise ValueError(f"message attribute {name!r}: SQS rejects an empty value")
        bad = _INVALID_BODY_CHAR.search(value)
        if bad:
            raise ValueError(
                f"message attribute {name!r} holds {bad.group()!r}, a character SQS does not accept"
            )
        shape = {"stringValue": value, "dataType": "String"}
    elif isinstance(value, bool):
        raise ValueError(f"message attribute {name!r}: SQS has no boolean type; use 'true'/'false' or 1/0")
    elif isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"message attribute {name!r}: a Number must be finite, got {value!r}")
        shape = {"stringValue": str(value), "dataType": "Number"}
    elif isinstance(value, bytes):
        if not value:
            raise ValueError(f"message attribute {name!r}: SQS rejects an empty value")
        shape = {"binaryValue": base64.b64encode(value).decode(), "dataType": "Binary"}
    else:
        raise ValueError(
            f"message attribute {name!r} must be a str (String), int or float (Number) or bytes (Binary), "
            f"got {type(value).__name__}"
        )
    value_key = "binaryValue" if "binaryValue" in shape else "stringValue"
    return {
        value_key: shape[value_key],
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": shape["dataType"],
    }


def _attributes(mapping: object) -> dict[str, dict[str, Any]]:
    if not isinstance(mapping, Mapping):
        raise ValueError(f"message_attributes must be a dict of name to value, got {type(mapping).__name__}")
    if len(mapping) > _MAX_ATTRIBUTES:
        raise ValueError(f"a message has at most {_MAX_ATTRIBUTES} message attributes, got {len(mapping)}")
    return {
        c.check_str(name, param="message attribute name"): _attribute(name, v) for name, v in mapping.items()
    }


def _per_record_attributes(message_attributes: object, count: int) -> list[dict[str, dict[str, Any]]]:
    if message_attributes is None:
        return [{} for _ in range(count)]
    if isinstance(message_attributes, Mapping):
        return [_attributes(message_attributes) for _ in range(count)]
    if isinstance(message_attributes, Sequence) and not isinstance(message_attributes, str | bytes):
        if len(message_attributes) != count:
            raise ValueError(
                f"message_attributes has {len(message_attributes)} entries for {count} messages; "
                "give one dict for every message, or a single dict for all"
            )
        return [_attributes(m) for m in message_attributes]
    raise ValueError(
        f"message_attributes must be a dict or a list of dicts, got {type(message_attributes).__name__}"
    )


def _random_body(rng: random.Random) -> str:
    order = {
        "orderId": f"ord-{rng.randint(10000, 99999)}",
        "sku": rng.choice(_SKUS),
        "quantity": rng.randint(1, 5),
        "note": rng.choice(_NOTES),
    }
    return json.dumps(order, ensure_ascii=False)


def _check_bodies(bodies: object) -> list[str]:
    items = c.check_str_list(bodies, param="bodies")
    if not 1 <= len(items) <= MAX_BATCH:
        raise ValueError(f"bodies must hold 1 to {MAX_BATCH} messages, got {len(items)}")
    for index, body in enumerate(items):
        if not body:
            raise ValueError(f"bodies[{index}] is empty; SQS requires at least one character")
        bad = _INVALID_BODY_CHAR.search(body)
        if bad:
            raise ValueError(
                f"bodies[{index}] holds {bad.group()!r}, a character SQS does not accept in a body"
            )
    return items


def batch(
    *,
    seed: int = 0,
    bodies: list[str] | None = None,
    size: int | None = None,
    queue_name: str | None = None,
    region: str = "us-east-1",
    account_id: str = "123456789012",
    fifo: bool = False,
    message_attributes: Mapping[str, AttributeValue] | Sequence[Mapping[str, AttributeValue]] | None = None,
    receive_count: int = 1,
) -> dict[str, Any]:
    """One invocation's batch of SQS messages.

    `bodies` gives the messages' bodies; otherwise `size` (1-10, random when None) seeded JSON
    order bodies are made. `message_attributes` maps names to str (String), int/float (Number)
    or bytes (Binary); one dict applies to every message, a list gives one per message.
    `receive_count` sets ApproximateReceiveCount (a redelivery has 2, 3, ...).
    """
    rng = c.new_rng(seed, namespace="sqs")
    random_size = rng.randint(1, MAX_BATCH)
    random_queue = f"{rng.choice(_QUEUE_WORDS)}-{rng.choice(_QUEUE_KINDS)}"
    sent = c.epoch_millis(c.random_time(rng))
    sender = "AIDA" + c.upper_alnum(rng, 17)
    groups = [f"customer-{rng.randint(100, 999)}" for _ in range(3)]
    sequence = rng.randint(10**19, 2 * 10**19)

    if not isinstance(fifo, bool):
        raise ValueError(f"fifo must be a bool, got {type(fifo).__name__}")
    region = c.check_region(region)
    account_id = c.check_account_id(account_id)
    receive_count = c.check_int(receive_count, param="receive_count", low=1)
    if size is not None:
        size = c.check_int(size, param="size", low=1, high=MAX_BATCH)
    if bodies is not None:
        bodies = _check_bodies(bodies)
        if size is not None and size != len(bodies):
            raise ValueError(
                f"size is {size} but bodies holds {len(bodies)} messages; give one or make them agree"
            )
    count = len(bodies) if bodies is not None else size or random_size
    if queue_name is None:
        queue_name = random_queue + (".fifo" if fifo else "")
    else:
        name = c.check_str(queue_name, param="queue_name")
        base = name.removesuffix(".fifo")
        if not _QUEUE_NAME.fullmatch(base):
            raise ValueError(f"queue_name must be 1-80 letters, digits, '-' or '_', got {name!r}")
        if fifo != name.endswith(".fifo"):
            raise ValueError(
                f"queue_name {name!r} and fifo={fifo} disagree: a FIFO queue's name must end in '.fifo', "
                "and only a FIFO queue's may"
            )
    attributes_per_record = _per_record_attributes(message_attributes, count)
    arn = f"arn:{c.partition(region)}:sqs:{region}:{account_id}:{queue_name}"

    records = []
    for index in range(count):
        # Every random value of a record is drawn even when a parameter overrides it, so the
        # draws stay in step: bodies=[...] does not change the message ids of the same seed.
        message_id = c.uuid4(rng)
        receipt_handle = "AQEB" + c.b64_token(rng, 180)
        random_body = _random_body(rng)
        sent += rng.randint(0, 1500)
        first_receive = sent + rng.randint(1, 2000)
        group = rng.choice(groups)
        deduplication_id = c.uuid4(rng)
        sequence += rng.randint(1, 10**6)

        body = bodies[index] if bodies is not None else random_body
        attributes = {
            "ApproximateReceiveCount": str(receive_count),
            "SentTimestamp": str(sent),
            "SenderId": sender,
            "ApproximateFirstReceiveTimestamp": str(first_receive),
        }
        if fifo:
            attributes["SequenceNumber"] = str(sequence)
            attributes["MessageGroupId"] = group
            attributes["MessageDeduplicationId"] = deduplication_id
        record: dict[str, Any] = {
            "messageId": message_id,
            "receiptHandle": receipt_handle,
            "body": body,
            "attributes": attributes,
            "messageAttributes": attributes_per_record[index],
            "md5OfBody": body_md5(body),
        }
        if attributes_per_record[index]:
            record["md5OfMessageAttributes"] = message_attributes_md5(attributes_per_record[index])
        record.update({"eventSource": "aws:sqs", "eventSourceARN": arn, "awsRegion": region})
        records.append(record)
    return {"Records": records}
