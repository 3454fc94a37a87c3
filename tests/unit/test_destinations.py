"""Async invoke config per qualifier, and the record Lambda sends to an SQS destination: the
config calls answer as AWS's recorded answers do (aws-releases.md 3.1), and delivery honours
retries, event age and destinations (3.3, 3.4). In-process: moto for Lambda, SQS and IAM,
a stand-in for running the function."""
import io
import json
import os
import tempfile
import unittest
import zipfile
from types import SimpleNamespace
from unittest import mock

import boto3
from botocore.exceptions import ClientError
from moto import mock_aws

from local_endpoint import invoke_config
from local_endpoint.environment import Outcome
from local_endpoint.events import AsyncInvoker
from tests.unit.test_events import wait_for

ACCOUNT, REGION = '123456789012', 'us-east-1'
TRUST = json.dumps({'Version': '2012-10-17', 'Statement': [{
    'Effect': 'Allow', 'Principal': {'Service': 'lambda.amazonaws.com'},
    'Action': 'sts:AssumeRole'}]})
ERROR = b'{"errorMessage": "intentional failure", "errorType": "Exception"}'


def handler_zip():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w') as archive:
        archive.writestr('handler.py', 'def handler(event, context):\n    return event\n')
    return buffer.getvalue()


class InMoto(unittest.TestCase):
    def setUp(self):
        environment = mock.patch.dict(os.environ, {
            'AWS_ACCESS_KEY_ID': 'test', 'AWS_SECRET_ACCESS_KEY': 'test',
            'AWS_DEFAULT_REGION': REGION})
        environment.start()
        self.addCleanup(environment.stop)
        moto = mock_aws()
        moto.start()
        self.addCleanup(moto.stop)
        invoke_config.install()
        self.iam = boto3.client('iam')
        self.role = self.iam.create_role(RoleName='fn-role', AssumeRolePolicyDocument=TRUST)[
            'Role']['Arn']
        self.lambda_ = boto3.client('lambda')
        self.lambda_.create_function(FunctionName='F', Runtime='python3.12', Role=self.role,
                                     Handler='handler.handler', Code={'ZipFile': handler_zip()})
        self.sqs = boto3.client('sqs')
        self.queue_url = self.sqs.create_queue(QueueName='F-failures')['QueueUrl']
        self.queue_arn = f'arn:aws:sqs:{REGION}:{ACCOUNT}:F-failures'
        self.arn = f'arn:aws:lambda:{REGION}:{ACCOUNT}:function:F'

    def error_of(self, call, **arguments):
        with self.assertRaises(ClientError) as raised:
            call(**arguments)
        error = raised.exception.response
        return (error['ResponseMetadata']['HTTPStatusCode'], error['Error']['Code'],
                error['Error']['Message'])


class EventInvokeConfigCalls(InMoto):
    def test_put_replaces_per_qualifier_and_update_changes_what_it_names(self):
        answer = self.lambda_.put_function_event_invoke_config(FunctionName='F',
                                                               MaximumRetryAttempts=0)
        self.assertEqual(answer['FunctionArn'], self.arn + ':$LATEST')
        self.assertEqual(answer['DestinationConfig'], {'OnSuccess': {}, 'OnFailure': {}})
        self.lambda_.put_function_event_invoke_config(FunctionName='F',
                                                      MaximumEventAgeInSeconds=3600)
        stored = self.lambda_.get_function_event_invoke_config(FunctionName='F')
        self.assertNotIn('MaximumRetryAttempts', stored)  # a put replaces the whole config
        self.assertEqual(stored['MaximumEventAgeInSeconds'], 3600)
        self.lambda_.update_function_event_invoke_config(
            FunctionName='F', DestinationConfig={'OnFailure': {'Destination': self.queue_arn}})
        stored = self.lambda_.get_function_event_invoke_config(FunctionName='F')
        self.assertEqual((stored['MaximumEventAgeInSeconds'],
                          stored['DestinationConfig']['OnFailure']),
                         (3600, {'Destination': self.queue_arn}))

        self.lambda_.publish_version(FunctionName='F')
        self.lambda_.create_alias(FunctionName='F', Name='live', FunctionVersion='1')
        self.lambda_.put_function_event_invoke_config(FunctionName='F', Qualifier='live',
                                                      MaximumRetryAttempts=1)
        on_alias = self.lambda_.get_function_event_invoke_config(FunctionName='F:live')
        self.assertEqual((on_alias['FunctionArn'], on_alias['MaximumRetryAttempts']),
                         (self.arn + ':live', 1))
        self.assertEqual(self.lambda_.get_function_event_invoke_config(
            FunctionName='F')['MaximumEventAgeInSeconds'], 3600)
        self.assertEqual(self.error_of(self.lambda_.get_function_event_invoke_config,
                                       FunctionName='F', Qualifier='1'),
                         (404, 'ResourceNotFoundException',
                          f"The function {self.arn}:1 doesn't have an EventInvokeConfig"))
        listed = self.lambda_.list_function_event_invoke_configs(FunctionName='F')
        self.assertEqual([config['FunctionArn'] for config in
                          listed['FunctionEventInvokeConfigs']],
                         [self.arn + ':$LATEST', self.arn + ':live'])

        self.lambda_.delete_function_event_invoke_config(FunctionName='F')
        self.assertEqual(self.error_of(self.lambda_.get_function_event_invoke_config,
                                       FunctionName='F'),
                         (404, 'ResourceNotFoundException',
                          f"The function {self.arn}:$LATEST doesn't have an EventInvokeConfig"))

    def test_refusals_have_lambdas_messages(self):
        put = self.lambda_.put_function_event_invoke_config
        self.assertEqual(self.error_of(put, FunctionName='F'), (
            400, 'InvalidParameterValueException',
            'You must specify at least one of error handling or destination setting.'))
        self.assertEqual(self.error_of(put, FunctionName='F', DestinationConfig={
            'OnFailure': {'Destination': self.arn}}), (
            400, 'InvalidParameterValueException',
            "You can't specify the function as a destination for itself."))
        missing = f'arn:aws:lambda:{REGION}:{ACCOUNT}:function:doesnotexist'
        self.assertEqual(self.error_of(put, FunctionName='F', DestinationConfig={
            'OnFailure': {'Destination': missing}}), (
            400, 'InvalidParameterValueException', f'The destination ARN {missing} is invalid.'))
        self.assertEqual(self.error_of(put, FunctionName='F:live', Qualifier='1',
                                       MaximumRetryAttempts=1), (
            400, 'InvalidParameterValueException',
            'The derived qualifier from the function name does not match the specified '
            'qualifier.'))


class StandInLambdas:
    """Runs nothing: each attempt answers with the next of `outcomes` (the last repeats) and
    is remembered with the request id it was given."""

    def __init__(self, role, *outcomes):
        self.role, self.outcomes, self.request_ids = role, list(outcomes), []

    def spec(self, account, region, name, qualifier=None):
        return SimpleNamespace(name=name.partition(':')[0], timeout=3, account=account,
                               region=region, version='$LATEST', role=self.role), None

    def invoke(self, spec, reserved, payload, wait_for_capacity=False, on_start=None,
               request_id=None):
        self.request_ids.append(request_id)
        outcome = self.outcomes[min(len(self.request_ids), len(self.outcomes)) - 1]
        return request_id, outcome


FAILS = Outcome(ok=False, payload=ERROR, error_type='Exception')
SUCCEEDS = Outcome(ok=True, payload=b'{"resized": 1}')


class Delivery(InMoto):
    def invoker(self, *outcomes, retry_delays=(0.01, 0.01)):
        self.state = tempfile.mkdtemp()
        self.lambdas = StandInLambdas(self.role, *outcomes)
        invoker = AsyncInvoker(self.lambdas, self.state, retry_delays=retry_delays, workers=1)
        self.addCleanup(invoker.close)
        return invoker

    def configure(self, qualifier=None, **settings):
        self.lambda_.put_function_event_invoke_config(
            FunctionName='F', **({'Qualifier': qualifier} if qualifier else {}), **settings)

    def on_failure(self):
        return {'OnFailure': {'Destination': self.queue_arn}}

    def messages(self, count=1):
        received = []
        wait_for(lambda: received.extend(self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
            'Messages', [])) or len(received) >= count)
        return [json.loads(message['Body']) for message in received]

    def failed_events(self):
        path = os.path.join(self.state, 'failed-events.jsonl')
        return open(path).read().splitlines() if os.path.exists(path) else []

    def test_retries_exhausted_send_lambdas_record_with_one_request_id(self):
        self.configure(MaximumRetryAttempts=1, DestinationConfig=self.on_failure())
        request_id = self.invoker(FAILS).submit(ACCOUNT, REGION, 'F', b'{"message": "m"}')
        record, = self.messages()
        self.assertEqual(record['version'], '1.0')
        self.assertRegex(record['timestamp'], r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$')
        self.assertEqual(record['requestContext'], {
            'requestId': request_id, 'functionArn': self.arn + ':$LATEST',
            'condition': 'RetriesExhausted', 'approximateInvokeCount': 2})
        self.assertEqual(record['requestPayload'], {'message': 'm'})
        self.assertEqual(record['responseContext'], {
            'statusCode': 200, 'executedVersion': '$LATEST', 'functionError': 'Unhandled'})
        self.assertEqual(record['responsePayload'], json.loads(ERROR))
        self.assertEqual(self.lambdas.request_ids, [request_id, request_id])
        self.assertEqual(self.failed_events(), [])

    def test_an_event_past_its_age_is_not_tried_again(self):
        # Lambda's retry waits (60 s, then 120 s) count, not the shortened local ones: age
        # 60 allows one attempt, 90 two (as recorded from AWS).
        for age, attempts in ((60, 1), (90, 2)):
            with self.subTest(age=age):
                self.configure(MaximumEventAgeInSeconds=age,
                               DestinationConfig=self.on_failure())
                self.invoker(FAILS).submit(ACCOUNT, REGION, 'F', b'{}')
                record, = self.messages()
                self.assertEqual((record['requestContext']['condition'],
                                  record['requestContext']['approximateInvokeCount']),
                                 ('EventAgeExceeded', attempts))
                self.assertEqual(len(self.lambdas.request_ids), attempts)

    def test_success_goes_to_the_on_success_destination(self):
        self.configure(DestinationConfig={'OnSuccess': {'Destination': self.queue_arn}})
        self.invoker(FAILS, SUCCEEDS).submit(ACCOUNT, REGION, 'F', b'{"n": 1}')
        record, = self.messages()
        self.assertEqual((record['requestContext']['condition'],
                          record['requestContext']['approximateInvokeCount']), ('Success', 2))
        self.assertEqual(record['responseContext'], {'statusCode': 200,
                                                     'executedVersion': '$LATEST'})
        self.assertEqual(record['responsePayload'], {'resized': 1})

    def test_an_alias_delivers_under_its_own_config(self):
        self.lambda_.publish_version(FunctionName='F')
        self.lambda_.create_alias(FunctionName='F', Name='live', FunctionVersion='1')
        self.configure(MaximumRetryAttempts=2)
        self.configure('live', MaximumRetryAttempts=0, DestinationConfig=self.on_failure())
        self.invoker(FAILS).submit(ACCOUNT, REGION, 'F:live', b'{}')
        record, = self.messages()
        self.assertEqual((record['requestContext']['functionArn'],
                          record['requestContext']['approximateInvokeCount']),
                         (self.arn + ':live', 1))

    def test_without_a_destination_the_event_is_kept_in_failed_events(self):
        self.configure(MaximumRetryAttempts=0)
        self.invoker(FAILS).submit(ACCOUNT, REGION, 'F', b'{"n": 2}')
        self.assertTrue(wait_for(self.failed_events))
        self.assertEqual(json.loads(self.failed_events()[0])['event'], {'n': 2})

    def test_a_role_without_send_message_delivers_nothing_and_loses_nothing(self):
        logs = boto3.client('logs')
        logs.create_log_group(logGroupName='/aws/lambda/F')  # as the function's first run does
        self.configure(MaximumRetryAttempts=0, DestinationConfig=self.on_failure())
        with mock.patch('local_endpoint.iam.enforcing', return_value=True):
            self.invoker(FAILS).submit(ACCOUNT, REGION, 'F', b'{"n": 3}')
            self.assertTrue(wait_for(self.failed_events))
        self.assertEqual(self.messages(count=0), [])
        self.assertEqual(json.loads(self.failed_events()[0])['event'], {'n': 3})
        notes = [event['message'] for event in logs.filter_log_events(
            logGroupName='/aws/lambda/F')['events']]
        self.assertTrue(any('DestinationDeliveryFailures' in note and 'sqs:SendMessage' in note
                            for note in notes), notes)

        self.iam.put_role_policy(RoleName='fn-role', PolicyName='send', PolicyDocument=json.dumps(
            {'Version': '2012-10-17', 'Statement': [{'Effect': 'Allow',
                                                     'Action': 'sqs:SendMessage',
                                                     'Resource': self.queue_arn}]}))
        with mock.patch('local_endpoint.iam.enforcing', return_value=True):
            self.invoker(FAILS).submit(ACCOUNT, REGION, 'F', b'{"n": 4}')
            record, = self.messages()
        self.assertEqual(record['requestPayload'], {'n': 4})
