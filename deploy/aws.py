"""Runs awscli commands inside this process, each printed first so it can be pasted and re-run.

Starting awscli costs about 0.2 s of imports per command; a deploy runs a dozen commands, so
they share one awscli driver instead. What runs is still awscli with the arguments printed:
the same parsing, credentials, endpoint (AWS_ENDPOINT_URL) and `file://` documents.

Errors are told apart by the code AWS sent ("ResourceNotFoundException", "NoSuchBucket"...),
never by guessing: a deploy takes only "not found" as "not there yet".
"""
import contextlib
import io
import json
import os
import re
import shlex
import socket
import sys
import urllib.parse

AWS_ERROR = re.compile(r'An error occurred \(([^)]+)\)(?: when calling the (\w+) operation)?')
# What each service answers when the thing asked for does not exist.
NOT_FOUND = {'ResourceNotFoundException', 'NoSuchEntity', 'NoSuchBucket', '404', 'NotFound',
             'NoSuchBucketPolicy', 'NoSuchLifecycleConfiguration', 'NoSuchCORSConfiguration',
             'NoSuchPublicAccessBlockConfiguration', 'QueueDoesNotExist',
             'AWS.SimpleQueueService.NonExistentQueue'}


DEFAULT_LOCAL_PORT = 4566  # the Makefile's LOCAL_PORT
# awscli 1.x sends these to their legacy AWS host names unless --endpoint-url is given, even
# with AWS_ENDPOINT_URL set (awscli/customizations/overridesslcommonname.py): such a command
# would leave for real AWS. So they get --endpoint-url written out, in the printed command too.
ENDPOINT_ENV_IGNORED = {'sqs', 'emr', 'rds', 'docdb', 'neptune', 'health'}


class AwsError(Exception):
    def __init__(self, command, code, message):
        super().__init__(message)
        self.command, self.code, self.message = command, code, message

    @property
    def not_found(self):
        return self.code in NOT_FOUND


class Unreachable(Exception):
    """Nothing answers where awscli would send its requests."""


def _reusing(create_client):
    """awscli makes a new client for every command (a third of a read's time, in process);
    the same service, region and endpoint can share one, as one boto3 program would."""
    clients = {}

    def create(service_name, *args, **kwargs):
        key = (service_name, args, tuple(sorted((name, repr(value))
                                                for name, value in kwargs.items())))
        if key not in clients:
            clients[key] = create_client(service_name, *args, **kwargs)
        return clients[key]
    return create


def shell_line(argv):
    return shlex.join(['aws', *argv])


class Aws:
    """awscli's driver, created once and reused for every command.

    `echo` prints each command before it runs (reads too, indented: users see every call)."""

    def __init__(self, echo=print, endpoint=None):
        self.echo = echo
        self.endpoint = endpoint if endpoint is not None else os.environ.get('AWS_ENDPOINT_URL')
        self._driver = None
        self._checked = False
        self._identity = None
        self.calls = []

    def _get_driver(self):
        if self._driver is None:
            from awscli.clidriver import create_clidriver
            self._driver = create_clidriver()
            self._driver.session.create_client = _reusing(self._driver.session.create_client)
        return self._driver

    def check_reachable(self, timeout=2.0):
        """With AWS_ENDPOINT_URL set, one short TCP connect before the first command: awscli
        would otherwise retry a closed port for over a minute, then blame the credentials."""
        if self._checked or not self.endpoint:
            return
        parsed = urllib.parse.urlsplit(self.endpoint)
        port = parsed.port or (443 if parsed.scheme == 'https' else 80)
        try:
            socket.create_connection((parsed.hostname, port), timeout=timeout).close()
        except OSError as error:
            local = parsed.hostname in ('127.0.0.1', 'localhost', '::1')
            up = 'make up' if port == DEFAULT_LOCAL_PORT else f'make up LOCAL_PORT={port}'
            raise Unreachable(
                f'nothing answers at {self.endpoint} ({error.strerror or error}): '
                + (f'start the local endpoint with {up} (or unset AWS_ENDPOINT_URL to use AWS)'
                   if local else 'check AWS_ENDPOINT_URL')) from None
        self._checked = True

    def run(self, *argv, read=False, output='json'):
        """Run `aws ARGV`; return its parsed JSON output (None when it printed nothing)."""
        argv = [str(part) for part in argv]
        service = argv[0] if argv else ''
        if service in ENDPOINT_ENV_IGNORED and '--endpoint-url' not in argv:
            endpoint = os.environ.get(f'AWS_ENDPOINT_URL_{service.upper()}') or self.endpoint
            if endpoint:
                argv += ['--endpoint-url', endpoint]
        self.echo(('    ' if read else '') + shell_line(argv))
        self.check_reachable()
        self.calls.append(argv)
        stdout, stderr = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            status = self._get_driver().main([*argv, '--output', output])
        if status != 0:
            text = stderr.getvalue().strip()
            match = AWS_ERROR.search(text)
            if match is None and 'Could not connect to the endpoint URL' in text:
                raise Unreachable(f'{text}: is the network (or AWS_ENDPOINT_URL) right?')
            raise AwsError(argv, match.group(1) if match else f'exit {status}', text)
        text = stdout.getvalue()
        if output != 'json':
            return text
        return json.loads(text) if text.strip() else None

    def read(self, *argv):
        """A read: its answer, or None when AWS says the thing does not exist."""
        try:
            return self.run(*argv, read=True)
        except AwsError as error:
            if error.not_found:
                return None
            raise

    def identity(self):
        """sts get-caller-identity, asked once per process."""
        if self._identity is None:
            self._identity = self.run('sts', 'get-caller-identity', read=True)
        return self._identity

    def region(self):
        """The region awscli would use: the environment's, else `aws configure`'s, else ''."""
        region = os.environ.get('AWS_REGION') or os.environ.get('AWS_DEFAULT_REGION')
        if region:
            return region
        try:
            return self.run('configure', 'get', 'region', read=True, output='text').strip()
        except AwsError:  # exit 1: not configured
            return ''

    def exists(self, *argv):
        """For reads that answer nothing when the thing exists (s3api head-bucket)."""
        try:
            self.run(*argv, read=True)
        except AwsError as error:
            if error.not_found:
                return False
            raise
        return True


def check(aws):
    """`make` targets that call awscli themselves ask this first: one short look, one clear
    sentence, instead of a minute of retries ending in a guess about credentials."""
    try:
        aws.check_reachable()
        aws.run('sts', 'get-caller-identity', read=True)
    except Unreachable as error:
        return f'{error}'
    except AwsError as error:
        return (f'AWS refused the credentials{" at " + aws.endpoint if aws.endpoint else ""}: '
                f'check aws configure, AWS_PROFILE or the AWS_* variables.\n  {error.message}')
    if not aws.region():
        return 'no AWS region: set AWS_REGION or run aws configure.'
    return None


if __name__ == '__main__':
    problem = check(Aws(echo=lambda line: None))
    if problem:
        print(f'error: {problem}', file=sys.stderr)
    raise SystemExit(1 if problem else 0)
