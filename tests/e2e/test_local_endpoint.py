"""The whole service on the local endpoint: real uploads, the runtime's limits, the HTTP front."""
import json
import os
import time
import urllib.request

from tests import images
from tests.e2e.endpoint import (RESIZED_BUCKET, UPLOAD_BUCKET, EndpointTestCase, free_port,
                                function_zip, local_client, post_form)
from tests.workspace import ProjectCopyTestCase, make


class LocalEndpointTest(EndpointTestCase):
    # -- uploads --------------------------------------------------------------------------

    def test_a_curl_upload_comes_out_resized_and_in_the_gallery(self):
        photo = os.path.join(self.root, 'curl-photo.jpg')
        with open(photo, 'wb') as handle:
            handle.write(images.jpeg(1600, 1200))
        result = self.run_make('upload', f'FILE={photo}')
        self.assertIn('curl --silent --show-error --fail-with-body', result.stdout)
        self.assertIn('resized: s3://', result.stdout)
        key = result.stdout.split('uploaded ')[1].split(f's3://{UPLOAD_BUCKET}/')[1].split()[0]
        head = self.exists(RESIZED_BUCKET, key)
        self.assertEqual((head['Metadata']['width'], head['Metadata']['height']), ('400', '300'))
        self.assertIsNone(self.exists(UPLOAD_BUCKET, key), 'the original is removed')
        with urllib.request.urlopen(self.gallery) as page:
            self.assertEqual(page.headers['Content-Type'], 'text/html; charset=utf-8')
            self.assertIn(key, page.read().decode())
        reports = [line for line in self.log_messages('ResizeImage-dev')
                   if line.startswith('REPORT')]
        self.assertTrue(reports)
        self.assertRegex(reports[-1], r'^REPORT RequestId: [0-9a-f-]{36}\tDuration: [\d.]+ ms\t'
                                      r'Billed Duration: \d+ ms\tMemory Size: 1024 MB\t'
                                      r'Max Memory Used: \d+ MB\t')

    def test_refused_uploads_get_s3s_error_and_trigger_nothing(self):
        before = len(self.log_messages('ResizeImage-dev'))
        cases = []
        form = self.upload_form(max_bytes=1000)
        cases.append(('too big', form, post_form(form, b'x' * 2000), 400, 'EntityTooLarge'))
        form = self.upload_form()
        cases.append(('wrong type', form, post_form(form, images.jpeg(), 'text/plain'), 403,
                      'Policy Condition failed'))
        form = self.upload_form(expires=1)
        time.sleep(1.5)
        cases.append(('expired', form, post_form(form, images.jpeg()), 403, 'Policy expired'))
        form = self.upload_form()
        form['fields']['x-amz-signature'] = '0' * 64
        cases.append(('forged', form, post_form(form, images.jpeg()), 403,
                      'SignatureDoesNotMatch'))
        form = self.upload_form(max_bytes=1000, signature_version='s3')
        cases.append(('too big, SigV2', form, post_form(form, b'x' * 2000), 400,
                      'EntityTooLarge'))
        for name, form, (status, body), expected_status, words in cases:
            with self.subTest(name):
                self.assertEqual(status, expected_status, body)
                self.assertIn(b'<Error><Code>', body)
                self.assertIn(words.encode(), body)
                self.assertIsNone(self.exists(UPLOAD_BUCKET, form['key']))
        time.sleep(1)
        self.assertEqual(len(self.log_messages('ResizeImage-dev')), before, 'no invocation')

    def test_a_non_image_is_kept_tagged_and_logged(self):
        form = self.upload_form()
        status, _ = post_form(form, b'just text, named photo.jpg\n')
        self.assertEqual(status, 204)
        key = form['key']

        def tags():
            tag_set = self.client('s3').get_object_tagging(Bucket=UPLOAD_BUCKET, Key=key)['TagSet']
            return {tag['Key']: tag['Value'] for tag in tag_set}

        self.wait_for(lambda: 'resize-status' in tags(), what='the rejection tag')
        self.assertEqual(tags()['resize-reason'], 'unsupported-format')
        self.assertTrue(any(key in line and '"rejected"' in line
                            for line in self.log_messages('ResizeImage-dev')))
        with urllib.request.urlopen(f'{self.gallery}status?key={key}') as response:
            self.assertEqual(json.load(response)['state'], 'rejected')

    def test_make_upload_of_a_file_the_function_rejects_fails_at_once_with_why(self):
        text = self.path('notes.jpg')
        with open(text, 'wb') as handle:
            handle.write(b'just text, named notes.jpg\n')
        started = time.monotonic()
        # A wait far longer than a cold start takes (the endpoint's first one builds its
        # runtime folder): only a wait that follows the status stops well before it.
        result = self.run_make('upload', f'FILE={text}', 'UPLOAD_WAIT=60', check=False)
        elapsed = time.monotonic() - started
        self.assertNotEqual(result.returncode, 0, result.stdout)
        self.assertIn('rejected: unsupported-format: not an accepted image', result.stderr)
        self.assertNotIn('not resized', result.stderr)
        self.assertLess(elapsed, 40, 'it stops at the rejection, not at UPLOAD_WAIT')

    def test_fifty_concurrent_uploads_all_resized_once(self):
        self.upload_concurrently(50, in_flight=50, seconds=120)

    # -- the runtime ----------------------------------------------------------------------

    def test_a_function_that_raises_is_retried_twice_then_recorded(self):
        self.deploy_function('Fails', 'def handler(event, context):\n'
                                      '    raise RuntimeError("always")\n')
        self.client('lambda').invoke(FunctionName='Fails', InvocationType='Event',
                                     Payload=b'{"n": 1}')
        failed = os.path.join(self.state, 'failed-events.jsonl')
        record = self.wait_for(lambda: os.path.exists(failed) and [
            json.loads(line) for line in open(failed) if '"Fails"' in line], seconds=30,
            what='the failed-event record')[0]
        self.assertEqual((record['attempts'], record['event']), (3, {'n': 1}))
        starts = [line for line in self.log_messages('Fails') if line.startswith('START')]
        self.assertEqual(len(starts), 3)
        self.assertEqual(len({line.split()[2] for line in starts}), 1,
                         'one request id on every attempt, as Lambda retries an event')
        self.assertTrue(any(line.startswith('FAILED EVENT ') and 'after 3 attempts' in line
                            for line in self.log_messages('Fails')))

    def test_timeout_and_memory_limit_stop_the_function(self):
        lambdas = self.deploy_function('Sleeps', 'import time\n'
                                       'def handler(event, context):\n    time.sleep(30)\n',
                                       Timeout=1)
        response = lambdas.invoke(FunctionName='Sleeps')
        self.assertEqual(response['FunctionError'], 'Unhandled')
        error = json.loads(response['Payload'].read())
        self.assertEqual(error['errorType'], 'Sandbox.Timedout')
        self.assertIn('Task timed out after 1.00 seconds', error['errorMessage'])
        # At 128 MB the function has 7 % of a core: a timeout long enough to reach the limit.
        lambdas = self.deploy_function('Hungry', 'def handler(event, context):\n'
                                       '    block = bytearray(400 * 1024 * 1024)\n'
                                       '    return len(block)\n', MemorySize=128, Timeout=30)
        response = lambdas.invoke(FunctionName='Hungry')
        self.assertEqual(json.loads(response['Payload'].read())['errorType'],
                         'Runtime.OutOfMemory')
        self.assertTrue(any('Status: error\tError Type: Runtime.OutOfMemory' in line
                            for line in self.log_messages('Hungry')))

    def test_a_dependency_missing_from_the_zip_fails_even_though_venv_has_it(self):
        lambdas = self.deploy_function('NoJinja', 'import jinja2\n'
                                       'def handler(event, context):\n    return 1\n')
        response = lambdas.invoke(FunctionName='NoJinja')
        error = json.loads(response['Payload'].read())
        self.assertEqual(error['errorType'], 'Runtime.ImportModuleError')
        self.assertIn("No module named 'jinja2'", error['errorMessage'])

    def test_lambdas_environment_variables_are_set(self):
        lambdas = self.deploy_function(
            'Env', 'import os, sys\ndef handler(event, context):\n'
                   '    return {name: os.environ.get(name) for name in ('
                   '"AWS_LAMBDA_FUNCTION_NAME", "AWS_EXECUTION_ENV", "_HANDLER", "TZ", '
                   '"AWS_LAMBDA_LOG_GROUP_NAME", "MINE")} | {"python": "%d.%d" % sys.version_info[:2]}\n',
            Environment={'Variables': {'MINE': 'yes'}})
        result = json.loads(lambdas.invoke(FunctionName='Env')['Payload'].read())
        self.assertEqual(result['AWS_LAMBDA_FUNCTION_NAME'], 'Env')
        self.assertEqual(result['AWS_EXECUTION_ENV'], 'AWS_Lambda_python3.12')
        self.assertEqual((result['_HANDLER'], result['TZ'], result['MINE']),
                         ('handler.handler', ':UTC', 'yes'))
        self.assertEqual(result['AWS_LAMBDA_LOG_GROUP_NAME'], '/aws/lambda/Env')

    def test_function_urls_and_http_apis_map_requests_and_responses(self):
        lambdas = self.deploy_function('Echo', (
            'import base64, json\n'
            'def handler(event, context):\n'
            '    seen = {name: event.get(name) for name in ("version", "rawPath", "rawQueryString",\n'
            '            "queryStringParameters", "cookies", "isBase64Encoded")}\n'
            '    seen["method"] = event["requestContext"]["http"]["method"]\n'
            '    seen["header"] = event["headers"].get("x-custom")\n'
            '    seen["body"] = base64.b64decode(event["body"]).hex() if event["isBase64Encoded"] '
            'else event.get("body")\n'
            '    return {"statusCode": 201, "headers": {"Content-Type": "application/json", '
            '"X-Echo": "yes"}, "cookies": ["a=1", "b=2; Path=/"], "body": json.dumps(seen)}\n'))
        url = lambdas.create_function_url_config(FunctionName='Echo', AuthType='NONE')['FunctionUrl']
        # Public as AWS makes a URL public (make up enforces IAM): its resource policy grants both.
        lambdas.add_permission(FunctionName='Echo', StatementId='url', Principal='*',
                               Action='lambda:InvokeFunctionUrl', FunctionUrlAuthType='NONE')
        lambdas.add_permission(FunctionName='Echo', StatementId='invoke', Principal='*',
                               Action='lambda:InvokeFunction', InvokedViaFunctionUrl=True)
        api = self.client('apigatewayv2').create_api(
            Name='echo', ProtocolType='HTTP',
            Target=lambdas.get_function(FunctionName='Echo')['Configuration']['FunctionArn'])
        for base in (url, api['ApiEndpoint'] + '/'):
            with self.subTest(base):
                self.assertTrue(base.startswith(self.url))
                request = urllib.request.Request(
                    base + 'some/path?a=1&a=2&b=x', data=b'\x00\x01binary', method='POST',
                    headers={'X-Custom': 'value', 'Cookie': 'c=3; d=4',
                             'Content-Type': 'application/octet-stream'})
                with urllib.request.urlopen(request) as response:
                    self.assertEqual(response.status, 201)
                    self.assertEqual(response.headers['X-Echo'], 'yes')
                    self.assertEqual(response.headers.get_all('Set-Cookie'), ['a=1', 'b=2; Path=/'])
                    seen = json.load(response)
                self.assertEqual(seen, {
                    'version': '2.0', 'rawPath': '/some/path', 'rawQueryString': 'a=1&a=2&b=x',
                    'queryStringParameters': {'a': '1,2', 'b': 'x'}, 'cookies': ['c=3', 'd=4'],
                    'isBase64Encoded': True, 'method': 'POST', 'header': 'value',
                    'body': '0001' + b'binary'.hex()})

    def test_make_invoke_prints_the_result_and_the_log_tail(self):
        result = self.run_make('invoke', '--directory=image_list')
        self.assertIn('"statusCode": 200', result.stdout)
        self.assertIn('Log tail:', result.stdout)
        self.assertIn('REPORT RequestId:', result.stdout)


class ShutdownTest(ProjectCopyTestCase):
    def test_down_leaves_no_stray_processes(self):
        port = free_port()
        make(self.root, 'up', f'LOCAL_PORT={port}')
        self.addCleanup(make, self.root, 'down', f'LOCAL_PORT={port}', check=False)
        clients = {service: local_client(f'http://127.0.0.1:{port}', service)
                   for service in ('lambda', 'iam')}
        role = clients['iam'].create_role(RoleName='r', AssumeRolePolicyDocument=json.dumps({
            'Version': '2012-10-17', 'Statement': [{
                'Effect': 'Allow', 'Principal': {'Service': 'lambda.amazonaws.com'},
                'Action': 'sts:AssumeRole'}]}))['Role']['Arn']
        lambdas = clients['lambda']
        lambdas.create_function(FunctionName='Warm', Runtime='python3.12', Role=role,
                                Handler='handler.handler',
                                Code={'ZipFile': function_zip('def handler(e, c):\n    return 1\n')})
        self.assertEqual(lambdas.invoke(FunctionName='Warm')['Payload'].read(), b'1')
        state = os.path.join(self.root, '.local')
        self.assertTrue(self.processes_using(state), 'a warm environment is running')
        make(self.root, 'down', f'LOCAL_PORT={port}')
        self.assertEqual(self.processes_using(state), [])

    @staticmethod
    def processes_using(state):
        """Processes started with the state folder, or working in it (function environments
        run in their unpacked task root under it)."""
        found = []
        for pid in filter(str.isdigit, os.listdir('/proc')):
            try:
                cwd = os.readlink(f'/proc/{pid}/cwd')
                with open(f'/proc/{pid}/cmdline', 'rb') as handle:
                    command = handle.read().replace(b'\0', b' ').decode(errors='replace')
            except OSError:
                continue
            if cwd.startswith(state) or state in command:
                found.append(f'{pid} {command}')
        return found
