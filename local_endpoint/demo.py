"""The pieces of `make demo` that are not make: a sample photo, and the closing summary.

    python -m local_endpoint.demo sample PATH
    python -m local_endpoint.demo summary SAMPLE_PATH LOCAL_PORT
"""
import os
import sys

import boto3
from wand.image import Image


def sample(path, width=4000, height=3000):
    """A 12 MP JPEG made on the spot (nothing is fetched): a plasma, like a photo's detail."""
    if not os.path.exists(path):
        with Image(width=width, height=height, pseudo='plasma:') as image:
            image.format = 'jpeg'
            image.compression_quality = 90
            image.save(filename=path)
    print(f'sample image: {path} ({width}x{height}, {os.path.getsize(path):,} bytes)')


DEFAULT_PORT = '4566'  # the Makefile's LOCAL_PORT


def next_steps(sample_path, port):
    """What to run next, each a command that exists, with the port when it is not the default."""
    port_setting = '' if str(port) == DEFAULT_PORT else f' LOCAL_PORT={port}'
    steps = [(f'eval "$(make -s local-env{port_setting})"',
              'point awscli, boto3 and make at the endpoint'),
             (f'make upload FILE={sample_path}', 'another upload; waits for the resize'),
             ('make -C image_resize logs', "follow the resize function's logs"),
             ('make -C image_list invoke', "the gallery's sample event: result and log tail"),
             (f'make down{port_setting}', 'stop the endpoint; what it holds is kept'),
             (f'make reset{port_setting}', 'or stop it and forget everything it kept')]
    width = max(len(command) for command, _ in steps)
    return ['The endpoint keeps running: open the gallery, or in this shell:'] + [
        f'  {command:{width}}  # {why}' for command, why in steps]


def summary(sample_path, port):
    s3, logs = boto3.client('s3'), boto3.client('logs')
    bucket = os.environ['RESIZED_BUCKET']
    newest = s3.list_objects_v2(Bucket=bucket, Prefix='uploads/', MaxKeys=1).get('Contents')
    if not newest:
        print('error: nothing in the resized bucket', file=sys.stderr)
        return 1
    key = newest[0]['Key']
    metadata = s3.head_object(Bucket=bucket, Key=key)['Metadata']
    function = os.environ['RESIZE_FUNCTION']  # image_resize's name in Lambda, with its stage
    events = logs.filter_log_events(logGroupName=f'/aws/lambda/{function}')['events']
    reports = [event['message'] for event in events if event['message'].startswith('REPORT')]
    print()
    print(f'Gallery:  {os.environ.get("GALLERY_URL", "(make url)")}')
    print(f'Resized:  s3://{bucket}/{key}: {metadata.get("width")}x{metadata.get("height")} '
          f'(from {metadata.get("source-width")}x{metadata.get("source-height")})')
    print(f'Function: {reports[-1].strip() if reports else "(no REPORT line yet)"}')
    print()
    print('\n'.join(next_steps(sample_path, port)))
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ['sample'] and len(argv) == 2:
        sample(argv[1])
        return 0
    if argv[:1] == ['summary'] and len(argv) == 3:
        return summary(*argv[1:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == '__main__':
    sys.exit(main())
