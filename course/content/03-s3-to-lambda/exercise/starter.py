import urllib.parse


def lambda_handler(event, context):
    record = event["Records"][0]
    print("Received an event for", record["eventName"])
    # Your code here: read the bucket name, the object key (decoded) and the size.
    return {"bucket": None, "key": None, "size": None}
