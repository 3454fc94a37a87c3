"""The fixture of the fidelity tests: a bare local endpoint (no project copy, nothing
deployed), started as `make up` starts it, on a free port with a state folder of its own, and
small functions made from inline source. Each test names the response recorded on AWS that it
reproduces (LocalStack's tests/aws/services/lambda_/*.snapshot.json, or an AWS guide)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from deploy.functions import ROOT
from tests.e2e.endpoint import REGION, free_port, function_zip, local_client

ROLE = 'fidelity-role'
TRUST = {'Version': '2012-10-17', 'Statement': [{
    'Effect': 'Allow', 'Principal': {'Service': 'lambda.amazonaws.com'},
    'Action': 'sts:AssumeRole'}]}


def start_endpoint(state_dir, port, *arguments):
    """The endpoint process, once it answers; its output goes to state_dir/endpoint.log."""
    log = open(os.path.join(state_dir, 'endpoint.log'), 'ab')
    process = subprocess.Popen(
        [sys.executable, '-m', 'local_endpoint', '--port', str(port), '--state-dir', state_dir,
         '--retry-delays', '0.2,0.2', *arguments], cwd=ROOT, stdout=log,
        stderr=subprocess.STDOUT, env={**os.environ, 'PYTHONPATH': ROOT})
    log.close()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            with open(os.path.join(state_dir, 'endpoint.log')) as handle:
                raise AssertionError(f'the endpoint exited:\n{handle.read()[-3000:]}')
        try:
            with urllib.request.urlopen(f'http://127.0.0.1:{port}/_local/health', timeout=2):
                return process
        except OSError:  # refused, or accepted and not answered yet (URLError is one)
            time.sleep(0.1)
    process.kill()
    raise AssertionError('the endpoint did not answer within 60 s')


def stop_endpoint(process):
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class FidelityTestCase(unittest.TestCase):
    """One endpoint per test class, with an IAM role for its functions."""

    @classmethod
    def setUpClass(cls):
        cls.state = tempfile.mkdtemp(prefix='fidelity-')
        cls.seed(cls.state)
        cls.port = free_port()
        cls.url = f'http://127.0.0.1:{cls.port}'
        cls.process = start_endpoint(cls.state, cls.port)
        cls._clients = {}
        try:
            cls.role_arn = cls.client('iam').create_role(
                RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(TRUST))['Role']['Arn']
        except BaseException:
            stop_endpoint(cls.process)
            raise

    @classmethod
    def seed(cls, state_dir):
        """Put stored state in the endpoint's folder before it starts (none by default)."""

    @classmethod
    def tearDownClass(cls):
        stop_endpoint(cls.process)
        shutil.rmtree(cls.state, ignore_errors=True)

    @classmethod
    def client(cls, service):
        if service not in cls._clients:
            cls._clients[service] = local_client(cls.url, service, retries={'max_attempts': 1},
                                                 read_timeout=120)
        return cls._clients[service]

    @classmethod
    def create_function(cls, name, source, handler='handler.handler', runtime='python3.12',
                        **settings):
        """A function from one handler.py, active when this returns."""
        lambdas = cls.client('lambda')
        lambdas.create_function(FunctionName=name, Runtime=runtime, Role=cls.role_arn,
                                Handler=handler, Code={'ZipFile': function_zip(source)},
                                **settings)
        lambdas.get_waiter('function_active_v2').wait(FunctionName=name)
        return name

    def signed(self, method, path, body=b'', headers=None, service='lambda'):
        """(status, headers, body) of a request signed as botocore signs it, for the exact
        bytes and headers a client sees."""
        request = AWSRequest(method=method, url=self.url + path, data=body,
                             headers=dict(headers or {}))
        SigV4Auth(Credentials('test', 'test'), service, REGION).add_auth(request)
        return self.raw(urllib.request.Request(request.url, data=body or None, method=method,
                                               headers=dict(request.headers.items())))

    @staticmethod
    def raw(request):
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read()
