"""`make new NAME=thumbnails KIND=http|s3|schedule|plain`: a function folder that deploys as is.

The folder is what any function of the project is: a handler, a requirements.txt, a
three-line Makefile including ../lambda.mk, a function.json declaring what it needs (the
trigger of its kind and the permissions that trigger's code uses), a sample event for
`make invoke`, and a test. The top level finds it by its Makefile: no other file changes.

    python -m deploy.scaffold NAME --kind http|s3|schedule|plain [--root DIR]
"""
import argparse
import json
import os
import re
import sys

KINDS = ('http', 's3', 'schedule', 'plain')
DESCRIBED = {'http': 'an HTTP', 's3': 'an S3-triggered', 'schedule': 'a scheduled',
             'plain': 'a plain'}
# A folder name that is also a Python identifier and a valid start of a Lambda function name
# (the stage is added: at most 64 characters in all).
VALID_NAME = re.compile(r'[a-z][a-z0-9_]{0,39}')

HANDLERS = {
    'http': '''"""{name}: answers HTTP requests on its function URL (payload format 2.0)."""
import json


def handler(event, context):
    http = event.get('requestContext', {{}}).get('http', {{}})
    body = {{'function': context.function_name, 'method': http.get('method'),
             'path': event.get('rawPath', '/')}}
    return {{'statusCode': 200, 'headers': {{'content-type': 'application/json'}},
            'body': json.dumps(body)}}
''',
    's3': '''"""{name}: called by S3 for each object created in its bucket."""
import json
import urllib.parse


def handler(event, context):
    objects = []
    for record in event.get('Records', []):
        bucket = record['s3']['bucket']['name']
        key = urllib.parse.unquote_plus(record['s3']['object']['key'])
        objects.append(f's3://{{bucket}}/{{key}}')
        print(json.dumps({{'message': 'object created', 'object': objects[-1],
                          'size': record['s3']['object'].get('size')}}))
    return {{'objects': objects}}
''',
    'schedule': '''"""{name}: runs on a schedule (an EventBridge rule)."""
import json


def handler(event, context):
    print(json.dumps({{'message': 'scheduled run', 'time': event.get('time'),
                      'rule': (event.get('resources') or [None])[0]}}))
    return {{'ran_at': event.get('time')}}
''',
    'plain': '''"""{name}: invoked directly (aws lambda invoke, or make invoke)."""


def handler(event, context):
    return {{'hello': event.get('name', 'world'), 'function': context.function_name}}
''',
}

DECLARATIONS = {
    'http': {'triggers': [{'type': 'url', 'auth': 'NONE'}]},
    's3': {
        'buckets': {'${APP}-${STAGE}-{name}-${ACCOUNT_ID}-${REGION}': {}},
        'permissions': [{'sid': 'ReadCreatedObjects', 'actions': ['s3:GetObject'],
                         'resources': ['arn:${PARTITION}:s3:::${APP}-${STAGE}-{name}-'
                                       '${ACCOUNT_ID}-${REGION}/*']}],
        'triggers': [{'type': 's3', 'bucket': '${APP}-${STAGE}-{name}-${ACCOUNT_ID}-${REGION}',
                      'prefix': '', 'events': ['s3:ObjectCreated:*']}]},
    'schedule': {'triggers': [{'type': 'schedule', 'expression': 'rate(15 minutes)'}]},
    'plain': {},
}

EVENTS = {
    'http': ('http-get.json', {
        'version': '2.0', 'routeKey': '$default', 'rawPath': '/', 'rawQueryString': '',
        'headers': {'host': 'example.lambda-url.us-east-1.on.aws', 'user-agent': 'make invoke'},
        'requestContext': {'http': {'method': 'GET', 'path': '/', 'protocol': 'HTTP/1.1',
                                    'sourceIp': '127.0.0.1', 'userAgent': 'make invoke'},
                           'routeKey': '$default', 'stage': '$default'},
        'isBase64Encoded': False}),
    's3': ('s3-put.json', {'Records': [{
        'eventVersion': '2.1', 'eventSource': 'aws:s3', 'awsRegion': 'us-east-1',
        'eventName': 'ObjectCreated:Put',
        's3': {'s3SchemaVersion': '1.0', 'bucket': {'name': 'example-bucket'},
               'object': {'key': 'example.txt', 'size': 5}}}]}),
    'schedule': ('scheduled.json', {
        'version': '0', 'id': '00000000-0000-0000-0000-000000000000',
        'detail-type': 'Scheduled Event', 'source': 'aws.events', 'account': '123456789012',
        'time': '2026-11-22T10:00:00Z', 'region': 'us-east-1',
        'resources': ['arn:aws:events:us-east-1:123456789012:rule/example'], 'detail': {}}),
    'plain': ('hello.json', {'name': 'make invoke'}),
}

TEST = '''"""{name}'s handler, called as Lambda calls it, with the sample event."""
import importlib.util
import json
import os
import unittest
from types import SimpleNamespace

FOLDER = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_handler():
    spec = importlib.util.spec_from_file_location('{name}_handler',
                                                  os.path.join(FOLDER, 'handler.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class HandlerTest(unittest.TestCase):
    def test_the_sample_event(self):
        with open(os.path.join(FOLDER, 'events', '{event}')) as handle:
            event = json.load(handle)
        context = SimpleNamespace(function_name='{name}-test', aws_request_id='test')
        result = load_handler().handler(event, context)
        self.assertIsInstance(result, dict)


if __name__ == '__main__':
    unittest.main()
'''

MAKEFILE = '''# {name}: {described} function; function.json declares what it needs. Rules: ../lambda.mk
HANDLER ?= handler.handler
include ../lambda.mk
'''

REQUIREMENTS = '''# What {name}'s zip ships, pinned (name==version).
# boto3 is in Lambda's runtime: leave it out.
'''


def files(name, kind):
    event_name, event = EVENTS[kind]
    # Bucket names take no underscores.
    declaration = json.loads(json.dumps(DECLARATIONS[kind]).replace('{name}',
                                                                    name.replace('_', '-')))
    declaration = {'description': f'{name}: {DESCRIBED[kind]} function', **declaration}
    return {
        'handler.py': HANDLERS[kind].format(name=name),
        'requirements.txt': REQUIREMENTS.format(name=name),
        'Makefile': MAKEFILE.format(name=name, described=DESCRIBED[kind]),
        'function.json': json.dumps(declaration, indent=2) + '\n',
        f'events/{event_name}': json.dumps(event, indent=2) + '\n',
        'tests/test_handler.py': TEST.format(name=name, event=event_name),
    }


def create(root, name, kind):
    if not VALID_NAME.fullmatch(name or ''):
        raise ValueError(f'NAME={name!r}: a function folder name is lower-case letters, digits '
                         f'and _, starting with a letter, at most 40 characters '
                         f'(make new NAME=thumbnails KIND=http)')
    if kind not in KINDS:
        raise ValueError(f'KIND={kind!r}: one of {", ".join(KINDS)}')
    folder = os.path.join(root, name)
    if os.path.exists(folder):
        raise ValueError(f'{folder} already exists: choose another NAME')
    for relative, text in files(name, kind).items():
        path = os.path.join(folder, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'w') as handle:
            handle.write(text)
    return folder


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m deploy.scaffold')
    parser.add_argument('name')
    parser.add_argument('--kind', default='plain')
    parser.add_argument('--root', default='.')
    arguments = parser.parse_args(argv)
    try:
        folder = create(arguments.root, arguments.name, arguments.kind)
    except ValueError as error:
        print(f'error: {error}', file=sys.stderr)
        return 2
    name = arguments.name
    print(f'created {os.path.relpath(folder)}/: handler.py, function.json, Makefile, '
          f'requirements.txt, events/, tests/')
    print(f'next: make -C {name} test; make deploy (or make -C {name} deploy); '
          f'make -C {name} invoke')
    return 0


if __name__ == '__main__':
    sys.exit(main())
