import decimal
import json
import logging
import os

import boto3

logger = logging.getLogger()
logger.setLevel(logging.INFO)

table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])


class BadMessage(Exception):
    pass


def parse(body):
    try:
        order = json.loads(body, parse_float=decimal.Decimal)  # the resource rejects floats
    except json.JSONDecodeError as exc:
        raise BadMessage(f"not JSON: {exc}") from exc
    if order["amount"] < 0:
        raise BadMessage(f"negative amount {order['amount']}")
    return {"order_id": order["order_id"], "amount": order["amount"]}


def lambda_handler(event, context):
    failures = []
    for record in event["Records"]:
        try:
            item = parse(record["body"])
        except BadMessage as exc:
            logger.warning("message %s failed: %s", record["messageId"], exc)
            failures.append({"itemIdentifier": record["messageId"]})
            continue
        table.put_item(Item=item)  # keyed by order_id: a redelivery overwrites, so it is idempotent
        logger.info("saved order %s", item["order_id"])
    return {"batchItemFailures": failures}
