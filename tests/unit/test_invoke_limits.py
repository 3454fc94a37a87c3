"""Lambda's payload limits and JSON check on the local endpoint, in-process: Invoke and function
URLs through werkzeug's test client, the Runtime API over a real socket. Nothing here runs a
function: each refusal comes before one would run."""
import base64
import contextlib
import http.client
import io
import json
import socket
import tempfile
import threading
import unittest
import zipfile
from types import SimpleNamespace
from unittest import mock

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from moto.awslambda.models import lambda_backends
from moto.core import DEFAULT_ACCOUNT_ID
from moto.iam.models import iam_backends
from werkzeug.test import Client, EnvironBuilder

from local_endpoint.environment import FunctionSpec, Outcome
from local_endpoint.lambda_service import LambdaService
from local_endpoint.runtime_api import (TOO_LARGE_FOR_CALLER, PendingInvocation, RuntimeAPI,
                                        RuntimeServer)
from local_endpoint.server import Endpoint

REGION = 'us-east-1'
BASE_URL = 'http://127.0.0.1:4566'
SYNC_LIMIT = 6291456
ASYNC_LIMIT = 1048576
RESPONSE_LIMIT = 6291556


def signed_headers(method, path, body=b'', headers=None, service='lambda'):
    """The headers botocore would send: SigV4 with the local key, as every caller signs."""
    request = AWSRequest(method=method, url=BASE_URL + path, data=body, headers=headers or {})
    SigV4Auth(Credentials('test', 'test'), service, REGION).add_auth(request)
    return dict(request.headers.items())


def must_not_run(*_, **__):
    raise AssertionError('a refused request reached the function')


def in_process_endpoint(test_class):
    """One endpoint per test class, with a python function and its URL. Nothing may run it,
    and async events are kept in `submitted`, not delivered."""
    test_class.endpoint = Endpoint('127.0.0.1', 4566, tempfile.mkdtemp())
    test_class.endpoint.lambdas.invoke = must_not_run
    test_class.submitted = []
    test_class.endpoint.events.submit = lambda *event: test_class.submitted.append(event)
    test_class.client = Client(test_class.endpoint)
    test_class.function = f'Limits{test_class.__name__}'
    iam = iam_backends[DEFAULT_ACCOUNT_ID]['aws']
    if not any(role.name == 'limits-test' for role in iam.roles.values()):
        iam.create_role('limits-test', '{}', '/', None, '', [], None)
    lambdas = lambda_backends[DEFAULT_ACCOUNT_ID][REGION]
    lambdas.create_function({
        'FunctionName': test_class.function, 'Runtime': 'python3.12', 'Handler': 'handler.handler',
        'Role': f'arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/limits-test',
        'Code': {'ZipFile': base64.b64encode(echo_zip()).decode()}})
    test_class.url_id = lambdas.create_function_url_config(
        test_class.function, {'AuthType': 'NONE'}).url.rstrip('/').rsplit('/', 1)[1]


def echo_zip():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w') as archive:
        archive.writestr('handler.py', 'def handler(event, context):\n    return event\n')
    return buffer.getvalue()


def close_endpoint(test_class):
    lambda_backends[DEFAULT_ACCOUNT_ID][REGION].delete_function(test_class.function)
    test_class.endpoint.close()


class InvokeLimitsTest(unittest.TestCase):
    setUpClass = classmethod(in_process_endpoint)
    tearDownClass = classmethod(close_endpoint)

    def invoke(self, body, invocation_type='RequestResponse'):
        path = f'/2015-03-31/functions/{self.function}/invocations'
        headers = signed_headers('POST', path, body, {'X-Amz-Invocation-Type': invocation_type})
        stream = io.BytesIO(body)  # where it stands after the call is how much was read
        response = self.client.open(EnvironBuilder(
            path=path, base_url=BASE_URL, method='POST', headers=headers, input_stream=stream))
        return response, stream.tell()

    def assertRefused(self, response, status, code, message):
        self.assertEqual((response.status_code, response.headers.get('x-amzn-ErrorType')),
                         (status, code))
        # Lambda's model names the member message in InvalidRequestContentException; the front
        # end's RequestEntityTooLargeException has Message (local_endpoint.lambda_errors).
        key = 'message' if code == 'InvalidRequestContentException' else 'Message'
        self.assertEqual(response.get_json()[key], message)

    def test_a_request_over_6_mb_is_refused_from_its_content_length(self):
        for invocation_type in ('RequestResponse', 'Event', 'DryRun'):
            with self.subTest(invocation_type):
                response, consumed = self.invoke(b'[' + b'0,' * (SYNC_LIMIT // 2) + b'0]',
                                                 invocation_type)
                self.assertRefused(response, 413, 'RequestEntityTooLargeException',
                                   f'Request must be smaller than {SYNC_LIMIT} bytes for the '
                                   f'InvokeFunction operation')
                self.assertEqual(set(response.get_json()), {'Message'})
                self.assertLessEqual(consumed, SYNC_LIMIT + 1)

    def test_an_async_payload_over_1_mb_is_refused(self):
        payload = json.dumps({'data': 'x' * ASYNC_LIMIT}).encode()
        response, _ = self.invoke(payload, 'Event')
        self.assertRefused(response, 413, 'RequestEntityTooLargeException',
                           f'{len(payload)} byte payload is too large for the Event invocation '
                           f'type (limit {ASYNC_LIMIT} bytes)')

    def test_an_async_payload_of_exactly_1_mb_is_accepted(self):
        payload = b'"' + b'x' * (ASYNC_LIMIT - 2) + b'"'
        self.assertEqual(self.invoke(payload, 'Event')[0].status_code, 202)
        self.assertEqual(self.submitted[-1][2:], (self.function, payload))

    def test_a_payload_that_is_not_json_is_refused_as_lambda_refuses_it(self):
        location = ('\n at [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` '
                    'disabled); line: {}, column: {}]')
        prefix = 'Could not parse request body into json: Could not parse payload into json: '
        cases = [
            # Recorded on AWS: column 3, after the byte (test_lambda.snapshot.json,
            # test_lambda_invoke_payload_encoding_error).
            (b'n\x87r\x9e\xe9\xb5\xd7I\xee\x9bmt', 'Invalid UTF-8 start byte 0x87'
             + location.format(1, 3)),
            (b'{"a": 1', "Expecting ',' delimiter" + location.format(1, 8)),
            (b'hello', 'Expecting value' + location.format(1, 1)),
            (b'{"n": NaN}', "Non-standard token 'NaN': enable "
                            "`JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS` to allow"),
            (b'[' * 100000, 'Document nesting depth exceeds the maximum allowed (1000, from '
                            '`StreamReadConstraints.getMaxNestingDepth()`)'),
        ]
        for invocation_type in ('RequestResponse', 'Event', 'DryRun'):
            for payload, problem in cases:
                with self.subTest(invocation_type=invocation_type, payload=payload[:12]):
                    response, _ = self.invoke(payload, invocation_type)
                    self.assertRefused(response, 400, 'InvalidRequestContentException',
                                       prefix + problem)
                    self.assertEqual(response.get_json()['Type'], 'User')

    def test_an_empty_payload_and_any_json_value_are_accepted(self):
        for payload in (b'', b'{}', b'"text"', b'42', b'null', b'[1, {"a": []}]'):
            with self.subTest(payload=payload):
                self.assertEqual(self.invoke(payload, 'DryRun')[0].status_code, 204)


class FunctionUrlLimitsTest(unittest.TestCase):
    setUpClass = classmethod(in_process_endpoint)
    tearDownClass = classmethod(close_endpoint)

    def test_a_body_over_6_mb_is_refused_unread_as_function_urls_refuse_it(self):
        stream = io.BytesIO(b'x' * (SYNC_LIMIT + 1))
        response = self.client.post(f'/lambda-url/{self.url_id}/upload', base_url=BASE_URL,
                                    input_stream=stream, content_type='application/octet-stream')
        self.assertEqual((response.status_code, response.headers.get('x-amzn-ErrorType')),
                         (413, 'RequestEntityTooLargeException'))
        self.assertEqual(response.get_json(), {'Message': f'Request must be smaller than '
                                                          f'{SYNC_LIMIT} bytes for the '
                                                          f'InvokeFunction operation'})
        self.assertEqual(stream.tell(), 0, 'refused from its Content-Length, unread')

    def test_a_body_the_event_makes_too_large_is_refused(self):
        body = b'\xff' * (SYNC_LIMIT // 4 * 3 + 10)  # base64 in the event: over 6 MB
        response = self.client.post(f'/lambda-url/{self.url_id}/', base_url=BASE_URL, data=body,
                                    content_type='application/octet-stream')
        self.assertEqual(response.status_code, 413)


class RuntimeApiTestCase(unittest.TestCase):
    """One Runtime API with one invocation waiting, and a connection to it."""

    def setUp(self):
        self.api = RuntimeAPI()
        self.addCleanup(self.api.close)
        self.invocation = PendingInvocation('req-1', b'{}', 0, 'arn', 'Root=1-0-0')
        self.api.submit(self.invocation)
        host, port = self.api.address.split(':')
        self.connection = http.client.HTTPConnection(host, int(port), timeout=5)
        self.addCleanup(self.connection.close)

    def post_response(self, declared, body):
        self.connection.putrequest('POST', '/2018-06-01/runtime/invocation/req-1/response')
        self.connection.putheader('Content-Length', str(declared))
        self.connection.endheaders(body)
        response = self.connection.getresponse()
        return response.status, json.loads(response.read())


class RuntimeApiLimitTest(RuntimeApiTestCase):
    """What a function's runtime posts back is bounded as Lambda's Runtime API bounds it."""

    def test_a_1_gb_response_is_refused_unread_and_fails_the_invocation(self):
        status, answer = self.post_response(1 << 30, b'"' + b'a' * 1000)
        self.assertEqual((status, answer), (413, {
            'errorMessage': f'Exceeded maximum allowed payload size ({RESPONSE_LIMIT} bytes).',
            'errorType': 'RequestEntityTooLarge'}))
        self.assertTrue(self.invocation.wait(1))
        self.assertEqual((self.invocation.kind, self.invocation.error_type),
                         ('error', 'Function.ResponseSizeTooLarge'))
        self.assertEqual(json.loads(self.invocation.body), {
            'errorMessage': f'Response payload size exceeded maximum allowed payload size '
                            f'({RESPONSE_LIMIT} bytes).',
            'errorType': 'Function.ResponseSizeTooLarge'})

    def test_a_response_of_exactly_the_limit_is_accepted(self):
        body = b'"' + b'a' * (RESPONSE_LIMIT - 2) + b'"'
        self.assertEqual(self.post_response(len(body), body)[0], 202)
        self.assertEqual((self.invocation.kind, len(self.invocation.body)),
                         ('response', RESPONSE_LIMIT))


class RuntimeApiStrangerTest(RuntimeApiTestCase):
    """A page in the developer's browser that finds an environment's port can send it simple
    requests; only the runtime client gets an answer, and no forged result is taken."""

    def send(self, method, path, headers, body=b''):
        self.connection.request(method, path, body=body, headers=headers)
        response = self.connection.getresponse()
        response.read()
        self.connection.close()
        return response.status

    def test_a_page_can_neither_take_the_event_nor_post_a_result(self):
        host, port = self.api.address.split(':')
        for headers in ({'Origin': 'http://evil.example', 'Content-Type': 'text/plain'},
                        {'Sec-Fetch-Site': 'cross-site', 'Sec-Fetch-Mode': 'no-cors'},
                        {'Host': f'rebound.evil.example:{port}'}):
            with self.subTest(headers):
                self.assertEqual(self.send('POST', '/2018-06-01/runtime/invocation/req-1/response',
                                           headers, b'"forged"'), 403)
                self.assertEqual(self.send('GET', '/2018-06-01/runtime/invocation/next',
                                           headers), 403)
        self.assertFalse(self.invocation.wait(0))
        self.assertEqual(self.send('GET', '/2018-06-01/runtime/invocation/next', {}), 200)
        self.assertEqual(self.post_response(4, b'"ok"')[0], 202)
        self.assertEqual(self.invocation.body, b'"ok"')


class StandInEnvironment:
    """An execution environment whose invocations end as `outcome` says."""
    made = []

    def __init__(self, spec, *_):
        self.spec, self.log_stream, self.exited = spec, 'stand-in', False
        StandInEnvironment.made.append(self)

    def invoke(self, request_id, payload, trace_id, invoked_arn=None):
        return self.outcome

    def alive(self):
        return not self.exited

    def kill(self, reason='shutdown'):
        self.exited = True


class EnvironmentReuseTest(unittest.TestCase):
    """awslambdaric exits once its response is refused (it raises on the 413); the next
    invocation must not be handed that process."""

    def setUp(self):
        StandInEnvironment.made = []
        for target, value in [('local_endpoint.lambda_service.ExecutionEnvironment',
                               StandInEnvironment),
                              ('local_endpoint.lambda_service.iam.role_credentials',
                               lambda *_: {})]:
            patcher = mock.patch(target, value)
            patcher.start()
            self.addCleanup(patcher.stop)
        runtimes = SimpleNamespace(interpreter=str, runtime_dir=str, warnings={},
                                   python_version=lambda runtime: runtime[len('python'):])
        self.lambdas = LambdaService(tempfile.mkdtemp(), BASE_URL, runtimes)
        self.addCleanup(self.lambdas.close)
        self.spec = FunctionSpec(
            name='Reuse', arn='arn:aws:lambda:us-east-1:123456789012:function:Reuse',
            version='$LATEST', handler='handler.handler', runtime='python3.12', timeout=3,
            memory_size=128, environment=(), code_sha='sha', layer_arns=(), role='role',
            account='123456789012', region=REGION, code=b'', layers=())

    def invoke(self, outcome):
        StandInEnvironment.outcome = outcome
        return self.lambdas.invoke(self.spec, None, b'{}')[1]

    def test_an_environment_whose_response_was_too_large_is_not_reused(self):
        too_large = Outcome(ok=False, payload=TOO_LARGE_FOR_CALLER,
                            error_type='Function.ResponseSizeTooLarge')
        self.invoke(too_large)
        self.invoke(too_large)
        self.assertEqual(len(StandInEnvironment.made), 2, 'the second one got a fresh one')
        self.assertTrue(StandInEnvironment.made[0].exited, 'the first was stopped, not kept')

    def test_an_environment_that_died_idle_is_not_handed_out(self):
        self.invoke(Outcome(ok=True, payload=b'1'))
        StandInEnvironment.made[0].exited = True
        self.invoke(Outcome(ok=True, payload=b'2'))
        self.assertEqual(len(StandInEnvironment.made), 2)


class RuntimeApiLatencyTest(unittest.TestCase):
    """The two stalls issue 12 measured, checked without a clock."""

    def test_nagle_is_off_on_every_connection(self):
        server = RuntimeServer(('127.0.0.1', 0), None)
        self.addCleanup(server.server_close)
        client = socket.create_connection(server.server_address)
        self.addCleanup(client.close)
        connection, _ = server.get_request()
        self.addCleanup(connection.close)
        self.assertTrue(connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    def test_a_runtime_gone_while_it_waited_is_not_an_error(self):
        server = RuntimeServer(('127.0.0.1', 0), None)
        self.addCleanup(server.server_close)
        for error, reported in ((BrokenPipeError(32, 'Broken pipe'), False),
                                (ValueError('a bug'), True)):
            output = io.StringIO()
            try:
                raise error
            except (BrokenPipeError, ValueError):
                with contextlib.redirect_stderr(output):
                    server.handle_error(None, ('127.0.0.1', 1))
            self.assertEqual(bool(output.getvalue()), reported, output.getvalue())

    def test_closing_does_not_wait_for_the_servers_poll(self):
        api = RuntimeAPI()
        stopping = threading.Event()
        with mock.patch.object(api._server, 'shutdown', side_effect=stopping.wait):
            closer = threading.Thread(target=api.close)
            closer.start()
            closer.join(5)
            self.assertFalse(closer.is_alive(), 'close() waited for the server to stop')
            stopping.set()
