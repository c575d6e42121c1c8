import urllib.parse


def lambda_handler(event, context):
    s3 = event["Records"][0]["s3"]
    return {
        "bucket": s3["bucket"]["name"],
        "key": urllib.parse.unquote_plus(s3["object"]["key"]),
        "size": s3["object"]["size"],
    }
