"""Async delivery never stops: whatever one event does, its worker records it and goes on; and
the endpoint's health says when delivery is dead or stuck. In-process, against a stand-in for
the Lambda service, so each case is exact and fast."""
import base64
import json
import os
import tempfile
import threading
import time
import unittest
from types import SimpleNamespace
from urllib.parse import quote_plus, unquote_plus

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from moto.logs.exceptions import ResourceAlreadyExistsException
from moto.logs.models import logs_backends
from werkzeug.test import Client

from local_endpoint.environment import Outcome
from local_endpoint.events import AsyncInvoker, s3_event
from local_endpoint.lambda_service import FunctionNotFound, Throttled
from local_endpoint.server import Endpoint

BASE_URL = 'http://127.0.0.1:4566'


def signed_headers(method, path):
    """SigV4 with the local key, as every caller of the endpoint signs."""
    request = AWSRequest(method=method, url=BASE_URL + path)
    SigV4Auth(Credentials('test', 'test'), 'lambda', 'us-east-1').add_auth(request)
    return dict(request.headers.items())


class StandInLambdas:
    """The Lambda service as the invoker sees it. Each function's behaviour is a callable of
    the payload returning an Outcome (or raising)."""

    def __init__(self, **functions):
        self.functions = functions
        self.payloads = {name: [] for name in functions}

    def spec(self, account, region, name, qualifier=None):
        if name not in self.functions:
            raise FunctionNotFound(f'Function not found: {name}')
        return SimpleNamespace(name=name, timeout=0, account=account, region=region,
                               version='$LATEST', role=None), None

    def invoke(self, spec, reserved, payload, wait_for_capacity=False, on_start=None,
               request_id='request-id'):
        if on_start is not None:
            on_start()
        try:  # as each invocation's log lines do
            logs_backends[spec.account][spec.region].create_log_group(
                f'/aws/lambda/{spec.name}', {})
        except ResourceAlreadyExistsException:
            pass
        self.payloads[spec.name].append(payload)
        return request_id, self.functions[spec.name](payload)


def succeeds(payload):
    return Outcome(ok=True, payload=b'null')


def fails(payload):
    return Outcome(ok=False, payload=b'{"errorType": "Runtime.UnmarshalError"}',
                   error_type='Runtime.UnmarshalError')


def endpoint_bug(payload):
    raise RuntimeError('a bug of the endpoint')


def wait_for(predicate, seconds=10):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


class DeliveryTest(unittest.TestCase):
    def invoker(self, lambdas, **settings):
        self.state = tempfile.mkdtemp()
        invoker = AsyncInvoker(lambdas, self.state, **{'retry_delays': (0, 0), 'workers': 2,
                                                        **settings})
        self.addCleanup(invoker.close)
        return invoker

    def records(self):
        path = os.path.join(self.state, 'failed-events.jsonl')
        if not os.path.exists(path):
            return []
        with open(path) as handle:
            return [json.loads(line) for line in handle]

    def test_payloads_that_are_not_json_are_recorded_and_delivery_goes_on(self):
        lambdas = StandInLambdas(Broken=fails, Resize=succeeds)
        invoker = self.invoker(lambdas)
        bad = [b'not json', b'\xff\xfe\x00garbage', b'{"truncated": ', b'[' * 5000]
        for payload in bad:
            invoker.submit('123456789012', 'us-east-1', 'Broken', payload)
        self.assertTrue(wait_for(lambda: len(self.records()) == len(bad)),
                        f'records: {self.records()}')
        for record in self.records():
            self.assertEqual((record['attempts'], record['errorType']),
                             (3, 'Runtime.UnmarshalError'))
        self.assertEqual(sorted(base64.b64decode(record['eventBase64'])
                                for record in self.records()), sorted(bad))
        invoker.submit('123456789012', 'us-east-1', 'Resize', b'{"Records": []}')
        self.assertTrue(wait_for(lambda: lambdas.payloads['Resize']),
                        'both workers are still delivering')

    def test_an_endpoint_failure_is_recorded_and_the_worker_goes_on(self):
        lambdas = StandInLambdas(Buggy=endpoint_bug, Resize=succeeds)
        invoker = self.invoker(lambdas, workers=1)
        with self.assertLogs('local_endpoint.events', 'ERROR') as logged:
            invoker.submit('123456789012', 'us-east-1', 'Buggy', b'{"n": 1}')
            self.assertTrue(wait_for(lambda: self.records()))
        self.assertIn('RuntimeError: a bug of the endpoint', logged.output[0])
        record, = self.records()
        self.assertEqual((record['errorType'], record['event']),
                         ('LocalEndpoint.DeliveryError', {'n': 1}))
        invoker.submit('123456789012', 'us-east-1', 'Resize', b'{}')
        self.assertTrue(wait_for(lambda: lambdas.payloads['Resize']))

    def test_a_throttled_event_is_retried_then_recorded(self):
        def throttled(payload):
            raise Throttled('Rate Exceeded.')

        invoker = self.invoker(StandInLambdas(NoConcurrency=throttled))
        invoker.submit('123456789012', 'us-east-1', 'NoConcurrency', b'{"n": 3}')
        self.assertTrue(wait_for(lambda: self.records()))
        record, = self.records()
        self.assertEqual((record['attempts'], record['errorType'], record['event']),
                         (3, 'TooManyRequestsException', {'n': 3}))

    def test_a_function_gone_is_recorded_without_retries(self):
        invoker = self.invoker(StandInLambdas())
        invoker.submit('123456789012', 'us-east-1', 'Gone', b'{"n": 2}')
        self.assertTrue(wait_for(lambda: self.records()))
        record, = self.records()
        self.assertEqual((record['attempts'], record['errorType'], record['event']),
                         (1, 'FunctionNotFound', {'n': 2}))


class DeliveryHealthTest(unittest.TestCase):
    def test_delivery_that_keeps_up_has_no_problems(self):
        invoker = AsyncInvoker(StandInLambdas(), tempfile.mkdtemp(), workers=3)
        self.addCleanup(invoker.close)
        health = invoker.health()
        self.assertEqual((health['workers'], health['queued'], health['problems']),
                         ({'alive': 3, 'expected': 3}, 0, []))

    def test_stopped_workers_are_reported(self):
        invoker = AsyncInvoker(StandInLambdas(), tempfile.mkdtemp(), workers=2)
        invoker.close()
        self.assertTrue(wait_for(lambda: invoker.health()['workers']['alive'] == 0))
        self.assertEqual(invoker.health()['problems'], ['2 of 2 delivery workers have stopped'])

    def test_an_attempt_past_its_timeout_and_an_event_left_waiting_are_reported(self):
        release = threading.Event()
        lambdas = StandInLambdas(Hangs=lambda payload: release.wait() and Outcome(True, b''))
        invoker = AsyncInvoker(lambdas, tempfile.mkdtemp(), workers=1, overrun_seconds=0.1,
                               max_wait_seconds=0.1)
        self.addCleanup(invoker.close)
        self.addCleanup(release.set)
        invoker.submit('123456789012', 'us-east-1', 'Hangs', b'{}')
        invoker.submit('123456789012', 'us-east-1', 'Hangs', b'{}')
        self.assertTrue(wait_for(lambda: len(invoker.health()['problems']) == 2))
        health = invoker.health()
        self.assertEqual((health['running'], health['queued']), (1, 1))
        self.assertEqual(health['overdue'][0]['function'], 'Hangs')
        self.assertRegex(health['problems'][0], r'^an event has waited \d+ s for a delivery')
        self.assertRegex(health['problems'][1], r"^1 attempt\(s\) running over 0.1 s past")


class EndpointHealthTest(unittest.TestCase):
    def test_health_answers_200_and_says_when_delivery_has_stopped(self):
        endpoint = Endpoint('127.0.0.1', 4566, tempfile.mkdtemp())
        self.addCleanup(endpoint.close)
        client = Client(endpoint)

        def health():
            response = client.get('/_local/health', base_url=BASE_URL,
                                  headers=signed_headers('GET', '/_local/health'))
            self.assertEqual(response.status_code, 200)
            return response.get_json()

        self.assertEqual((health()['status'], health()['delivery']['workers']),
                         ('ok', {'alive': 16, 'expected': 16}))
        endpoint.events.close()
        self.assertTrue(wait_for(lambda: health()['delivery']['workers']['alive'] == 0))
        self.assertEqual(health()['status'], 'degraded')
        self.assertEqual(health()['delivery']['problems'],
                         ['16 of 16 delivery workers have stopped'])


class S3EventTest(unittest.TestCase):
    def test_the_key_is_encoded_as_s3_encodes_it(self):
        """AWS's S3 event structure (notification-content-structure.html): the key is URL
        encoded as a form is, a space as +; the slashes of a key's prefix stay slashes."""
        moto_event = {'Records': [{'s3': {'bucket': {'name': 'b'}, 'object': {
            'key': quote_plus('uploads/red flower+1 é.jpg')}}}]}
        record = s3_event(moto_event, 'b', '123456789012')['Records'][0]
        self.assertEqual(record['s3']['object']['key'], 'uploads/red+flower%2B1+%C3%A9.jpg')
        self.assertEqual(unquote_plus(record['s3']['object']['key']),
                         'uploads/red flower+1 é.jpg')
