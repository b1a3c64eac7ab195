#!/usr/bin/python3
"""Bucket chores for bench/s3.sh, through Debian's python3-boto3.

    s3_objects.py mkbucket BUCKET
    s3_objects.py size BUCKET PREFIX      -> "<bytes> <objects>" under PREFIX
    s3_objects.py rm BUCKET PREFIX        -> deletes every object under PREFIX
    s3_objects.py ls BUCKET PREFIX        -> "<size> <key>" lines

Endpoint, credentials and CA bundle come from the environment:
S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION,
AWS_CA_BUNDLE (botocore reads the last three itself).
"""
import os
import sys

import boto3
from botocore.config import Config


def client():
    return boto3.client(
        "s3",
        endpoint_url=os.environ["S3_ENDPOINT"],
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 5}),
    )


def objects(s3, bucket, prefix):
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for o in page.get("Contents", []):
            yield o["Key"], o["Size"]


def main(argv):
    cmd, bucket = argv[1], argv[2]
    prefix = argv[3] if len(argv) > 3 else ""
    s3 = client()
    if cmd == "mkbucket":
        try:
            s3.create_bucket(Bucket=bucket)
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass
    elif cmd == "size":
        total = n = 0
        for _, size in objects(s3, bucket, prefix):
            total += size
            n += 1
        print(total, n)
    elif cmd == "ls":
        for key, size in objects(s3, bucket, prefix):
            print(size, key)
    elif cmd == "rm":
        keys = [k for k, _ in objects(s3, bucket, prefix)]
        for i in range(0, len(keys), 1000):
            r = s3.delete_objects(Bucket=bucket, Delete={
                "Objects": [{"Key": k} for k in keys[i:i + 1000]], "Quiet": True})
            if r.get("Errors"):
                sys.exit("could not delete: %r" % r["Errors"][:3])
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main(sys.argv)
