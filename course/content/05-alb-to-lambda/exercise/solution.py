import json
from urllib.parse import unquote_plus


def response(status, description, body, headers):
    return {
        "statusCode": status,
        "statusDescription": description,
        "headers": headers,
        "body": body,
        "isBase64Encoded": False,
    }


def lambda_handler(event, context):
    if event["httpMethod"] != "GET":
        return response(405, "405 Method Not Allowed", "", {"Allow": "GET"})
    params = event.get("queryStringParameters") or {}
    name = unquote_plus(params.get("name") or "") or "world"
    body = json.dumps({"message": f"Hello, {name}!"})
    return response(200, "200 OK", body, {"Content-Type": "application/json"})
