"""A function's Architectures on the local endpoint, in process through werkzeug's test client:
stored and reported as AWS does on create-function and update-function-code, refused with
AWS's messages when invalid, and an invocation of code built for another CPU than this
machine's refused at once, saying why and what to do (sync, async and function URL), with
nothing run. The expected messages are AWS's as LocalStack recorded them
(tests/aws/services/lambda_/test_lambda_api.snapshot.json, test_create_lambda_exceptions:
multiple_architectures, uppercase_architecture; test_lambda.snapshot.json,
test_mixed_architecture: update_function_code_response reports the new Architectures)."""
import base64
import io
import json
import os
import tempfile
import time
import unittest
import uuid
import zipfile
from types import SimpleNamespace
from unittest import mock

from moto.awslambda.models import lambda_backends
from moto.core import DEFAULT_ACCOUNT_ID
from moto.logs.models import logs_backends

from local_endpoint import architectures
from local_endpoint.architectures import MACHINE, ArchitectureMismatch
from local_endpoint.environment import FunctionSpec
from local_endpoint.lambda_service import REFUSALS_STREAM, LambdaService
from tests import lambda_api
from tests.lambda_api import BASE_URL, REGION

ROLE = f'arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/architectures-test'
FOREIGN = 'x86_64' if MACHINE == 'arm64' else 'arm64'  # what this machine cannot run
ENUM = ('Member must satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64], '
        'Member must not be null]')


def echo_zip():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w') as archive:
        archive.writestr('handler.py', 'def handler(event, context):\n    return event\n')
    return base64.b64encode(buffer.getvalue()).decode()


def setUpModule():
    global endpoint, client
    endpoint, client = lambda_api.start('architectures-test')


def tearDownModule():
    endpoint.close()


def call(*arguments, **keywords):
    return lambda_api.call(client, *arguments, **keywords)


def document(response):
    """The JSON answer, whatever Content-Type moto gave it."""
    return json.loads(response.get_data())


class FunctionTestCase(unittest.TestCase):
    def setUp(self):
        self.name = f'Arch{uuid.uuid4().hex[:10]}'

    def create(self, **extra):
        return call('POST', '/2015-03-31/functions', {
            'FunctionName': self.name, 'Runtime': 'python3.12', 'Handler': 'handler.handler',
            'Role': ROLE, 'Code': {'ZipFile': echo_zip()}, **extra})

    def created(self, architecture):
        response = self.create(Architectures=[architecture])
        self.assertEqual(response.status_code, 201, response.get_data(as_text=True))
        self.addCleanup(lambda_backends[DEFAULT_ACCOUNT_ID][REGION].delete_function, self.name)

    def update_code(self, **extra):
        return call('PUT', f'/2015-03-31/functions/{self.name}/code',
                    {'ZipFile': echo_zip(), **extra})

    def configuration(self, qualifier=''):
        return document(call('GET', f'/2015-03-31/functions/{self.name}/configuration',
                    query=f'?Qualifier={qualifier}' if qualifier else ''))

    def assertValidationError(self, response, message):
        self.assertEqual(response.status_code, 400)
        self.assertEqual(response.headers.get('x-amzn-ErrorType'), 'ValidationException')
        self.assertEqual(document(response)['message'], message)


class ArchitecturesStoredTest(FunctionTestCase):
    def test_update_function_code_sets_the_architecture_it_is_given(self):
        self.created('x86_64')
        response = self.update_code(Architectures=['arm64'])
        self.assertEqual(response.status_code, 200)
        self.assertEqual(document(response)['Architectures'], ['arm64'])
        self.assertEqual(self.configuration()['Architectures'], ['arm64'])

    def test_update_function_code_without_architectures_keeps_the_functions(self):
        self.created('arm64')
        self.assertEqual(document(self.update_code())['Architectures'], ['arm64'])
        self.assertEqual(self.configuration()['Architectures'], ['arm64'])

    def test_a_published_update_gives_its_version_the_new_architecture(self):
        self.created('arm64')
        published = document(self.update_code(Architectures=['x86_64'], Publish=True))
        self.assertEqual((published['Version'], published['Architectures']), ('1', ['x86_64']))
        self.assertEqual(self.configuration('1')['Architectures'], ['x86_64'])
        self.assertEqual(self.configuration()['Architectures'], ['x86_64'])


class ArchitecturesValidatedTest(FunctionTestCase):
    """AWS's answers, recorded: ValidationException (400), the value as Java prints a list."""

    def test_two_architectures_are_refused_on_create(self):
        self.assertValidationError(
            self.create(Architectures=['x86_64', 'arm64']),
            "1 validation error detected: Value '[x86_64, arm64]' at 'architectures' failed to "
            "satisfy constraint: Member must have length less than or equal to 1")

    def test_an_unknown_architecture_is_refused_on_create(self):
        self.assertValidationError(
            self.create(Architectures=['X86_64']),
            f"1 validation error detected: Value '[X86_64]' at 'architectures' failed to "
            f"satisfy constraint: {ENUM}")

    def test_a_bad_architecture_is_refused_on_update_and_nothing_changes(self):
        self.created('x86_64')
        before = self.configuration()
        for value, constraint in [(['X86_64'], ENUM), (['arm64', 'x86_64'], 'Member must have '
                                  'length less than or equal to 1'), (None, ENUM)]:
            with self.subTest(value):
                shown = 'null' if value is None else f"[{', '.join(value)}]"
                self.assertValidationError(
                    self.update_code(Architectures=value),
                    f"1 validation error detected: Value '{shown}' at 'architectures' failed "
                    f"to satisfy constraint: {constraint}")
        after = self.configuration()
        self.assertEqual((after['Architectures'], after['LastModified']),
                         (before['Architectures'], before['LastModified']))


class DeployNoteTest(FunctionTestCase):
    def test_deploying_code_this_machine_cannot_run_is_said_in_the_endpoints_log(self):
        with self.assertLogs('local_endpoint.architectures', 'WARNING') as log:
            self.created(FOREIGN)
        self.assertIn(f'Function {self.name} is built for {FOREIGN}', log.output[0])
        self.assertIn(f'ARCH={MACHINE}', log.output[0])
        with self.assertLogs('local_endpoint.architectures', 'WARNING'):
            self.update_code()

    def test_code_for_this_machine_deploys_without_a_note(self):
        with self.assertNoLogs('local_endpoint.architectures', 'WARNING'):
            self.created(MACHINE)
            self.update_code(Architectures=[MACHINE])


def must_not_run(*_):
    raise AssertionError('a refused invocation reached the runtime')


class ForeignCodeRefusedTest(FunctionTestCase):
    """Code built for the other CPU would fail with an ImportError from its compiled wheels:
    the endpoint refuses it before starting anything."""

    def setUp(self):
        super().setUp()
        patcher = mock.patch.object(endpoint.runtimes, 'interpreter', must_not_run)
        patcher.start()
        self.addCleanup(patcher.stop)
        self.created(FOREIGN)

    def invoke(self, invocation_type='RequestResponse'):
        return call('POST', f'/2015-03-31/functions/{self.name}/invocations', {'n': 1},
                    {'X-Amz-Invocation-Type': invocation_type})

    def refusal_lines(self):
        group = logs_backends[DEFAULT_ACCOUNT_ID][REGION].groups.get(f'/aws/lambda/{self.name}')
        if group is None or REFUSALS_STREAM not in group.streams:
            return []
        return [event.message for event in group.streams[REFUSALS_STREAM].events]

    def test_a_synchronous_invoke_is_refused_at_once_with_what_to_do(self):
        response = self.invoke()
        self.assertEqual((response.status_code, response.headers.get('x-amzn-ErrorType')),
                         (400, 'InvalidRuntimeException'))
        message = response.get_json()['Message']
        self.assertEqual(message, architectures.refusal(self.name, FOREIGN))
        for words in (f'built for {FOREIGN}', f'this machine is {MACHINE}', f'ARCH={MACHINE}',
                      f'on an {FOREIGN} machine'):
            self.assertIn(words, message)
        self.assertEqual(self.refusal_lines(), [f'[local endpoint] {message}'])

    def test_a_dry_run_runs_nothing_and_is_answered_as_aws_answers_it(self):
        self.assertEqual(self.invoke('DryRun').status_code, 204)

    def test_an_async_event_is_retried_then_recorded_as_failed_with_the_reason(self):
        self.assertEqual(self.invoke('Event').status_code, 202)
        failed = os.path.join(endpoint.state_dir, 'failed-events.jsonl')
        deadline = time.monotonic() + 10
        record = None
        while record is None and time.monotonic() < deadline:
            time.sleep(0.05)
            if os.path.exists(failed):
                with open(failed) as handle:
                    record = next((json.loads(line) for line in handle
                                   if json.loads(line)['function'] == self.name), None)
        self.assertIsNotNone(record, 'the event was never recorded as failed')
        self.assertEqual((record['attempts'], record['errorType'], record['event']),
                         (3, 'InvalidRuntimeException', {'n': 1}))
        self.assertEqual(record['error'], architectures.refusal(self.name, FOREIGN))
        self.assertEqual(len(self.refusal_lines()), 3, 'each attempt says why in the log')

    def test_a_function_url_answers_502_with_the_reason(self):
        url = lambda_backends[DEFAULT_ACCOUNT_ID][REGION].create_function_url_config(
            self.name, {'AuthType': 'NONE'}).url
        response = client.get(url.replace(BASE_URL, ''), base_url=BASE_URL)
        self.assertEqual(response.status_code, 502)
        self.assertEqual(response.get_json()['message'],
                         architectures.refusal(self.name, FOREIGN))


class MachineTest(unittest.TestCase):
    """Either way round: x86_64 code on an arm64 machine is refused as arm64 on x86_64."""

    def test_only_the_machines_own_architecture_runs(self):
        self.assertIsNone(architectures.refusal('f', 'arm64', machine='arm64'))
        self.assertIsNone(architectures.refusal('f', 'x86_64', machine='x86_64'))
        message = architectures.refusal('f', 'x86_64', machine='arm64')
        self.assertIn('built for x86_64 (its Architectures) but this machine is arm64', message)
        self.assertIn('ARCH=arm64', message)

    def test_the_service_refuses_x86_64_code_on_an_arm64_machine_before_making_anything(self):
        runtimes = SimpleNamespace(interpreter=must_not_run, runtime_dir=must_not_run,
                                   warnings={})
        lambdas = LambdaService(tempfile.mkdtemp(), BASE_URL, runtimes, machine='arm64')
        self.addCleanup(lambdas.close)
        spec = FunctionSpec(
            name='OnArm', arn=f'arn:aws:lambda:{REGION}:{DEFAULT_ACCOUNT_ID}:function:OnArm',
            version='$LATEST', handler='handler.handler', runtime='python3.12', timeout=3,
            memory_size=128, environment=(), code_sha='sha', layer_arns=(), role=ROLE,
            account=DEFAULT_ACCOUNT_ID, region=REGION, code=b'', layers=(),
            architecture='x86_64')
        with self.assertRaises(ArchitectureMismatch):
            lambdas.invoke(spec, None, b'{}')
        self.assertEqual(lambdas.environments(), 0)


if __name__ == '__main__':
    unittest.main()
