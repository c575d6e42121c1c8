import logging
import uuid

logger = logging.getLogger()


def lambda_handler(event, context):
    logger.info("handling a %s", type(event).__name__)
    # Your code here: fill these in from context, and count invocations at module level.
    return {
        "requestId": str(uuid.uuid4()),
        "functionName": "whoami",
        "memoryMb": context.memory_limit_in_mb,
        "remainingMs": 3000,
        "coldStart": True,
        "invocation": 1,
        "eventType": type(event).__name__,
    }
