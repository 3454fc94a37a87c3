"""Safe releases on the local endpoint, IAM enforced, driven with make as users do: a broken
deploy undone by `make rollback` without a build, its failed upload kept in the function's
queue with Lambda's record and redriven by `make redrive`; a 20 % canary; a function URL that
stays across deploys."""
import json
import os
import urllib.parse

from tests import images
from tests.e2e.endpoint import RESIZED_BUCKET, UPLOAD_BUCKET, EndpointTestCase, post_form

BROKEN = '\n\ndef handle_resize(event, context):\n    raise RuntimeError("a broken release")\n'


class ReleaseTest(EndpointTestCase):
    def failure_records(self):
        sqs = self.client('sqs')
        url = sqs.get_queue_url(QueueName='ResizeImage-dev-failures')['QueueUrl']
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                       VisibilityTimeout=0).get('Messages', [])
        return [json.loads(message['Body']) for message in messages]

    def upload(self):
        form = self.upload_form()
        self.assertEqual(post_form(form, images.jpeg(800, 600))[0], 204)
        return form['key']

    def test_a_broken_deploy_is_rolled_back_and_its_failed_upload_redriven(self):
        handler = self.path('image_resize', 'handler.py')
        with open(handler) as source:
            original = source.read()
        with open(handler, 'a') as source:
            source.write(BROKEN)
        self.run_make('update', directory='image_resize')
        with open(handler, 'w') as source:
            source.write(original)  # the fix is not deployed: the rollback needs no build

        failed_key = self.upload()
        [record] = self.wait_for(self.failure_records, seconds=60,
                                 what='the failed event in ResizeImage-dev-failures')
        context = record['requestContext']
        self.assertEqual((context['condition'], context['approximateInvokeCount']),
                         ('RetriesExhausted', 3))
        self.assertTrue(context['functionArn'].endswith(':function:ResizeImage-dev:live'))
        self.assertEqual(record['responseContext']['functionError'], 'Unhandled')
        self.assertEqual(record['responsePayload']['errorMessage'], 'a broken release')
        self.assertEqual(urllib.parse.unquote_plus(
            record['requestPayload']['Records'][0]['s3']['object']['key']), failed_key)
        self.assertEqual(set(record), {'version', 'timestamp', 'requestContext',
                                       'requestPayload', 'responseContext', 'responsePayload'})
        self.assertIn('RuntimeError: a broken release',
                      self.run_make('failed', directory='image_resize').stdout)

        zip_path = self.path('image_resize', 'image_resize.zip')
        built = os.path.getmtime(zip_path)
        rolled = self.run_make('rollback', directory='image_resize')
        self.assertIn('ResizeImage-dev:live -> version 1 (was 2)', rolled.stdout)
        self.assertEqual(os.path.getmtime(zip_path), built, 'no build')
        key = self.upload()
        self.wait_for(lambda: self.exists(RESIZED_BUCKET, key), seconds=60,
                      what='an upload resized after the rollback')

        redriven = self.run_make('redrive', directory='image_resize')
        self.assertIn('1 redriven, 0 failed again', redriven.stdout)
        self.assertTrue(self.exists(RESIZED_BUCKET, failed_key), 'the failed upload resized')
        self.assertEqual(self.failure_records(), [], 'removed once it succeeded')

    def test_an_upload_whose_notification_was_dropped_is_resized_by_a_sweep(self):
        self.run_make('update', 'SWEEP_AFTER_SECONDS=0', directory='image_sweeper')
        s3 = self.client('s3')
        wiring = s3.get_bucket_notification_configuration(Bucket=UPLOAD_BUCKET)
        wiring.pop('ResponseMetadata', None)
        s3.put_bucket_notification_configuration(Bucket=UPLOAD_BUCKET,
                                                 NotificationConfiguration={})
        try:
            key = self.upload()  # S3 never tells the resize function
        finally:
            s3.put_bucket_notification_configuration(Bucket=UPLOAD_BUCKET,
                                                     NotificationConfiguration=wiring)
        self.assertIsNone(self.exists(RESIZED_BUCKET, key))
        swept = self.run_make('invoke', directory='image_sweeper')
        self.assertIn('"redriven"', swept.stdout)
        self.wait_for(lambda: self.exists(RESIZED_BUCKET, key), seconds=60,
                      what='the swept upload resized')

    def test_a_canary_splits_invocations_and_the_url_stays(self):
        url = self.gallery
        event = self.path('image_list', 'events', 'http-get.json')
        for number in range(5):
            with open(self.path('image_list', 'list.html'), 'a') as page:
                page.write(f'\n<!-- release {number} -->\n')
            self.run_make('update', *(['CANARY=20'] if number == 4 else []),
                          directory='image_list')
            self.assertEqual(self.client('lambda').get_function_url_config(
                FunctionName='ListImage-dev', Qualifier='live')['FunctionUrl'], url,
                'one address for the gallery, whatever version serves it')
        alias = self.client('lambda').get_alias(FunctionName='ListImage-dev', Name='live')
        [(canary, weight)] = alias['RoutingConfig']['AdditionalVersionWeights'].items()
        self.assertEqual(weight, 0.2)
        lambdas = self.client('lambda')
        with open(event, 'rb') as handle:
            payload = handle.read()
        executed = [lambdas.invoke(FunctionName='ListImage-dev', Qualifier='live',
                                   Payload=payload)['ExecutedVersion'] for _ in range(200)]
        share = executed.count(canary)
        # Binomial(200, 0.2): mean 40, standard deviation 5.7; 4 of them either way
        self.assertTrue(17 <= share <= 63, f'{share} of 200 ran the canary')
        self.assertEqual(set(executed), {canary, alias['FunctionVersion']})
        self.run_make('promote', directory='image_list')
        self.assertEqual(lambdas.get_alias(FunctionName='ListImage-dev', Name='live')[
            'FunctionVersion'], canary)
