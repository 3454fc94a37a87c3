"""deploy.logs and deploy.buckets against moto, in-process."""
import base64
import contextlib
import io
import json
import os
import tempfile
import time

import boto3

from deploy import buckets, logs
from tests.aws import REGION, MotoTestCase


class LogsTest(MotoTestCase):
    def test_tail_prints_the_groups_events_in_order(self):
        client = boto3.client('logs', region_name=REGION)
        client.create_log_group(logGroupName='/aws/lambda/F')
        client.create_log_stream(logGroupName='/aws/lambda/F', logStreamName='s')
        now = int(time.time() * 1000)
        client.put_log_events(logGroupName='/aws/lambda/F', logStreamName='s', logEvents=[
            {'timestamp': now - 2000, 'message': 'START RequestId: 1'},
            {'timestamp': now - 1000, 'message': 'REPORT RequestId: 1\tDuration: 2.00 ms\t'}])
        output = io.StringIO()
        with contextlib.redirect_stdout(output):
            self.assertEqual(logs.tail('/aws/lambda/F', '10m', follow=False, logs=client), 0)
        lines = output.getvalue().splitlines()
        self.assertEqual(len(lines), 2)
        self.assertTrue(lines[0].endswith('s START RequestId: 1'))
        self.assertIn('REPORT RequestId: 1', lines[1])

    def test_tail_of_a_function_that_never_ran(self):
        error = io.StringIO()
        with contextlib.redirect_stderr(error):
            status = logs.tail('/aws/lambda/Never', '10m', follow=False,
                               logs=boto3.client('logs', region_name=REGION))
        self.assertEqual(status, 1)
        self.assertIn('the function has not run', error.getvalue())

    def test_since_needs_a_unit(self):
        self.assertEqual(logs.since_millis('2m', now=1000), (1000 - 120) * 1000)
        with self.assertRaises(ValueError):
            logs.since_millis('yesterday')


class InvokeReportTest(MotoTestCase):
    def write(self, name, content):
        path = os.path.join(self.directory, name)
        with open(path, 'w') as handle:
            handle.write(content)
        return path

    def setUp(self):
        super().setUp()
        self.directory = tempfile.mkdtemp()

    def test_prints_result_and_log_tail_and_fails_on_function_error(self):
        tail = base64.b64encode(b'START RequestId: 1\nboom\n').decode()
        invocation = self.write('i.json', json.dumps(
            {'StatusCode': 200, 'FunctionError': 'Unhandled', 'LogResult': tail}))
        response = self.write('r.json', '{"errorMessage": "boom"}')
        output = io.StringIO()
        with contextlib.redirect_stdout(output):
            status = logs.report(invocation, response)
        self.assertEqual(status, 1)
        self.assertIn('function error: Unhandled', output.getvalue())
        self.assertIn('"errorMessage": "boom"', output.getvalue())
        self.assertIn('START RequestId: 1\nboom', output.getvalue())


class EmptyBucketTest(MotoTestCase):
    def test_every_version_and_delete_marker_goes(self):
        self.make_bucket('versioned')
        self.s3.put_bucket_versioning(Bucket='versioned',
                                      VersioningConfiguration={'Status': 'Enabled'})
        for body in (b'1', b'2'):
            self.s3.put_object(Bucket='versioned', Key='k', Body=body)
        self.s3.delete_object(Bucket='versioned', Key='k')  # leaves a delete marker
        self.assertEqual(buckets.empty('versioned', s3=self.s3), 3)
        self.s3.delete_bucket(Bucket='versioned')
