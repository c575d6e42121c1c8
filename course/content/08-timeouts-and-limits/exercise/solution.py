import json
import logging
import os
import time

import boto3

logger = logging.getLogger()
logger.setLevel(logging.INFO)

table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])
MARGIN_MS = 500  # time to write the last item and return


def do_work(job):
    """Stands in for the real work: it takes job["work_ms"] milliseconds. Don't change it."""
    time.sleep(job["work_ms"] / 1000)


def lambda_handler(event, context):
    failures = []
    for record in event["Records"]:
        job = json.loads(record["body"])
        if context.get_remaining_time_in_millis() < job["work_ms"] + MARGIN_MS:
            logger.info("not enough time for %s (%d ms): back to the queue", job["job_id"], job["work_ms"])
            failures.append({"itemIdentifier": record["messageId"]})
            continue
        do_work(job)
        table.put_item(Item={"job_id": job["job_id"], "status": "done"})
    return {"batchItemFailures": failures}
