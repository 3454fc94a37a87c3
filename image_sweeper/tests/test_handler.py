"""image_sweeper's handler, called as Lambda calls it with the sample scheduled event, against
moto in this process (never AWS): an old pending upload is re-driven, a resized one is not.
tests/integration/test_sweeper_handler.py covers the rest."""
import datetime
import importlib.util
import json
import os
import unittest
from types import SimpleNamespace
from unittest import mock

import boto3
from moto import mock_aws
from moto.core.utils import utcnow

FOLDER = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENVIRONMENT = {
    'AWS_ACCESS_KEY_ID': 'testing', 'AWS_SECRET_ACCESS_KEY': 'testing',
    'AWS_SESSION_TOKEN': 'testing', 'AWS_DEFAULT_REGION': 'us-east-1',
    'AWS_REGION': 'us-east-1', 'AWS_CONFIG_FILE': os.devnull,
    'AWS_SHARED_CREDENTIALS_FILE': os.devnull,
    'UPLOAD_BUCKET': 'uploads', 'RESIZED_BUCKET': 'resized',
    'RESIZE_FUNCTION': 'ResizeImage-test:live',
}


def load_handler():
    spec = importlib.util.spec_from_file_location('image_sweeper_handler',
                                                  os.path.join(FOLDER, 'handler.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class HandlerTest(unittest.TestCase):
    def setUp(self):
        kept = {name: value for name, value in os.environ.items()
                if not name.startswith('AWS_')}  # never a developer's profile or endpoint
        patcher = mock.patch.dict(os.environ, {**kept, **ENVIRONMENT}, clear=True)
        patcher.start()
        self.addCleanup(patcher.stop)
        moto = mock_aws()
        moto.start()
        self.addCleanup(moto.stop)
        self.s3 = boto3.client('s3')
        for bucket in ('uploads', 'resized'):
            self.s3.create_bucket(Bucket=bucket)

    def put(self, bucket, key):
        an_hour_ago = utcnow() - datetime.timedelta(hours=1)
        with mock.patch('moto.s3.models.utcnow', return_value=an_hour_ago):
            self.s3.put_object(Bucket=bucket, Key=key, Body=b'image')

    def test_the_sample_event(self):
        self.put('uploads', 'uploads/pending.jpg')
        self.put('uploads', 'uploads/done.jpg')
        self.put('resized', 'uploads/done.jpg')
        with open(os.path.join(FOLDER, 'events', 'scheduled.json')) as handle:
            event = json.load(handle)
        context = SimpleNamespace(
            function_name='SweepUploads-test', aws_request_id='test',
            invoked_function_arn='arn:aws:lambda:us-east-1:123456789012:function:SweepUploads-test',
            get_remaining_time_in_millis=lambda: 60_000)
        handler = load_handler()
        with mock.patch.object(handler.lambda_client(), 'invoke') as invoke:
            result = handler.handle_sweep(event, context)
        self.assertEqual((result['redriven'], result['resized']), (1, 1))
        [(_, request)] = invoke.call_args_list
        self.assertEqual((request['FunctionName'], request['InvocationType']),
                         ('ResizeImage-test:live', 'Event'))
        [record] = json.loads(request['Payload'])['Records']
        self.assertEqual(record['s3']['object']['key'], 'uploads/pending.jpg')


if __name__ == '__main__':
    unittest.main()
