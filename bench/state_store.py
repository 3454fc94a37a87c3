"""What keeping state costs: the S3 write path beside the endpoint as it was before it kept
anything (BASELINE, extracted from git), and start-up with 1,000 objects and 10 functions
stored (goal: under 3 s), beside a start with nothing stored.

Each endpoint is its own process on a free port with a fresh state folder; writes alternate
between the two, round by round, so that the machine's noise falls on both alike.
"""
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile

import boto3
from botocore.config import Config

from deploy.functions import ROOT
from tests.e2e.endpoint import free_port

BASELINE = 'b4539d1'  # the last commit before the endpoint kept state (issue 15)
OBJECT_SIZES = (('10 KB', 10 * 1024), ('1 MB', 1024 * 1024))
STORED_OBJECTS = 1000
STORED_FUNCTIONS = 10
TRUST = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": ' \
        '{"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}'


def baseline_tree():
    """The project at BASELINE, in a temporary folder; None where git cannot give it."""
    folder = tempfile.mkdtemp(prefix='bench-baseline-')
    archive = subprocess.run(['git', 'archive', BASELINE], cwd=ROOT, capture_output=True)
    if archive.returncode != 0:
        shutil.rmtree(folder)
        return None
    subprocess.run(['tar', '-x', '-C', folder], input=archive.stdout, check=True)
    return folder


class Endpoint:
    def __init__(self, tree, state=None):
        self.tree = tree
        self.state = state or tempfile.mkdtemp(prefix='bench-state-')
        self.port = free_port()
        self.url = f'http://127.0.0.1:{self.port}'
        self.process = None

    def start(self):
        """Seconds from the process's start until it answers /_local/health."""
        started = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, '-m', 'local_endpoint', '--port', str(self.port), '--state-dir',
             self.state], cwd=self.tree, env={**os.environ, 'PYTHONPATH': self.tree},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while True:
            try:
                with urllib.request.urlopen(f'{self.url}/_local/health', timeout=2):
                    return time.perf_counter() - started
            except OSError:  # refused, or accepted and not answered yet (URLError is one)
                if self.process.poll() is not None:
                    raise RuntimeError(f'the endpoint in {self.tree} exited')
                time.sleep(0.02)

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=60)

    def client(self, service):
        return boto3.client(service, endpoint_url=self.url, region_name='us-east-1',
                            aws_access_key_id='test', aws_secret_access_key='test',
                            config=Config(retries={'max_attempts': 1}))


def put_latencies(s3, bucket, body, count):
    times = []
    for number in range(count):
        started = time.perf_counter()
        s3.put_object(Bucket=bucket, Key=f'bench/{number}', Body=body)
        times.append((time.perf_counter() - started) * 1000)
    return times


def write_path(rounds, count, progress=print):
    tree = baseline_tree()
    if tree is None:
        progress(f'  no git history with {BASELINE}: the write path has no baseline')
        return None
    endpoints = {'baseline': Endpoint(tree), 'kept': Endpoint(ROOT)}
    try:
        clients = {}
        for name, endpoint in endpoints.items():
            endpoint.start()
            clients[name] = endpoint.client('s3')
            clients[name].create_bucket(Bucket='bench')
        figures = {}
        for label, size in OBJECT_SIZES:
            body = os.urandom(size)
            samples = {name: [] for name in endpoints}
            for round_number in range(rounds):
                order = list(endpoints) if round_number % 2 == 0 else list(endpoints)[::-1]
                for name in order:
                    samples[name] += put_latencies(clients[name], 'bench', body, count)
            figures[label] = {name: statistics.median(values) for name, values in
                              samples.items()}
            progress(f'  PutObject {label}: baseline {figures[label]["baseline"]:.1f} ms, '
                     f'kept {figures[label]["kept"]:.1f} ms')
        return figures
    finally:
        for endpoint in endpoints.values():
            if endpoint.process is not None:
                endpoint.stop()
            shutil.rmtree(endpoint.state, ignore_errors=True)
        shutil.rmtree(tree, ignore_errors=True)


def function_zip(size):
    """A zip as large as a function with dependencies, of bytes that do not compress."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w') as archive:
        archive.writestr('handler.py', 'def handler(event, context):\n    return event\n')
        archive.writestr('vendored.bin', os.urandom(size))
    return buffer.getvalue()


def stored_state(progress=print):
    """A state folder with STORED_OBJECTS objects and STORED_FUNCTIONS functions (each with a
    version, an alias and a URL), made through the endpoint."""
    endpoint = Endpoint(ROOT)
    endpoint.start()
    try:
        s3, lambdas = endpoint.client('s3'), endpoint.client('lambda')
        role = endpoint.client('iam').create_role(
            RoleName='bench', AssumeRolePolicyDocument=TRUST)['Role']['Arn']
        s3.create_bucket(Bucket='stored')
        for number in range(STORED_OBJECTS):
            s3.put_object(Bucket='stored', Key=f'photos/{number:04d}.jpg',
                          Body=os.urandom(20 * 1024 if number % 10 else 200 * 1024))
        for number in range(STORED_FUNCTIONS):
            name = f'stored-{number}'
            lambdas.create_function(FunctionName=name, Runtime='python3.12', Role=role,
                                    Handler='handler.handler',
                                    Code={'ZipFile': function_zip(400 * 1024)})
            version = lambdas.publish_version(FunctionName=name)['Version']
            lambdas.create_alias(FunctionName=name, Name='live', FunctionVersion=version)
            lambdas.create_function_url_config(FunctionName=name, Qualifier='live',
                                               AuthType='NONE')
        progress(f'  stored {STORED_OBJECTS} objects and {STORED_FUNCTIONS} functions')
    finally:
        endpoint.stop()
    return endpoint.state


def start_up(rounds, progress=print):
    state = stored_state(progress)
    empty = tempfile.mkdtemp(prefix='bench-state-')
    try:
        samples = {'nothing stored': [], 'stored': []}
        for _ in range(rounds):
            for label, folder in (('nothing stored', empty), ('stored', state)):
                endpoint = Endpoint(ROOT, folder)
                samples[label].append(endpoint.start())
                endpoint.stop()
        figures = {label: statistics.median(values) for label, values in samples.items()}
        progress(f'  start-up: nothing stored {figures["nothing stored"]:.2f} s, '
                 f'{STORED_OBJECTS} objects and {STORED_FUNCTIONS} functions '
                 f'{figures["stored"]:.2f} s')
        return figures
    finally:
        shutil.rmtree(state, ignore_errors=True)
        shutil.rmtree(empty, ignore_errors=True)


def run(rounds, count, progress=print):
    return {'write path': write_path(rounds, count, progress),
            'start-up': start_up(max(3, rounds // 2), progress)}


def table(figures):
    lines = []
    for label, row in (figures['write path'] or {}).items():
        lines.append(f'   PutObject {label}, median: {row["kept"]:.1f} ms kept against '
                     f'{row["baseline"]:.1f} ms before ({BASELINE}): '
                     f'{row["kept"] / row["baseline"]:.2f}x (goal: at most 1.2x)')
    if figures['write path'] is None:
        lines.append(f'   write path: no baseline ({BASELINE} is not in this clone\'s history)')
    start = figures['start-up']
    lines.append(f'   start-up until /_local/health answers, median: {start["stored"]:.2f} s with '
                 f'{STORED_OBJECTS} objects and {STORED_FUNCTIONS} functions stored (goal: < 3 s), '
                 f'{start["nothing stored"]:.2f} s with nothing stored')
    return lines
