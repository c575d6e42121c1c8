import logging

logger = logging.getLogger()
logger.setLevel(logging.INFO)

invocations = 0  # module level: kept between warm invocations of this environment


def json_type(value):
    if value is None:
        return "null"
    if isinstance(value, bool):  # before int: True is an int too
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def lambda_handler(event, context):
    global invocations
    invocations += 1
    event_type = json_type(event)
    logger.info("invocation %d in this environment: a JSON %s", invocations, event_type)
    return {
        "requestId": context.aws_request_id,
        "functionName": context.function_name,
        "memoryMb": int(context.memory_limit_in_mb),
        "remainingMs": context.get_remaining_time_in_millis(),
        "coldStart": invocations == 1,
        "invocation": invocations,
        "eventType": event_type,
    }
