"""The same function at several memory sizes, as `make tune` measures it (deploy.tune): on
Lambda CPU grows with MemorySize (1,769 MB is one vCPU) and the local endpoint gives each
environment that share, so Durations here change with memory as they would on AWS.

The gallery answers its sample HTTP event; the resize gets an S3 event naming a 1600x1200
JPEG put back before each invocation (the function deletes it), with the bucket's own trigger
of the function off meanwhile.
"""
import json
import os
import tempfile

import boto3
from botocore.config import Config

from bench.service import EVENTS
from bench.upload_latency import photo
from deploy import tune

SIZES = (128, 256, 512, 1024, 1769)
BENCH_KEY = 'uploads/bench-memory-sizes.jpg'


def s3_event(bucket, key):
    with open(EVENTS['ResizeImage-dev']) as handle:
        event = json.load(handle)
    record = event['Records'][0]
    record['s3']['bucket'].update(name=bucket, arn=f'arn:aws:s3:::{bucket}')
    record['s3']['object']['key'] = key
    return event


def _silent(_line):
    """The awscli commands make tune prints: not the bench's to show."""


def run(invocations, progress=print):
    lambdas = boto3.client('lambda', config=Config(
        read_timeout=tune.LONGEST_INVOCATION_SECONDS, retries={'max_attempts': 1}))
    s3 = boto3.client('s3')
    figures = {}
    rows = tune.measure(lambdas, 'ListImage-dev', EVENTS['ListImage-dev'], SIZES, invocations,
                        progress=_silent)
    figures['ListImage-dev'] = tune.table(rows, tune.Prices())
    progress('  ListImage measured at ' + ', '.join(f'{size} MB' for size in SIZES))
    with tempfile.TemporaryDirectory() as folder:
        event_path, photo_path = os.path.join(folder, 'event.json'), os.path.join(folder, 'p.jpg')
        with open(event_path, 'w') as handle:
            json.dump(s3_event(os.environ['UPLOAD_BUCKET'], BENCH_KEY), handle)
        with open(photo_path, 'wb') as handle:
            handle.write(photo(1600, 1200))
        arn = lambdas.get_function_configuration(FunctionName='ResizeImage-dev')['FunctionArn']
        with tune.InputObject(s3, photo_path, [(os.environ['UPLOAD_BUCKET'], BENCH_KEY)], arn,
                              progress=_silent) as put_back:
            rows = tune.measure(lambdas, 'ResizeImage-dev', event_path, SIZES, invocations,
                                before_each=put_back, progress=_silent)
    figures['ResizeImage-dev'] = tune.table(rows, tune.Prices())
    progress('  ResizeImage measured at ' + ', '.join(f'{size} MB' for size in SIZES))
    return figures


def table(figures):
    lines = []
    for function, rows in figures.items():
        what = ('its sample HTTP event' if function == 'ListImage-dev'
                else 'a 1600x1200 JPEG (S3 event)')
        lines += [f'   {function}, {what}:'] + [f'     {line}' for line in rows]
    return lines
