"""Runs a plan's steps: each awscli command printed, pasteable, then run; or only printed.

The JSON documents a command names with file:// are written next to the plan first, so the
printed command works as is when pasted (`make plan` writes them too, and runs nothing).
"""
import json
import os
import time

from deploy.aws import AwsError, shell_line
from deploy.planner import resolve

# What a step's output is worth showing, in this order.
SHOWN = ('FunctionArn', 'Version', 'CodeSha256', 'FunctionUrl', 'ApiEndpoint', 'RuleArn')
# What a captured output gives to the steps after it.
CAPTURED = {'url': 'FunctionUrl', 'api': 'ApiEndpoint', 'api-id': 'ApiId',
            'version': 'Version'}


class Executor:
    def __init__(self, aws, echo=print, dry_run=False, sleep=time.sleep, retries=10,
                 retry_delay=3):
        self.aws, self.echo, self.dry_run, self.sleep = aws, echo, dry_run, sleep
        self.retries, self.retry_delay = retries, retry_delay
        self.results = {}

    def run(self, steps):
        for step in steps:
            if step.note:
                self.echo(f'{step.note}')
            argv = [str(part) for part in resolve(step.argv, self.results)]
            for path, document in resolve(step.documents, self.results).items():
                write_document(path, document)
            if self.dry_run:
                self.echo(f'  {shell_line(argv)}')
                continue
            output = self.run_step(argv, step.retry_on)
            if step.capture and isinstance(output, dict):
                kind, _, name = step.capture.partition(':')
                for key, field in CAPTURED.items():
                    if key.split('-')[0] == kind and field in output:
                        self.results[f'{key}:{name}'] = output[field]
            if isinstance(output, dict):
                shown = [str(output[key]) for key in SHOWN if key in output]
                if shown:
                    self.echo(f'    -> {"  ".join(shown)}')
            if step.done:
                self.echo(step.done)

    def run_step(self, argv, retry_on):
        attempt = 1
        while True:
            try:
                return self.aws.run(*argv)
            except AwsError as error:
                if not (retry_on and retry_on in error.message and attempt < self.retries):
                    raise
                self.echo(f'  not usable yet ({retry_on}: IAM takes seconds to propagate a new '
                          f'role); retrying in {self.retry_delay} s')
                attempt += 1
                self.sleep(self.retry_delay)


def write_document(path, document):
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    with open(path, 'w') as handle:
        json.dump(document, handle, indent=2)
        handle.write('\n')
