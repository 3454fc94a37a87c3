"""The local endpoint attacked as a hostile web page and a hostile user would attack it: a page
open in the developer's browser can send it simple requests (no custom header, no preflight),
rebind its own DNS name to 127.0.0.1, and read any answer that carries its Origin.

One endpoint for the module, in this process, IAM enforced: raw requests go through werkzeug's
test client; boto3 and curl, which need a socket, through a server thread on a free port."""
import json
import shutil
import subprocess
import tempfile
import threading
import unittest
from contextlib import contextmanager, nullcontext

import boto3
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from moto import settings
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.authorization import ActionAuthenticatorMixin
from moto.iam.models import iam_backends
from moto.s3.models import s3_backends
from werkzeug.serving import make_server
from werkzeug.test import Client

from local_endpoint import iam
from local_endpoint.server import Endpoint
from tests.e2e.endpoint import free_port, function_zip

REGION = 'us-east-1'
BUCKET = 'security-uploads'
PAGE = 'http://evil.example'
ENDPOINT = {}


def setUpModule():
    ENDPOINT['settings'] = (settings.INITIAL_NO_AUTH_ACTION_COUNT,
                            ActionAuthenticatorMixin.request_count)
    ENDPOINT['port'] = port = free_port()
    ENDPOINT['state'] = tempfile.mkdtemp()
    endpoint = ENDPOINT['endpoint'] = Endpoint('127.0.0.1', port, ENDPOINT['state'],
                                               enforce_iam=True)
    server = ENDPOINT['server'] = make_server('127.0.0.1', port, endpoint, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()


def tearDownModule():
    ENDPOINT['server'].shutdown()
    ENDPOINT['endpoint'].close()
    shutil.rmtree(ENDPOINT['state'], ignore_errors=True)
    # moto's enforcement is process-wide: the modules after this one get moto as it was.
    settings.INITIAL_NO_AUTH_ACTION_COUNT, ActionAuthenticatorMixin.request_count = \
        ENDPOINT['settings']


class EndpointSecurityTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.port, cls.url = ENDPOINT['port'], f'http://127.0.0.1:{ENDPOINT["port"]}'
        cls.page = Client(ENDPOINT['endpoint'])

    def request(self, method, path, body=b'', headers=None, **signing):
        """A raw request from the test client; signed (SigV4) when `signing` says how."""
        headers = dict(headers or {})
        if signing:
            headers.update(signed(method, f'{self.url}{path}', body, headers, **signing))
        return self.page.open(path, method=method, data=body, headers=headers,
                              base_url=self.url)

    def client(self, service, key='test', secret='test', **config):
        return boto3.client(service, endpoint_url=self.url, region_name=REGION,
                            aws_access_key_id=key, aws_secret_access_key=secret,
                            config=Config(retries={'max_attempts': 1}, **config))

    def user(self, name, policy=None):
        """An IAM user with one access key and, if given, one inline policy."""
        backend = iam_backends[DEFAULT_ACCOUNT_ID]['aws']
        if name not in backend.users:
            backend.create_user(REGION, name)
        if policy:
            backend.put_user_policy(name, 'only', json.dumps(policy))
        key = backend.create_access_key(name)
        return key.access_key_id, key.secret_access_key

    @contextmanager
    def iam_off(self):
        """As LOCAL_IAM=off runs the endpoint, for the length of the block."""
        enforced = settings.INITIAL_NO_AUTH_ACTION_COUNT
        settings.INITIAL_NO_AUTH_ACTION_COUNT = float('inf')
        try:
            yield
        finally:
            settings.INITIAL_NO_AUTH_ACTION_COUNT = enforced

    def assertNoCors(self, response):
        self.assertEqual([name for name in response.headers.keys()
                          if name.lower().startswith('access-control-')], [])


class HostTest(EndpointSecurityTest):
    def test_only_the_endpoints_own_addresses_are_answered(self):
        for host in (f'127.0.0.1:{self.port}', f'localhost:{self.port}', f'[::1]:{self.port}',
                     f'LocalHost:{self.port}'):
            with self.subTest(host):
                self.assertEqual(self.request('GET', '/_local/health',
                                              headers={'Host': host}).status_code, 200)
        for host in (f'rebound.evil.example:{self.port}', 'rebound.evil.example',
                     f'{BUCKET}.localhost:{self.port}', f'127.0.0.1:{self.port + 1}',
                     f'127.0.0.1.evil.example:{self.port}'):
            with self.subTest(host):
                response = self.request('GET', '/_local/health', headers={'Host': host})
                self.assertEqual(response.status_code, 400)
                self.assertIn(f'http://127.0.0.1:{self.port}', response.get_data(as_text=True))


class ControlPlaneTest(EndpointSecurityTest):
    def test_a_page_cannot_switch_iam_off_or_wipe_the_endpoint(self):
        for path, body in (('/moto-api/reset-auth', b'1000000'), ('/moto-api/reset', b''),
                           ('/moto-api/seed?a=42', b''), ('/_local/faults', json.dumps(
                               {'bucket': BUCKET, 'count': 5}).encode())):
            with self.subTest(path):
                response = self.request('POST', path, body, headers={
                    'Origin': PAGE, 'Content-Type': 'text/plain'})
                self.assertEqual(response.status_code, 403)
                self.assertIn('test/test', response.json['message'])
                self.assertNoCors(response)
        self.assertEqual(self.request('GET', '/moto-api/data.json').status_code, 403)
        self.assertTrue(iam.enforcing(), 'IAM is still enforced')
        self.assertEqual([fault for fault in ENDPOINT['endpoint'].faults
                          if fault['bucket'] == BUCKET], [])

    def test_only_a_signature_by_the_local_key_opens_it(self):
        stranger = self.user('control-stranger', {'Version': '2012-10-17', 'Statement': [
            {'Effect': 'Allow', 'Action': '*', 'Resource': '*'}]})
        fault = json.dumps({'bucket': 'nowhere', 'count': 1}).encode()
        for key, secret, words in ((*stranger, 'local admin key test only'),
                                   ('test', 'wrong', 'does not match')):
            with self.subTest(key=key):
                response = self.request('POST', '/_local/faults', fault, key=key, secret=secret)
                self.assertEqual(response.status_code, 403)
                self.assertIn(words, response.json['message'])
        self.assertEqual(self.request('POST', '/_local/faults', fault, key='test',
                                      secret='test').status_code, 201)
        self.assertEqual(self.request('POST', '/moto-api/reset-auth', b'0', key='test',
                                      secret='test').status_code, 200)
        self.assertTrue(iam.enforcing())
        self.assertEqual(self.request('GET', '/_local/nothing', key='test',
                                      secret='test').status_code, 404)

    def test_curl_signs_as_make_would(self):
        if shutil.which('curl') is None:
            self.skipTest('curl is not installed')
        result = subprocess.run(
            ['curl', '--silent', '--show-error', '--fail-with-body', '--aws-sigv4',
             'aws:amz:us-east-1:s3', '--user', 'test:test', '-H', 'Content-Type: application/json',
             '--data', json.dumps({'bucket': 'nowhere', 'count': 1}), f'{self.url}/_local/faults'],
            capture_output=True, text=True, timeout=30)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertEqual(json.loads(result.stdout), {'status': 'ok'})

    def test_hostile_faults_get_a_clear_400(self):
        for fault in ([], {'bucket': BUCKET, 'count': 'many'}, {'bucket': BUCKET, 'count': 1,
                                                                'status': 'teapot'}, 'x'):
            with self.subTest(fault=fault):
                response = self.request('POST', '/_local/faults', json.dumps(fault).encode(),
                                        key='test', secret='test')
                self.assertEqual(response.status_code, 400)


class CorsTest(EndpointSecurityTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        s3 = s3_backends[DEFAULT_ACCOUNT_ID]['aws']
        for name in (BUCKET, 'security-no-cors'):
            if name not in s3.buckets:
                s3.create_bucket(name, REGION)
        s3.put_object(BUCKET, 'uploads/secret', b'private bytes')
        s3.put_bucket_cors(BUCKET, [{'AllowedOrigin': [cls.url], 'AllowedMethod': ['POST', 'GET'],
                                     'AllowedHeader': ['*'], 'ExposeHeader': ['ETag'],
                                     'MaxAgeSeconds': '300'}])

    def test_moto_no_longer_echoes_any_origin(self):
        for path, service in ((f'/{BUCKET}/uploads/secret', 's3'), ('/', 'iam')):
            with self.subTest(service):
                body = b'Action=ListUsers&Version=2010-05-08' if service == 'iam' else b''
                response = self.request('POST' if body else 'GET', path, body, headers={
                    'Origin': PAGE, 'Content-Type': 'application/x-www-form-urlencoded'},
                    key='test', secret='test', service=service)
                self.assertEqual(response.status_code, 200)
                self.assertNoCors(response)

    def test_a_bucket_rule_grants_its_own_origin_only(self):
        path = f'/{BUCKET}/uploads/secret'
        granted = self.request('GET', path, headers={'Origin': self.url}, key='test',
                               secret='test')
        self.assertEqual(granted.headers['Access-Control-Allow-Origin'], self.url)
        self.assertEqual(granted.headers['Access-Control-Expose-Headers'], 'ETag')
        self.assertNoCors(self.request('GET', path, headers={'Origin': PAGE}, key='test',
                                       secret='test'))

    def test_preflights_are_answered_as_s3_answers_them(self):
        preflight = {'Origin': self.url, 'Access-Control-Request-Method': 'POST',
                     'Access-Control-Request-Headers': 'Content-Type, X-Amz-Date'}
        allowed = self.request('OPTIONS', f'/{BUCKET}', headers=preflight)
        self.assertEqual(allowed.status_code, 200)
        self.assertEqual((allowed.headers['Access-Control-Allow-Origin'],
                          allowed.headers['Access-Control-Allow-Methods'],
                          allowed.headers['Access-Control-Allow-Headers'],
                          allowed.headers['Access-Control-Max-Age']),
                         (self.url, 'POST, GET', 'content-type, x-amz-date', '300'))
        cases = [
            (f'/{BUCKET}', dict(preflight, Origin=PAGE), 403, 'CORSResponse: This CORS request '
             'is not allowed.'),
            (f'/{BUCKET}', dict(preflight, **{'Access-Control-Request-Method': 'DELETE'}), 403,
             'This CORS request is not allowed'),
            ('/security-no-cors', dict(preflight, Origin=PAGE), 403,
             'CORSResponse: CORS is not enabled for this bucket.'),
            ('/no-such-bucket', dict(preflight, Origin=PAGE), 403, 'CORSResponse: Bucket not found'),
            (f'/{BUCKET}', {'Access-Control-Request-Method': 'POST'}, 400,
             'Insufficient information. Origin request header needed.'),
            ('/2015-03-31/functions/Any/invocations', dict(preflight, Origin=PAGE), 403, ''),
            ('/moto-api/reset', dict(preflight, Origin=PAGE), 403, ''),
        ]
        for path, headers, status, words in cases:
            with self.subTest(path=path, origin=headers.get('Origin')):
                response = self.request('OPTIONS', path, headers=headers)
                self.assertEqual(response.status_code, status)
                self.assertIn(words, response.get_data(as_text=True))
                self.assertNoCors(response)

    def test_a_function_urls_cors_settings_are_lambdas(self):
        lambdas = self.client('lambda')
        self.client('iam').create_role(RoleName='security-cors', AssumeRolePolicyDocument='{}')
        lambdas.create_function(FunctionName='SecurityCors', Runtime='python3.12',
                                Role=f'arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/security-cors',
                                Handler='handler.handler',
                                Code={'ZipFile': function_zip('def handler(e, c):\n  return 1\n')})
        url = lambdas.create_function_url_config(
            FunctionName='SecurityCors', AuthType='NONE',
            Cors={'AllowOrigins': ['https://app.example'], 'AllowMethods': ['GET', 'POST'],
                  'AllowHeaders': ['x-custom'], 'MaxAge': 60})['FunctionUrl']
        path = url[len(self.url):]
        allowed = self.request('OPTIONS', path, headers={
            'Origin': 'https://app.example', 'Access-Control-Request-Method': 'POST',
            'Access-Control-Request-Headers': 'X-Custom'})
        self.assertEqual(allowed.status_code, 200)
        self.assertEqual((allowed.headers['Access-Control-Allow-Origin'],
                          allowed.headers['Access-Control-Allow-Methods'],
                          allowed.headers['Access-Control-Allow-Headers'],
                          allowed.headers['Access-Control-Max-Age']),
                         ('https://app.example', 'GET, POST', 'X-Custom', '60'))
        for origin, method in ((PAGE, 'POST'), ('https://app.example', 'DELETE')):
            with self.subTest(origin=origin, method=method):
                refused = self.request('OPTIONS', path, headers={
                    'Origin': origin, 'Access-Control-Request-Method': method})
                self.assertNoCors(refused)


class InvokeTest(EndpointSecurityTest):
    """Invoke is checked as Lambda checks it, for every caller but function URLs."""

    def invoke(self, name='SecurityNobody', **signing):
        return self.request('POST', f'/2015-03-31/functions/{name}/invocations', b'{}',
                            headers={'Content-Type': 'text/plain'},
                            **(dict(signing, service='lambda') if signing else {}))

    def assertRefused(self, response, status, error_type, message):
        self.assertEqual((response.status_code, response.headers.get('x-amzn-ErrorType')),
                         (status, error_type))
        self.assertEqual(response.json['Message'], message)

    def test_an_unsigned_invoke_is_refused_with_iam_on_or_off(self):
        self.assertRefused(self.invoke(), 403, 'MissingAuthenticationTokenException',
                           'Missing Authentication Token')
        with self.iam_off():
            self.assertRefused(self.invoke(), 403, 'MissingAuthenticationTokenException',
                               'Missing Authentication Token')

    def test_strangers_and_forgers_are_refused(self):
        self.assertRefused(self.invoke(key='AKIAUNKNOWNUNKNOWN00', secret='x'), 403,
                           'UnrecognizedClientException',
                           'The security token included in the request is invalid.')
        response = self.invoke(key='test', secret='not-the-secret')
        self.assertEqual((response.status_code, response.headers['x-amzn-ErrorType']),
                         (403, 'InvalidSignatureException'))

    def test_the_signers_policies_decide(self):
        arn = f'arn:aws:lambda:{REGION}:{DEFAULT_ACCOUNT_ID}:function'
        only_a = self.user('security-invoker', {'Version': '2012-10-17', 'Statement': [
            {'Effect': 'Allow', 'Action': 'lambda:InvokeFunction', 'Resource': f'{arn}:SecurityA'}]})
        self.assertRefused(
            self.invoke('SecurityB', key=only_a[0], secret=only_a[1]), 403, 'AccessDeniedException',
            f'User: arn:aws:iam::{DEFAULT_ACCOUNT_ID}:user/security-invoker is not authorized to '
            f'perform: lambda:InvokeFunction on resource: {arn}:SecurityB because no '
            f'identity-based policy allows the lambda:InvokeFunction action')
        denied = self.user('security-denied', {'Version': '2012-10-17', 'Statement': [
            {'Effect': 'Allow', 'Action': 'lambda:*', 'Resource': '*'},
            {'Effect': 'Deny', 'Action': 'lambda:InvokeFunction', 'Resource': '*'}]})
        self.assertIn('with an explicit deny in an identity-based policy',
                      self.invoke('SecurityA', key=denied[0], secret=denied[1]).json['Message'])
        allowed = self.invoke('SecurityA', key=only_a[0], secret=only_a[1])
        self.assertEqual(allowed.headers['x-amzn-ErrorType'], 'ResourceNotFoundException',
                         'authorized, then looked up')

    def test_botocore_signs_every_form_of_function_name(self):
        lambdas = self.client('lambda')
        for name in ('SecurityNobody', f'{DEFAULT_ACCOUNT_ID}:function:SecurityNobody',
                     f'arn:aws:lambda:{REGION}:{DEFAULT_ACCOUNT_ID}:function:SecurityNobody:live'):
            with self.subTest(name), self.assertRaises(ClientError) as caught:
                lambdas.invoke(FunctionName=name, Payload=b'{"a": 1}')
            self.assertEqual(caught.exception.response['Error']['Code'],
                             'ResourceNotFoundException')


class FormUploadTest(EndpointSecurityTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        s3 = cls.s3 = s3_backends[DEFAULT_ACCOUNT_ID]['aws']
        if BUCKET not in s3.buckets:
            s3.create_bucket(BUCKET, REGION)

    def form(self, key='uploads/${filename}'):
        s3 = self.client('s3', signature_version='s3v4')
        return s3.generate_presigned_post(BUCKET, key, Conditions=[
            ['content-length-range', 1, 100]], ExpiresIn=60)['fields']

    def post(self, parts, query='', headers=None):
        boundary = 'page-boundary'
        body = b''.join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"'.encode()
            + (f'; filename="{filename}"'.encode() if filename else b'') + b'\r\n\r\n'
            + (value if isinstance(value, bytes) else value.encode()) + b'\r\n'
            for name, value, filename in parts) + f'--{boundary}--\r\n'.encode()
        return self.request('POST', f'/{BUCKET}{query}', body, headers={
            'Content-Type': f'Multipart/Form-Data; boundary={boundary}', **(headers or {})})

    def stored(self, key):
        stored = self.s3.get_object(BUCKET, key)
        return stored and stored.value

    def test_the_object_stored_is_the_object_checked(self):
        fields = [(name, value, None) for name, value in self.form().items()]
        response = self.post([*fields, ('file', b'checked', 'a.jpg'), ('Key', 'elsewhere', None),
                              ('file', b'x' * 500, 'b.jpg')],
                             headers={'Authorization': 'bogus'})
        self.assertEqual(response.status_code, 204, response.get_data())
        self.assertEqual(self.stored('uploads/a.jpg'), b'checked')
        self.assertIsNone(self.stored('elsewhere'))
        duplicate = self.post([('KEY', 'elsewhere', None), *fields, ('file', b'abc', 'c.jpg')])
        self.assertEqual(duplicate.status_code, 400)
        self.assertIsNone(self.stored('elsewhere'))

    def test_a_query_string_is_no_way_around_the_policy(self):
        with self.iam_off():
            response = self.post([('key', 'uploads/q', None), ('file', b'no policy', 'q.jpg')],
                                 query='?anything')
        self.assertEqual(response.status_code, 403)
        self.assertIsNone(self.stored('uploads/q'))

    def test_an_unusable_authorization_header_gets_s3s_400(self):
        for header, code in (('bogus', 'InvalidArgument'), ('AWS', 'InvalidArgument'),
                             ('AWS4-HMAC-SHA256 Credential=test', 'AuthorizationHeaderMalformed')):
            with self.subTest(header):
                response = self.request('GET', f'/{BUCKET}', headers={'Authorization': header})
                self.assertEqual(response.status_code, 400)
                self.assertIn(f'<Code>{code}</Code>', response.get_data(as_text=True))


def signed(method, url, body, headers, key, secret, service='s3'):
    """The headers botocore's client for `service` sends."""
    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    auth = S3SigV4Auth if service == 's3' else SigV4Auth
    auth(Credentials(key, secret), service, REGION).add_auth(request)
    return dict(request.headers.items())


class ForeignPageTest(FormUploadTest):
    """The local key is no secret, and a form or a query string carries a signature that a page
    can compute and send with no preflight. A write from another origin is taken only where a
    bucket's CORS rules allow that origin, as a function URL's page is served from this one."""

    def upload(self, origin, key):
        fields = [(name, value, None) for name, value in self.form(key).items()]
        return self.post([*fields, ('file', b'forged', 'x.jpg')], headers={'Origin': origin})

    def test_a_forged_form_from_another_origin_stores_nothing(self):
        for origin in (PAGE, 'null', f'http://127.0.0.1:{self.port + 1}'):
            with self.subTest(origin):
                response = self.upload(origin, 'uploads/forged')
                self.assertEqual(response.status_code, 403, response.get_data())
                self.assertIn('AccessForbidden', response.get_data(as_text=True))
                self.assertIsNone(self.stored('uploads/forged'))

    def test_a_page_served_here_uploads_as_before(self):
        for origin in (self.url, f'http://localhost:{self.port}'):
            with self.subTest(origin):
                self.assertEqual(self.upload(origin, 'uploads/own').status_code, 204)
                self.assertEqual(self.stored('uploads/own'), b'forged')

    def test_a_bucket_rule_lets_its_origin_post(self):
        app = 'http://localhost:3000'
        self.s3.put_bucket_cors(BUCKET, [{'AllowedOrigin': [app], 'AllowedMethod': ['POST']}])
        self.addCleanup(self.s3.delete_bucket_cors, BUCKET)
        self.assertEqual(self.upload(app, 'uploads/app').status_code, 204)
        self.assertEqual(self.upload(PAGE, 'uploads/page').status_code, 403)

    def test_a_query_signed_delete_from_a_page_deletes_nothing(self):
        self.s3.put_object(BUCKET, 'uploads/keep', b'keep me')
        body = b'<Delete><Object><Key>uploads/keep</Key></Object></Delete>'
        request = AWSRequest(method='POST', url=f'{self.url}/{BUCKET}?delete')
        S3SigV4QueryAuth(Credentials('test', 'test'), 's3', REGION, expires=60).add_auth(request)
        path = request.url.split(str(self.port), 1)[1]
        for iam_is in ('on', 'off'):
            with self.subTest(iam=iam_is), self.iam_off() if iam_is == 'off' else nullcontext():
                response = self.request('POST', path, body, headers={
                    'Origin': PAGE, 'Content-Type': 'text/plain'})
                self.assertEqual(response.status_code, 403, response.get_data())
                self.assertEqual(self.stored('uploads/keep'), b'keep me')
