"""Upload and download one file with boto3's transfer manager, in parts.

Usage: boto3_multipart.py ENDPOINT BUCKET KEY UPLOAD_FILE DOWNLOAD_FILE

Credentials and region come from the environment. The TransferConfig uses
5 MiB parts, S3's minimum, so any file above 5 MiB goes up as a multipart
upload and comes down in ranged GETs. Prints the object's ETag.
"""

import sys

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config


def main():
    endpoint, bucket, key, up, down = sys.argv[1:6]
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )
    mib = 1024 * 1024
    cfg = TransferConfig(multipart_threshold=5 * mib, multipart_chunksize=5 * mib, max_concurrency=4)
    s3.upload_file(up, bucket, key, Config=cfg, ExtraArgs={"ContentType": "application/x-boto3"})
    head = s3.head_object(Bucket=bucket, Key=key)
    if head["ContentType"] != "application/x-boto3":
        sys.exit("content type %r" % head["ContentType"])
    s3.download_file(bucket, key, down, Config=cfg)
    print(head["ETag"].strip('"'))


if __name__ == "__main__":
    main()
