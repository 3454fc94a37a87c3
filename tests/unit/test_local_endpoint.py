"""The local endpoint's pure parts: POST policy and presigned URL checks, response mapping,
interpreter choice, the environment pool's retirements, where Init Duration starts."""
import base64
import json
import os
import tempfile
import threading
import time
import unittest
from unittest import mock
from datetime import datetime, timedelta, timezone
from urllib.parse import unquote, urlsplit

import boto3
from botocore.config import Config
from moto.core import DEFAULT_ACCOUNT_ID
from moto.iam.models import iam_backends
from werkzeug.test import EnvironBuilder

from local_endpoint import iam, post_policy
from local_endpoint import runtimes as runtimes_module
from local_endpoint.environment import ExecutionEnvironment
from local_endpoint.http_front import response_from
from local_endpoint.lambda_service import Pool
from local_endpoint.runtimes import Runtimes, pinned
from local_endpoint.s3_errors import S3Error

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)
SCOPE = '20261121/us-east-1/s3/aws4_request'


def form(conditions, expires=NOW + timedelta(hours=1), **fields):
    policy = base64.b64encode(json.dumps({
        'expiration': expires.strftime('%Y-%m-%dT%H:%M:%SZ'), 'conditions': conditions}).encode()
    ).decode()
    values = {'policy': policy, 'x-amz-credential': f'test/{SCOPE}',
              'x-amz-algorithm': 'AWS4-HMAC-SHA256', 'x-amz-date': '20261121T110000Z',
              'x-amz-signature': post_policy.signature('test', SCOPE, policy)}
    values.update(fields)
    return values


BASE = [{'bucket': 'b'}, ['starts-with', '$key', 'uploads/'], {'x-amz-algorithm': 'AWS4-HMAC-SHA256'},
        {'x-amz-credential': f'test/{SCOPE}'}, {'x-amz-date': '20261121T110000Z'},
        ['content-length-range', 1, 100], ['starts-with', '$Content-Type', 'image/']]


class PostPolicyTest(unittest.TestCase):
    def verify(self, fields, size=10):
        post_policy.verify(fields, 'b', size, post_policy.local_secret, NOW)

    def refused(self, fields, size=10):
        with self.assertRaises(S3Error) as caught:
            self.verify(fields, size)
        return caught.exception

    def test_a_good_form_passes(self):
        self.verify(form(BASE, key='uploads/a', **{'content-type': 'image/png'}))

    def test_each_refusal_has_s3s_code(self):
        good = dict(key='uploads/a', **{'content-type': 'image/png'})
        cases = [
            (form(BASE, **good), 101, 400, 'EntityTooLarge'),
            (form(BASE, **good), 0, 400, 'EntityTooSmall'),
            (form(BASE, key='uploads/a', **{'content-type': 'text/html'}), 10, 403, 'AccessDenied'),
            (form(BASE, key='elsewhere/a', **{'content-type': 'image/png'}), 10, 403,
             'AccessDenied'),
            (form(BASE, expires=NOW - timedelta(seconds=1), **good), 10, 403, 'AccessDenied'),
            (form(BASE, acl='public-read', **good), 10, 403, 'AccessDenied'),
            (dict(form(BASE, **good), **{'x-amz-signature': '0' * 64}), 10, 403,
             'SignatureDoesNotMatch'),
            (dict(form(BASE, **good), **{'x-amz-credential': f'nobody/{SCOPE}'}), 10, 403,
             'InvalidAccessKeyId'),
            ({'key': 'uploads/a'}, 10, 403, 'AccessDenied'),
        ]
        for fields, size, status, code in cases:
            with self.subTest(code=code, fields=sorted(fields)):
                refusal = self.refused(fields, size)
                self.assertEqual((refusal.status, refusal.code), (status, code))
                self.assertIn(f'<Code>{code}</Code>', refusal.response().get_data(as_text=True))

    def test_extra_fields_are_named(self):
        refusal = self.refused(form(BASE, key='uploads/a', acl='public-read',
                                    **{'content-type': 'image/png'}))
        self.assertIn('Extra input fields: acl', refusal.message)

    def test_sigv2_forms_are_verified_too(self):
        fields = form(BASE, key='uploads/a', **{'content-type': 'image/png'})
        for name in ('x-amz-credential', 'x-amz-signature'):
            del fields[name]
        conditions = [condition for condition in BASE if 'x-amz-credential' not in condition]
        policy = base64.b64encode(json.dumps({'expiration': '2026-11-21T13:00:00Z',
                                              'conditions': conditions}).encode()).decode()
        fields.update(policy=policy, awsaccesskeyid='test',
                      signature=post_policy.signature_v2('test', policy))
        self.verify(fields)
        fields['signature'] = 'forged'
        self.assertEqual(self.refused(fields).code, 'SignatureDoesNotMatch')


class PresignedUrlTest(unittest.TestCase):
    """With IAM enforced, the endpoint verifies presigned URLs itself (moto needs a header)."""

    @staticmethod
    def environ(url):
        parts = urlsplit(url)
        return dict(EnvironBuilder(path=unquote(parts.path), query_string=parts.query,
                                   base_url='http://127.0.0.1:4566').get_environ(),
                    RAW_URI=f'{parts.path}?{parts.query}')

    @staticmethod
    def presign(access_key='test', secret='test', key='uploads/a b+c.jpg'):
        client = boto3.client('s3', endpoint_url='http://127.0.0.1:4566', region_name='us-east-1',
                              aws_access_key_id=access_key, aws_secret_access_key=secret,
                              config=Config(signature_version='s3v4',
                                            s3={'addressing_style': 'path'}))
        return client.generate_presigned_url('get_object', Params={'Bucket': 'b', 'Key': key},
                                             ExpiresIn=60)

    def setUp(self):
        iam.ensure_admin()

    def test_a_good_url_passes(self):
        iam.check_presigned(self.environ(self.presign()))

    def test_each_refusal_has_s3s_code(self):
        backend = iam_backends[DEFAULT_ACCOUNT_ID]['aws']
        if 'nobody' not in backend.users:
            backend.create_user('us-east-1', 'nobody')
        powerless = backend.create_access_key('nobody')
        later = datetime.now(timezone.utc) + timedelta(minutes=2)
        cases = [
            (self.presign(), later, 'AccessDenied'),  # expired
            (self.presign().replace('a%20b', 'a%20c'), None, 'SignatureDoesNotMatch'),
            (self.presign(secret='wrong'), None, 'SignatureDoesNotMatch'),
            (self.presign(access_key='AKIAUNKNOWN000000000'), None, 'InvalidAccessKeyId'),
            (self.presign(powerless.access_key_id, powerless.secret_access_key), None,
             'AccessDenied'),  # a valid signature by a user with no policy
        ]
        for url, now, code in cases:
            with self.subTest(code=code, url=url), self.assertRaises(S3Error) as caught:
                iam.check_presigned(self.environ(url), now=now)
            self.assertEqual(caught.exception.code, code)


class ResponseMappingTest(unittest.TestCase):
    def test_a_response_object(self):
        response = response_from(json.dumps({
            'statusCode': 404, 'headers': {'Content-Type': 'text/plain'}, 'cookies': ['a=1'],
            'body': base64.b64encode(b'\x00bin').decode(), 'isBase64Encoded': True}).encode())
        self.assertEqual((response.status_code, response.headers['Content-Type']),
                         (404, 'text/plain'))
        self.assertEqual(response.headers.getlist('Set-Cookie'), ['a=1'])
        self.assertEqual(response.get_data(), b'\x00bin')

    def test_anything_else_is_compact_json_with_200(self):
        """As AWS answers (test_lambda.snapshot.json, test_lambda_url_invocation[dict])."""
        response = response_from(b'{"hello": "world"}')
        self.assertEqual((response.status_code, response.content_type), (200, 'application/json'))
        self.assertEqual(response.get_data(), b'{"hello":"world"}')


class RuntimesTest(unittest.TestCase):
    def test_a_missing_python_falls_back_with_a_warning(self):
        runtimes = Runtimes(tempfile.mkdtemp())
        self.assertTrue(runtimes.interpreter('python3.99'))
        self.assertIn('No Python 3.99 found', runtimes.warnings['python3.99'])

    def test_the_runtime_folder_uses_requirements_txts_pins(self):
        pins = dict(requirement.split('==') for requirement in pinned())
        self.assertEqual(set(pins) >= {'boto3', 'botocore', 'awslambdaric'}, True)
        self.assertTrue(all(version[0].isdigit() for version in pins.values()))

    def test_the_runtime_folder_is_found_once_and_byte_compiled_by_its_python(self):
        """Each cold start asks for the folder: asking must not start a process each time.
        The folder is compiled by the Python that imports it, once."""
        state = tempfile.mkdtemp()
        runtimes = Runtimes(state)
        runtimes.interpreters['python3.12'] = '/usr/bin/python3.12-of-the-test'
        commands = []

        def run(command, **_):
            commands.append(command)
            if 'pip' in command:
                os.makedirs(command[command.index('--target') + 1])
            return mock.Mock(returncode=0, stdout='3.12\n')

        seed = tempfile.mkdtemp()
        with mock.patch.object(runtimes_module.subprocess, 'run', run), \
                mock.patch.dict(os.environ, {'LOCAL_RUNTIME_SEED': seed}):
            first = runtimes.runtime_dir('python3.12')
            self.assertEqual(runtimes.runtime_dir('python3.12'), first)
        self.assertEqual(first, os.path.join(state, 'runtime', 'python3.12'))
        compiles = [command for command in commands if 'compileall' in command]
        self.assertEqual([command[0] for command in compiles], ['/usr/bin/python3.12-of-the-test'])
        self.assertEqual(len(commands), 3)  # the version, pip, compileall: nothing per call
        self.assertTrue(os.path.exists(os.path.join(first, runtimes_module.COMPILED)))

        # The next endpoint (another state folder) links the seed's folder: no pip, no compile.
        commands.clear()
        other = Runtimes(tempfile.mkdtemp())
        other.interpreters['python3.12'] = '/usr/bin/python3.12-of-the-test'
        with mock.patch.object(runtimes_module.subprocess, 'run', run), \
                mock.patch.dict(os.environ, {'LOCAL_RUNTIME_SEED': seed}):
            linked = other.runtime_dir('python3.12')
        self.assertTrue(os.path.exists(os.path.join(linked, runtimes_module.COMPILED)))
        self.assertEqual([command for command in commands if 'pip' in command
                          or 'compileall' in command], [])


class FakeEnvironment:
    """Stands for an execution environment whose ending blocks until the test lets it."""

    def __init__(self, spec, release=None):
        self.spec = spec
        self.release = release
        self.ended = threading.Event()

    def alive(self):
        return True

    def kill(self):
        if self.release is not None:
            self.release.wait(10)
        self.ended.set()


class PoolRetirementTest(unittest.TestCase):
    def test_a_stale_environment_is_ended_without_the_new_invocation_waiting(self):
        release = threading.Event()
        old_spec, new_spec = mock.Mock(), mock.Mock()
        old_spec.name = new_spec.name = 'f'
        old_spec.version = new_spec.version = '$LATEST'  # the same version, changed
        pool = Pool()
        stale = pool.acquire(old_spec, 10, lambda: FakeEnvironment(old_spec, release), False)
        pool.release(stale, True)
        fresh = pool.acquire(new_spec, 10, lambda: FakeEnvironment(new_spec), False)
        self.assertIs(fresh.spec, new_spec)
        self.assertFalse(stale.ended.is_set())  # still ending, and no one waited for it
        self.assertEqual(pool.count, 1)
        release.set()
        self.assertTrue(stale.ended.wait(5))

    def test_closing_waits_for_environments_still_ending(self):
        release = threading.Event()
        spec = mock.Mock()
        spec.name = 'f'
        pool = Pool()
        environment = pool.acquire(spec, 10, lambda: FakeEnvironment(spec, release), False)
        pool.release(environment, False)  # broken: retired in the background
        closing = threading.Thread(target=pool.close)
        closing.start()
        closing.join(0.2)
        self.assertTrue(closing.is_alive())
        release.set()
        closing.join(5)
        self.assertTrue(environment.ended.is_set())


class InitStartTest(unittest.TestCase):
    def test_init_starts_when_the_runtime_says_so_not_at_end_of_file(self):
        environment = ExecutionEnvironment.__new__(ExecutionEnvironment)
        environment.started = before = time.monotonic()
        read, write = os.pipe()
        os.close(write)  # the process died before the runtime started
        environment._await_runtime_start(read)
        self.assertEqual(environment.started, before)
        read, write = os.pipe()
        os.write(write, b'\n')
        environment._await_runtime_start(read)
        os.close(write)
        self.assertGreater(environment.started, before)
