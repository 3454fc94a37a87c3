"""What runs inside a function, its logs and its function URL, against what AWS answered.

Each test names the recording it reproduces: LocalStack's AWS-validated snapshots in
tests/aws/services/lambda_/ of localstack/localstack (test_lambda_common.snapshot.json,
test_lambda.snapshot.json, test_lambda_runtimes.snapshot.json). Where a recording replaced a
value with a placeholder (<uuid:1>, <duration>), the test checks the value's form.
"""
import base64
import io
import json
import os
import re
import time
import urllib.request
import zipfile

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from local_endpoint.iam import ADMIN_USER
from tests.e2e.fidelity import FidelityTestCase

# functions/common/introspection/python/src/handler.py, with sys.path beside it.
INTROSPECTION = '''import json
import os
import sys


def handler(event, context):
    print(json.dumps(event))
    return {
        "environment": dict(os.environ),
        "ctx": {
            "function_name": context.function_name,
            "function_version": context.function_version,
            "invoked_function_arn": context.invoked_function_arn,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "aws_request_id": context.aws_request_id,
            "log_group_name": context.log_group_name,
            "log_stream_name": context.log_stream_name,
            "remaining_time_in_millis": context.get_remaining_time_in_millis(),
        },
        "sys_path": sys.path,
    }
'''
# functions/lambda_cloudwatch_logs.py
PRINT_BODY = '''def handler(event, context):
    print(event["body"])
    return event
'''
# functions/lambda_python_unhandled_error (test_invocation_type_event_error), and a timeout.
CUSTOM_ERROR = '''class CustomException(Exception):
    pass


def handler(event, context):
    raise CustomException("some error occurred")
'''
SLEEPER = '''import time


def handler(event, context):
    print("starting wait")
    time.sleep(event["wait"])
    print("done waiting")
'''
# LocalStack's URL_HANDLER_CODE, and its echo HTTP server's handler (create_echo_http_server).
URL_HANDLER = '''def handler(event, ctx):
    return {returnvalue}
'''
ECHO_HTTP = '''def handler(event, context):
    if event.get("rawPath") == "/respond":
        import json
        return json.loads(event["body"])
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"},
            "body": event}
'''
# The environment variables AWS gives a python3.12 function created with
# Environment={"Variables": {"TEST_KEY": "TEST_VAL"}}: exactly these names.
RECORDED_VARIABLES = {
    'AWS_ACCESS_KEY_ID', 'AWS_DEFAULT_REGION', 'AWS_EXECUTION_ENV',
    'AWS_LAMBDA_FUNCTION_MEMORY_SIZE', 'AWS_LAMBDA_FUNCTION_NAME', 'AWS_LAMBDA_FUNCTION_VERSION',
    'AWS_LAMBDA_INITIALIZATION_TYPE', 'AWS_LAMBDA_LOG_GROUP_NAME', 'AWS_LAMBDA_LOG_STREAM_NAME',
    'AWS_LAMBDA_RUNTIME_API', 'AWS_REGION', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN',
    'AWS_XRAY_CONTEXT_MISSING', 'AWS_XRAY_DAEMON_ADDRESS', 'LAMBDA_RUNTIME_DIR',
    'LAMBDA_TASK_ROOT', 'LANG', 'LC_CTYPE', 'LD_LIBRARY_PATH', 'PATH', 'PWD', 'PYTHONPATH',
    'SHLVL', 'TEST_KEY', 'TZ', '_AWS_XRAY_DAEMON_ADDRESS', '_AWS_XRAY_DAEMON_PORT', '_HANDLER',
    '_X_AMZN_TRACE_ID'}
# The endpoint's own, named in the README: where boto3 in the function sends its calls.
LOCAL_VARIABLES = {'AWS_ENDPOINT_URL'}
FORBIDDEN = {'Message': 'Forbidden. For troubleshooting Function URL authorization issues, see: '
                        'https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html'}
UUID = r'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'
REPORT = (r'REPORT RequestId: {id}\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\t'
          r'Memory Size: {memory} MB\tMax Memory Used: \d+ MB\t')


def layer_zip():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w') as archive:
        archive.writestr('python/layer_module.py', 'VALUE = 1\n')
    return buffer.getvalue()


class LogReading:
    def events(self, name, count_reports, seconds=20):
        """The function's log events (messages), once it has written that many REPORTs."""
        logs = self.client('logs')
        deadline = time.monotonic() + seconds
        while True:
            try:
                events = logs.filter_log_events(logGroupName=f'/aws/lambda/{name}')['events']
            except logs.exceptions.ResourceNotFoundException:
                events = []
            messages = [event['message'] for event in events
                        if event['logStreamName'] != 'local-endpoint/refused']
            if sum(message.startswith('REPORT') for message in messages) >= count_reports:
                return messages
            if time.monotonic() > deadline:
                self.fail(f'{count_reports} REPORT records expected, got: {messages}')
            time.sleep(0.2)


class FunctionRuntimeTest(LogReading, FidelityTestCase):
    """The environment, the context object and the log records of a running function."""

    def invoke(self, name, payload=b'{}', **arguments):
        result = self.client('lambda').invoke(FunctionName=name, Payload=payload, **arguments)
        return result, json.loads(result['Payload'].read() or b'null')

    def test_environment_and_context(self):
        """test_lambda_common.snapshot.json, test_introspection_invoke[python3.12],
        invocation_result_payload and invocation_result_payload_qualified; the context of a
        version: test_lambda.snapshot.json, test_invocation_with_qualifier,
        invocation-response."""
        lambdas = self.client('lambda')
        layer = lambdas.publish_layer_version(LayerName='fidelity-layer',
                                              Content={'ZipFile': layer_zip()})
        name = self.create_function('introspection', INTROSPECTION, MemorySize=1024,
                                    Environment={'Variables': {'TEST_KEY': 'TEST_VAL'}},
                                    Layers=[layer['LayerVersionArn']])
        arn = lambdas.get_function(FunctionName=name)['Configuration']['FunctionArn']
        _, result = self.invoke(name, b'{"simple": "payload"}')
        environment, context = result['environment'], result['ctx']
        self.assertEqual(set(environment) - LOCAL_VARIABLES, RECORDED_VARIABLES)
        self.assertEqual({name: environment[name] for name in [
            'AWS_EXECUTION_ENV', 'AWS_LAMBDA_FUNCTION_MEMORY_SIZE', 'AWS_LAMBDA_FUNCTION_NAME',
            'AWS_LAMBDA_FUNCTION_VERSION', 'AWS_LAMBDA_INITIALIZATION_TYPE',
            'AWS_LAMBDA_LOG_GROUP_NAME', 'AWS_REGION', 'AWS_DEFAULT_REGION',
            'AWS_XRAY_CONTEXT_MISSING', 'LANG', 'LC_CTYPE', 'SHLVL', 'TEST_KEY', 'TZ',
            '_AWS_XRAY_DAEMON_PORT', '_HANDLER']}, {
            'AWS_EXECUTION_ENV': 'AWS_Lambda_python3.12',
            'AWS_LAMBDA_FUNCTION_MEMORY_SIZE': '1024', 'AWS_LAMBDA_FUNCTION_NAME': name,
            'AWS_LAMBDA_FUNCTION_VERSION': '$LATEST',
            'AWS_LAMBDA_INITIALIZATION_TYPE': 'on-demand',
            'AWS_LAMBDA_LOG_GROUP_NAME': f'/aws/lambda/{name}', 'AWS_REGION': 'us-east-1',
            'AWS_DEFAULT_REGION': 'us-east-1', 'AWS_XRAY_CONTEXT_MISSING': 'LOG_ERROR',
            'LANG': 'en_US.UTF-8', 'LC_CTYPE': 'C.UTF-8', 'SHLVL': '0', 'TEST_KEY': 'TEST_VAL',
            'TZ': ':UTC', '_AWS_XRAY_DAEMON_PORT': '2000', '_HANDLER': 'handler.handler'})
        self.assertEqual(environment['AWS_XRAY_DAEMON_ADDRESS'],
                         f"{environment['_AWS_XRAY_DAEMON_ADDRESS']}:2000")
        self.assertRegex(environment['_X_AMZN_TRACE_ID'],
                         r'^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0')
        task, runtime = environment['LAMBDA_TASK_ROOT'], environment['LAMBDA_RUNTIME_DIR']
        self.assertEqual(environment['PWD'], task)
        self.assertEqual(environment['PYTHONPATH'], runtime)  # AWS: /var/runtime
        # AWS: /var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin
        path = environment['PATH'].split(':')
        self.assertEqual(path[1:4], ['/usr/local/bin', '/usr/bin/', '/bin'])
        opt = path[4][:-len('/bin')]
        self.assertEqual(len(path), 5)
        self.assertTrue(path[4].endswith('/bin') and os.path.isdir(opt), path)
        # AWS: /var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:
        # /var/task/lib:/opt/lib
        lang = os.path.dirname(path[0])
        self.assertEqual(environment['LD_LIBRARY_PATH'].split(':'), [
            f'{lang}/lib', '/lib64', '/usr/lib64', runtime, f'{runtime}/lib', task,
            f'{task}/lib', f'{opt}/lib'])
        self.assertEqual(result['sys_path'][:4], [
            task, f'{opt}/python/lib/python3.12/site-packages', f'{opt}/python', runtime])
        self.assertRegex(context.pop('aws_request_id'), f'^{UUID}$')
        self.assertGreater(context.pop('remaining_time_in_millis'), 0)
        self.assertRegex(context['log_stream_name'],
                         r'^\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}$')
        self.assertEqual(context, {
            'function_name': name, 'function_version': '$LATEST', 'invoked_function_arn': arn,
            'memory_limit_in_mb': '1024', 'log_group_name': f'/aws/lambda/{name}',
            'log_stream_name': environment['AWS_LAMBDA_LOG_STREAM_NAME']})

        _, qualified = self.invoke(f'{arn}:$LATEST')
        self.assertEqual(qualified['ctx']['invoked_function_arn'], f'{arn}:$LATEST')
        self.assertEqual(qualified['ctx']['function_version'], '$LATEST')
        version = lambdas.publish_version(FunctionName=name)['Version']
        _, published = self.invoke(name, Qualifier=version)
        self.assertEqual((published['ctx']['invoked_function_arn'],
                          published['ctx']['function_version']), (f'{arn}:{version}', version))
        self.assertRegex(published['ctx']['log_stream_name'],
                         rf'^\d{{4}}/\d\d/\d\d/\[{version}\][0-9a-f]{{32}}$')
        lambdas.create_alias(FunctionName=name, Name='live', FunctionVersion=version)
        _, aliased = self.invoke(f'{name}:live')
        self.assertEqual((aliased['ctx']['invoked_function_arn'],
                          aliased['ctx']['function_version']), (f'{arn}:live', version))

    def test_log_records_cold_and_warm(self):
        """test_lambda_runtimes.snapshot.json, test_multi_line_prints, log-events: INIT_START,
        START, each printed line its own event with its newline (empty lines none), END,
        REPORT with Init Duration and its trailing tab and newline; a warm start has no
        INIT_START and no Init Duration (test_lambda.snapshot.json,
        test_invocation_type_event_error, log_events)."""
        name = self.create_function('multi-line', PRINT_BODY)
        body = '\nmulti\nline\nstring\nanother\rline\n'
        cold, _ = self.invoke(name, json.dumps({'body': body}).encode())
        warm, _ = self.invoke(name, json.dumps({'body': 'again'}).encode())
        cold_id = cold['ResponseMetadata']['RequestId']
        warm_id = warm['ResponseMetadata']['RequestId']
        events = self.events(name, 2)
        self.assertEqual(len(events), 12, events)
        self.assertRegex(events[0], r'^INIT_START Runtime Version: python:3\.12\.v\d+\t'
                                    r'Runtime Version ARN: arn:aws:lambda:us-east-1::runtime:'
                                    r'[0-9a-f]{64}\n\Z')
        self.assertEqual(events[1:7], [
            f'START RequestId: {cold_id} Version: $LATEST\n', 'multi\n', 'line\n', 'string\n',
            'another\rline\n', f'END RequestId: {cold_id}\n'])
        self.assertRegex(events[7], '^' + REPORT.format(id=cold_id, memory=128)
                         + r'Init Duration: \d+\.\d\d ms\t\n\Z')
        self.assertEqual(events[8:11], [f'START RequestId: {warm_id} Version: $LATEST\n',
                                        'again\n', f'END RequestId: {warm_id}\n'])
        self.assertRegex(events[11], '^' + REPORT.format(id=warm_id, memory=128) + r'\n\Z')
        # Billed: the duration rounded up; on a cold start, with the init's (billed since
        # August 2025: AWS Compute Blog, "AWS Lambda standardizes billing for INIT Phase").
        for report, cold in ((events[7], True), (events[11], False)):
            fields = {name: float(value) for name, value in
                      re.findall(r'\t?([A-Z][\w ]*): ([\d.]+) ms', report)}
            spent = fields['Duration'] + (fields['Init Duration'] if cold else 0)
            # ceil of the unrounded sum; each printed figure is within 0.005 of it
            self.assertTrue(spent - 0.01 <= fields['Billed Duration'] < spent + 1.01, report)

    def test_error_record_and_async_retry_keep_the_request_id(self):
        """test_lambda.snapshot.json, test_invocation_type_event_error, log_events: the
        runtime's "[ERROR] Type: message" record with its traceback as one event, REPORT
        without a Status, and the retry under the same request id; with MaximumRetryAttempts
        1, two END records of the 202's request id
        (test_request_id_async_invoke_with_retry, end_messages)."""
        name = self.create_function('event-error', CUSTOM_ERROR)
        lambdas = self.client('lambda')
        lambdas.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1)
        result = lambdas.invoke(FunctionName=name, InvocationType='Event', Payload=b'{}')
        self.assertEqual(result['StatusCode'], 202)
        request_id = result['ResponseMetadata']['RequestId']
        events = self.events(name, 2)
        error = re.escape('[ERROR] CustomException: some error occurred\n'
                          'Traceback (most recent call last):\n\u00a0\u00a0File "') + \
            r'/\S+/handler\.py' + re.escape(  # /var/task/handler.py on AWS
                '", line 6, in handler\n'
                '\u00a0\u00a0\u00a0\u00a0raise CustomException("some error occurred")')
        self.assertEqual([event for event in events if event.startswith('END')],
                         [f'END RequestId: {request_id}\n'] * 2)
        for attempt, cold in ((events[1:5], True), (events[5:9], False)):
            self.assertEqual(attempt[0], f'START RequestId: {request_id} Version: $LATEST\n')
            self.assertRegex(attempt[1], f'^{error}\\Z')
            self.assertEqual(attempt[2], f'END RequestId: {request_id}\n')
            self.assertRegex(attempt[3], '^' + REPORT.format(id=request_id, memory=128)
                             + (r'Init Duration: \d+\.\d\d ms\t' if cold else '') + r'\n\Z')

    def test_timeout(self):
        """test_lambda.snapshot.json, test_lambda_invoke_with_timeout, invoke-result: the
        payload Sandbox.Timedout "RequestId: <id> Error: Task timed out after 1.00 seconds";
        in the log, "<time> <id> Task timed out after 1.00 seconds" and REPORT's
        "Status: timeout" (AWS Lambda developer guide, "Troubleshoot invocation issues")."""
        name = self.create_function('timeout', SLEEPER, Timeout=1)
        result, payload = self.invoke(name, b'{"wait": 2}')
        request_id = result['ResponseMetadata']['RequestId']
        self.assertEqual((result['StatusCode'], result['FunctionError'],
                          result['ExecutedVersion']), (200, 'Unhandled', '$LATEST'))
        self.assertEqual(payload, {
            'errorType': 'Sandbox.Timedout',
            'errorMessage': f'RequestId: {request_id} Error: Task timed out after 1.00 seconds'})
        events = self.events(name, 1)
        self.assertIn('starting wait\n', events)
        self.assertNotIn('done waiting\n', events)
        self.assertRegex(events[-3], r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z '
                                     f'{request_id} Task timed out after 1.00 seconds\n\\Z')
        self.assertEqual(events[-2], f'END RequestId: {request_id}\n')
        self.assertRegex(events[-1], '^' + REPORT.format(id=request_id, memory=128)
                         + r'Init Duration: \d+\.\d\d ms\tStatus: timeout\t\n\Z')


    def test_output_that_looks_like_a_frame_loses_nothing(self):
        """Hostile output: bytes that start like one of the runtime's log frames but never end
        it are logged as output, and the next invocation's records are whole."""
        name = self.create_function('fake-frame', (
            'import sys\n\n\ndef handler(event, context):\n'
            '    if event.get("fake"):\n'
            '        sys.stdout.buffer.write(b"\\xa5\\x5a\\x00\\x03" + (2 ** 31).to_bytes(4, "big"))\n'
            '        sys.stdout.flush()\n'
            '    print("line", event.get("n"))\n'))
        self.invoke(name, b'{"fake": true, "n": 1}')
        second, _ = self.invoke(name, b'{"n": 2}')
        second_id = second['ResponseMetadata']['RequestId']
        events = self.events(name, 2)
        self.assertTrue(any(event.endswith("line 1\n") for event in events), events)
        self.assertEqual(events[-4:-1], [f'START RequestId: {second_id} Version: $LATEST\n',
                                         'line 2\n', f'END RequestId: {second_id}\n'])

    def test_file_descriptor_limit(self):
        """test_lambda.snapshot.json, test_runtime_ulimits, invoke_runtime_ulimits:
        RLIMIT_NOFILE [1024, 1024]."""
        name = self.create_function('ulimits', 'import resource\n\n\n'
                                    'def handler(event, context):\n'
                                    '    return resource.getrlimit(resource.RLIMIT_NOFILE)\n')
        self.assertEqual(self.invoke(name)[1], [1024, 1024])

    def test_runtime_wrapper(self):
        """test_lambda_common.py, test_runtime_wrapper_invoke[python3.12]: a script named by
        AWS_LAMBDA_EXEC_WRAPPER (/var/task/environment_wrapper) starts the runtime, and what
        it exports the function sees; test_lambda.snapshot.json,
        test_lambda_runtime_wrapper_not_found, invocation_error: a wrapper that is not there
        fails with Runtime.ExitError "exit status 127"."""
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, 'w') as archive:
            archive.writestr('handler.py', INTROSPECTION)
            wrapper = zipfile.ZipInfo('environment_wrapper')
            wrapper.external_attr = 0o100755 << 16
            archive.writestr(wrapper, '#!/bin/bash\nexport WRAPPER_VAR=test-value-1\n'
                                      'exec "$@"\n')
        lambdas = self.client('lambda')
        for name, path in (('wrapped', '/var/task/environment_wrapper'),
                           ('wrapper-missing', '/idontexist.sh')):
            lambdas.create_function(
                FunctionName=name, Runtime='python3.12', Role=self.role_arn,
                Handler='handler.handler', Code={'ZipFile': buffer.getvalue()},
                Environment={'Variables': {'AWS_LAMBDA_EXEC_WRAPPER': path}})
            lambdas.get_waiter('function_active_v2').wait(FunctionName=name)
        _, wrapped = self.invoke('wrapped', b'{"simple": "payload"}')
        self.assertEqual(wrapped['environment']['WRAPPER_VAR'], 'test-value-1')
        self.assertEqual(wrapped['ctx']['function_name'], 'wrapped')
        result, payload = self.invoke('wrapper-missing')
        request_id = result['ResponseMetadata']['RequestId']
        self.assertEqual((result['FunctionError'], payload), ('Unhandled', {
            'errorType': 'Runtime.ExitError',
            'errorMessage': f'RequestId: {request_id} Error: Runtime exited with error: '
                            f'exit status 127'}))

    def test_a_handler_in_a_submodule(self):
        """test_lambda_runtimes.py, TestPythonRuntimes::test_handler_in_submodule[python3.12]:
        Handler localstack_package.def.main.handler, its file in folders without __init__.py
        (one named as a Python keyword)."""
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, 'w') as archive:
            archive.writestr('localstack_package/def/main.py',
                             'def handler(event, context):\n    return {"event": event}\n')
        lambdas = self.client('lambda')
        lambdas.create_function(FunctionName='submodule', Runtime='python3.12',
                                Role=self.role_arn, Handler='localstack_package.def.main.handler',
                                Code={'ZipFile': buffer.getvalue()})
        lambdas.get_waiter('function_active_v2').wait(FunctionName='submodule')
        result, payload = self.invoke('submodule', b'{}')
        self.assertEqual((result['StatusCode'], payload), (200, {'event': {}}))

    def test_invoke_continues_a_callers_trace(self):
        """test_lambda_integration_xray.py, test_xray_trace_propagation: Invoke with an
        X-Amzn-Trace-Id header runs the function under that trace's root."""
        self.create_function('traced-invoke', 'import os\ndef handler(event, context):\n'
                                              '    return os.environ["_X_AMZN_TRACE_ID"]\n')
        root = 'Root=1-3152b799-8954dae64eda91bc9a23a7e8'
        status, _, body = self.signed('POST', '/2015-03-31/functions/traced-invoke/invocations',
                                      b'{}', {'X-Amzn-Trace-Id': f'{root};Sampled=1'})
        self.assertEqual(status, 200)
        self.assertRegex(json.loads(body), f'^{root};Parent=[0-9a-f]{{16}};')

    def test_runtime_and_handler_errors(self):
        """test_lambda.snapshot.json, TestLambdaErrors: test_lambda_runtime_error (an
        exception at import: the runtime's record, requestId ""), test_lambda_handler_error,
        test_lambda_runtime_exit and test_lambda_handler_exit (exit status 0: "Runtime exited
        without providing a reason"), invocation_error; every one FunctionError Unhandled."""
        cases = {
            'runtime-error': ('raise Exception("Runtime startup fails")\n', {
                'errorMessage': 'Runtime startup fails', 'errorType': 'Exception',
                'requestId': ''}),
            'handler-error': ('def handler(event, context):\n'
                              '    raise Exception("Handler fails")\n', {
                                  'errorMessage': 'Handler fails', 'errorType': 'Exception'}),
            'runtime-exit': ('import sys\n\nsys.exit(0)\n', {
                'errorType': 'Runtime.ExitError',
                'errorMessage': 'RequestId: {id} Error: Runtime exited without providing a '
                                'reason'}),
            'handler-exit': ('import sys\n\n\ndef handler(event, context):\n    sys.exit(0)\n', {
                'errorType': 'Runtime.ExitError',
                'errorMessage': 'RequestId: {id} Error: Runtime exited without providing a '
                                'reason'}),
        }
        for case, (source, expected) in cases.items():
            with self.subTest(case):
                result, payload = self.invoke(self.create_function(case, source))
                request_id = result['ResponseMetadata']['RequestId']
                self.assertEqual((result['StatusCode'], result['FunctionError'],
                                  result['ExecutedVersion']), (200, 'Unhandled', '$LATEST'))
                if 'stackTrace' in payload:
                    self.assertIsInstance(payload.pop('stackTrace'), list)
                if case == 'handler-error':
                    self.assertEqual(payload.pop('requestId'), request_id)
                self.assertEqual(payload, {name: value.format(id=request_id)
                                           for name, value in expected.items()})
        # A failed init's REPORT measures the init, the only thing that ran.
        report = self.events('runtime-error', 1)[-1]
        self.assertRegex(report, r'\tDuration: (?!0\.00)\d+\.\d\d ms\t.*'
                                 r'\tMax Memory Used: [1-9]\d* MB\tStatus: error\t')

    def test_logging_module_record(self):
        """test_lambda.snapshot.json, test_invocation_with_qualifier, log_result: print's line,
        then the logging module's record "[INFO]\t<time>\t<request id>\t<message>" (and
        test_request_id_invoke, log_entries); client_context None."""
        name = self.create_function('logging', 'import logging\n\n'
                                    'logging.basicConfig(level=logging.INFO)\n'
                                    'LOGGER = logging.getLogger(__name__)\n'
                                    'LOGGER.setLevel(logging.INFO)\n\n\n'
                                    'def handler(event, context):\n'
                                    '    print("Lambda log message - print function")\n'
                                    '    LOGGER.info("Lambda log message - logging module")\n'
                                    '    return context.client_context\n')
        result, payload = self.invoke(name)
        self.assertIsNone(payload)
        request_id = result['ResponseMetadata']['RequestId']
        events = self.events(name, 1)
        self.assertEqual(events[2], 'Lambda log message - print function\n')
        self.assertRegex(events[3], r'^\[INFO\]\t\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\t'
                                    f'{request_id}\\tLambda log message - logging module\n\\Z')


class UrlCalls(LogReading):
    def url_function(self, name, source):
        self.create_function(name, source)
        lambdas = self.client('lambda')
        url = lambdas.create_function_url_config(FunctionName=name,
                                                 AuthType='NONE')['FunctionUrl']
        lambdas.add_permission(FunctionName=name, StatementId='urlPermission',
                               Action='lambda:InvokeFunctionUrl', Principal='*',
                               FunctionUrlAuthType='NONE')
        return url

    def request(self, url, data=None, headers=None, method='POST'):
        return self.raw(urllib.request.Request(url, data=data, headers=headers or {},
                                               method=method))

    def check_an_aws_iam_url(self, name):
        """An AWS_IAM URL refuses an unsigned request and runs one the endpoint's key signed,
        its event naming the signer."""
        self.create_function(name, URL_HANDLER.format(returnvalue='event["requestContext"]'))
        url = self.client('lambda').create_function_url_config(
            FunctionName=name, AuthType='AWS_IAM')['FunctionUrl']
        status, headers, content = self.request(url, b'{}')
        self.assertEqual((status, headers['x-amzn-ErrorType'], json.loads(content)),
                         (403, 'AccessDeniedException', FORBIDDEN))
        status, _, content = self.signed('POST', url[len(self.url):], b'{}')
        self.assertEqual(status, 200)
        # urls-invocation guide, request payload: the function owner's account, and who signed
        context = json.loads(content)
        signer = self.client('iam').get_user(UserName=ADMIN_USER)['User']  # the key's user
        self.assertEqual((context['accountId'], context['authorizer']), (
            '123456789012', {'iam': {
                'accessKey': 'test', 'accountId': '123456789012',
                'callerId': signer['UserId'], 'cognitoIdentity': None,
                'principalOrgId': None, 'userArn': signer['Arn'],
                'userId': signer['UserId']}}))
        return url


class FunctionUrlTest(UrlCalls, FidelityTestCase):
    """Function URLs: the event a request becomes, and the response a result becomes."""

    def test_results_become_responses(self):
        """test_lambda.snapshot.json, test_lambda_url_invocation[dict, http-response,
        http-response-json, list-mixed, string, integer, float, boolean],
        lambda_url_invocation: status, Content-Type, Content-Length and body."""
        cases = {
            'dict': ('{"hello": "world"}', '{"hello":"world"}'),
            'http-response': ('{"statusCode": 200, "body": "body123"}', 'body123'),
            'http-response-json': ('{"statusCode": 200, "body": "{\\"hello\\": \\"world\\"}"}',
                                   '{"hello": "world"}'),
            'list-mixed': ('["hello", 3, True]', '["hello",3,true]'),
            'string': ('"hello"', 'hello'), 'integer': ('3', '3'), 'float': ('3.1', '3.1'),
            'boolean': ('True', 'true')}
        for case, (returned, body) in cases.items():
            with self.subTest(case):
                url = self.url_function(f'url-{case}', URL_HANDLER.format(returnvalue=returned))
                status, headers, content = self.request(
                    f'{url}custom_path/extend?test_param=test_value', b"{'key':'value'}")
                self.assertEqual((status, headers['Content-Type'], headers['Content-Length'],
                                  content.decode()),
                                 (200, 'application/json', str(len(body)), body))

    def test_request_event(self):
        """test_lambda.snapshot.json, test_lambda_url_echo_http_fixture_default and
        test_lambda_url_form_payload, url_response: header names lower-cased, Connection left
        out, x-amzn-trace-id and x-forwarded-for/-port/-proto added, repeated query
        parameters joined, the path as sent; a multipart body base64-encoded. The response's
        x-amzn-RequestId is the invocation's, in its END record (test_request_id_invoke_url,
        lambda_url_invocation and end_log_entries)."""
        url = self.url_function('echo-http', ECHO_HTTP)
        status, headers, content = self.request(
            f'{url}pa2%Fth/1?q=query&multiQuery=foo&multiQuery=%2Fbar',
            b'{"foo": "bar"}', {'content-type': 'application/json',
                                'ExTrA-HeadErs': 'With WeiRd CapS', 'user-agent': 'test/echo',
                                'Connection': 'keep-alive', 'Cookie': 'a=1; b=2'})
        self.assertEqual(status, 200)
        event = json.loads(content)
        self.assertRegex(headers['x-amzn-RequestId'], f'^{UUID}$')
        self.assertEqual(event['requestContext']['requestId'], headers['x-amzn-RequestId'])
        self.assertIn(f"END RequestId: {headers['x-amzn-RequestId']}\n",
                      self.events('echo-http', 1))
        received = event['headers']
        self.assertRegex(received.pop('x-amzn-trace-id'), r'^Root=1-[0-9a-f]{8}-[0-9a-f]{24}$')
        host = urllib.request.urlparse(url).netloc
        self.assertEqual(received, {
            'accept-encoding': 'identity', 'content-length': '14',
            'content-type': 'application/json', 'extra-headers': 'With WeiRd CapS',
            'host': host, 'user-agent': 'test/echo', 'x-forwarded-for': '127.0.0.1',
            'x-forwarded-port': str(self.port), 'x-forwarded-proto': 'http'})
        self.assertEqual(event['cookies'], ['a=1', 'b=2'])
        self.assertEqual(event['queryStringParameters'], {'q': 'query', 'multiQuery': 'foo,/bar'})
        self.assertEqual(event['rawQueryString'], 'q=query&multiQuery=foo&multiQuery=%2Fbar')
        self.assertEqual((event['rawPath'], event['requestContext']['http']['path']),
                         ('/pa2%Fth/1', '/pa2%Fth/1'))
        self.assertEqual((event['body'], event['isBase64Encoded']), ('{"foo": "bar"}', False))
        self.assertEqual(event['requestContext']['http']['method'], 'POST')
        self.assertEqual(event['requestContext']['http']['sourceIp'], '127.0.0.1')
        self.assertEqual(event['requestContext']['accountId'], 'anonymous')
        self.assertNotIn('authorizer', event['requestContext'])

        form = (b'\r\n--4efd\r\nContent-Disposition: form-data; name="formfield"\r\n\r\n'
                b'not a file, just a field\r\n--4efd--\r\n')
        _, _, content = self.request(f'{url}test/value', form, {
            'Content-Type': 'multipart/form-data; boundary=4efd'})
        event = json.loads(content)
        self.assertEqual((event['body'], event['isBase64Encoded']),
                         (base64.b64encode(form).decode(), True))
        _, _, content = self.request(url, b'\xff\xfe', {'Content-Type': 'text/plain'})
        event = json.loads(content)  # hostile: text that is not UTF-8 arrives as bytes
        self.assertEqual((event['body'], event['isBase64Encoded']), ('//4=', True))
        _, _, content = self.request(url, method='GET')
        event = json.loads(content)
        self.assertEqual(('body' in event, event['isBase64Encoded']), (False, False))

    def test_a_callers_trace_is_continued(self):
        """test_lambda_integration_xray.py, test_xray_trace_propagation: the trace a caller's
        X-Amzn-Trace-Id names is the root of the function's _X_AMZN_TRACE_ID (and of the
        event's x-amzn-trace-id)."""
        root = 'Root=1-3152b799-8954dae64eda91bc9a23a7e8'
        url = self.url_function('traced', URL_HANDLER.format(
            returnvalue='[event["headers"]["x-amzn-trace-id"], '
                        '__import__("os").environ["_X_AMZN_TRACE_ID"]]'))
        _, _, content = self.request(url, b'{}', {
            'X-Amzn-Trace-Id': f'{root};Parent=7fa8c0f79203be72;Sampled=1'})
        header, variable = json.loads(content)
        self.assertEqual(header, root)
        self.assertRegex(variable, f'^{root};Parent=[0-9a-f]{{16}};')

    def test_response_mapping(self):
        """test_lambda.snapshot.json, test_lambda_url_headers_and_status: statusCode (a
        number or a string) and headers as returned; a dict body serialised (the echo
        server's make_response, test_lambda_url_echo_http_fixture_default); cookies as
        Set-Cookie headers (AWS Lambda developer guide, "Invoking Lambda function URLs")."""
        url = self.url_function('respond', ECHO_HTTP) + 'respond'
        cases = [
            ({'statusCode': 201, 'headers': {'Content-Type': 'application/json',
                                             'My-Custom-Header': 'Custom Value'},
              'body': json.dumps({'message': 'hello-world'}), 'isBase64Encoded': False},
             201, '{"message": "hello-world"}', {'my-custom-header': 'Custom Value'}),
            ({'statusCode': '418', 'body': "i'm a teapot", 'isBase64Encoded': False},
             418, "i'm a teapot", {'content-type': 'application/json'}),
            ({'statusCode': 200, 'body': {'a': [1, 2]}}, 200, '{"a":[1,2]}', {}),
            ({'statusCode': 204}, 204, '', {}),
            # framing is the front end's: a length the function names does not hang the client
            ({'statusCode': 200, 'body': 'hi', 'headers': {'Content-Length': '99999'}},
             200, 'hi', {'Content-Length': '2'}),
            ({'statusCode': 200, 'body': 'aGk=', 'isBase64Encoded': True,
              'cookies': ['a=1; Path=/', 'b=2']}, 200, 'hi', {}),
        ]
        for returned, status, body, headers in cases:
            with self.subTest(returned):
                got_status, got_headers, content = self.request(
                    url, json.dumps(returned).encode(), {'Content-Type': 'application/json'})
                self.assertEqual((got_status, content.decode()), (status, body))
                for name, value in headers.items():
                    self.assertEqual(got_headers[name], value)
                if 'cookies' in returned:
                    self.assertEqual(got_headers.get_all('Set-Cookie'), returned['cookies'])
        # What no HTTP response can carry fails as the function's error does (502).
        for returned in ({'statusCode': 'abc'}, {'statusCode': 1000},
                         {'statusCode': 200, 'headers': {'a\r\nInjected': 'x'}},
                         {'statusCode': 200, 'headers': {'a': 'x\r\nInjected: y'}},
                         {'statusCode': 200, 'body': '%%', 'isBase64Encoded': True}):
            with self.subTest(returned):
                status, headers, content = self.request(
                    url, json.dumps(returned).encode(), {'Content-Type': 'application/json'})
                self.assertEqual((status, content), (502, b'Internal Server Error'))
                self.assertNotIn('Injected', headers)

    def test_function_error_and_unknown_url(self):
        """test_lambda.snapshot.json, test_lambda_url_invocation_exception: 502 with the body
        "Internal Server Error"; test_lambda_url_non_existing_url: 403 {"Message":null},
        application/json, x-amzn-ErrorType AccessDeniedException."""
        url = self.url_function('url-error', CUSTOM_ERROR)
        status, headers, content = self.request(url, b'{}',
                                                {'User-Agent': 'python-requests/testing'})
        self.assertEqual((status, content), (502, b'Internal Server Error'))
        self.assertRegex(headers['x-amzn-RequestId'], f'^{UUID}$')
        unknown = re.sub(r'/lambda-url/[^/]+/', '/lambda-url/0123456789abcdefghijklmnopqrstuv/',
                         url)
        status, headers, content = self.request(unknown, method='GET')
        self.assertEqual((status, content, headers['Content-Type'],
                          headers['x-amzn-ErrorType']),
                         (403, b'{"Message":null}', 'application/json', 'AccessDeniedException'))

    def test_a_deleted_url_or_alias(self):
        """test_lambda.snapshot.json, test_lambda_url_persists_after_alias_delete: once the
        URL's alias is deleted (its URL configuration with it), the URL answers 403
        AccessDeniedException "Forbidden. For troubleshooting ..."; so does a URL whose
        configuration was deleted."""
        lambdas = self.client('lambda')
        url = self.url_function('deleted-url', URL_HANDLER.format(returnvalue='"hi"'))
        self.assertEqual(self.request(url, b'text')[0], 200)
        lambdas.delete_function_url_config(FunctionName='deleted-url')
        status, headers, content = self.request(url, b'text', {'Content-Type': 'text/plain'})
        self.assertEqual((status, headers['x-amzn-ErrorType'], json.loads(content)),
                         (403, 'AccessDeniedException', FORBIDDEN))

        name = self.create_function('deleted-alias', URL_HANDLER.format(returnvalue='"hi"'))
        version = lambdas.publish_version(FunctionName=name)['Version']
        lambdas.create_alias(FunctionName=name, Name='doomed', FunctionVersion=version)
        url = lambdas.create_function_url_config(FunctionName=name, Qualifier='doomed',
                                                 AuthType='NONE')['FunctionUrl']
        lambdas.add_permission(FunctionName=name, Qualifier='doomed', StatementId='url',
                               Action='lambda:InvokeFunctionUrl', Principal='*',
                               FunctionUrlAuthType='NONE')
        self.assertEqual(self.request(url, b'text', {'Content-Type': 'text/plain'})[0], 200)
        lambdas.delete_alias(FunctionName=name, Name='doomed')
        status, headers, content = self.request(url, b'text', {'Content-Type': 'text/plain'})
        self.assertEqual((status, headers['x-amzn-ErrorType'], json.loads(content)),
                         (403, 'AccessDeniedException', FORBIDDEN))

    def test_an_aws_iam_url_wants_a_signed_request(self):
        """AWS Lambda developer guide, "Control access to Lambda function URLs": a URL of
        AuthType AWS_IAM refuses an unsigned request with the 403 recorded in
        test_lambda.snapshot.json (test_lambda_permission_url_invocation); a signed one runs."""
        self.check_an_aws_iam_url('iam-url')


class FunctionUrlPermissionTest(UrlCalls, FidelityTestCase):
    """With IAM enforced (make up LOCAL_ENFORCE_IAM=1), a function URL checks who may call it,
    as AWS always does."""

    @classmethod
    def setUpClass(cls):
        os.environ['LOCAL_ENFORCE_IAM'] = '1'
        try:
            super().setUpClass()
        finally:
            del os.environ['LOCAL_ENFORCE_IAM']

    def test_a_url_needs_both_permissions(self):
        """test_lambda.snapshot.json, test_lambda_permission_url_invocation,
        lambda_url_invocation_missing_permission: 403 "Forbidden. ..." until the resource
        policy grants lambda:InvokeFunctionUrl (FunctionUrlAuthType NONE) and, for URLs made
        since October 2025, lambda:InvokeFunction (InvokedViaFunctionUrl) (urls-auth guide)."""
        lambdas = self.client('lambda')
        name = self.create_function('guarded', URL_HANDLER.format(returnvalue='"hi"'))
        url = lambdas.create_function_url_config(FunctionName=name,
                                                 AuthType='NONE')['FunctionUrl']
        status, headers, content = self.request(url, b'text', {'Content-Type': 'text/plain'})
        self.assertEqual((status, headers['x-amzn-ErrorType'], json.loads(content)),
                         (403, 'AccessDeniedException', FORBIDDEN))
        lambdas.add_permission(FunctionName=name, StatementId='url', Principal='*',
                               Action='lambda:InvokeFunctionUrl', FunctionUrlAuthType='NONE')
        self.assertEqual(self.request(url, b'text')[0], 403)
        lambdas.add_permission(FunctionName=name, StatementId='invoke', Principal='*',
                               Action='lambda:InvokeFunction', InvokedViaFunctionUrl=True)
        self.assertEqual(self.request(url, b'text')[:3:2], (200, b'hi'))

    def test_an_aws_iam_url_wants_a_signer_allowed_to_call_it(self):
        """urls-auth guide: with AuthType AWS_IAM the signature is verified and the signer's
        identity policy must allow lambda:InvokeFunctionUrl: the endpoint's own key (an
        administrator's) runs it, a user without a policy gets Lambda's 403 (recorded in
        test_lambda.snapshot.json, test_lambda_permission_url_invocation)."""
        url = self.check_an_aws_iam_url('iam-only')
        iam_client = self.client('iam')
        iam_client.create_user(UserName='powerless')
        key = iam_client.create_access_key(UserName='powerless')['AccessKey']
        request = AWSRequest(method='POST', url=url, data=b'{}')
        SigV4Auth(Credentials(key['AccessKeyId'], key['SecretAccessKey']), 'lambda',
                  'us-east-1').add_auth(request)
        status, _, content = self.request(url, b'{}', dict(request.headers.items()))
        self.assertEqual((status, json.loads(content)), (403, FORBIDDEN))
