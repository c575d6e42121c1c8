import io
import logging
from urllib.parse import unquote_plus

import boto3
from PIL import Image

logger = logging.getLogger()
logger.setLevel(logging.INFO)

s3 = boto3.client("s3")  # module level: created once per execution environment

BOX = (128, 128)


def make_thumbnail(data):
    image = Image.open(io.BytesIO(data))
    image.thumbnail(BOX)  # in place, keeps the aspect ratio, never enlarges
    if image.mode != "RGB":
        image = image.convert("RGB")  # JPEG has no alpha channel and no palette
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85)
    return out.getvalue()


def lambda_handler(event, context):
    written = []
    for record in event["Records"]:
        bucket = record["s3"]["bucket"]["name"]
        key = unquote_plus(record["s3"]["object"]["key"])
        if not key.startswith("uploads/"):
            logger.info("skipping %s: not an upload", key)
            continue
        data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        thumb_key = "thumbnails/" + key[len("uploads/") :]
        s3.put_object(Bucket=bucket, Key=thumb_key, Body=make_thumbnail(data), ContentType="image/jpeg")
        logger.info("wrote s3://%s/%s", bucket, thumb_key)
        written.append(thumb_key)
    return {"thumbnails": written}
