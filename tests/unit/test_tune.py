"""make tune's core: REPORT lines read, sizes measured and compared, costs, and what it changed
put back. Lambda is a fake that answers as the local endpoint does; S3 is moto in-process."""
import base64
import contextlib
import io
import json
import os
import shlex
import signal
import tempfile
import unittest
from types import SimpleNamespace
from unittest import mock

import boto3
from botocore.exceptions import ClientError

from deploy import tune
from tests.aws import ISOLATED_ENV, MotoTestCase

LOCAL = 'http://127.0.0.1:4566'
ARN = 'arn:aws:lambda:us-east-1:123456789012:function:Resize'


class FakeLambda:
    """Lambda's configuration and Invoke for one function, as the local endpoint answers them:
    a MemorySize change retires the warm environment, so the next invocation is a cold start
    (Init Duration in its REPORT line), and so does a failed invocation.

    `behaviour(memory_mb, payload)` returns what an invocation does: a dict with `duration`,
    and optionally `memory`, `error` (an errorType) and `result` (the payload)."""

    exceptions = SimpleNamespace(
        ResourceNotFoundException=type('ResourceNotFoundException', (ClientError,), {}))

    def __init__(self, behaviour, memory_size=1024, endpoint_url=LOCAL, refused=()):
        self.meta = SimpleNamespace(endpoint_url=endpoint_url)
        self.behaviour, self.memory_size, self.refused = behaviour, memory_size, refused
        self.calls = []
        self.cold = True

    def get_function_configuration(self, FunctionName):
        self.calls.append(('get', FunctionName))
        return {'FunctionArn': ARN, 'MemorySize': self.memory_size}

    def update_function_configuration(self, FunctionName, MemorySize):
        self.calls.append(('update', MemorySize))
        if MemorySize in self.refused:
            raise ClientError({'Error': {'Code': 'InvalidParameterValueException',
                                         'Message': 'MemorySize failed to satisfy constraint'}},
                              'UpdateFunctionConfiguration')
        self.memory_size, self.cold = MemorySize, True
        return {'LastUpdateStatus': 'InProgress'}

    def get_waiter(self, name):
        return SimpleNamespace(wait=lambda FunctionName: self.calls.append(('wait', name)))

    def invoke(self, FunctionName, Payload, LogType):
        self.calls.append(('invoke', self.memory_size))
        outcome = self.behaviour(self.memory_size, Payload)
        duration = outcome['duration']
        report = (f'REPORT RequestId: 1\tDuration: {duration:.2f} ms\tBilled Duration: '
                  f'{-(-duration // 1):.0f} ms\tMemory Size: {self.memory_size} MB\t'
                  f'Max Memory Used: {outcome.get("memory", 60)} MB\t')
        if self.cold:
            report += 'Init Duration: 250.00 ms\t'
        response = {'StatusCode': 200}
        if outcome.get('error'):
            report += f'Status: error\tError Type: {outcome["error"]}\t'
            body = json.dumps({'errorType': outcome['error'], 'errorMessage': 'failed'}).encode()
            response['FunctionError'] = 'Unhandled'
            self.cold = True
        else:
            body = outcome.get('result', b'{"ok": true}')
            self.cold = False
        tail = f'START RequestId: 1 Version: $LATEST\nEND RequestId: 1\n{report}\n'
        return dict(response, Payload=io.BytesIO(body),
                    LogResult=base64.b64encode(tail.encode()).decode())


def event_file(test, document):
    handle = tempfile.NamedTemporaryFile('w', suffix='.json', delete=False)
    with handle:
        json.dump(document, handle)
    test.addCleanup(os.remove, handle.name)
    return handle.name


def s3_event(*objects):
    return {'Records': [{'eventSource': 'aws:s3', 'eventName': 'ObjectCreated:Put',
                         's3': {'bucket': {'name': bucket}, 'object': {'key': key, 'size': 1}}}
                        for bucket, key in objects]}


def measured(memory_mb, durations, billed=None, errors=(), init=250.0, results=None):
    """A Row as measure() leaves it: a warm-up, then one invocation per duration."""
    billed = billed or [int(-(-duration // 1)) for duration in durations]
    errors = list(errors) + [None] * (len(durations) - len(errors))
    results = results or [b'same'] * len(durations)
    row = tune.Row(memory_mb, len(durations), warm_up=tune.Invocation(
        duration_ms=durations[0], billed_ms=billed[0], max_memory_mb=50, init_ms=init,
        result=results[0]))
    row.measured = [tune.Invocation(error=error, duration_ms=duration, billed_ms=bill,
                                    max_memory_mb=50, result=None if error else result)
                    for duration, bill, error, result in zip(durations, billed, errors, results)]
    return row


class CostTest(unittest.TestCase):
    def test_requests_plus_gigabyte_seconds_billed(self):
        prices = tune.Prices()
        # 128 MB is 0.125 GB: 0.1 s x 0.125 GB x 0.0000166667 x 1e6 + 0.20
        self.assertAlmostEqual(prices.per_million(128, 100), 0.20 + 0.20833375)
        self.assertAlmostEqual(prices.per_million(1024, 1000), 0.20 + 16.6667)
        arm64 = tune.Prices(per_gb_second=0.0000133334)
        self.assertAlmostEqual(arm64.per_million(2048, 500), 0.20 + 13.3334)

    def test_a_million_invocations_cost_their_mean_billed_duration(self):
        row = measured(1024, [10.0, 10.0, 40.0])
        self.assertAlmostEqual(tune.cost(row, tune.Prices()), tune.Prices().per_million(1024, 20))


class MarksTest(unittest.TestCase):
    def test_cheapest_and_fastest_among_sizes_where_every_invocation_succeeded(self):
        rows = [measured(128, [400.0, 410.0]),  # cheapest: 0.125 GB x 0.4 s
                measured(1024, [60.0, 61.0]),  # fastest, dearer: 1 GB x 0.06 s
                measured(2048, [30.0, 31.0], errors=['Runtime.ExitError'])]  # fastest, failed
        notes, _ = tune.marks(rows, tune.Prices())
        self.assertEqual(dict(notes), {128: ['cheapest'], 1024: ['fastest']})

    def test_one_size_can_be_both(self):
        rows = [measured(128, [900.0]), measured(256, [100.0])]
        self.assertEqual(dict(tune.marks(rows, tune.Prices())[0]), {256: ['cheapest', 'fastest']})

    def test_a_size_that_answered_otherwise_is_named_not_marked(self):
        # 256 MB refused the input its memory cannot hold: fast, cheap, and other work.
        rows = [measured(256, [5.0, 5.0], results=[b'rejected'] * 2),
                measured(1024, [70.0, 71.0]), measured(2048, [40.0, 41.0])]
        notes, reference = tune.marks(rows, tune.Prices())
        self.assertEqual(dict(notes), {256: ['result differs'], 1024: ['cheapest'],
                                       2048: ['fastest']})
        self.assertEqual(reference.memory_mb, 2048)

    def test_results_that_vary_anyway_are_not_compared(self):
        # A page with a fresh nonce each time says nothing about other sizes.
        rows = [measured(128, [50.0, 50.0], results=[b'a', b'b']),
                measured(256, [30.0, 30.0], results=[b'c', b'd'])]
        self.assertEqual(dict(tune.marks(rows, tune.Prices())[0]),
                         {128: ['cheapest'], 256: ['fastest']})

    def test_nothing_is_marked_when_every_size_failed(self):
        rows = [measured(128, [10.0], errors=['Runtime.OutOfMemory'])]
        self.assertEqual(dict(tune.marks(rows, tune.Prices())[0]), {})


class TableTest(unittest.TestCase):
    def test_columns_marks_and_why_a_size_failed(self):
        killed = tune.Invocation(
            error='Runtime.OutOfMemory',
            detail='RequestId: 1 Error: Runtime exited with error: signal: killed')
        failed = tune.Row(128, 10, warm_up=killed,
                          measured=[tune.Invocation(error='Runtime.OutOfMemory')] * 2,
                          failure='stopped after 3 failures in a row')
        refused = tune.Row(20000, 10, failure='MemorySize refused: InvalidParameterValueException')
        lines = tune.table([failed, measured(512, [100.0, 120.0, 110.0]),
                            measured(1024, [60.0, 50.0, 55.0]), refused], tune.Prices())
        self.assertIn('p50 ms', lines[0])
        self.assertRegex(lines[1], r'^ 128 MB +- +- +- .*3/3 Runtime\.OutOfMemory x3 '
                                   r'\(stopped after 3 failures in a row\)$')
        self.assertRegex(lines[2], r'^ 512 MB +250 +110\.0 +120\.0 +110 ms +50 MB +1\.117  '
                                   r'0/4  <- cheapest$')
        self.assertRegex(lines[3], r'^1024 MB +250 +55\.0 +60\.0 +55 ms .*0/4  <- fastest$')
        self.assertIn('(MemorySize refused: InvalidParameterValueException)', lines[4])
        self.assertEqual(lines[5], '128 MB failed: Runtime.OutOfMemory: RequestId: 1 Error: '
                                   'Runtime exited with error: signal: killed')
        self.assertIn('$0.2 per million requests + $0.0000166667 per GB-second', lines[-1])

    def test_a_differing_result_is_shown_beside_the_reference(self):
        rows = [measured(256, [5.0], results=[b'{"outcomes": ["rejected"]}']),
                measured(1024, [70.0], results=[b'{"outcomes": ["resized"]}'])]
        rows[0].warm_up.head = '{"outcomes": ["rejected"]}'
        rows[1].warm_up.head = '{"outcomes": ["resized"]}'
        lines = tune.table(rows, tune.Prices())
        self.assertIn('<- result differs', lines[1])
        self.assertIn('result at 1024 MB: {"outcomes": ["resized"]}', lines)
        self.assertIn('result at 256 MB: {"outcomes": ["rejected"]}', lines)


class MeasureTest(unittest.TestCase):
    def setUp(self):
        self.event = event_file(self, {'hello': 'world'})
        self.printed = []

    def measure(self, lambdas, sizes=(128, 512), invocations=3, **options):
        return tune.measure(lambdas, 'Resize', self.event, sizes, invocations,
                            progress=self.printed.append, **options)

    def test_each_size_set_warmed_measured_then_the_original_restored(self):
        lambdas = FakeLambda(lambda memory, payload: {'duration': 51200 / memory})
        rows = self.measure(lambdas)
        self.assertEqual([row.memory_mb for row in rows], [128, 512])
        self.assertEqual([call for call in lambdas.calls if call[0] != 'wait'],
                         [('get', 'Resize'), ('update', 128)] + [('invoke', 128)] * 4
                         + [('update', 512)] + [('invoke', 512)] * 4 + [('update', 1024)])
        self.assertEqual(lambdas.memory_size, 1024)
        self.assertEqual([row.warm_up.init_ms for row in rows], [250.0, 250.0])
        self.assertEqual([[i.init_ms for i in row.measured] for row in rows], [[None] * 3] * 2)
        self.assertEqual([invocation.duration_ms for invocation in rows[0].measured], [400.0] * 3)
        self.assertEqual(rows[1].measured[0].billed_ms, 100)
        self.assertTrue(all(row.all_succeeded for row in rows))

    def test_every_call_printed_as_awscli_before_it_runs(self):
        self.measure(FakeLambda(lambda memory, payload: {'duration': 1.0}), sizes=(256,))
        self.assertEqual(self.printed[:4], [
            'aws lambda get-function-configuration --function-name Resize',
            'aws lambda update-function-configuration --function-name Resize --memory-size 256',
            'aws lambda wait function-updated-v2 --function-name Resize',
            f'aws lambda invoke --function-name Resize --payload fileb://{self.event} '
            '--log-type Tail /dev/null  (x 4: a warm-up, then 3)'])
        self.assertEqual(self.printed[-3:], [
            'restoring MemorySize 1024',
            'aws lambda update-function-configuration --function-name Resize --memory-size 1024',
            'aws lambda wait function-updated-v2 --function-name Resize'])

    def test_the_payload_is_the_event_file_and_lands_in_the_response_file(self):
        payloads = []
        response = os.path.join(tempfile.mkdtemp(), 'response.json')
        self.addCleanup(os.remove, response)
        self.measure(FakeLambda(lambda memory, payload: payloads.append(payload) or {
            'duration': 1.0, 'result': f'{{"memory": {memory}}}'.encode()}),
            response_path=response)
        self.assertEqual(set(payloads), {b'{"hello": "world"}'})
        with open(response, 'rb') as handle:
            self.assertEqual(handle.read(), b'{"memory": 512}')

    def test_failures_say_their_error_type_and_a_size_stops_after_three_in_a_row(self):
        def behaviour(memory, payload):
            return {'duration': 30.0, 'error': 'Runtime.OutOfMemory' if memory < 256 else None}

        lambdas = FakeLambda(behaviour)
        rows = self.measure(lambdas, sizes=(128, 256), invocations=10)
        self.assertEqual(len(rows[0].measured), 2, 'the warm-up and two more: three in a row')
        self.assertEqual(rows[0].errors, {'Runtime.OutOfMemory': 3})
        self.assertEqual(rows[0].failure, 'stopped after 3 failures in a row')
        self.assertFalse(rows[0].all_succeeded)
        self.assertEqual(len(rows[1].measured), 10)
        self.assertIn('  128 MB: init 250 ms, 3/3 Runtime.OutOfMemory x3, stopped after 3 '
                      'failures in a row', self.printed)

    def test_an_occasional_failure_is_counted_not_stopped_for(self):
        calls = iter(range(100))
        lambdas = FakeLambda(lambda memory, payload: {
            'duration': 5.0, 'error': 'Sandbox.Timedout' if next(calls) == 2 else None})
        row, = self.measure(lambdas, sizes=(512,), invocations=5)
        self.assertEqual(len(row.measured), 5)
        self.assertEqual(row.errors, {'Sandbox.Timedout': 1})
        self.assertEqual(len(row.succeeded), 4)
        self.assertEqual(row.measured[1].error, 'Sandbox.Timedout')
        self.assertEqual(row.measured[1].init_ms, None)
        self.assertEqual(row.measured[2].init_ms, 250.0, 'a failure retires its environment')

    def test_a_refused_invoke_call_counts_as_a_failure_with_its_code(self):
        lambdas = FakeLambda(lambda memory, payload: {'duration': 1.0})
        lambdas.invoke = mock.Mock(side_effect=ClientError(
            {'Error': {'Code': 'TooManyRequestsException', 'Message': 'Rate Exceeded.'}}, 'Invoke'))
        row, = self.measure(lambdas, sizes=(256,))
        self.assertEqual(row.errors, {'TooManyRequestsException': 3})
        self.assertEqual(row.warm_up.detail, 'Rate Exceeded.')

    def test_a_refused_size_is_reported_and_the_others_measured(self):
        lambdas = FakeLambda(lambda memory, payload: {'duration': 2.0}, refused=(20000,))
        rows = self.measure(lambdas, sizes=(20000, 256))
        self.assertEqual(rows[0].failure, 'MemorySize refused: InvalidParameterValueException')
        self.assertEqual(rows[0].attempts, [])
        self.assertTrue(rows[1].all_succeeded)
        self.assertEqual(lambdas.memory_size, 1024)

    def test_memory_size_restored_on_ctrl_c(self):
        def behaviour(memory, payload):
            if memory == 512:
                raise KeyboardInterrupt
            return {'duration': 1.0}

        lambdas = FakeLambda(behaviour)
        with self.assertRaises(KeyboardInterrupt):
            self.measure(lambdas)
        self.assertEqual(lambdas.memory_size, 1024)
        self.assertEqual(lambdas.calls[-2:], [('update', 1024), ('wait', 'function_updated_v2')])

    def test_memory_size_restored_when_putting_the_input_fails(self):
        lambdas = FakeLambda(lambda memory, payload: {'duration': 1.0})
        failing_put = mock.Mock(side_effect=ClientError(
            {'Error': {'Code': 'NoSuchBucket', 'Message': 'no such bucket'}}, 'PutObject'))
        with self.assertRaises(ClientError):
            self.measure(lambdas, before_each=failing_put)
        self.assertEqual(lambdas.memory_size, 1024)

    def test_a_failed_restore_says_how_to_do_it_by_hand(self):
        lambdas = FakeLambda(lambda memory, payload: {'duration': 1.0}, refused=(1024,))
        with self.assertRaises(tune.RestoreFailed) as caught:
            self.measure(lambdas, sizes=(256,))
        self.assertIn('Run: aws lambda update-function-configuration --function-name Resize '
                      '--memory-size 1024', str(caught.exception))

    def test_before_each_runs_before_every_invocation(self):
        order = []
        lambdas = FakeLambda(lambda memory, payload: order.append('invoke') or {'duration': 1.0})
        self.measure(lambdas, sizes=(256,), invocations=2, before_each=lambda: order.append('put'))
        self.assertEqual(order, ['put', 'invoke'] * 3)


class MainTest(unittest.TestCase):
    """`python -m deploy.tune` as make tune runs it, with the fake Lambda."""

    def setUp(self):
        for signum in (signal.SIGTERM, signal.SIGHUP):  # main takes them over
            self.addCleanup(signal.signal, signum, signal.getsignal(signum))
        self.event = event_file(self, {'hello': 'world'})

    def main(self, lambdas, *arguments):
        stdout, stderr = io.StringIO(), io.StringIO()
        with mock.patch.object(tune.boto3, 'client', lambda service, **options: lambdas), \
                contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            status = tune.main(['--function-name', 'Resize', '--event', self.event, *arguments])
        return status, stdout.getvalue(), stderr.getvalue()

    def test_the_table_printed_after_the_commands(self):
        lambdas = FakeLambda(lambda memory, payload: {'duration': 51200 / memory})
        status, stdout, _ = self.main(lambdas, '--memory-sizes', '128 1024', '--invocations', '2')
        self.assertEqual(status, 0)
        table = stdout.splitlines()[-5:]
        self.assertEqual(table[0], f'Resize: 2 invocations per size after a warm-up, event '
                                   f'{self.event}')
        self.assertRegex(table[2], r'^ 128 MB +250 +400\.0 .* 0/3  <- cheapest$')
        self.assertRegex(table[3], r'^1024 MB +250 +50\.0 .* 0/3  <- fastest$')

    def test_kill_or_a_closed_terminal_restores_memory_size_as_ctrl_c_does(self):
        for signum in (signal.SIGTERM, signal.SIGHUP):
            def behaviour(memory, payload):
                if memory == 512:
                    os.kill(os.getpid(), signum)
                return {'duration': 1.0}

            lambdas = FakeLambda(behaviour)
            with self.subTest(signal=signum.name):
                status, _, stderr = self.main(lambdas, '--memory-sizes', '256 512')
                self.assertEqual(status, 130)
                self.assertIn('interrupted', stderr)
                self.assertEqual(lambdas.memory_size, 1024)

    def test_an_invalid_memory_size_is_refused_before_any_call(self):
        lambdas = FakeLambda(lambda memory, payload: {'duration': 1.0})
        for sizes in ('64', '128 20000', '', 'lots'):
            with self.subTest(sizes=sizes), self.assertRaises(SystemExit):
                self.main(lambdas, '--memory-sizes', sizes)
        self.assertEqual(lambdas.calls, [])


class InvokeTest(unittest.TestCase):
    def invoke(self, response):
        client = SimpleNamespace(invoke=lambda **arguments: response)
        return tune.invoke(client, 'F', b'{}', os.devnull)

    @staticmethod
    def response(tail, body=b'null', **fields):
        return dict(fields, Payload=io.BytesIO(body),
                    LogResult=base64.b64encode(tail.encode()).decode())

    def test_the_report_line_read(self):
        invocation = self.invoke(self.response(
            'some output\nREPORT RequestId: 9\tDuration: 1234.56 ms\tBilled Duration: 1235 ms\t'
            'Memory Size: 512 MB\tMax Memory Used: 201 MB\tInit Duration: 812.30 ms\t\n'))
        self.assertEqual((invocation.duration_ms, invocation.billed_ms, invocation.max_memory_mb,
                          invocation.init_ms, invocation.error),
                         (1234.56, 1235, 201, 812.3, None))
        self.assertEqual(invocation.head, 'null')

    def test_the_error_type_comes_from_the_payload_as_lambda_answers_it(self):
        invocation = self.invoke(self.response(
            'REPORT RequestId: 9\tDuration: 3.00 ms\tBilled Duration: 3 ms\tMemory Size: 128 MB\t'
            'Max Memory Used: 40 MB\t\n',
            body=b'{"errorType": "ValueError", "errorMessage": "no"}', FunctionError='Unhandled'))
        self.assertEqual((invocation.error, invocation.detail), ('ValueError', 'no'))
        self.assertIsNone(invocation.result)

    def test_a_report_line_missing_is_a_failure(self):
        self.assertEqual(self.invoke(self.response('START\nEND\n')).error,
                         'no REPORT line in the log tail')


class S3ObjectsTest(unittest.TestCase):
    def test_bucket_and_key_of_each_record_decoded_as_s3_encodes_them(self):
        photo = ('uploads-a', 'uploads/red+flower%2B1.jpg')
        event = json.dumps(s3_event(photo, ('uploads-b', 'x.png'), photo))
        self.assertEqual(tune.s3_objects(event), [('uploads-a', 'uploads/red flower+1.jpg'),
                                                  ('uploads-b', 'x.png')])

    def test_an_event_that_names_no_object_is_refused(self):
        for event in (b'{"rawPath": "/"}', b'not json', b'{"Records": [{"s3": {}}]}', b'[1]'):
            with self.subTest(event=event), self.assertRaises(tune.EventError) as caught:
                tune.s3_objects(event)
            self.assertIn('Records[].s3.bucket.name', str(caught.exception))

    def test_a_version_named_by_the_event_is_refused(self):
        event = s3_event(('uploads-a', 'k.jpg'))
        event['Records'][0]['s3']['object']['versionId'] = 'v1'
        with self.assertRaises(tune.EventError) as caught:
            tune.s3_objects(json.dumps(event))
        self.assertIn('Remove versionId', str(caught.exception))


class InputObjectTest(MotoTestCase):
    """Against moto in-process, on a loopback endpoint URL as the local endpoint's."""

    function_env = {'MOTO_S3_CUSTOM_ENDPOINTS': LOCAL}

    def setUp(self):
        super().setUp()
        self.s3 = boto3.client('s3', endpoint_url=LOCAL)
        self.s3.create_bucket(Bucket='uploads-a')
        self.triggers = {
            'LambdaFunctionConfigurations': [
                {'Id': 'resize', 'LambdaFunctionArn': ARN, 'Events': ['s3:ObjectCreated:*'],
                 'Filter': {'Key': {'FilterRules': [{'Name': 'prefix', 'Value': 'uploads/'}]}}},
                {'Id': 'other', 'LambdaFunctionArn': ARN + 'Other',
                 'Events': ['s3:ObjectCreated:*']},
                {'Id': 'alias', 'LambdaFunctionArn': ARN + ':live',
                 'Events': ['s3:ObjectCreated:Put']}],
            'TopicConfigurations': [{'Id': 'topic',
                                     'TopicArn': 'arn:aws:sns:us-east-1:123456789012:t',
                                     'Events': ['s3:ObjectRemoved:*']}]}
        self.s3.put_bucket_notification_configuration(Bucket='uploads-a',
                                                      NotificationConfiguration=self.triggers)
        handle = tempfile.NamedTemporaryFile(delete=False)
        with handle:
            handle.write(b'\xff\xd8 a photo')
        self.addCleanup(os.remove, handle.name)
        self.photo = handle.name
        self.printed = []

    def notification(self):
        configuration = self.s3.get_bucket_notification_configuration(Bucket='uploads-a')
        configuration.pop('ResponseMetadata')
        return configuration

    def input_object(self):
        return tune.InputObject(self.s3, self.photo, [('uploads-a', 'uploads/a b.jpg')], ARN,
                                progress=self.printed.append)

    def test_the_file_put_before_each_invocation_with_the_functions_triggers_off(self):
        with self.input_object() as put:
            self.assertEqual([trigger['Id'] for trigger in
                              self.notification()['LambdaFunctionConfigurations']], ['other'])
            self.assertEqual(self.notification()['TopicConfigurations'][0]['Id'], 'topic')
            put()
            body = self.s3.get_object(Bucket='uploads-a', Key='uploads/a b.jpg')['Body'].read()
            self.assertEqual(body, b'\xff\xd8 a photo')
        self.assertEqual(self.notification(), self.triggers)
        self.assertIn(f'aws s3api put-object --bucket uploads-a --key \'uploads/a b.jpg\' --body '
                      f'{self.photo}  (before each invocation)', self.printed)
        restore = shlex.split(self.printed[-1])
        self.assertEqual(restore[:6], ['aws', 's3api', 'put-bucket-notification-configuration',
                                       '--bucket', 'uploads-a', '--notification-configuration'])
        self.assertEqual(json.loads(restore[6]), self.triggers, 'the exact command that ran')

    def test_the_triggers_restored_when_measuring_fails(self):
        with self.assertRaises(KeyboardInterrupt), self.input_object():
            raise KeyboardInterrupt
        self.assertEqual(self.notification(), self.triggers)

    def test_a_bucket_that_does_not_trigger_the_function_is_left_alone(self):
        self.s3.put_bucket_notification_configuration(Bucket='uploads-a',
                                                      NotificationConfiguration={})
        with self.input_object():
            pass
        self.assertEqual(self.notification(), {})
        self.assertFalse(any('put-bucket-notification' in line for line in self.printed))


class RefusalTest(unittest.TestCase):
    def test_only_a_loopback_endpoint_is_accepted(self):
        for url in ('http://127.0.0.1:4566', 'http://localhost:4591', 'http://[::1]:4566',
                    'http://127.0.0.2:80'):
            with self.subTest(url=url):
                tune.require_local(SimpleNamespace(meta=SimpleNamespace(endpoint_url=url)), 'F')
        for url in ('https://lambda.us-east-1.amazonaws.com', 'http://127.0.0.1.example.com',
                    'http://10.0.0.5:4566', 'http://localhost.example.com:4566'):
            with self.subTest(url=url), self.assertRaises(tune.NotLocal):
                tune.require_local(SimpleNamespace(meta=SimpleNamespace(endpoint_url=url)), 'F')

    def test_measure_calls_nothing_on_aws(self):
        lambdas = FakeLambda(lambda memory, payload: {'duration': 1.0},
                             endpoint_url='https://lambda.us-east-1.amazonaws.com')
        with self.assertRaises(tune.NotLocal):
            tune.measure(lambdas, 'F', os.devnull, [128], 1, progress=lambda line: None)
        self.assertEqual(lambdas.calls, [])

    def test_make_tune_without_the_local_endpoint_says_why_it_refuses(self):
        for endpoint in ({}, {'AWS_ENDPOINT_URL': 'https://lambda.eu-west-1.amazonaws.com'},
                         {'AWS_ENDPOINT_URL': LOCAL,
                          'AWS_ENDPOINT_URL_LAMBDA': 'https://example.com'}):
            environment = {name: value for name, value in os.environ.items()
                           if not name.startswith('AWS_')}
            environment.update(ISOLATED_ENV, **endpoint)
            stderr = io.StringIO()
            with self.subTest(endpoint=endpoint), mock.patch.dict(os.environ, environment,
                                                                  clear=True), \
                    contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
                status = tune.main(['--function-name', 'ResizeImage', '--event', os.devnull])
            self.assertEqual(status, 2)
            self.assertIn('make tune runs against the local endpoint only', stderr.getvalue())
            self.assertIn('every invocation is billed', stderr.getvalue())


if __name__ == '__main__':
    unittest.main()
