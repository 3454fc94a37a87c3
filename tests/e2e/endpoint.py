"""The fixture of the end-to-end tests: the local endpoint as users run it (`make up`, in a
copy of the project, on a free port), with the service deployed by `make deploy`.
Every function runs from its deployed zip through awslambdaric."""
import concurrent.futures
import io
import json
import os
import socket
import time
import urllib.error
import urllib.request
import zipfile

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from tests import images
from tests.workspace import ProjectCopyTestCase, make

REGION = 'us-east-1'
UPLOAD_BUCKET = f'image-service-dev-uploads-123456789012-{REGION}'
RESIZED_BUCKET = f'image-service-dev-resized-123456789012-{REGION}'


def local_environment(url):
    """A process environment that points awscli, boto3 and make at a local endpoint, with its
    credentials, and at nothing else (no profile or config file of the developer's)."""
    environment = {name: value for name, value in os.environ.items()
                   if not name.startswith('AWS_')}
    environment.update({'AWS_ENDPOINT_URL': url, 'AWS_ACCESS_KEY_ID': 'test',
                        'AWS_SECRET_ACCESS_KEY': 'test', 'AWS_DEFAULT_REGION': REGION,
                        'AWS_CONFIG_FILE': os.devnull, 'AWS_SHARED_CREDENTIALS_FILE': os.devnull})
    return environment


def local_client(url, service, **config):
    return boto3.client(service, endpoint_url=url, region_name=REGION, aws_access_key_id='test',
                        aws_secret_access_key='test', config=Config(**config))


def free_port():
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


def function_zip(source):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w') as archive:
        archive.writestr('handler.py', source)
    return buffer.getvalue()


def post_form(form, body, content_type='image/jpeg', name='photo.jpg'):
    """A browser-style multipart POST of a presigned form; returns (status, body)."""
    boundary = 'test-boundary-7d1f'
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"\r\n\r\n{value}\r\n'
             .encode() for field, value in [*form['fields'].items(), ('Content-Type', content_type)]]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                 f'filename="{name}"\r\nContent-Type: {content_type}\r\n\r\n'.encode()
                 + body + f'\r\n--{boundary}--\r\n'.encode())
    return fetch(urllib.request.Request(form['url'], data=b''.join(parts), method='POST', headers={
        'Content-Type': f'multipart/form-data; boundary={boundary}'}))


def control(url, path, document):
    """POST a JSON document to the endpoint's control plane (/_local/..., /moto-api/...),
    signed with the local key, as it requires; returns (status, body)."""
    request = AWSRequest(method='POST', url=f'{url}{path}', data=json.dumps(document).encode(),
                         headers={'Content-Type': 'application/json'})
    SigV4Auth(Credentials('test', 'test'), 's3', REGION).add_auth(request)
    return fetch(urllib.request.Request(request.url, data=request.data, method='POST',
                                        headers=dict(request.headers.items())))


def fetch(request):
    """(status, body) of a URL or Request, error statuses included."""
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


class EndpointTestCase(ProjectCopyTestCase):
    """A project copy with its own endpoint (make up) and the service deployed on it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.port = free_port()
        cls.state = os.path.join(cls.root, '.local')
        cls.settings = [f'LOCAL_PORT={cls.port}', 'LOCAL_RETRY_DELAYS=0.2,0.2']
        cls.url = f'http://127.0.0.1:{cls.port}'
        make(cls.root, 'up', *cls.settings)
        try:
            cls.deploy()
        except BaseException:  # tearDownClass will not run: stop the endpoint here
            make(cls.root, 'down', *cls.settings, check=False)
            raise

    @classmethod
    def deploy(cls):
        cls.environment = local_environment(cls.url)
        cls.run_make('deploy')
        cls.gallery = cls.client('lambda').get_function_url_config(
            FunctionName='ListImage-dev')['FunctionUrl']

    @classmethod
    def tearDownClass(cls):
        make(cls.root, 'down', *cls.settings, check=False)
        super().tearDownClass()

    @classmethod
    def run_make(cls, *arguments, check=True, directory=''):
        return make(os.path.join(cls.root, directory), *arguments, *cls.settings,
                    env=cls.environment, check=check)

    @classmethod
    def client(cls, service):
        """One client per service and class: making one costs more than the call it makes."""
        clients = cls.__dict__.get('_clients')
        if clients is None:
            clients = cls._clients = {}
        if service not in clients:
            clients[service] = local_client(cls.url, service, retries={'max_attempts': 1},
                                            read_timeout=120)
        return clients[service]

    def upload_form(self, expires=None, max_bytes=None, signature_version='s3v4'):
        """The gallery's own form (GET /presign), or one signed here with other limits."""
        if expires is None and max_bytes is None:
            with urllib.request.urlopen(self.gallery + 'presign') as response:
                return json.load(response)
        key = f'uploads/test-{time.time_ns()}'
        client = local_client(self.url, 's3', signature_version=signature_version)
        expires, max_bytes = expires or 3600, max_bytes or 20 * 1024 * 1024
        post = client.generate_presigned_post(
            UPLOAD_BUCKET, key, Conditions=[['content-length-range', 1, max_bytes],
                                            ['starts-with', '$Content-Type', 'image/']],
            ExpiresIn=expires)
        return dict(post, key=key)

    def upload_concurrently(self, count, in_flight, seconds):
        """`count` form uploads, `in_flight` at a time; each must be resized exactly once.
        Returns the seconds from the first POST until the last resized image was visible."""
        photo = images.jpeg(800, 600)
        forms = [self.upload_form() for _ in range(count)]
        started = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(max_workers=in_flight) as pool:
            statuses = list(pool.map(lambda form: post_form(form, photo)[0], forms))
        self.assertEqual(statuses, [204] * count)
        keys = {form['key'] for form in forms}
        self.wait_for(lambda: all(self.exists(RESIZED_BUCKET, key) for key in keys),
                      seconds=seconds, what=f'{count} resized images')
        elapsed = time.perf_counter() - started
        def every_upload_logged():  # log lines land when an invocation ends, after its object
            logged = self.resized_keys()
            return logged if keys <= set(logged) else None

        resized = self.wait_for(every_upload_logged, seconds=30,
                                what='a "resized" log line for each upload')
        self.assertEqual(sorted(key for key in resized if key in keys), sorted(keys),
                         'none lost, none resized twice')
        return elapsed

    def resized_keys(self):
        return [json.loads(line)['key'] for line in self.log_messages('ResizeImage-dev')
                if line.startswith('{') and '"resized"' in line]

    def wait_for(self, predicate, seconds=60, what='condition'):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.2)
        self.fail(f'timed out after {seconds} s waiting for {what}')

    def exists(self, bucket, key):
        try:
            return self.client('s3').head_object(Bucket=bucket, Key=key)
        except self.client('s3').exceptions.ClientError:
            return None

    def log_messages(self, function):
        """Everything the function logged; nothing yet if it never ran."""
        logs = self.client('logs')
        pages = logs.get_paginator('filter_log_events').paginate(
            logGroupName=f'/aws/lambda/{function}')
        try:
            return [event['message'] for page in pages for event in page['events']]
        except logs.exceptions.ResourceNotFoundException:
            return []

    def deploy_function(self, name, source, **settings):
        lambdas = self.client('lambda')
        lambdas.create_function(FunctionName=name, Runtime='python3.12',
                                Role='arn:aws:iam::123456789012:role/image-service-ResizeImage-dev',
                                Handler='handler.handler', Code={'ZipFile': function_zip(source)},
                                **settings)
        self.addCleanup(lambdas.delete_function, FunctionName=name)
        return lambdas

