"""`make tune`: a function's duration and cost at several memory sizes, on the local endpoint.

Lambda gives a function CPU in proportion to its memory (1,769 MB is one vCPU), so more memory
can finish sooner and cost no more. AWS Lambda Power Tuning measures that on AWS, for money;
this measures it on the local endpoint, for nothing. For each size it sets MemorySize, invokes
once to start an environment (a cold start is not what steady state costs; its Init Duration is
shown apart), then N times, reading each REPORT line from the log tail. The function's
MemorySize is put back afterwards, whatever happens.

Only a loopback endpoint is accepted: on AWS this would reconfigure a live function and pay for
every invocation.

Every AWS call is printed as the awscli command it is before it runs; boto3 runs them, because
starting awscli for each of some 70 invocations would take longer than the invocations.

    python -m deploy.tune --function-name NAME --event EVENT.json [--memory-sizes '128 256']
        [--invocations 10] [--object FILE] [--response OUT.json]
        [--price-per-million-requests 0.20] [--price-per-gb-second 0.0000166667]
"""
import argparse
import base64
import collections
import hashlib
import ipaddress
import json
import os
import shlex
import signal
import sys
from dataclasses import dataclass, field
from urllib.parse import unquote_plus, urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, WaiterError

DEFAULT_MEMORY_SIZES = (128, 256, 512, 1024, 1769, 3008)
MEMORY_RANGE = (128, 10240)  # Lambda's MemorySize, in MB
# A size that cannot run (out of memory, timing out) would otherwise cost N x its Timeout.
FAILURES_IN_A_ROW = 3
# Lambda's longest Timeout, and a margin for the endpoint to answer after it.
LONGEST_INVOCATION_SECONDS = 900 + 60


class NotLocal(Exception):
    """The client would talk to something other than the local endpoint."""


class EventError(Exception):
    """The event cannot say which S3 object to put before each invocation."""


class RestoreFailed(Exception):
    """Something tuning changed could not be put back; the message says how to do it by hand."""


@dataclass(frozen=True)
class Prices:
    """Lambda's on-demand prices in USD (us-east-1, x86_64; arm64's GB-second is 0.0000133334)."""
    per_million_requests: float = 0.20
    per_gb_second: float = 0.0000166667

    def per_million(self, memory_mb, billed_ms):
        """A million invocations of `billed_ms` each at `memory_mb` (Lambda counts 1 GB as
        1,024 MB)."""
        gb_seconds = billed_ms / 1000 * memory_mb / 1024
        return self.per_million_requests + self.per_gb_second * gb_seconds * 1_000_000


@dataclass
class Invocation:
    """One invocation as its REPORT line and its response tell it."""
    error: str = None
    duration_ms: float = None
    billed_ms: int = None
    max_memory_mb: int = None
    init_ms: float = None
    result: bytes = None  # the payload's digest, when it succeeded
    head: str = ''  # its beginning, to show a result that differs
    detail: str = ''  # what the error says


@dataclass
class Row:
    """One memory size: its warm-up, its measured invocations, or why it has neither."""
    memory_mb: int
    invocations: int
    warm_up: Invocation = None
    measured: list = field(default_factory=list)
    failure: str = None

    @property
    def attempts(self):
        return ([self.warm_up] if self.warm_up else []) + self.measured

    @property
    def succeeded(self):
        return [invocation for invocation in self.measured if invocation.error is None]

    @property
    def errors(self):
        return collections.Counter(invocation.error for invocation in self.attempts
                                   if invocation.error is not None)

    @property
    def all_succeeded(self):
        return (self.failure is None and len(self.measured) == self.invocations
                and not self.errors)

    @property
    def results(self):
        return {invocation.result for invocation in self.attempts if invocation.error is None}

    @property
    def example(self):
        return next((invocation.head for invocation in self.attempts
                     if invocation.error is None), '')


def command(*arguments):
    """The awscli command line of one call, quoted for a shell."""
    return ' '.join(['aws', *(shlex.quote(str(argument)) for argument in arguments)])


def is_loopback(host):
    if host == 'localhost':
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_local(client, function_name):
    """Refuse a client whose calls would leave this machine: on AWS, tuning changes a live
    function's configuration and every invocation is billed."""
    url = client.meta.endpoint_url
    if not is_loopback(urlsplit(url).hostname or ''):
        raise NotLocal(
            f'make tune runs against the local endpoint only. It changes {function_name}\'s '
            f'MemorySize and invokes it many times: on AWS that reconfigures a live function '
            f'and every invocation is billed. These calls would go to {url}. Point them at the '
            f'local endpoint (eval "$(make -s local-env)" sets AWS_ENDPOINT_URL=http://127.0.0.1:'
            f'4566), or use AWS Lambda Power Tuning on AWS.')


def percentile(values, fraction):
    """Nearest rank: a value that was measured, never one interpolated between two."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def report_fields(log_tail):
    """The fields of the last REPORT line: {'Duration': '12.30 ms', ...}."""
    reports = [line for line in log_tail.splitlines() if line.startswith('REPORT ')]
    if not reports:
        return None
    return dict(part.split(': ', 1) for part in reports[-1].split('\t') if ': ' in part)


def number(text):
    return float(text.split()[0])


def invoke(lambda_client, function_name, payload, response_path):
    """One synchronous invocation, read as Lambda reports it. A refused call (throttled,
    denied) counts as a failed invocation with the API's error code."""
    try:
        response = lambda_client.invoke(FunctionName=function_name, Payload=payload,
                                        LogType='Tail')
    except ClientError as error:
        return Invocation(error=error.response['Error']['Code'],
                          detail=error.response['Error'].get('Message', ''))
    body = response['Payload'].read()
    with open(response_path, 'wb') as handle:  # as awscli writes its outfile
        handle.write(body)
    report = report_fields(base64.b64decode(response.get('LogResult', '')).decode(errors='replace'))
    if report is None:
        return Invocation(error='no REPORT line in the log tail')
    invocation = Invocation(
        duration_ms=number(report['Duration']), billed_ms=int(number(report['Billed Duration'])),
        max_memory_mb=int(number(report['Max Memory Used'])),
        init_ms=number(report['Init Duration']) if 'Init Duration' in report else None)
    if response.get('FunctionError'):
        error_type, invocation.detail = _error(body)
        invocation.error = error_type or report.get('Error Type') or response['FunctionError']
    else:
        invocation.result = hashlib.sha256(body).digest()
        invocation.head = body[:200].decode(errors='replace')
    return invocation


def _error(body):
    """(errorType, errorMessage) of a function error's payload, as Lambda's runtimes write it."""
    try:
        document = json.loads(body)
    except ValueError:
        return None, ''
    if not isinstance(document, dict):
        return None, ''
    return document.get('errorType'), str(document.get('errorMessage', ''))


def set_memory_size(lambda_client, function_name, memory_mb, progress):
    progress(command('lambda', 'update-function-configuration', '--function-name', function_name,
                     '--memory-size', memory_mb))
    lambda_client.update_function_configuration(FunctionName=function_name, MemorySize=memory_mb)
    progress(command('lambda', 'wait', 'function-updated-v2', '--function-name', function_name))
    lambda_client.get_waiter('function_updated_v2').wait(FunctionName=function_name)


def measure(lambda_client, function_name, event_path, memory_sizes, invocations,
            before_each=None, progress=print, response_path=os.devnull):
    """Each memory size in turn: set it, a warm-up invocation, then `invocations` more.
    Returns one Row per size. The function's MemorySize is restored before returning or
    raising (Ctrl-C included); RestoreFailed says how to do it by hand if that fails.

    `lambda_client` needs a read timeout above the function's Timeout and no retries: a
    retried invocation runs the function again. `before_each()` runs before every invocation
    (InputObject puts the event's S3 object back). Each payload is written to `response_path`,
    as awscli writes its outfile, so the last one can be read afterwards."""
    require_local(lambda_client, function_name)
    with open(event_path, 'rb') as handle:
        payload = handle.read()
    progress(command('lambda', 'get-function-configuration', '--function-name', function_name))
    original = lambda_client.get_function_configuration(FunctionName=function_name)['MemorySize']
    rows = []
    try:
        for memory_mb in memory_sizes:
            row = Row(memory_mb, invocations)
            rows.append(row)
            try:
                set_memory_size(lambda_client, function_name, memory_mb, progress)
            except ClientError as error:
                row.failure = f'MemorySize refused: {error.response["Error"]["Code"]}'
            except WaiterError as error:
                configuration = (error.last_response or {}).get('Configuration', {})
                reason = configuration.get('LastUpdateStatusReason', error)
                row.failure = f'the update failed: {reason}'
            if row.failure:
                progress(f'  {memory_mb} MB: {row.failure}')
                continue
            progress(command('lambda', 'invoke', '--function-name', function_name, '--payload',
                             f'fileb://{event_path}', '--log-type', 'Tail', response_path)
                     + f'  (x {invocations + 1}: a warm-up, then {invocations})')
            _run(row, lambda: _one(lambda_client, function_name, payload, before_each,
                                   response_path))
            progress(f'  {memory_mb} MB: {_summary(row)}')
    finally:
        if rows:
            _restore(lambda_client, function_name, original, progress)
    return rows


def _one(lambda_client, function_name, payload, before_each, response_path):
    if before_each is not None:
        before_each()
    return invoke(lambda_client, function_name, payload, response_path)


def _run(row, invoke_once):
    row.warm_up = invoke_once()
    failures = 0 if row.warm_up.error is None else 1
    while len(row.measured) < row.invocations:
        invocation = invoke_once()
        row.measured.append(invocation)
        failures = failures + 1 if invocation.error else 0
        if failures == FAILURES_IN_A_ROW:
            row.failure = f'stopped after {FAILURES_IN_A_ROW} failures in a row'
            return


def _summary(row):
    parts = []
    if row.warm_up.init_ms is not None:
        parts.append(f'init {row.warm_up.init_ms:.0f} ms')
    if row.succeeded:
        parts.append(f'p50 {p50(row):.0f} ms')
    if row.errors:
        parts.append(_errors(row))
    return ', '.join(parts + ([row.failure] if row.failure else []))


def _restore(lambda_client, function_name, memory_mb, progress):
    progress(f'restoring MemorySize {memory_mb}')
    try:
        set_memory_size(lambda_client, function_name, memory_mb, progress)
    except (ClientError, BotoCoreError, KeyboardInterrupt) as error:
        raise RestoreFailed(
            f'could not restore {function_name}\'s MemorySize to {memory_mb} '
            f'({type(error).__name__}: {error}). Run: '
            + command('lambda', 'update-function-configuration', '--function-name',
                      function_name, '--memory-size', memory_mb)) from error


def s3_objects(event):
    """(bucket, key) of each record of an S3 event notification, keys decoded as S3 encodes
    them (a space is '+')."""
    try:
        records = json.loads(event)['Records']
        locations = [(record['s3']['bucket']['name'], unquote_plus(record['s3']['object']['key']))
                     for record in records]
    except (ValueError, TypeError, KeyError) as error:
        raise EventError('the event names no S3 object: it needs Records[].s3.bucket.name and '
                         f'Records[].s3.object.key, as S3 sends them ({type(error).__name__}: '
                         f'{error})') from None
    versioned = [record['s3']['object']['versionId'] for record in records
                 if record['s3']['object'].get('versionId')]
    if versioned:
        raise EventError(f'the event names version {versioned[0]}: each put makes a new version, '
                         f'so the function would not read the file put there. Remove versionId '
                         f'from the event.')
    return list(dict.fromkeys(locations))


def same_function(arn, function_arn):
    """Whether a notification's function ARN, qualified or not, is this function."""
    return arn.split(':')[:7] == function_arn.split(':')[:7]


class InputObject:
    """For a function that consumes its input (deletes the object its event names): puts one
    file at the event's S3 objects before each invocation, so every invocation does the same
    work. The buckets' own triggers of the function are off meanwhile, since each put would
    otherwise invoke it a second time, racing the measured invocation for the object; they are
    restored on leaving, whatever happened."""

    def __init__(self, s3_client, path, locations, function_arn, progress=print):
        self.s3, self.path, self.locations = s3_client, path, locations
        self.function_arn, self.progress = function_arn, progress
        with open(path, 'rb') as handle:
            self.body = handle.read()
        self.suspended = {}

    def __enter__(self):
        require_local(self.s3, self.function_arn.split(':')[6])
        try:
            for bucket in dict.fromkeys(bucket for bucket, _ in self.locations):
                self._suspend_triggers(bucket)
        except BaseException:  # Ctrl-C included: put back what was switched off, then fail
            self._restore_triggers()
            raise
        for bucket, key in self.locations:
            self.progress(command('s3api', 'put-object', '--bucket', bucket, '--key', key,
                                  '--body', self.path) + '  (before each invocation)')
        return self

    def __call__(self):
        for bucket, key in self.locations:
            self.s3.put_object(Bucket=bucket, Key=key, Body=self.body)

    def __exit__(self, *exception):
        self._restore_triggers()

    def _suspend_triggers(self, bucket):
        self.progress(command('s3api', 'get-bucket-notification-configuration', '--bucket', bucket))
        configuration = self.s3.get_bucket_notification_configuration(Bucket=bucket)
        configuration.pop('ResponseMetadata', None)
        functions = configuration.get('LambdaFunctionConfigurations', [])
        others = [trigger for trigger in functions
                  if not same_function(trigger['LambdaFunctionArn'], self.function_arn)]
        if len(others) == len(functions):
            return
        self.progress(f'  s3://{bucket} triggers {self.function_arn.split(":")[6]}: off while '
                      f'tuning, as each put would invoke it again')
        self._put_notification(bucket, dict(configuration, LambdaFunctionConfigurations=others))
        self.suspended[bucket] = configuration

    def _restore_triggers(self):
        failures = []
        for bucket, configuration in self.suspended.items():
            try:
                self._put_notification(bucket, configuration)
            except (ClientError, BotoCoreError, KeyboardInterrupt) as error:
                failures.append(f'could not restore the notification of s3://{bucket} '
                                f'({type(error).__name__}: {error}). '
                                'Run: ' + self._notification_command(bucket, configuration))
        self.suspended = {}
        if failures:
            raise RestoreFailed(' '.join(failures))

    def _notification_command(self, bucket, configuration):
        return command('s3api', 'put-bucket-notification-configuration', '--bucket', bucket,
                       '--notification-configuration',
                       json.dumps(configuration, separators=(',', ':')))

    def _put_notification(self, bucket, configuration):
        self.progress(self._notification_command(bucket, configuration))
        self.s3.put_bucket_notification_configuration(Bucket=bucket,
                                                      NotificationConfiguration=configuration)


def _errors(row):
    if not row.attempts:
        return '-'
    counts = row.errors
    kinds = ', '.join(f'{kind} x{count}' if count > 1 else kind for kind, count in counts.items())
    return f'{sum(counts.values())}/{len(row.attempts)}' + (f' {kinds}' if kinds else '')


def marks(rows, prices):
    """({memory_mb: ['cheapest', 'fastest', 'result differs']}, the reference row) among
    sizes where every invocation succeeded. A size whose results differ from the largest such
    size's (when that one always answers the same) did other work, such as refusing an input
    its memory cannot hold: it is named, never marked cheapest or fastest."""
    candidates = [row for row in rows if row.all_succeeded]
    notes = collections.defaultdict(list)
    reference = max(candidates, key=lambda row: row.memory_mb, default=None)
    if reference is not None and len(reference.results) == 1:
        for row in candidates:
            if row.results != reference.results:
                notes[row.memory_mb].append('result differs')
        candidates = [row for row in candidates if row.results == reference.results]
    if candidates:
        cheapest = min(candidates, key=lambda row: cost(row, prices))
        fastest = min(candidates, key=lambda row: p50(row))
        notes[cheapest.memory_mb].append('cheapest')
        notes[fastest.memory_mb].append('fastest')
    return notes, reference


def p50(row):
    return percentile([invocation.duration_ms for invocation in row.succeeded], 0.5)


def cost(row, prices):
    """A million invocations at this size: billed by their mean, which is what a million
    invocations add up to."""
    billed = [invocation.billed_ms for invocation in row.succeeded]
    return prices.per_million(row.memory_mb, sum(billed) / len(billed))


def table(rows, prices):
    """The rows as aligned lines, with the cheapest and fastest marked."""
    notes, reference = marks(rows, prices)
    lines = [f'{"memory":>7}  {"init ms":>7}  {"p50 ms":>7}  {"p95 ms":>7}  {"billed p50":>10}  '
             f'{"max used":>8}  {"$ per 1M":>8}  errors']
    for row in rows:
        init = row.warm_up.init_ms if row.warm_up else None
        init_text = f'{init:.0f}' if init is not None else '-'
        succeeded = row.succeeded
        if succeeded:
            durations = [invocation.duration_ms for invocation in succeeded]
            figures = (f'{percentile(durations, 0.5):7.1f}  {percentile(durations, 0.95):7.1f}  '
                       f'{percentile([i.billed_ms for i in succeeded], 0.5):>7} ms  '
                       f'{max(i.max_memory_mb for i in succeeded):>5} MB  '
                       f'{cost(row, prices):8.3f}')
        else:
            figures = f'{"-":>7}  {"-":>7}  {"-":>10}  {"-":>8}  {"-":>8}'
        line = f'{row.memory_mb:>4} MB  {init_text:>7}  {figures}  {_errors(row)}'
        if row.failure:
            line += f' ({row.failure})'
        if notes.get(row.memory_mb):
            line += '  <- ' + ', '.join(notes[row.memory_mb])
        lines.append(line)
    for row in rows:
        failed = next((invocation for invocation in row.attempts if invocation.error), None)
        if failed is not None and failed.detail:
            lines.append(f'{row.memory_mb} MB failed: {failed.error}: {_short(failed.detail)}')
    if any('result differs' in note for note in notes.values()):
        differing = [row for row in rows if 'result differs' in notes.get(row.memory_mb, ())]
        lines.append(f'result at {reference.memory_mb} MB: {_short(reference.example)}')
        lines += [f'result at {row.memory_mb} MB: {_short(row.example)}' for row in differing]
    lines.append(f'$ per 1M invocations: ${_price(prices.per_million_requests)} per million '
                 f'requests + ${_price(prices.per_gb_second)} per GB-second x the mean billed '
                 f'duration')
    return lines


def _price(value):
    return f'{value:.10f}'.rstrip('0').rstrip('.')


def _short(text, limit=100):
    text = ' '.join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + '...'


def memory_sizes(text):
    sizes = [int(word) for word in text.replace(',', ' ').split()]
    low, high = MEMORY_RANGE
    if not sizes or any(not low <= size <= high for size in sizes):
        raise argparse.ArgumentTypeError(f'memory sizes are whole MB from {low} to {high}, '
                                         f'not {text!r}')
    return sizes


def positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f'at least 1, not {text!r}')
    return value


def _interrupt(signum, frame):
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main(argv=None):
    # Ctrl-C arrives as SIGINT; `kill` sends SIGTERM and a closed terminal SIGHUP: each ends a
    # run the same way, putting back what it changed.
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)
    parser = argparse.ArgumentParser(prog='python -m deploy.tune')
    parser.add_argument('--function-name', required=True)
    parser.add_argument('--event', required=True, help='the payload of every invocation')
    parser.add_argument('--memory-sizes', type=memory_sizes,
                        default=list(DEFAULT_MEMORY_SIZES), help="MB, e.g. '128 256 512'")
    parser.add_argument('--invocations', type=positive, default=10,
                        help='measured invocations per size, after one warm-up')
    parser.add_argument('--object', help='a file put at the event\'s S3 bucket/key before '
                                         'each invocation (for a function that consumes it)')
    parser.add_argument('--response', default=os.devnull,
                        help='where each payload is written (the last one stays)')
    parser.add_argument('--price-per-million-requests', type=float,
                        default=Prices.per_million_requests)
    parser.add_argument('--price-per-gb-second', type=float, default=Prices.per_gb_second)
    arguments = parser.parse_args(argv)
    prices = Prices(arguments.price_per_million_requests, arguments.price_per_gb_second)
    name = arguments.function_name
    config = Config(read_timeout=LONGEST_INVOCATION_SECONDS, retries={'max_attempts': 1})
    lambdas, s3 = boto3.client('lambda', config=config), boto3.client('s3')
    try:
        require_local(lambdas, name)
        rows = _tune(lambdas, s3, name, arguments)
    except (NotLocal, EventError, RestoreFailed) as error:
        print(f'error: {error}', file=sys.stderr)
        return 2 if isinstance(error, NotLocal) else 1
    except EndpointConnectionError:
        print(f'error: nothing answers at {lambdas.meta.endpoint_url}: start the local endpoint '
              f'with make up', file=sys.stderr)
        return 1
    except lambdas.exceptions.ResourceNotFoundException:
        print(f'error: function {name} is not deployed on {lambdas.meta.endpoint_url}: run make '
              f'infra deploy there first', file=sys.stderr)
        return 1
    except OSError as error:
        print(f'error: {error}', file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print('interrupted; what tuning changed was restored (above)', file=sys.stderr)
        return 130
    print('\n'.join([f'{name}: {arguments.invocations} invocations per size after a warm-up, '
                     f'event {arguments.event}'] + table(rows, prices)))
    return 0


def _tune(lambdas, s3, name, arguments):
    if not arguments.object:
        return measure(lambdas, name, arguments.event, arguments.memory_sizes,
                       arguments.invocations, response_path=arguments.response)
    with open(arguments.event, 'rb') as handle:
        locations = s3_objects(handle.read())
    print(command('lambda', 'get-function-configuration', '--function-name', name,
                  '--query', 'FunctionArn'))
    arn = lambdas.get_function_configuration(FunctionName=name)['FunctionArn']
    with InputObject(s3, arguments.object, locations, arn) as put_object:
        return measure(lambdas, name, arguments.event, arguments.memory_sizes,
                       arguments.invocations, before_each=put_object,
                       response_path=arguments.response)


if __name__ == '__main__':
    sys.exit(main())
