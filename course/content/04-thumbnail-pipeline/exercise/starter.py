import io
import logging
from urllib.parse import unquote_plus

import boto3
from PIL import Image

logger = logging.getLogger()
logger.setLevel(logging.INFO)

s3 = boto3.client("s3")  # module level: created once per execution environment


def lambda_handler(event, context):
    thumbnails = []
    for record in event["Records"]:
        bucket = record["s3"]["bucket"]["name"]
        key = record["s3"]["object"]["key"]
        logger.info("received s3://%s/%s", bucket, key)
        # Your code here:
        #  1. decode the key, and skip it unless it starts with "uploads/";
        #  2. read the image with s3.get_object and shrink it to fit 128x128 with Pillow;
        #  3. write it as JPEG to thumbnails/<rest of the key> with ContentType="image/jpeg";
        #  4. add the thumbnail's key to `thumbnails`.
    return {"thumbnails": thumbnails}
