"""The Lambda API answers as AWS answered: Invoke's statuses, headers and error payloads, and
the control plane's refusals. Each test names the response recorded on AWS that it reproduces,
from LocalStack's tests/aws/services/lambda_/ (the test's recording: <snapshot file>, <test>,
<key>), with the recording's placeholders filled with this endpoint's account, region and
names."""
import base64
import hashlib
import json
import urllib.request

from botocore.exceptions import ClientError

from tests.e2e.endpoint import REGION, function_zip
from tests.e2e.fidelity import FidelityTestCase

ACCOUNT = '123456789012'
ARN = f'arn:aws:lambda:{REGION}:{ACCOUNT}:function'
ECHO = 'def handler(event, context):\n    return event\n'
LOGGING = ('import logging\n'
           'LOGGER = logging.getLogger()\n'
           'LOGGER.setLevel(logging.INFO)\n\n'
           'def handler(event, context):\n'
           '    print("Lambda log message - print function", flush=True)\n'
           '    LOGGER.info("Lambda log message - logging module")\n'
           '    return event\n')
HANDLER_ERROR = 'def handler(event, context):\n    raise Exception("Handler fails")\n'
RUNTIME_ERROR = 'raise Exception("Runtime startup fails")\n'
RESPONSE_SIZE = ('def handler(event, context):\n'
                 '    print("generating bytes", flush=True)\n'
                 '    return "a" * event["bytenum"]\n')
SLOW = 'import time\n\ndef handler(event, context):\n    time.sleep(event["wait"])\n'
RUNTIMES = ('[nodejs20.x, python3.14, provided.al2023, python3.12, python3.13, nodejs24.x, '
            'nodejs22.x, java25, python3.10, python3.11, java21, ruby3.3, ruby3.4, ruby3.2, '
            'python3.8, python3.9, java17, nodejs16.x, dotnet10, dotnet8, java11, dotnet6, '
            'nodejs18.x, provided.al2, java8.al2]')
ROLE_PATTERN = r'arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+'


class LambdaAnswers(FidelityTestCase):
    """Shared checks: an error as botocore reads AWS's answer."""

    def assertRefused(self, call, status, code, text, **members):
        """The call fails as recorded: status, Error.Code and Error.Message, and the members of
        the error's body botocore reads (Type, and Message or message as the model names it)."""
        with self.assertRaises(ClientError) as caught:
            call()
        answer = caught.exception.response
        self.assertEqual(answer['ResponseMetadata']['HTTPStatusCode'], status)
        self.assertEqual(answer['Error'], {'Code': code, 'Message': text})
        self.assertEqual({key: value for key, value in answer.items()
                          if key not in ('Error', 'ResponseMetadata')}, members)

    def assertNotFound(self, call, arn):
        self.assertRefused(call, 404, 'ResourceNotFoundException', f'Function not found: {arn}',
                           Message=f'Function not found: {arn}', Type='User')

    def assertInvalid(self, call, message):
        self.assertRefused(call, 400, 'InvalidParameterValueException', message,
                           message=message, Type='User')


class InvokeTest(LambdaAnswers):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        lambdas = cls.client('lambda')
        cls.create_function('echo', ECHO)
        lambdas.publish_version(FunctionName='echo')
        lambdas.create_alias(FunctionName='echo', Name='alias1', FunctionVersion='1')
        cls.create_function('logs', LOGGING, Timeout=10)
        cls.create_function('handler-error', HANDLER_ERROR)
        cls.create_function('runtime-error', RUNTIME_ERROR)
        cls.create_function('response-size', RESPONSE_SIZE, Timeout=30, MemorySize=512)
        cls.create_function('slow', SLOW, Timeout=1)
        cls.create_function('returns-none', 'def handler(event, context):\n    return None\n')
        cls.create_function('throttled', ECHO)
        lambdas.put_function_concurrency(FunctionName='throttled', ReservedConcurrentExecutions=0)

    def invoke(self, **parameters):
        answer = self.client('lambda').invoke(**parameters)
        answer['Payload'] = answer['Payload'].read()
        return answer

    def test_a_missing_function(self):
        """test_lambda.snapshot.json, TestLambdaFeatures::test_invoke_exceptions,
        invoke_function_doesnotexist (recorded 24-11-2025: the ARN ends in :$LATEST)."""
        self.assertNotFound(lambda: self.invoke(FunctionName='doesnotexist'),
                            f'{ARN}:doesnotexist:$LATEST')

    def test_a_missing_alias_and_version(self):
        """test_lambda.snapshot.json, TestLambdaAliases::test_lambda_alias_moving,
        invocation_exc_not_existent; a missing version is named the same way."""
        self.assertNotFound(lambda: self.invoke(FunctionName='echo',
                                                Qualifier='non-existent-alias'),
                            f'{ARN}:echo:non-existent-alias')
        self.assertNotFound(lambda: self.invoke(FunctionName='echo', Qualifier='1221'),
                            f'{ARN}:echo:1221')

    def test_a_function_of_another_region(self):
        """test_lambda_api.snapshot.json, TestLambdaFunction::test_get_function_wrong_region
        [invoke], wrong_region_exception."""
        message = "Functions from 'eu-central-1' are not reachable in this region ('us-east-1')"
        elsewhere = f'arn:aws:lambda:eu-central-1:{ACCOUNT}:function:echo'
        self.assertRefused(lambda: self.invoke(FunctionName=elsewhere), 404,
                           'ResourceNotFoundException', message, Message=message, Type='User')

    def test_a_payload_that_is_not_json(self):
        """test_lambda.snapshot.json, TestLambdaErrors::test_lambda_invoke_payload_encoding_error
        [body-...] and [message-...]: what AWS CLI v2 sends for --payload without
        --cli-binary-format raw-in-base64-out."""
        location = ('\n at [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` '
                    'disabled); line: 1, column: {}]')
        prefix = 'Could not parse request body into json: Could not parse payload into json: '
        for payload, problem in [
                (b'n\x87r\x9e\xe9\xb5\xd7I\xee\x9bmt',
                 'Invalid UTF-8 start byte 0x87' + location.format(3)),
                (b'\x99\xeb,j\x07\xa1zYh',
                 "Unexpected character ((CTRL-CHAR, code 153)): expected a valid value (JSON "
                 "String, Number, Array, Object or token 'null', 'true' or 'false')"
                 + location.format(1))]:
            with self.subTest(payload=payload):
                self.assertRefused(lambda: self.invoke(FunctionName='echo', Payload=payload),
                                   400, 'InvalidRequestContentException', prefix + problem,
                                   message=prefix + problem, Type='User')

    def test_invocation_types(self):
        """test_lambda.snapshot.json, TestLambdaFeatures::test_invocation_type_request_response,
        test_invocation_type_event, test_invocation_type_dry_run [python3.10], invoke-result."""
        answer = self.invoke(FunctionName='echo', Payload=b'{}',
                             InvocationType='RequestResponse')
        self.assertEqual((answer['StatusCode'], answer['ExecutedVersion'],
                          json.loads(answer['Payload'])), (200, '$LATEST', {}))
        self.assertNotIn('FunctionError', answer)
        for invocation_type, status in [('Event', 202), ('DryRun', 204)]:
            with self.subTest(invocation_type=invocation_type):
                answer = self.invoke(FunctionName='echo', Payload=b'{}',
                                     InvocationType=invocation_type)
                self.assertEqual((answer['StatusCode'], answer['Payload']), (status, b''))
                self.assertNotIn('ExecutedVersion', answer)

    def test_executed_version_of_a_version_and_an_alias(self):
        """test_lambda.snapshot.json, TestLambdaAliases::test_lambda_alias_moving,
        invocation_result_qualifier_v1 and invocation_result_qualifier_v1_arn; partial ARNs
        are FunctionNames Invoke takes (its FunctionName pattern in the API reference)."""
        for name, qualifier in [('echo', 'alias1'), (f'{ARN}:echo:alias1', None),
                                ('echo:1', None), (f'{ACCOUNT}:function:echo:1', None),
                                ('function:echo', '1')]:
            with self.subTest(name=name, qualifier=qualifier):
                answer = self.invoke(FunctionName=name, Payload=b'{}',
                                     **({'Qualifier': qualifier} if qualifier else {}))
                self.assertEqual((answer['StatusCode'], answer['ExecutedVersion']), (200, '1'))
        self.assertEqual(self.invoke(FunctionName=f'{ACCOUNT}:function:echo')['ExecutedVersion'],
                         '$LATEST')

    def test_log_tail(self):
        """test_lambda.snapshot.json, TestLambdaFeatures::test_invocation_with_qualifier,
        log_result (the REPORT line left out there) and test_invocation_with_logs, logs: a
        cold start's tail has no INIT_START, and each line ends in a newline."""
        answer = self.invoke(FunctionName='logs', Payload=b'{}', LogType='Tail')
        tail = base64.b64decode(answer['LogResult']).decode()
        self.assertTrue(tail.endswith('\t\n'), repr(tail[-20:]))
        lines = tail.splitlines()
        self.assertEqual(len(lines), 5, lines)
        request_id = answer['ResponseMetadata']['RequestId']
        self.assertEqual(lines[:2], [f'START RequestId: {request_id} Version: $LATEST',
                                     'Lambda log message - print function'])
        self.assertRegex(lines[2], rf'^\[INFO\]\t\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z\t'
                                   rf'{request_id}\tLambda log message - logging module$')
        self.assertEqual(lines[3], f'END RequestId: {request_id}')
        self.assertRegex(lines[4], rf'^REPORT RequestId: {request_id}\tDuration: [0-9.]+ ms\t'
                                   rf'Billed Duration: \d+ ms\tMemory Size: 128 MB\t'
                                   rf'Max Memory Used: \d+ MB\tInit Duration: [0-9.]+ ms\t$')

    def test_an_unhandled_error(self):
        """test_lambda.snapshot.json, TestLambdaErrors::test_lambda_handler_error,
        invocation_error: 200 with FunctionError Unhandled, and the error as the runtime
        reported it (the frame's path is the function's own folder here, /var/task on AWS)."""
        answer = self.invoke(FunctionName='handler-error', Payload=b'{}')
        self.assertEqual((answer['StatusCode'], answer['FunctionError'],
                          answer['ExecutedVersion']), (200, 'Unhandled', '$LATEST'))
        error = json.loads(answer['Payload'])
        self.assertEqual(list(error), ['errorMessage', 'errorType', 'requestId', 'stackTrace'])
        self.assertEqual((error['errorMessage'], error['errorType'], error['requestId']),
                         ('Handler fails', 'Exception', answer['ResponseMetadata']['RequestId']))
        self.assertEqual(len(error['stackTrace']), 1)
        self.assertRegex(error['stackTrace'][0], r'^  File "/.*/handler\.py", line 2, in handler'
                                                 r'\n    raise Exception\("Handler fails"\)\n$')

    def test_an_error_at_import(self):
        """test_lambda.snapshot.json, TestLambdaErrors::test_lambda_runtime_error,
        invocation_error: the request id is empty, the trace ends in the module."""
        answer = self.invoke(FunctionName='runtime-error', Payload=b'{}')
        self.assertEqual((answer['StatusCode'], answer['FunctionError']), (200, 'Unhandled'))
        error = json.loads(answer['Payload'])
        self.assertEqual((error['errorMessage'], error['errorType'], error['requestId']),
                         ('Runtime startup fails', 'Exception', ''))
        self.assertRegex(error['stackTrace'][-1], r'handler\.py", line 1, in <module>\n    '
                                                  r'raise Exception\("Runtime startup fails"\)\n$')

    def test_a_response_over_the_limit(self):
        """test_lambda.snapshot.json, TestLambdaBaseFeatures::test_lambda_too_large_response,
        invoke_result and invoke_result_2 (the next invocation answers the same); and
        test_lambda_large_response (6 MB of response, JSON-encoded, is within the limit)."""
        too_large = json.dumps({'bytenum': 7 * 1024 * 1024}).encode()
        for _ in range(2):
            answer = self.invoke(FunctionName='response-size', Payload=too_large)
            self.assertEqual((answer['StatusCode'], answer['FunctionError'],
                              answer['ExecutedVersion']), (200, 'Unhandled', '$LATEST'))
            self.assertEqual(json.loads(answer['Payload']), {
                'errorMessage': 'Response payload size exceeded maximum allowed payload size '
                                '(6291556 bytes).',
                'errorType': 'Function.ResponseSizeTooLarge'})
        answer = self.invoke(FunctionName='response-size',
                             Payload=json.dumps({'bytenum': 6 * 1024 * 1024}).encode())
        self.assertNotIn('FunctionError', answer)
        self.assertEqual(len(answer['Payload']), 6 * 1024 * 1024 + 2)

    def test_a_timeout(self):
        """test_lambda.snapshot.json, TestLambdaBehavior::test_lambda_invoke_with_timeout,
        invoke-result."""
        answer = self.invoke(FunctionName='slow', Payload=b'{"wait": 2}')
        self.assertEqual((answer['StatusCode'], answer['FunctionError'],
                          answer['ExecutedVersion']), (200, 'Unhandled', '$LATEST'))
        request_id = answer['ResponseMetadata']['RequestId']
        self.assertEqual(json.loads(answer['Payload']), {
            'errorType': 'Sandbox.Timedout',
            'errorMessage': f'RequestId: {request_id} Error: Task timed out after 1.00 seconds'})

    def test_a_function_that_returns_nothing(self):
        """test_lambda.snapshot.json, TestLambdaFeatures::test_invocation_type_no_return_payload
        [python-RequestResponse] and [python-Event], invoke-result."""
        answer = self.invoke(FunctionName='returns-none', Payload=b'{}')
        self.assertEqual((answer['StatusCode'], answer['Payload']), (200, b'null'))
        answer = self.invoke(FunctionName='returns-none', Payload=b'{}', InvocationType='Event')
        self.assertEqual((answer['StatusCode'], answer['Payload']), (202, b''))

    def test_no_reserved_concurrency(self):
        """test_lambda.snapshot.json, TestLambdaConcurrency::test_reserved_concurrency,
        exc_no_cap_requestresponse (429 with its Reason) and invoke_result (an event is still
        accepted, 202)."""
        self.assertRefused(lambda: self.invoke(FunctionName='throttled',
                                               InvocationType='RequestResponse'),
                           429, 'TooManyRequestsException', 'Rate Exceeded.',
                           Reason='ReservedFunctionConcurrentInvocationLimitExceeded',
                           Type='User', message='Rate Exceeded.')
        self.assertEqual(self.invoke(FunctionName='throttled', InvocationType='Event')[
            'StatusCode'], 202)

    def test_an_invocation_type_lambda_does_not_have(self):
        """AWS's answer to InvocationType dry_run (quoted in github.com/ex-aws/ex_aws pull 442):
        400 ValidationException, {"message": ...} listing the types."""
        status, headers, body = self.signed(
            'POST', '/2015-03-31/functions/echo/invocations', b'{}',
            {'X-Amz-Invocation-Type': 'dry_run'})
        self.assertEqual((status, headers['x-amzn-ErrorType'], json.loads(body)), (
            400, 'ValidationException',
            {'message': "1 validation error detected: Value 'dry_run' at 'invocationType' failed "
                        "to satisfy constraint: Member must satisfy enum value set: [DryRun, "
                        "RequestResponse, Event]"}))

    def test_a_request_over_the_limit(self):
        """AWS Lambda quotas (docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html):
        6 MB for a synchronous request; over it, 413 RequestEntityTooLargeException, as the
        front end answers before Lambda sees the request."""
        message = 'Request must be smaller than 6291456 bytes for the InvokeFunction operation'
        status, headers, body = self.signed(
            'POST', '/2015-03-31/functions/echo/invocations',
            json.dumps({'a': 'x' * (6 * 1024 * 1024)}).encode())
        self.assertEqual((status, headers['x-amzn-ErrorType'], json.loads(body)),
                         (413, 'RequestEntityTooLargeException', {'Message': message}))


class ControlPlaneTest(LambdaAnswers):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.create_function('exists', ECHO)

    @property
    def lambdas(self):
        return self.client('lambda')

    def create(self, name, **settings):
        settings = {'Runtime': 'python3.12', 'Role': self.role_arn, 'Handler': 'handler.handler',
                    'Code': {'ZipFile': function_zip(ECHO)}, **settings}
        return self.lambdas.create_function(FunctionName=name, **settings)

    def test_code_locations_download_here_and_not_from_aws(self):
        """test_lambda_api.snapshot.json, TestLambdaFunction::test_function_lifecycle
        (get_function_response: Code.Location, a presigned URL, and RepositoryType S3) and
        TestLambdaLayer::test_layer_lifecycle (Content.Location): the zip as uploaded, from
        this endpoint, for a URL that is not altered."""
        answer = self.lambdas.get_function(FunctionName='exists')
        code = answer['Code']
        self.assertEqual(code['RepositoryType'], 'S3')
        self.assertTrue(code['Location'].startswith(self.url + '/'), code['Location'])
        status, headers, body = self.raw(urllib.request.Request(code['Location']))
        self.assertEqual((status, headers['Content-Type']), (200, 'application/zip'))
        self.assertEqual(base64.b64encode(hashlib.sha256(body).digest()).decode(),
                         answer['Configuration']['CodeSha256'])
        status, _, body = self.raw(urllib.request.Request(code['Location'][:-1] + (
            '0' if code['Location'][-1] != '0' else '1')))
        self.assertEqual(status, 403)
        self.assertIn(b'<Code>SignatureDoesNotMatch</Code>', body)
        layer_zip = function_zip('X = 1\n')
        layer = self.lambdas.publish_layer_version(LayerName='downloaded',
                                                   Content={'ZipFile': layer_zip})
        self.assertTrue(layer['Content']['Location'].startswith(self.url + '/'))
        self.assertEqual(self.raw(urllib.request.Request(layer['Content']['Location']))[2],
                         layer_zip)

    def test_event_invoke_config_of_what_is_not_there(self):
        """test_lambda_api.snapshot.json, TestLambdaEventInvokeConfig::
        test_lambda_eventinvokeconfig_exceptions: put_functionname_name_notfound,
        put_alias_doesnotexist, list_function_doesnotexist,
        update_eventinvokeconfig_function_doesnotexist, get_function_doesnotexist,
        delete_function_doesnotexist, get_qualifier_doesnotexist,
        update_eventinvokeconfig_config_doesnotexist_without_qualifier."""
        gone = "The function doesn't exist."
        for call in (lambda: self.lambdas.put_function_event_invoke_config(
                         FunctionName='doesnotexist', MaximumRetryAttempts=1),
                     lambda: self.lambdas.put_function_event_invoke_config(
                         FunctionName='exists', Qualifier='doesnotexist',
                         MaximumRetryAttempts=1),
                     lambda: self.lambdas.list_function_event_invoke_configs(
                         FunctionName='doesnotexist'),
                     lambda: self.lambdas.update_function_event_invoke_config(
                         FunctionName='doesnotexist', MaximumRetryAttempts=0)):
            self.assertRefused(call, 404, 'ResourceNotFoundException', gone, Message=gone,
                               Type='User')
        arn = 'arn:aws:lambda:us-east-1:123456789012:function:'
        for call, qualified in (
                (lambda: self.lambdas.get_function_event_invoke_config(
                    FunctionName='doesnotexist'), 'doesnotexist:$LATEST'),
                (lambda: self.lambdas.delete_function_event_invoke_config(
                    FunctionName='doesnotexist'), 'doesnotexist:$LATEST'),
                (lambda: self.lambdas.get_function_event_invoke_config(
                    FunctionName='exists', Qualifier='doesnotexist'), 'exists:doesnotexist'),
                (lambda: self.lambdas.update_function_event_invoke_config(
                    FunctionName='exists', MaximumRetryAttempts=0), 'exists:$LATEST')):
            message = f"The function {arn}{qualified} doesn't have an EventInvokeConfig"
            self.assertRefused(call, 404, 'ResourceNotFoundException', message,
                               Message=message, Type='User')

    def test_create_function_refusals(self):
        """test_lambda_api.snapshot.json, TestLambdaFunction::test_create_lambda_exceptions:
        invalid_role_arn_exc, invalid_runtime_exc, uppercase_runtime_exc,
        multiple_architectures, uppercase_architecture, invalid_zip_exc."""
        self.assertRefused(lambda: self.create('invalid', Role='r1'), 400, 'ValidationException',
                           f"1 validation error detected: Value 'r1' at 'role' failed to satisfy "
                           f"constraint: Member must satisfy regular expression pattern: "
                           f"{ROLE_PATTERN}")
        for runtime in ('non-existent-runtime', 'PYTHON3.9'):
            self.assertInvalid(lambda: self.create('invalid', Runtime=runtime),
                               f"Value {runtime} at 'runtime' failed to satisfy constraint: "
                               f"Member must satisfy enum value set: {RUNTIMES} or be a valid ARN")
        self.assertRefused(lambda: self.create('invalid', Architectures=['x86_64', 'arm64']),
                           400, 'ValidationException',
                           "1 validation error detected: Value '[x86_64, arm64]' at "
                           "'architectures' failed to satisfy constraint: Member must have "
                           "length less than or equal to 1")
        self.assertRefused(lambda: self.create('invalid', Architectures=['X86_64']),
                           400, 'ValidationException',
                           "1 validation error detected: Value '[X86_64]' at 'architectures' "
                           "failed to satisfy constraint: Member must satisfy constraint: "
                           "[Member must satisfy enum value set: [x86_64, arm64], Member must "
                           "not be null]")
        self.assertInvalid(lambda: self.create(
            'invalid', Runtime='python3.9',
            Code={'ZipFile': b'this is not a zipfile, just a random string'}),
            'Could not unzip uploaded file. Please check your file, then try to upload again.')
        self.assertNotFound(lambda: self.lambdas.get_function(FunctionName='invalid'),
                            f'{ARN}:invalid')

    def test_a_retired_runtime(self):
        """test_lambda_api.snapshot.json, TestLambdaFunction::
        test_create_deprecated_function_runtime_with_validation_enabled[python3.7],
        deprecation_error."""
        self.assertInvalid(lambda: self.create('retired', Runtime='python3.7'),
                           'The runtime parameter of python3.7 is no longer supported for '
                           'creating or updating AWS Lambda functions. We recommend you use a '
                           'supported runtime while creating or updating functions.')

    def test_update_function_configuration_refusals(self):
        """test_lambda_api.snapshot.json, TestLambdaFunction::test_update_lambda_exceptions:
        invalid_role_arn_exc, invalid_runtime_exc, uppercase_runtime_exc; the function keeps
        its configuration."""
        update = self.lambdas.update_function_configuration
        self.assertRefused(lambda: update(FunctionName='exists', Role='r1'),
                           400, 'ValidationException',
                           f"1 validation error detected: Value 'r1' at 'role' failed to satisfy "
                           f"constraint: Member must satisfy regular expression pattern: "
                           f"{ROLE_PATTERN}")
        for runtime in ('non-existent-runtime', 'PYTHON3.9'):
            self.assertInvalid(lambda: update(FunctionName='exists', Runtime=runtime),
                               f"Value {runtime} at 'runtime' failed to satisfy constraint: "
                               f"Member must satisfy enum value set: {RUNTIMES} or be a valid ARN")
        configuration = self.lambdas.get_function_configuration(FunctionName='exists')
        self.assertEqual((configuration['Role'], configuration['Runtime']),
                         (self.role_arn, 'python3.12'))

    def test_architectures_on_update_function_code(self):
        """test_lambda.snapshot.json, TestLambdaBehavior::test_mixed_architecture,
        update_function_code_response: Architectures [arm64] from an x86_64 function. Invoking
        it on this x86_64 machine is refused by this endpoint with what to do (AWS runs it)."""
        self.create('mixed')
        self.lambdas.get_waiter('function_active_v2').wait(FunctionName='mixed')
        answer = self.lambdas.update_function_code(FunctionName='mixed',
                                                   ZipFile=function_zip(ECHO),
                                                   Architectures=['arm64'])
        self.assertEqual(answer['Architectures'], ['arm64'])
        self.assertEqual(self.lambdas.get_function_configuration(
            FunctionName='mixed')['Architectures'], ['arm64'])
        with self.assertRaises(ClientError) as caught:
            self.lambdas.invoke(FunctionName='mixed', Payload=b'{}')
        self.assertIn('ARCH=x86_64', caught.exception.response['Error']['Message'])

    def test_a_missing_function(self):
        """test_lambda_api.snapshot.json, TestLambdaFunction::test_ops_on_nonexisting_fn
        [get_function], [get_function_configuration], [delete_function],
        not_found_exception."""
        for call in (self.lambdas.get_function, self.lambdas.get_function_configuration,
                     self.lambdas.delete_function):
            with self.subTest(call=call.__name__):
                self.assertNotFound(lambda: call(FunctionName='doesnotexist'),
                                    f'{ARN}:doesnotexist')

    def test_a_missing_version(self):
        """test_lambda_api.snapshot.json, TestLambdaFunction::test_ops_on_nonexisting_version
        [get_function], [get_function_configuration], version_not_found_exception."""
        for call in (self.lambdas.get_function, self.lambdas.get_function_configuration):
            with self.subTest(call=call.__name__):
                self.assertNotFound(lambda: call(FunctionName='exists', Qualifier='1221'),
                                    f'{ARN}:exists:1221')

    def test_a_qualifier_that_differs_from_the_arns(self):
        """test_lambda_api.snapshot.json, TestLambdaFunction::test_ops_with_arn_qualifier_mismatch
        [get_function], [get_function_configuration], [delete_function]: not_match_exception
        and match_exception."""
        for call in (self.lambdas.get_function, self.lambdas.get_function_configuration,
                     self.lambdas.delete_function):
            with self.subTest(call=call.__name__):
                self.assertInvalid(lambda: call(FunctionName=f'{ARN}:some-function:1',
                                                Qualifier='$LATEST'),
                                   'The derived qualifier from the function name does not '
                                   'match the specified qualifier.')
                matching = lambda: call(FunctionName=f'{ARN}:some-function:$LATEST',
                                        Qualifier='$LATEST')
                if call == self.lambdas.delete_function:
                    self.assertInvalid(matching, '$LATEST version cannot be deleted without '
                                                 'deleting the function.')
                else:
                    self.assertNotFound(matching, f'{ARN}:some-function:$LATEST')

    def test_deleting_a_missing_version(self):
        """test_lambda_api.snapshot.json, TestLambdaFunction::test_delete_on_nonexisting_version:
        deleting a version that is not there succeeds, twice; once the function is gone,
        delete_function_response_non_existent and ..._with_qualifier."""
        self.create('deleted')
        for _ in range(2):
            self.lambdas.delete_function(FunctionName='deleted', Qualifier='1233')
        self.lambdas.delete_function(FunctionName='deleted')
        self.assertNotFound(lambda: self.lambdas.delete_function(FunctionName='deleted'),
                            f'{ARN}:deleted')
        self.assertNotFound(lambda: self.lambdas.delete_function(FunctionName='deleted',
                                                                 Qualifier='1233'),
                            f'{ARN}:deleted')

    def test_a_function_of_another_region(self):
        """test_lambda_api.snapshot.json, TestLambdaFunction::test_get_function_wrong_region
        [get_function], [get_function_configuration], [delete_function],
        wrong_region_exception."""
        message = "Functions from 'eu-central-1' are not reachable in this region ('us-east-1')"
        for call in (self.lambdas.get_function, self.lambdas.get_function_configuration,
                     self.lambdas.delete_function):
            with self.subTest(call=call.__name__):
                self.assertRefused(
                    lambda: call(FunctionName=f'arn:aws:lambda:eu-central-1:{ACCOUNT}:function:'
                                              f'exists'),
                    404, 'ResourceNotFoundException', message, Message=message, Type='User')

    def test_partial_arns(self):
        """test_lambda_api.snapshot.json, TestPartialARNMatching::
        test_update_function_configuration_full_arn: a full ARN, a name and a partial ARN all
        name the function."""
        for name in (f'{ARN}:exists', 'exists', f'{ACCOUNT}:function:exists'):
            with self.subTest(name=name):
                self.lambdas.update_function_configuration(FunctionName=name,
                                                           Description='Changed-Description')
                self.lambdas.get_waiter('function_updated_v2').wait(FunctionName='exists')
                self.assertEqual(self.lambdas.get_function(FunctionName=name)['Configuration'][
                    'FunctionName'], 'exists')

    def test_publish_version_of_other_code(self):
        """test_lambda_api.snapshot.json, TestLambdaVersions::test_publish_with_wrong_sha256,
        publish_wrong_sha256_exc, then publish_result with the right one."""
        sha = self.lambdas.get_function(FunctionName='exists')['Configuration']['CodeSha256']
        self.assertInvalid(lambda: self.lambdas.publish_version(
            FunctionName='exists', CodeSha256='somenonexistentsha256'),
            f'CodeSHA256 (somenonexistentsha256) is different from current CodeSHA256 in '
            f'$LATEST ({sha}). Please try again with the CodeSHA256 in $LATEST.')
        self.assertEqual(self.lambdas.publish_version(FunctionName='exists', CodeSha256=sha)[
            'CodeSha256'], sha)

    def test_alias_refusals(self):
        """test_lambda_api.snapshot.json: TestLambdaAlias::test_alias_lifecycle,
        get_function_alias_notfound_exc and get_function_alias_byarn_notfound_exc;
        test_non_existent_alias_update, update_alias_response; test_non_existent_alias_deletion,
        delete_alias_response (204); test_notfound_and_invalid_routingconfigs,
        target_version_doesnotexist, routing_config_exc_fn_doesnotexist and
        alias_does_not_exist_esc; an alias Name outside the pattern of the Lambda API
        reference's CreateAlias (docs.aws.amazon.com/lambda/latest/api/API_CreateAlias.html),
        refused in the words of the recorded ValidationExceptions."""
        self.lambdas.publish_version(FunctionName='exists')
        self.assertNotFound(lambda: self.lambdas.get_function(FunctionName='exists',
                                                              Qualifier='aliasdoesnotexist'),
                            f'{ARN}:exists:aliasdoesnotexist')
        self.assertNotFound(lambda: self.lambdas.get_function(
            FunctionName=f'{ARN}:exists:aliasdoesnotexist'), f'{ARN}:exists:aliasdoesnotexist')
        message = f'Alias not found: {ARN}:exists:non-existent'
        self.assertRefused(lambda: self.lambdas.update_alias(
            FunctionName='exists', Name='non-existent', FunctionVersion='1'),
            404, 'ResourceNotFoundException', message, Message=message, Type='User')
        self.assertEqual(self.lambdas.delete_alias(FunctionName='exists', Name='non-existent')[
            'ResponseMetadata']['HTTPStatusCode'], 204)
        routing = {'AdditionalVersionWeights': {'2': 0.5}}
        self.assertNotFound(lambda: self.lambdas.create_alias(
            FunctionName='exists', Name='custom', FunctionVersion='10', RoutingConfig=routing),
            f'{ARN}:exists:10')
        self.assertNotFound(lambda: self.lambdas.create_alias(
            FunctionName='exists-unknown', Name='custom', FunctionVersion='1',
            RoutingConfig=routing), f'{ARN}:exists-unknown:1')
        for name in ('1', 'a!b'):
            self.assertRefused(lambda: self.lambdas.create_alias(
                FunctionName='exists', Name=name, FunctionVersion='$LATEST'),
                400, 'ValidationException',
                f"1 validation error detected: Value '{name}' at 'name' failed to satisfy "
                f"constraint: Member must satisfy regular expression pattern: "
                f"(?!^[0-9]+$)([a-zA-Z0-9-_]+)")
        message = f'Cannot find alias arn: {ARN}:exists:non-existent'
        self.assertRefused(lambda: self.lambdas.get_alias(FunctionName='exists',
                                                          Name='non-existent'),
                           404, 'ResourceNotFoundException', message, Message=message, Type='User')

    def test_function_names_and_qualifiers_outside_the_model(self):
        """test_lambda_api.snapshot.json, TestLambdaFunction::
        test_function_name_and_qualifier_validation[<case>-get_function], [<case>-invoke] and
        [<case>-delete_function], <call>_exception: each case's refusal, the same for the
        three calls (the recording keeps the code and each "Value ... constraint" part, in
        sorted order)."""
        name_pattern = ('(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?'
                        r'-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_\.]+)'
                        r'(:(\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9-_]+))?')
        qualifier_pattern = r'\$(LATEST(\.PUBLISHED)?)|[a-zA-Z0-9-_$]+'
        too_long = 'a' * 129

        def name_refused(value):
            return (f"Value '{value}' at 'functionName' failed to satisfy constraint: Member "
                    f"must satisfy regular expression pattern: {name_pattern}")

        cases = [  # (FunctionName, Qualifier, the refusal's parts)
            ('my-function!', None, [name_refused('my-function!')]),
            ('*', None, [name_refused('*')]),
            ('my-function', 'invalid!', [
                f"Value 'invalid!' at 'qualifier' failed to satisfy constraint: Member must "
                f"satisfy regular expression pattern: {qualifier_pattern}"]),
            ('my-function', too_long, [
                f"Value '{too_long}' at 'qualifier' failed to satisfy constraint: Member must "
                f"have length less than or equal to 128"])]
        cases += [(name, None, [name_refused(name)]) for name in (
            'invalid-account:function:my-function',
            f'arn:aws:lambda:invalid-region:{ACCOUNT}:function:my-function',
            f'arn:aws:ec2:{REGION}:{ACCOUNT}:instance:i-1234567890abcdef0',
            f'{ARN}:my-function:1:2', 'function:my-function:$LATEST:extra',
            f'arn:aws:lambda::{ACCOUNT}:function:my-function',
            f'arn:aws:lambda:{REGION}::function:my-function', f'{ARN}:my-function:$LATES')]
        invalid_region = f'arn:aws:lambda:invalid-region:{ACCOUNT}:function:my-function-' + (
            'a' * 170)
        cases.append((invalid_region, too_long, [
            f"Value '{too_long}' at 'qualifier' failed to satisfy constraint: Member must have "
            f"length less than or equal to 128", name_refused(invalid_region)]))
        calls = {'invoke': self.lambdas.invoke, 'get_function': self.lambdas.get_function,
                 'delete_function': self.lambdas.delete_function}
        for name, qualifier, parts in cases:
            for call_name, call in calls.items():
                with self.subTest(call=call_name, name=name[:60], qualifier=qualifier):
                    parameters = {'FunctionName': name, **(
                        {'Qualifier': qualifier} if qualifier else {})}
                    with self.assertRaises(ClientError) as caught:
                        call(**parameters)
                    answer = caught.exception.response
                    self.assertEqual((answer['ResponseMetadata']['HTTPStatusCode'],
                                      answer['Error']['Code']), (400, 'ValidationException'))
                    count, _, refusals = answer['Error']['Message'].partition(' detected: ')
                    self.assertEqual(count, f'{len(parts)} validation error'
                                            f'{"s" if len(parts) > 1 else ""}')
                    self.assertEqual(sorted(refusals.split('; ')), sorted(parts))

    def test_names_the_model_allows_that_name_no_function(self):
        """test_lambda_api.snapshot.json, TestLambdaFunction::
        test_function_name_and_qualifier_validation[function_name_too_long-...],
        [incomplete_arn-...] and [latest_version_with_additional_qualifier-...]:
        64 characters is a limit of names created, not of names looked up."""
        for name, invoke_arn, get_arn in [
                ('a' * 65, f'{ARN}:{"a" * 65}:$LATEST', f'{ARN}:{"a" * 65}'),
                (f'arn:aws:lambda:{REGION}:{ACCOUNT}:function', f'{ARN}:function:$LATEST',
                 f'{ARN}:function')]:
            with self.subTest(name=name):
                self.assertNotFound(lambda: self.lambdas.invoke(FunctionName=name), invoke_arn)
                self.assertNotFound(lambda: self.lambdas.get_function(FunctionName=name),
                                    get_arn)
        for call in (self.lambdas.invoke, self.lambdas.get_function):
            self.assertInvalid(lambda: call(FunctionName=f'{ARN}:my-function:$LATEST',
                                            Qualifier='1'),
                               'The derived qualifier from the function name does not match '
                               'the specified qualifier.')

    def test_create_function_by_arn_and_its_refusals(self):
        """test_lambda_api.snapshot.json, TestLambdaFunction::test_function_arns:
        create-function-arn-response and create-function-partial-arn-response (the function is
        named by the ARN's last part), invalid_function_name_exc, long_function_name_exc,
        long_function_arn_exc, function_arn_other_region_exc, function_arn_other_account_exc."""
        for name, given in [('by-arn', f'{ARN}:by-arn'),
                            ('by-partial-arn', f'{ACCOUNT}:function:by-partial-arn')]:
            with self.subTest(given=given):
                answer = self.create(given)
                self.assertEqual((answer['FunctionName'], answer['FunctionArn']),
                                 (name, f'{ARN}:{name}'))
        create_pattern = ('(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?'
                          r'-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_]+)'
                          r'(:(\$LATEST|[a-zA-Z0-9-_]+))?')
        self.assertRefused(lambda: self.create('invalid:function:name'), 400,
                           'ValidationException',
                           "1 validation error detected: Value 'invalid:function:name' at "
                           "'functionName' failed to satisfy constraint: Member must satisfy "
                           f"regular expression pattern: {create_pattern}")
        self.assertInvalid(lambda: self.create('a' * 65),
                           f"1 validation error detected: Value '{'a' * 65}' at 'functionName' "
                           f"failed to satisfy constraint: Member must have length less than or "
                           f"equal to 64")
        long_arn = f'{ARN}:' + 'a' * (140 - len(ARN))
        self.assertRefused(lambda: self.create(long_arn), 400, 'ValidationException',
                           f"1 validation error detected: Value '{long_arn}' at 'functionName' "
                           f"failed to satisfy constraint: Member must have length less than or "
                           f"equal to 140")
        message = ("Functions from 'ap-southeast-1' are not reachable in this region "
                   "('us-east-1')")
        self.assertRefused(lambda: self.create(
            f'arn:aws:lambda:ap-southeast-1:{ACCOUNT}:function:elsewhere'), 404,
            'ResourceNotFoundException', message, Message=message, Type='User')
        with self.assertRaises(ClientError) as caught:
            self.create(f'arn:aws:lambda:{REGION}:111111111111:function:elsewhere')
        self.assertEqual((caught.exception.response['ResponseMetadata']['HTTPStatusCode'],
                          caught.exception.response['Error']),
                         (403, {'Code': 'AccessDeniedException', 'Message': None}))

    def test_configuration_outside_lambdas_limits(self):
        """AWS Lambda quotas (docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html):
        a timeout of at most 900 s and at most 10,240 MB of memory, refused as AWS words it
        (ValidationException "... Value '901' at 'timeout' ... less than or equal to 900", and
        "'MemorySize' value failed to satisfy constraint: ..."); a Handler outside the model's
        pattern [^\\s]+ (the model's constraints, as in test_create_lambda_exceptions)."""
        update = self.lambdas.update_function_configuration
        self.assertRefused(lambda: self.create('too-long', Timeout=901), 400,
                           'ValidationException',
                           "1 validation error detected: Value '901' at 'timeout' failed to "
                           "satisfy constraint: Member must have value less than or equal to 900")
        self.assertRefused(lambda: update(FunctionName='exists', MemorySize=10241), 400,
                           'ValidationException',
                           "'MemorySize' value failed to satisfy constraint: Member must have "
                           "value less than or equal to 10240")
        self.assertRefused(lambda: update(FunctionName='exists', Handler='handler .handler'), 400,
                           'ValidationException',
                           "1 validation error detected: Value 'handler .handler' at 'handler' "
                           "failed to satisfy constraint: Member must satisfy regular expression "
                           "pattern: [^\\s]+")
        configuration = self.lambdas.get_function_configuration(FunctionName='exists')
        self.assertEqual((configuration['MemorySize'], configuration['Handler']),
                         (128, 'handler.handler'))

    def test_permission_refusals(self):
        """test_lambda_api.snapshot.json, TestLambdaPermissions::test_permission_exceptions:
        each refusal recorded there, in its order; test_remove_multi_permissions,
        remove_permission_exception_nonexisting_sid; add_permission answers 201
        (add_permission_1)."""
        self.create('granting')
        self.lambdas.get_waiter('function_active_v2').wait(FunctionName='granting')
        self.lambdas.publish_version(FunctionName='granting')

        def add(**parameters):
            return self.lambdas.add_permission(**{
                'FunctionName': 'granting', 'Action': 'lambda:InvokeFunction',
                'StatementId': 's3', 'Principal': 's3.amazonaws.com', **parameters})

        def not_found(call, message):
            self.assertRefused(call, 404, 'ResourceNotFoundException', message,
                               Message=message, Type='User')

        self.assertRefused(lambda: add(StatementId='example.com'), 400, 'ValidationException',
                           "1 validation error detected: Value 'example.com' at 'statementId' "
                           "failed to satisfy constraint: Member must satisfy regular "
                           "expression pattern: ([a-zA-Z0-9-_]+)")
        self.assertInvalid(lambda: add(FunctionName='granting:alias-not-42', Qualifier='42'),
                           'The derived qualifier from the function name does not match the '
                           'specified qualifier.')
        self.assertInvalid(lambda: add(FunctionName='granting:$LATEST', Qualifier='$LATEST'),
                           'We currently do not support adding policies for $LATEST.')
        self.assertInvalid(lambda: add(StatementId='lambda', Principal='invalid.nonaws.com'),
                           'The provided principal was invalid. Please check the principal and '
                           'try again.')
        missing = 'The resource you requested does not exist.'
        not_found(lambda: self.lambdas.get_policy(FunctionName='doesnotexist'), missing)
        not_found(lambda: self.lambdas.get_policy(FunctionName='granting', Qualifier='42'),
                  missing)
        self.assertNotFound(lambda: add(FunctionName='doesnotexist'), f'{ARN}:doesnotexist')
        not_found(lambda: self.lambdas.remove_permission(FunctionName='granting',
                                                         StatementId='s3'),
                  'No policy is associated with the given resource.')
        not_found(lambda: add(FunctionName='granting:alias-doesnotexist'),
                  f'Cannot find alias arn: {ARN}:granting:alias-doesnotexist')
        self.assertNotFound(lambda: add(Qualifier='42'), f'{ARN}:granting:42')
        self.assertRefused(lambda: add(Qualifier='invalid-qualifier-with-?-char'), 400,
                           'ValidationException',
                           "1 validation error detected: Value 'invalid-qualifier-with-?-char' "
                           "at 'qualifier' failed to satisfy constraint: Member must satisfy "
                           r"regular expression pattern: \$(LATEST(\.PUBLISHED)?)|[a-zA-Z0-9-_$]+")
        self.assertNotFound(lambda: add(Qualifier='valid-with-$-but-doesnotexist'),
                            f'{ARN}:granting:valid-with-$-but-doesnotexist')
        self.assertEqual(add()['ResponseMetadata']['HTTPStatusCode'], 201)
        self.assertRefused(lambda: add(), 409, 'ResourceConflictException',
                           'The statement id (s3) provided already exists. Please provide a new '
                           'statement id, or remove the existing statement.',
                           message='The statement id (s3) provided already exists. Please '
                                   'provide a new statement id, or remove the existing '
                                   'statement.', Type='User')
        not_found(lambda: self.lambdas.remove_permission(FunctionName='doesnotexist',
                                                         StatementId='s3'),
                  f'No policy found for: {ARN}:doesnotexist')
        not_found(lambda: self.lambdas.remove_permission(
            FunctionName='granting', StatementId='s3', Qualifier='alias-doesnotexist'),
            f'Cannot find alias arn: {ARN}:granting:alias-doesnotexist')
        not_found(lambda: self.lambdas.remove_permission(FunctionName='granting',
                                                         StatementId='non-existent'),
                  'Statement non-existent is not found in resource policy.')
        self.lambdas.remove_permission(FunctionName='granting', StatementId='s3')
        not_found(lambda: self.lambdas.get_policy(FunctionName='granting'), missing)

    def test_reserved_concurrency_refusals(self):
        """test_lambda_api.snapshot.json, TestLambdaReservedConcurrency::
        test_function_concurrency_exceptions: put_function_concurrency_with_function_name_
        doesnotexist (and ..._and_invalid_concurrency), put_function_concurrency_with_qualified_
        arn."""
        for reserved in (1, 0):
            self.assertNotFound(lambda: self.lambdas.put_function_concurrency(
                FunctionName='doesnotexist', ReservedConcurrentExecutions=reserved),
                f'{ARN}:doesnotexist:$LATEST')
        self.assertInvalid(lambda: self.lambdas.put_function_concurrency(
            FunctionName=f'{ARN}:exists:$LATEST', ReservedConcurrentExecutions=0),
            'This operation is permitted on Lambda functions only. Aliases and versions do not '
            'support this operation. Please specify either a function name or an unqualified '
            'function ARN.')
        self.assertNotIn('Concurrency', self.lambdas.get_function(FunctionName='exists'))

    def test_function_url_configuration_refusals(self):
        """test_lambda_api.snapshot.json, TestLambdaUrl::test_url_config_exceptions:
        <call>_name_doesnotexist, _arn_doesnotexist, _name_doesnotexist_qualifier,
        _qualifier_version, _qualifier_alias_doesnotexist, _qualifier_alias_doesnotmatch_arn,
        _qualifier_latest, for create, get, update and delete; test_url_config_list_paging,
        url_config_alias (the alias's ARN); test_lambda.snapshot.json,
        TestLambdaURL::test_lambda_url_invalid_invoke_mode."""
        self.create('with-url')
        self.lambdas.get_waiter('function_active_v2').wait(FunctionName='with-url')
        self.lambdas.publish_version(FunctionName='with-url')
        self.lambdas.create_alias(FunctionName='with-url', Name='urlalias', FunctionVersion='1')
        pattern = r'((?!^\d+$)^[0-9a-zA-Z-_]+$)'
        missing = 'The resource you requested does not exist.'
        calls = {'create': (self.lambdas.create_function_url_config, 'Function does not exist'),
                 'update': (self.lambdas.update_function_url_config, 'Function does not exist'),
                 'get': (self.lambdas.get_function_url_config, missing),
                 'delete': (self.lambdas.delete_function_url_config, missing)}
        for call_name, (call, not_there) in calls.items():
            settings = {'AuthType': 'NONE'} if call_name in ('create', 'update') else {}
            with self.subTest(call=call_name):
                for name in ('doesnotexist', f'{ARN}:doesnotexist'):
                    self.assertRefused(lambda: call(FunctionName=name, **settings), 404,
                                       'ResourceNotFoundException', not_there,
                                       Message=not_there, Type='User')
                self.assertRefused(lambda: call(FunctionName='with-url', Qualifier='v1',
                                                **settings), 404, 'ResourceNotFoundException',
                                   not_there, Message=not_there, Type='User')
                for qualifier in ('1', '$LATEST'):
                    self.assertRefused(
                        lambda: call(FunctionName='with-url', Qualifier=qualifier, **settings),
                        400, 'ValidationException',
                        f"1 validation error detected: Value '{qualifier}' at 'qualifier' failed "
                        f"to satisfy constraint: Member must satisfy regular expression pattern: "
                        f"{pattern}")
                if call_name != 'delete':
                    self.assertInvalid(lambda: call(FunctionName='with-url:urlalias-doesnotmatch',
                                                    Qualifier='urlalias', **settings),
                                       'The derived qualifier from the function name does not '
                                       'match the specified qualifier.')
        self.assertRefused(lambda: self.lambdas.create_function_url_config(
            FunctionName='with-url', AuthType='NONE', InvokeMode='UNKNOWN'),
            400, 'ValidationException',
            "1 validation error detected: Value 'UNKNOWN' at 'invokeMode' failed to satisfy "
            "constraint: Member must satisfy enum value set: [RESPONSE_STREAM, BUFFERED]")
        url = self.lambdas.create_function_url_config(FunctionName='with-url',
                                                      Qualifier='urlalias', AuthType='NONE')
        self.assertEqual((url['ResponseMetadata']['HTTPStatusCode'], url['FunctionArn']),
                         (201, f'{ARN}:with-url:urlalias'))

    def test_configuration_as_answered(self):
        """test_lambda_api.snapshot.json, TestLambdaFunction::test_function_lifecycle
        (create_response, get_function_response, update_func_conf_response,
        get_function_response_postupdate) and TestLambdaVersions::test_version_lifecycle,
        test_publish_with_wrong_revisionid: the members AWS answers, the states, and a new
        RevisionId at each step."""
        created = self.create('configured', MemorySize=256, Timeout=5)
        self.assertEqual((created['State'], created['StateReason'], created['StateReasonCode']),
                         ('Pending', 'The function is being created.', 'Creating'))
        self.assertNotIn('Layers', created)
        self.assertEqual(created['LoggingConfig'],
                         {'LogFormat': 'Text', 'LogGroup': '/aws/lambda/configured'})
        self.assertRegex(created['RuntimeVersionConfig']['RuntimeVersionArn'],
                         rf'^arn:aws:lambda:{REGION}::runtime:[0-9a-f]{{64}}$')
        self.assertRegex(created['LastModified'],
                         r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$')
        fetched = self.lambdas.get_function(FunctionName='configured')['Configuration']
        self.assertEqual((fetched['State'], fetched['LastUpdateStatus']), ('Active', 'Successful'))
        updated = self.lambdas.update_function_configuration(FunctionName='configured',
                                                             Description='Changed-Description')
        self.assertEqual((updated['LastUpdateStatus'], updated['LastUpdateStatusReason'],
                          updated['LastUpdateStatusReasonCode']),
                         ('InProgress', 'The function is being created.', 'Creating'))
        after = self.lambdas.get_function(FunctionName='configured')['Configuration']
        revisions = [created['RevisionId'], fetched['RevisionId'], updated['RevisionId'],
                     after['RevisionId']]
        self.assertEqual(len(set(revisions)), 4, revisions)
        message = ('The Revision Id provided does not match the latest Revision Id. Call the '
                   'GetFunction/GetAlias API to retrieve the latest Revision Id')
        self.assertRefused(lambda: self.lambdas.publish_version(FunctionName='configured',
                                                                RevisionId='wrong'),
                           412, 'PreconditionFailedException', message, message=message,
                           Type='User')
        for update in (lambda: self.lambdas.update_function_configuration(
                           FunctionName='configured', Description='three', RevisionId='wrong'),
                       lambda: self.lambdas.update_function_code(
                           FunctionName='configured', ZipFile=function_zip(ECHO),
                           RevisionId='wrong')):
            self.assertRefused(update, 412, 'PreconditionFailedException', message,
                               message=message, Type='User')
        version = self.lambdas.publish_version(FunctionName='configured',
                                               RevisionId=after['RevisionId'])
        self.assertEqual(self.lambdas.get_function(FunctionName='configured', Qualifier=version[
            'Version'])['Configuration']['RevisionId'], version['RevisionId'])
        self.assertNotIn(version['RevisionId'], revisions)

    def test_tag_refusals(self):
        """test_lambda_api.snapshot.json, TestLambdaTags::test_tag_exceptions:
        tag_lambda_invalidarn, tag_lambda_doesnotexist, tag_lambda_qualifier_doesnotexist,
        list_tag_lambda_empty, untag_nomatch, tag_empty_tags; test_tag_versions,
        tag_resource_latest_exception. (untag_empty_keys is not reproduced: moto's router finds
        no operation for an untag without tagKeys and answers a bare 404 before any check.)"""
        pattern = (r'arn:(aws[a-zA-Z-]*):lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-'
                   r'\d{1}:\d{12}:(function:[a-zA-Z0-9-_]+(:(\$LATEST|[a-zA-Z0-9-_]+))?|layer:'
                   r'([a-zA-Z0-9-_]+)|code-signing-config:csc-[a-z0-9]{17}|event-source-mapping:'
                   r'[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|'
                   r'capacity-provider:[a-zA-Z0-9-_]+)')
        self.assertRefused(lambda: self.lambdas.tag_resource(Resource='arn:aws:something',
                                                             Tags={'key_a': 'value_a'}),
                           400, 'ValidationException',
                           "1 validation error detected: Value 'arn:aws:something' at 'resource' "
                           f"failed to satisfy constraint: Member must satisfy regular expression "
                           f"pattern: {pattern}")
        self.assertNotFound(lambda: self.lambdas.tag_resource(
            Resource=f'{ARN}:doesnotexist', Tags={'key_a': 'value_a'}), f'{ARN}:doesnotexist')
        for qualifier in ('v1', '$LATEST'):
            self.assertInvalid(lambda: self.lambdas.tag_resource(
                Resource=f'{ARN}:exists:{qualifier}', Tags={'key_a': 'value_a'}),
                'Tags on function aliases and versions are not supported. Please specify a '
                'function ARN.')
        self.assertEqual(self.lambdas.list_tags(Resource=f'{ARN}:exists')['Tags'], {})
        self.assertEqual(self.lambdas.untag_resource(Resource=f'{ARN}:exists', TagKeys=[
            'somekey'])['ResponseMetadata']['HTTPStatusCode'], 204)
        self.assertInvalid(lambda: self.lambdas.tag_resource(Resource=f'{ARN}:exists', Tags={}),
                           'An error occurred and the request cannot be processed.')

    def test_environment_variables_over_4_kb(self):
        """test_lambda_api.snapshot.json, TestLambdaSizeLimits::
        test_large_environment_variables_fails (failed_create_fn_result),
        test_large_environment_fails_multiple_keys and test_lambda_envvars_near_limit_succeeds:
        the variables as compact JSON, at most 4096 bytes."""
        prefix = ('Lambda was unable to configure your environment variables because the '
                  'environment variables you have provided exceeded the 4KB limit. String '
                  'measured: ')
        too_large = {'LARGE_VAR': 'x' * (4096 - 6 - len('LARGE_VAR'))}
        self.assertInvalid(lambda: self.create('environment', Environment={
            'Variables': too_large}), prefix + json.dumps(too_large, separators=(',', ':')))
        two = {'SMALL_VAR': 'ok', 'LARGE_VAR': 'x' * 4064}
        self.assertInvalid(lambda: self.lambdas.update_function_configuration(
            FunctionName='exists', Environment={'Variables': two}),
            prefix + '{"SMALL_VAR":"ok","LARGE_VAR":"' + 'x' * 4064 + '"}')
        at_limit = {'LARGE_VAR': 'x' * (4096 - 7 - len('LARGE_VAR'))}
        created = self.create('environment', Environment={'Variables': at_limit})
        self.assertEqual(created['Environment'], {'Variables': at_limit})

    def test_alias_revisions_and_listing_by_version(self):
        """test_lambda_api.snapshot.json, TestLambdaAlias::test_alias_lifecycle:
        create_alias_1_1 and update_alias_1_1 (a new RevisionId), get_function_alias_1_1 (the
        version's configuration, the alias's ARN), list_aliases_for_version."""
        self.create('aliased')
        self.lambdas.get_waiter('function_active_v2').wait(FunctionName='aliased')
        first = self.lambdas.publish_version(FunctionName='aliased')
        self.lambdas.update_function_configuration(FunctionName='aliased', Description='two')
        self.lambdas.get_waiter('function_updated_v2').wait(FunctionName='aliased')
        self.lambdas.publish_version(FunctionName='aliased')
        created = self.lambdas.create_alias(FunctionName='aliased', Name='one',
                                            FunctionVersion='1')
        self.lambdas.create_alias(FunctionName='aliased', Name='two', FunctionVersion='2')
        updated = self.lambdas.update_alias(FunctionName='aliased', Name='one',
                                            Description='updated')
        self.assertNotEqual(created['RevisionId'], updated['RevisionId'])
        through_alias = self.lambdas.get_function(FunctionName='aliased', Qualifier='one')[
            'Configuration']
        self.assertEqual((through_alias['RevisionId'], through_alias['FunctionArn'],
                          through_alias['Version']),
                         (first['RevisionId'], f'{ARN}:aliased:one', '1'))
        self.assertEqual(self.lambdas.get_function_configuration(
            FunctionName=f'{ARN}:aliased:one')['FunctionArn'], f'{ARN}:aliased:one')
        listed = self.lambdas.list_aliases(FunctionName='aliased', FunctionVersion='1')
        self.assertEqual([alias['Name'] for alias in listed['Aliases']], ['one'])

    def test_code_from_s3_that_is_not_there(self):
        """test_lambda_api.snapshot.json, TestLambdaFunction::test_lambda_code_location_s3_errors:
        create-error-wrong-bucket, create-error-wrong-key, update-error-wrong-bucket,
        update-error-wrong-key."""
        self.client('s3').create_bucket(Bucket='code-bucket')
        bucket = ('Error occurred while GetObject. S3 Error Code: NoSuchBucket. S3 Error '
                  'Message: The specified bucket does not exist')
        key = ('Error occurred while GetObject. S3 Error Code: NoSuchKey. S3 Error Message: The '
               'specified key does not exist.')
        for code, message in [({'S3Bucket': 'no-such-bucket', 'S3Key': 'code.zip'}, bucket),
                              ({'S3Bucket': 'code-bucket', 'S3Key': 'code.zip'}, key)]:
            with self.subTest(code=code):
                self.assertInvalid(lambda: self.create('from-s3', Code=code), message)
                self.assertInvalid(lambda: self.lambdas.update_function_code(
                    FunctionName='exists', **code), message)
        self.assertNotFound(lambda: self.lambdas.get_function(FunctionName='from-s3'),
                            f'{ARN}:from-s3')

    def test_layer_refusals(self):
        """test_lambda_api.snapshot.json, TestLambdaLayer::test_layer_function_exceptions
        (two_layer_versions_single_function_exc, add_nonexistent_layer_exc,
        add_nonexistent_layer_version_exc, add_layer_arn_without_version_exc,
        create_function_with_layer_in_different_region), test_layer_function_quota_exception,
        and test_layer_exceptions (get_layer_version_exc_layer_doesnotexist,
        ..._layer_version_doesnotexist_negative, _zero and _2,
        delete_layer_version_exc_layerversion_invalid_version, delete_nonexistent_response)."""
        content = {'ZipFile': function_zip('LAYER = 1\n')}
        first = self.lambdas.publish_layer_version(LayerName='shared', Content=content)
        self.lambdas.publish_layer_version(LayerName='shared', Content=content)
        layer = first['LayerArn']
        pattern = (r'(arn:(aws[a-zA-Z-]*)?:lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-'
                   r'\d{1}:\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+)|(arn:[a-zA-Z0-9-]+:lambda:::'
                   r'awslayer:[a-zA-Z0-9-_]+)')
        self.assertInvalid(lambda: self.create('layered', Layers=[f'{layer}:1', f'{layer}:2']),
                           f'Two different versions of the same layer are not allowed to be '
                           f'referenced in the same function. {layer}:1 and {layer}:2 are '
                           f'versions of the same layer.')
        missing = f'arn:aws:lambda:{REGION}:{ACCOUNT}:layer:doesnotexist:1'
        for arn in (missing, f'{layer}:9'):
            self.assertInvalid(lambda: self.create('layered', Layers=[arn]),
                               f'Layer version {arn} does not exist.')
        self.assertRefused(lambda: self.create('layered', Layers=[layer]), 400,
                           'ValidationException',
                           f"1 validation error detected: Value '[{layer}]' at 'layers' failed to "
                           f"satisfy constraint: Member must satisfy constraint: [Member must have "
                           f"length less than or equal to 2048, Member must have length greater "
                           f"than or equal to 1, Member must satisfy regular expression pattern: "
                           f"{pattern}, Member must not be null]")
        self.assertInvalid(lambda: self.create('layered', Layers=[
            layer.replace(REGION, 'eu-west-1') + ':1']),
            f'Layers are not in the same region as the function. Layers are expected to be in '
            f'region {REGION}.')
        self.assertInvalid(lambda: self.create('layered', Layers=[
            f'{layer}-{index}:1' for index in range(6)]), 'Cannot reference more than 5 layers.')
        missing = 'The resource you requested does not exist.'
        for name, number in (('doesnotexist', 1), ('shared', 3)):
            self.assertRefused(lambda: self.lambdas.get_layer_version(LayerName=name,
                                                                      VersionNumber=number),
                               404, 'ResourceNotFoundException', missing, Message=missing,
                               Type='User')
        for number in (0, -1):
            self.assertInvalid(lambda: self.lambdas.get_layer_version(LayerName='shared',
                                                                      VersionNumber=number),
                               'Layer Version Cannot be less than 1')
            self.assertInvalid(lambda: self.lambdas.delete_layer_version(LayerName='shared',
                                                                         VersionNumber=number),
                               'Layer Version Cannot be less than 1')
        self.assertEqual(self.lambdas.delete_layer_version(LayerName='shared', VersionNumber=9)[
            'ResponseMetadata']['HTTPStatusCode'], 204)

    def test_publishing_with_the_code(self):
        """test_lambda_api.snapshot.json, TestLambdaVersions::test_publish_with_update,
        update_function_code_result (the new version, Pending) and
        test_publish_version_on_create, create_response (Version 1, the unqualified ARN)."""
        created = self.create('published', Publish=True)
        self.assertEqual((created['Version'], created['FunctionArn'], created['State']),
                         ('1', f'{ARN}:published', 'Pending'))
        self.lambdas.get_waiter('function_active_v2').wait(FunctionName='published')
        answer = self.lambdas.update_function_code(FunctionName='published', Publish=True,
                                                   ZipFile=function_zip(ECHO + '\n'))
        self.assertEqual((answer['Version'], answer['FunctionArn'], answer['State'],
                          answer['StateReason'], answer['StateReasonCode']),
                         ('2', f'{ARN}:published:2', 'Pending', 'The function is being created.',
                          'Creating'))
        self.assertNotIn('LastUpdateStatus', answer)

    def test_listed_configurations(self):
        """test_lambda_api.snapshot.json, TestLambdaFunction::test_list_functions (list_default,
        list_functions_invalid_functionversion) and TestLambdaVersions::test_version_lifecycle
        (list_versions_result): a listed configuration has no State, LastUpdateStatus or
        RuntimeVersionConfig."""
        self.assertRefused(lambda: self.lambdas.list_functions(FunctionVersion='invalid'), 400,
                           'ValidationException',
                           "1 validation error detected: Value 'invalid' at 'functionVersion' "
                           "failed to satisfy constraint: Member must satisfy enum value set: "
                           "[ALL]")
        self.lambdas.publish_version(FunctionName='exists')
        listed = (self.lambdas.list_functions()['Functions']
                  + self.lambdas.list_versions_by_function(FunctionName='exists')['Versions'])
        self.assertTrue(listed)
        for configuration in listed:
            self.assertFalse({'State', 'LastUpdateStatus', 'RuntimeVersionConfig'}
                             & set(configuration), configuration['FunctionArn'])
            self.assertIn('RevisionId', configuration)

    def test_function_url_configuration_answers(self):
        """test_lambda_api.snapshot.json, TestLambdaUrl::test_url_config_lifecycle: url_creation
        (201, no InvokeMode), failed_duplication (409), get_url_config (200, InvokeMode
        BUFFERED), updated_url_config (no InvokeMode), failed_getter; test_url_config_list_paging,
        list_function_notfound, list_all_empty, list_all (one URL here)."""
        self.create('url-lifecycle')
        message = 'Function does not exist'
        self.assertRefused(lambda: self.lambdas.list_function_url_configs(
            FunctionName='doesnotexist'), 404, 'ResourceNotFoundException', message,
            Message=message, Type='User')
        self.assertEqual(self.lambdas.list_function_url_configs(FunctionName='url-lifecycle')[
            'FunctionUrlConfigs'], [])
        created = self.lambdas.create_function_url_config(FunctionName='url-lifecycle',
                                                          AuthType='NONE')
        [listed] = self.lambdas.list_function_url_configs(FunctionName='url-lifecycle')[
            'FunctionUrlConfigs']
        self.assertEqual((listed['FunctionUrl'], listed['InvokeMode']),
                         (created['FunctionUrl'], 'BUFFERED'))
        self.assertEqual(created['ResponseMetadata']['HTTPStatusCode'], 201)
        self.assertNotIn('InvokeMode', created)
        message = (f'Failed to create function url config for [functionArn = '
                   f'{ARN}:url-lifecycle]. Error message:  FunctionUrlConfig exists for this '
                   f'Lambda function')
        self.assertRefused(lambda: self.lambdas.create_function_url_config(
            FunctionName='url-lifecycle', AuthType='NONE'), 409, 'ResourceConflictException',
            message, message=message, Type='User')
        fetched = self.lambdas.get_function_url_config(FunctionName='url-lifecycle')
        self.assertEqual(fetched['FunctionUrl'], created['FunctionUrl'], 'the first URL stays')
        self.assertEqual((fetched['ResponseMetadata']['HTTPStatusCode'], fetched['InvokeMode'],
                          fetched['ResponseMetadata']['HTTPHeaders']['content-type']),
                         (200, 'BUFFERED', 'application/json'))
        updated = self.lambdas.update_function_url_config(FunctionName='url-lifecycle',
                                                          AuthType='AWS_IAM')
        self.assertEqual(updated['AuthType'], 'AWS_IAM')
        self.assertNotIn('InvokeMode', updated)
        self.assertRegex(updated['LastModifiedTime'],
                         r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$')
        self.lambdas.delete_function_url_config(FunctionName='url-lifecycle')
        missing = 'The resource you requested does not exist.'
        self.assertRefused(lambda: self.lambdas.get_function_url_config(
            FunctionName='url-lifecycle'), 404, 'ResourceNotFoundException', missing,
            Message=missing, Type='User')

    def test_account_settings(self):
        """test_lambda_api.snapshot.json, TestLambdaAccountSettings::test_account_settings
        (acc_settings_modded: the keys) and test_account_settings_total_code_size (a function
        created adds its code to TotalCodeSize, and one to FunctionCount)."""
        before = self.lambdas.get_account_settings()
        self.assertEqual((sorted(before['AccountLimit']), sorted(before['AccountUsage'])), (
            ['CodeSizeUnzipped', 'CodeSizeZipped', 'ConcurrentExecutions', 'TotalCodeSize',
             'UnreservedConcurrentExecutions'], ['FunctionCount', 'TotalCodeSize']))
        created = self.create('counted')
        after = self.lambdas.get_account_settings()['AccountUsage']
        self.assertEqual((after['TotalCodeSize'] - before['AccountUsage']['TotalCodeSize'],
                          after['FunctionCount'] - before['AccountUsage']['FunctionCount']),
                         (created['CodeSize'], 1))

