"""What the endpoint keeps across a stop (make down, SIGTERM) and a crash (kill -9): every
resource a deploy and a user made, and every async event accepted and not yet delivered."""
import concurrent.futures
import json
import os
import signal
import shutil
import threading
import time
import urllib.request

from tests import images
from tests.e2e.endpoint import (RESIZED_BUCKET, UPLOAD_BUCKET, EndpointTestCase, free_port,
                                function_zip, post_form)
from tests.e2e.fidelity import FidelityTestCase, start_endpoint, stop_endpoint
from tests.workspace import make

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(__file__)), 'fixtures')

# Writes one object per invocation, named by its request id, and answers slowly enough for
# events to queue up behind a reserved concurrency of 1.
RECORDER = '''import boto3, os, time
s3 = boto3.client('s3')
def handler(event, context):
    time.sleep(float(event.get('sleep', 0)))
    s3.put_object(Bucket=os.environ['BUCKET'], Key='ran/' + context.aws_request_id,
                  Body=context.invoked_function_arn.encode())
    return {'ok': True}
'''


class RestartTestCase(FidelityTestCase):
    @classmethod
    def restart(cls, crash=False, port=None):
        if crash:
            cls.process.send_signal(signal.SIGKILL)
            cls.process.wait()
        else:
            stop_endpoint(cls.process)
        if port is not None:
            cls.port, cls.url = port, f'http://127.0.0.1:{port}'
        cls.process = start_endpoint(cls.state, cls.port)
        cls._clients = {}

    def started_log(self):
        with open(os.path.join(self.state, 'endpoint.log')) as handle:
            return [line for line in handle if line.startswith('state: ')]

    def objects(self, bucket, prefix=''):
        pages = self.client('s3').get_paginator('list_objects_v2').paginate(Bucket=bucket,
                                                                            Prefix=prefix)
        return sorted(item['Key'] for page in pages for item in page.get('Contents', []))

    wait_for = EndpointTestCase.wait_for


class KeepStateTest(RestartTestCase):
    """Every kind of resource the issue names, through a stop and then a crash."""

    def test_resources_outlive_a_stop_and_a_crash(self):
        s3, lambdas = self.client('s3'), self.client('lambda')
        s3.create_bucket(Bucket='kept')
        s3.create_bucket(Bucket='kept-runs')
        s3.put_bucket_cors(Bucket='kept', CORSConfiguration={'CORSRules': [
            {'AllowedMethods': ['POST'], 'AllowedOrigins': ['http://localhost:8000']}]})
        large = os.urandom(300 * 1024)
        s3.put_object(Bucket='kept', Key='a dir/red flower+1.jpg', Body=large,
                      ContentType='image/jpeg', Metadata={'owner': 'ana'})
        s3.put_object(Bucket='kept', Key='small.txt', Body=b'hello')
        s3.put_object_tagging(Bucket='kept', Key='small.txt',
                              Tagging={'TagSet': [{'Key': 'status', 'Value': 'rejected'}]})
        s3.put_object(Bucket='kept', Key='gone.txt', Body=b'bye')
        s3.delete_object(Bucket='kept', Key='gone.txt')
        self.create_function('Kept', RECORDER,
                             Environment={'Variables': {'BUCKET': 'kept-runs'}})
        version = lambdas.publish_version(FunctionName='Kept')['Version']
        lambdas.create_alias(FunctionName='Kept', Name='live', FunctionVersion=version)
        url = lambdas.create_function_url_config(FunctionName='Kept', Qualifier='live',
                                                 AuthType='NONE')['FunctionUrl']
        lambdas.put_function_event_invoke_config(FunctionName='Kept', Qualifier='live',
                                                 MaximumRetryAttempts=1)
        layer = lambdas.publish_layer_version(LayerName='kept-layer', Content={
            'ZipFile': function_zip('X = 1\n')}, CompatibleRuntimes=['python3.12'])
        self.client('iam').put_role_policy(RoleName='fidelity-role', PolicyName='inline',
                                           PolicyDocument=json.dumps({
                                               'Version': '2012-10-17', 'Statement': [{
                                                   'Effect': 'Allow', 'Action': 's3:*',
                                                   'Resource': '*'}]}))
        sqs = self.client('sqs')
        queue = sqs.create_queue(QueueName='kept-queue')['QueueUrl']
        sqs.send_message(QueueUrl=queue, MessageBody=f'{self.url}/uploads/a.jpg')
        events = self.client('events')
        events.put_rule(Name='kept-rule', ScheduleExpression='rate(1 day)')
        events.put_targets(Rule='kept-rule', Targets=[{'Id': 'f', 'Arn': 'arn:aws:lambda:'
                                                       'us-east-1:123456789012:function:Kept'}])
        before = self.described()
        first_url = self.url

        for crash in (False, True):  # the crash's restart listens on another port
            self.restart(crash=crash, port=free_port() if crash else None)
            with self.subTest(crash=crash):
                self.assertEqual(self.described(), before)
                url = self.client('lambda').get_function_url_config(
                    FunctionName='Kept', Qualifier='live')['FunctionUrl']
                self.assertTrue(url.startswith(self.url + '/lambda-url/'), url)
                body = self.client('s3').get_object(Bucket='kept', Key='a dir/red flower+1.jpg')
                self.assertEqual(body['Body'].read(), large)
                self.assertEqual(body['Metadata'], {'owner': 'ana'})
                with urllib.request.urlopen(url, data=b'{}', timeout=60) as response:
                    self.assertEqual(json.loads(response.read()), {'ok': True})
                self.assertEqual(self.client('lambda').get_layer_version(
                    LayerName='kept-layer', VersionNumber=1)['LayerVersionArn'],
                    layer['LayerVersionArn'])
        self.assertIn('loaded from', self.started_log()[-1])
        message = self.client('sqs').receive_message(QueueUrl=self.client('sqs').get_queue_url(
            QueueName='kept-queue')['QueueUrl'])['Messages'][0]['Body']
        self.assertEqual(message, f'{first_url}/uploads/a.jpg', "the user's data as it was")

    def described(self):
        s3, lambdas, iam = self.client('s3'), self.client('lambda'), self.client('iam')
        sqs, events = self.client('sqs'), self.client('events')
        queue = sqs.get_queue_url(QueueName='kept-queue')['QueueUrl']
        return {
            'buckets': [bucket['Name'] for bucket in s3.list_buckets()['Buckets']],
            'objects': [(item['Key'], item['Size'], item['ETag'], str(item['LastModified']))
                        for item in s3.list_objects_v2(Bucket='kept')['Contents']],
            'tags': s3.get_object_tagging(Bucket='kept', Key='small.txt')['TagSet'],
            'cors': s3.get_bucket_cors(Bucket='kept')['CORSRules'],
            'content-type': s3.head_object(Bucket='kept',
                                           Key='a dir/red flower+1.jpg')['ContentType'],
            'function': {key: value for key, value in lambdas.get_function_configuration(
                FunctionName='Kept').items() if key != 'ResponseMetadata'},
            'versions': [version['Version'] for version in lambdas.list_versions_by_function(
                FunctionName='Kept')['Versions']],
            'alias': lambdas.get_alias(FunctionName='Kept', Name='live')['FunctionVersion'],
            'url id': lambdas.get_function_url_config(
                FunctionName='Kept', Qualifier='live')['FunctionUrl'].rsplit('/', 2)[1],
            'invoke-config': lambdas.get_function_event_invoke_config(
                FunctionName='Kept', Qualifier='live')['MaximumRetryAttempts'],
            'layers': [layer['LayerName'] for layer in lambdas.list_layers()['Layers']],
            'role': iam.get_role(RoleName='fidelity-role')['Role']['Arn'],
            'policy': iam.get_role_policy(RoleName='fidelity-role',
                                          PolicyName='inline')['PolicyDocument'],
            'queue': sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=[
                'ApproximateNumberOfMessages'])['Attributes'],
            'queue url': queue.rpartition('/')[2],
            'rule': events.describe_rule(Name='kept-rule')['ScheduleExpression'],
            'targets': events.list_targets_by_rule(Rule='kept-rule')['Targets'],
        }

    def test_restoring_fires_no_s3_notification_again(self):
        s3, lambdas = self.client('s3'), self.client('lambda')
        s3.create_bucket(Bucket='notifying')
        self.create_function('Notified', RECORDER,
                             Environment={'Variables': {'BUCKET': 'notifying'}})
        arn = lambdas.get_function_configuration(FunctionName='Notified')['FunctionArn']
        s3.put_bucket_notification_configuration(Bucket='notifying', NotificationConfiguration={
            'LambdaFunctionConfigurations': [{'LambdaFunctionArn': arn,
                                              'Events': ['s3:ObjectCreated:*'],
                                              'Filter': {'Key': {'FilterRules': [
                                                  {'Name': 'prefix', 'Value': 'in/'}]}}}]})
        s3.put_object(Bucket='notifying', Key='in/1', Body=b'1')
        self.wait_for(lambda: self.objects('notifying', 'ran/'), what='the notification')
        self.restart()
        time.sleep(3)
        self.assertEqual(len(self.objects('notifying', 'ran/')), 1, 'one upload, one event')


class AcceptedEventsTest(RestartTestCase):
    def test_events_accepted_before_a_crash_are_delivered_after_it_with_their_ids(self):
        """Lambda's queue keeps accepted events (delivered at least once); here the journal
        does, through a kill -9 while most of them wait for the function's one environment."""
        self.client('s3').create_bucket(Bucket='events')
        self.create_function('Queued', RECORDER, Environment={'Variables': {'BUCKET': 'events'}})
        lambdas = self.client('lambda')
        lambdas.put_function_concurrency(FunctionName='Queued', ReservedConcurrentExecutions=1)
        accepted = []
        for _ in range(6):
            status, headers, _ = self.signed(
                'POST', '/2015-03-31/functions/Queued/invocations', b'{"sleep": 1}',
                {'X-Amz-Invocation-Type': 'Event'})
            self.assertEqual(status, 202)
            accepted.append(headers['x-amzn-RequestId'])
        self.wait_for(lambda: self.objects('events', 'ran/'), what='the first event to run')
        self.restart(crash=True)
        self.assertIn('accepted events to deliver again', self.started_log()[-1])
        ran = self.wait_for(lambda: (lambda keys: keys if len(set(keys)) >= 6 else None)(
            [key.split('/', 1)[1] for key in self.objects('events', 'ran/')]),
            seconds=60, what='every accepted event')
        self.assertEqual(sorted(set(ran)), sorted(accepted), 'the same request ids')


class FormatTest(RestartTestCase):
    """State written by the first project version that kept any (tests/fixtures/state-v1)
    loads in this one. It is never regenerated: it is what users have on disk."""

    @classmethod
    def seed(cls, state_dir):
        shutil.copytree(os.path.join(FIXTURES, 'state-v1'), os.path.join(state_dir, 'state'))

    def test_an_earlier_versions_state_loads(self):
        self.assertEqual(self.objects('fixture-bucket'), ['hello.txt', 'photos/a b.jpg'])
        lambdas = self.client('lambda')
        self.assertEqual(lambdas.get_alias(FunctionName='FixtureFunction',
                                           Name='live')['FunctionVersion'], '1')
        self.assertEqual(lambdas.get_function_url_config(
            FunctionName='FixtureFunction', Qualifier='live')['FunctionUrl'],
            f'{self.url}/lambda-url/00c3dfb2d9254ffebbdcf14e3c043ca4/')
        self.assertEqual(self.client('sqs').get_queue_url(QueueName='fixture-queue')['QueueUrl'],
                         f'{self.url}/123456789012/fixture-queue')
        self.assertEqual(self.client('events').describe_rule(Name='fixture-rule')[
            'ScheduleExpression'], 'rate(1 day)')

        def delivered():  # the event the fixture's journal holds as accepted, not done
            logs = self.client('logs')
            try:
                events = logs.filter_log_events(logGroupName='/aws/lambda/FixtureFunction')
            except logs.exceptions.ResourceNotFoundException:
                return None
            return [event['message'] for event in events['events']
                    if event['message'].startswith('START RequestId: 8f4b3b9e-0000-4000')]

        self.wait_for(delivered, seconds=60, what="the fixture's accepted event")


class CrashDuringUploadsTest(EndpointTestCase):
    """The issue's acceptance: 50 uploads, kill -9 mid-burst, make up; every upload answered
    204 ends resized or tagged rejected, none resized twice."""

    def test_every_upload_answered_204_ends_resized_or_tagged_none_twice(self):
        photo, not_an_image = images.jpeg(800, 600), b'just text, named .jpg'
        forms = [self.upload_form() for _ in range(50)]
        bodies = [not_an_image if index % 10 == 9 else photo for index in range(50)]
        answered = {}
        killed = threading.Event()
        pid = int(open(os.path.join(self.state, f'endpoint-{self.port}.pid')).read())

        def upload(index):
            if killed.is_set():
                return
            try:
                status, _ = post_form(forms[index], bodies[index])
            except OSError:  # the endpoint was killed under this request
                return
            answered[index] = status
            if len(answered) == 20:
                os.kill(pid, signal.SIGKILL)
                killed.set()

        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(upload, range(50)))
        self.assertTrue(killed.is_set())
        make(self.root, 'up', *self.settings)
        accepted = [index for index, status in answered.items() if status == 204]
        self.assertGreaterEqual(len(accepted), 20)

        def outcome(index):
            key = forms[index]['key']
            if self.exists(RESIZED_BUCKET, key):
                return 'resized'
            try:
                tags = self.client('s3').get_object_tagging(Bucket=UPLOAD_BUCKET, Key=key)
            except self.client('s3').exceptions.ClientError:
                return None
            return 'rejected' if {'Key': 'resize-status', 'Value': 'rejected'} in tags[
                'TagSet'] else None

        outcomes = self.wait_for(lambda: (lambda found: found if all(found.values()) else None)(
            {index: outcome(index) for index in accepted}), seconds=120,
            what='every accepted upload resized or tagged')
        for index, result in outcomes.items():
            self.assertEqual(result, 'rejected' if bodies[index] is not_an_image else 'resized')
        resized = [key for key in self.resized_keys()]
        self.assertEqual(len(resized), len(set(resized)), 'none resized twice')

    def test_make_reset_starts_clean_and_the_service_deploys_again(self):
        self.run_make('reset')
        self.assertFalse(os.path.exists(os.path.join(self.state, 'state')))
        make(self.root, 'up', *self.settings)
        self.assertEqual(self.client('s3').list_buckets()['Buckets'], [])
        self.deploy()
        with urllib.request.urlopen(self.gallery, timeout=60) as response:
            self.assertEqual(response.status, 200)
