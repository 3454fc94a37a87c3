"""moto, in-process, with an environment that can never reach real AWS."""
import contextlib
import io
import json
import os
import unittest
from unittest import mock

import boto3
from moto import mock_aws

REGION = 'us-east-1'

# Dummy credentials: the tests must pass on a machine with none configured, and must not pick
# up a developer's real ones or a local endpoint exported in their shell.
ISOLATED_ENV = {
    'AWS_ACCESS_KEY_ID': 'testing', 'AWS_SECRET_ACCESS_KEY': 'testing',
    'AWS_SESSION_TOKEN': 'testing', 'AWS_DEFAULT_REGION': REGION, 'AWS_REGION': REGION,
    'AWS_CONFIG_FILE': os.devnull, 'AWS_SHARED_CREDENTIALS_FILE': os.devnull,
}
UNSET = ('AWS_PROFILE', 'AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_S3')


class MotoTestCase(unittest.TestCase):
    """Each test gets a fresh, empty moto account and fresh clients in the handlers."""

    function_env = {}
    handlers = ()

    def setUp(self):
        environment = {name: value for name, value in os.environ.items() if name not in UNSET}
        environment.update(ISOLATED_ENV)
        environment.update(self.function_env)
        patcher = mock.patch.dict(os.environ, environment, clear=True)
        patcher.start()
        self.addCleanup(patcher.stop)
        moto = mock_aws()
        moto.start()
        self.addCleanup(moto.stop)
        for handler in self.handlers:  # warm-start caches would outlive this test's moto
            handler.s3_client.cache_clear()
            getattr(handler, '_BUCKET_REGIONS', {}).clear()
        self.s3 = boto3.client('s3', region_name=REGION)

    def set_env(self, **values):
        os.environ.update({name: str(value) for name, value in values.items()})

    def make_bucket(self, name, region=REGION):
        extra = {} if region == 'us-east-1' else {
            'CreateBucketConfiguration': {'LocationConstraint': region}}
        boto3.client('s3', region_name=region).create_bucket(Bucket=name, **extra)

    def keys(self, bucket):
        pages = self.s3.get_paginator('list_objects_v2').paginate(Bucket=bucket)
        return [item['Key'] for page in pages for item in page.get('Contents', [])]

    def tags(self, bucket, key):
        tag_set = self.s3.get_object_tagging(Bucket=bucket, Key=key)['TagSet']
        return {tag['Key']: tag['Value'] for tag in tag_set}


@contextlib.contextmanager
def captured_log_lines():
    """The JSON lines a handler prints, parsed."""
    stream = io.StringIO()
    lines = []
    try:
        with contextlib.redirect_stdout(stream):
            yield lines
    finally:  # also when the handler raised
        lines.extend(json.loads(line) for line in stream.getvalue().splitlines()
                     if line.strip())
