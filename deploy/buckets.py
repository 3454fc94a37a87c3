"""`make destroy` empties buckets completely: every object version and delete marker, so
that DeleteBucket succeeds on versioned buckets too (`aws s3 rm --recursive` leaves those).

    python -m deploy.buckets empty BUCKET
"""
import argparse
import sys

import boto3


def empty(bucket, s3=None):
    s3 = s3 or boto3.client('s3')
    deleted = 0
    for page in s3.get_paginator('list_object_versions').paginate(Bucket=bucket):
        objects = [{'Key': item['Key'], 'VersionId': item['VersionId']}
                   for kind in ('Versions', 'DeleteMarkers') for item in page.get(kind, [])]
        for start in range(0, len(objects), 1000):  # DeleteObjects takes 1000 at a time
            response = s3.delete_objects(Bucket=bucket, Delete={
                'Objects': objects[start:start + 1000], 'Quiet': True})
            if response.get('Errors'):
                first = response['Errors'][0]
                raise RuntimeError(f'cannot delete s3://{bucket}/{first["Key"]}: '
                                   f'{first["Code"]} {first["Message"]}')
            deleted += len(objects[start:start + 1000])
    return deleted


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m deploy.buckets')
    parser.add_argument('command', choices=['empty'])
    parser.add_argument('bucket')
    arguments = parser.parse_args(argv)
    print(f'  s3://{arguments.bucket}: deleted {empty(arguments.bucket)} objects and versions')
    return 0


if __name__ == '__main__':
    sys.exit(main())
