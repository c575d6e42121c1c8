"""Mocked AWS for the function: moto's ``mock_aws``, on for the runtime's whole life.

It starts before the function's module is imported, so clients created at module
level (the usual Lambda pattern) are mocked too. Before every invocation the
backends are reset and seeded from the case's ``aws_state``; afterwards their
state is exported for the worker's checks. Seeding goes through boto3 (a private
session, the public API); exporting reads moto's backends directly, so that it
changes nothing (an SQS receive would bump receive counts).

Shapes: docs/runtime-protocol.md ("aws_state seed", "aws_state export").
"""

import base64
import hashlib
import json
import os
from decimal import Decimal
from typing import Any

from .marshal import to_json
from .protocol import EXPORT_BODIES_TOTAL_BYTES, EXPORT_BODY_MAX_BYTES, EXPORT_STATE_MAX_BYTES

# What Lambda hands a function: temporary credentials of its execution role.
# These are fake and only ever reach moto.
DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "ASIACOLDSTARTEXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "coldstart/mocked/aws/secret/key/EXAMPLE0",
    "AWS_SESSION_TOKEN": "IQoJb3JpZ2luX2VjEColdstartMockedSessionTokenEXAMPLE",
}
WARM_REGION = "us-east-1"
_SEED_KEYS = {"s3", "dynamodb", "sqs"}


def _plain(value: Any) -> Any:
    """A DynamoDB value (as boto3 deserializes it) as plain JSON."""
    from boto3.dynamodb.types import Binary

    if isinstance(value, Decimal):
        if value.is_finite() and value.as_tuple().exponent >= 0:  # type: ignore[operator]
            return int(value)
        return float(value)
    if isinstance(value, Binary):
        return base64.b64encode(value.value).decode("ascii")
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, (set, frozenset)):
        return sorted(_plain(v) for v in value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _json_safe(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


class MockedAws:
    def __init__(self) -> None:
        self._mock: Any = None
        self._session: Any = None
        self._clients: dict[tuple[str, str], Any] = {}
        self.account_id = "123456789012"  # moto's default account

    # -- life cycle ---------------------------------------------------------

    def start(self) -> None:
        """Import boto3 and moto, start the mock, warm the code paths a function uses."""
        os.environ.update(DUMMY_CREDENTIALS)
        import boto3
        from moto import mock_aws

        self._mock = mock_aws()
        self._mock.start()
        os.environ.update(DUMMY_CREDENTIALS)  # mock_aws puts its own fake keys in the environment
        os.environ.pop("AWS_SECURITY_TOKEN", None)

        # The function's boto3.client(...) uses boto3's default session: create it now and
        # let it load the service models, so the learner's first client costs milliseconds.
        boto3.setup_default_session()
        self._session = boto3.session.Session()
        for make_client in (boto3.client, self._session.client):
            s3 = make_client("s3", region_name=WARM_REGION)
            s3.create_bucket(Bucket="coldstart-warm-up")
            s3.put_object(Bucket="coldstart-warm-up", Key="k", Body=b"x", ContentType="text/plain")
            s3.get_object(Bucket="coldstart-warm-up", Key="k")["Body"].read()
            s3.list_objects_v2(Bucket="coldstart-warm-up")
            ddb = make_client("dynamodb", region_name=WARM_REGION)
            ddb.create_table(
                TableName="coldstart-warm-up",
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
            ddb.put_item(TableName="coldstart-warm-up", Item={"pk": {"S": "a"}, "n": {"N": "1.5"}})
            ddb.get_item(TableName="coldstart-warm-up", Key={"pk": {"S": "a"}})
            ddb.scan(TableName="coldstart-warm-up")
            sqs = make_client("sqs", region_name=WARM_REGION)
            url = sqs.create_queue(QueueName="coldstart-warm-up")["QueueUrl"]
            sqs.send_message(QueueUrl=url, MessageBody="x")
            sqs.receive_message(QueueUrl=url)
            self.reset()
        boto3.resource("dynamodb", region_name=WARM_REGION).Table("coldstart-warm-up")
        boto3.resource("s3", region_name=WARM_REGION).Bucket("coldstart-warm-up")
        self.export(WARM_REGION)

    def set_account(self, account_id: str) -> None:
        """Make moto answer as this account (ARNs, queue URLs), as the function's own account."""
        import moto.iam.models

        moto.iam.models.DEFAULT_ACCOUNT_ID = account_id  # used when an access key is unknown to IAM
        self.account_id = account_id

    def reset(self) -> None:
        from moto.core.base_backend import BackendDict

        BackendDict.reset()

    def _client(self, service: str, region: str) -> Any:
        key = (service, region)
        if key not in self._clients:
            self._clients[key] = self._session.client(service, region_name=region)
        return self._clients[key]

    # -- seed ---------------------------------------------------------------

    def seed(self, state: dict | None, region: str) -> None:
        if not state:
            return
        unknown = set(state) - _SEED_KEYS
        if unknown:
            raise ValueError(f"unknown aws_state services: {sorted(unknown)}")
        for bucket in state.get("s3") or []:
            self._seed_bucket(bucket, region)
        for table in state.get("dynamodb") or []:
            self._seed_table(table, region)
        for queue in state.get("sqs") or []:
            self._seed_queue(queue, region)

    def _seed_bucket(self, spec: dict, region: str) -> None:
        s3 = self._client("s3", region)
        create: dict[str, Any] = {"Bucket": spec["bucket"]}
        if region != "us-east-1":
            create["CreateBucketConfiguration"] = {"LocationConstraint": region}
        s3.create_bucket(**create)
        for obj in spec.get("objects") or []:
            if "body_base64" in obj:
                body = base64.b64decode(obj["body_base64"], validate=True)
            else:
                body = obj.get("body", "").encode("utf-8")
            put: dict[str, Any] = {"Bucket": spec["bucket"], "Key": obj["key"], "Body": body}
            if obj.get("content_type"):
                put["ContentType"] = obj["content_type"]
            if obj.get("metadata"):
                put["Metadata"] = obj["metadata"]
            s3.put_object(**put)

    def _seed_table(self, spec: dict, region: str) -> None:
        from boto3.dynamodb.types import TypeSerializer

        ddb = self._client("dynamodb", region)
        key_schema = spec["key_schema"]
        ddb.create_table(
            TableName=spec["table"],
            KeySchema=[
                {"AttributeName": k["name"], "KeyType": "HASH" if i == 0 else "RANGE"}
                for i, k in enumerate(key_schema)
            ],
            AttributeDefinitions=[
                {"AttributeName": k["name"], "AttributeType": k["type"]} for k in key_schema
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        serializer = TypeSerializer()
        for item in spec.get("items") or []:
            item = json.loads(json.dumps(item), parse_float=Decimal)  # DynamoDB numbers are Decimals
            ddb.put_item(TableName=spec["table"], Item={k: serializer.serialize(v) for k, v in item.items()})

    def _seed_queue(self, spec: dict, region: str) -> None:
        sqs = self._client("sqs", region)
        fifo = bool(spec.get("fifo"))
        attributes = {
            k: v if isinstance(v, str) else json.dumps(v) for k, v in (spec.get("attributes") or {}).items()
        }
        if fifo:
            attributes["FifoQueue"] = "true"
        url = sqs.create_queue(QueueName=spec["queue"], Attributes=attributes)["QueueUrl"]
        content_dedup = attributes.get("ContentBasedDeduplication") == "true"
        for index, message in enumerate(spec.get("messages") or []):
            send: dict[str, Any] = {"QueueUrl": url, "MessageBody": message["body"]}
            if message.get("message_attributes"):
                send["MessageAttributes"] = message["message_attributes"]
            if fifo:
                send["MessageGroupId"] = message.get("message_group_id", "default")
                if message.get("message_deduplication_id"):
                    send["MessageDeduplicationId"] = message["message_deduplication_id"]
                elif not content_dedup:
                    send["MessageDeduplicationId"] = f"seed-{index}"
            sqs.send_message(**send)

    # -- export -------------------------------------------------------------

    def export(self, region: str) -> dict:
        state = {
            "s3": self._export_s3(),
            "dynamodb": self._export_dynamodb(region),
            "sqs": self._export_sqs(region),
        }
        return _fit(state)

    def _export_s3(self) -> dict:
        from moto.s3.models import FakeKey, s3_backends

        out: dict[str, dict] = {}
        if self.account_id not in s3_backends:
            return out
        bodies_total = 0
        for bucket_name, bucket in s3_backends[self.account_id]["aws"].buckets.items():
            objects: dict[str, dict] = {}
            for key_name in sorted(bucket.keys):
                key = bucket.keys[key_name]  # the latest version
                if not isinstance(key, FakeKey):  # a delete marker
                    continue
                value = key.value
                metadata = dict(key.metadata)
                entry: dict[str, Any] = {
                    "size": len(value),
                    "content_type": metadata.get("content-type"),
                    "sha256": hashlib.sha256(value).hexdigest(),
                    "etag": key.etag.strip('"'),
                    "metadata": {
                        k.removeprefix("x-amz-meta-"): v
                        for k, v in metadata.items()
                        if k.startswith("x-amz-meta-")
                    },
                }
                fits = bodies_total + len(value) <= EXPORT_BODIES_TOTAL_BYTES
                if len(value) <= EXPORT_BODY_MAX_BYTES and fits:
                    entry["body_base64"] = base64.b64encode(value).decode("ascii")
                    bodies_total += len(value)
                objects[key_name] = entry
            out[bucket_name] = objects
        return out

    def _export_dynamodb(self, region: str) -> dict:
        from boto3.dynamodb.types import TypeDeserializer
        from moto.dynamodb.models import dynamodb_backends

        out: dict[str, list] = {}
        if self.account_id not in dynamodb_backends:
            return out
        deserializer = TypeDeserializer()
        for table_name, table in dynamodb_backends[self.account_id][region].tables.items():
            rows = []
            for by_hash in table.items.values():
                items = by_hash.values() if table.has_range_key else [by_hash]
                for item in items:
                    attrs = item.to_json()["Attributes"]
                    rows.append({k: _plain(deserializer.deserialize(v)) for k, v in attrs.items()})
            out[table_name] = rows
        return out

    def _export_sqs(self, region: str) -> dict:
        from moto.sqs.models import sqs_backends

        out: dict[str, list] = {}
        if self.account_id not in sqs_backends:
            return out
        for queue_name, queue in sqs_backends[self.account_id][region].queues.items():
            fifo = queue_name.endswith(".fifo")
            messages = []
            for message in queue._messages:
                entry: dict[str, Any] = {
                    "body": message.body,
                    "message_attributes": _json_safe(message.message_attributes),
                    "receive_count": message.approximate_receive_count,
                    "visible": bool(message.visible),
                }
                if fifo:
                    entry["message_group_id"] = message.group_id
                    entry["message_deduplication_id"] = message.deduplication_id
                messages.append(entry)
            out[queue_name] = messages
        return out


def _fit(state: dict) -> dict:
    """The state, or as much of it as fits EXPORT_STATE_MAX_BYTES, marked "truncated"."""
    if len(to_json(state)) <= EXPORT_STATE_MAX_BYTES:
        return state
    budget = EXPORT_STATE_MAX_BYTES - 4096
    cut: dict[str, Any] = {"s3": {}, "dynamodb": {}, "sqs": {}, "truncated": True}
    used = len(to_json(cut))
    for service in ("s3", "dynamodb", "sqs"):
        for container, entries in state[service].items():
            used += len(to_json(container)) + 4
            if used > budget:
                return cut
            if isinstance(entries, dict):
                kept_dict: dict[str, Any] = {}
                cut[service][container] = kept_dict
                for name, entry in entries.items():
                    used += len(to_json(name)) + len(to_json(entry)) + 4
                    if used > budget:
                        return cut
                    kept_dict[name] = entry
            else:
                kept_list: list[Any] = []
                cut[service][container] = kept_list
                for entry in entries:
                    used += len(to_json(entry)) + 2
                    if used > budget:
                        return cut
                    kept_list.append(entry)
    return cut
