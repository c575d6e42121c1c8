import json
from urllib.parse import unquote_plus


def lambda_handler(event, context):
    print(event["httpMethod"], event["path"], event.get("queryStringParameters"))
    # Your code here: answer 405 to anything but GET, and greet the (decoded) name.
    return {
        "statusCode": 200,
        "statusDescription": "200 OK",
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"message": "Hello, world!"}),
        "isBase64Encoded": False,
    }
