import decimal
import json
import logging
import os

import boto3

logger = logging.getLogger()
logger.setLevel(logging.INFO)

table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])


def lambda_handler(event, context):
    failures = []
    for record in event["Records"]:
        logger.info("message %s: %s", record["messageId"], record["body"])
        # Your code here: parse the body, write good orders to the table,
        # and add {"itemIdentifier": record["messageId"]} to failures for bad ones.
    return {"batchItemFailures": failures}
