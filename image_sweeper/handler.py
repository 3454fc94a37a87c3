"""On a schedule: uploads left pending are handed to the resize function again.

S3 delivers its event notifications almost always, not always; and an event whose every
attempt died (out of memory, timed out) leaves no outcome behind. Either way an upload would
stay pending forever. This sweep finds uploads older than SWEEP_AFTER_SECONDS that have no
resized copy and no outcome tag (resize-status: rejected or failed) and invokes the resize
function's alias asynchronously with the event S3 would have sent. The resize function is
idempotent (a redelivered event whose work is done is a quiet success), so a re-drive that
races a late S3 event costs an invocation, nothing more.

Bounded: at most SWEEP_LIMIT uploads re-driven (or failed) per run, and the listing stops
while the invocation still has time to log what it did. An upload younger than the threshold
is left alone: S3 may still be delivering its event. An upload whose attempt is under way (its
deadline tag is ahead) is left to it, and one that has had a second full round of attempts
since S3's event (the sweep's own) is left as the gallery shows it, failed: re-driving an
image that kills the function every time would only burn invocations every sweep.
"""
import json
import os
import re
import time
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote_plus

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

_MISSING = {'NoSuchKey', '404', 'NotFound'}
_WHOLE_NUMBER = re.compile(r'[0-9]{1,12}')
# The resize function's deadline tag is in whole seconds; past it and this grace the attempt
# is over (the gallery's rule).
DEADLINE_GRACE_SECONDS = 5
# Rounds of Lambda's attempts an upload gets: S3's event, then one re-drive by a sweep.
ROUNDS = 2
# Time kept back from the invocation's own timeout to write the summary.
RESERVE_MS = 5000


class ConfigurationError(RuntimeError):
    """The function is set up wrongly; every run would fail, so fail loudly."""


class SweepFailed(RuntimeError):
    """Some uploads could not be checked or re-driven; raising makes the run show as an error."""


@dataclass(frozen=True)
class Settings:
    upload_bucket: str
    resized_bucket: str
    resize_function: str
    upload_prefix: str = 'uploads/'
    sweep_after_seconds: int = 900
    sweep_limit: int = 100

    @classmethod
    def from_environ(cls, environ):
        missing = [name for name in ('UPLOAD_BUCKET', 'RESIZED_BUCKET', 'RESIZE_FUNCTION')
                   if not environ.get(name, '').strip()]
        if missing:
            raise ConfigurationError(f'{" and ".join(missing)} not set')
        return cls(
            upload_bucket=environ['UPLOAD_BUCKET'].strip(),
            resized_bucket=environ['RESIZED_BUCKET'].strip(),
            resize_function=environ['RESIZE_FUNCTION'].strip(),
            upload_prefix=environ.get('UPLOAD_PREFIX', cls.upload_prefix),
            # Below a minute a sweep may race S3's own, usually prompt, delivery: the resize
            # then runs twice, which it takes (a redelivery finds its work done). 0 sweeps
            # every pending upload at once (tests, or a bucket whose trigger was off).
            sweep_after_seconds=_integer(environ, 'SWEEP_AFTER_SECONDS',
                                         cls.sweep_after_seconds, 0, 30 * 86400),
            sweep_limit=_integer(environ, 'SWEEP_LIMIT', cls.sweep_limit, 1, 1000),
        )


def _integer(environ, name, default, low, high):
    raw = environ.get(name, '').strip()
    if not raw:
        return default
    try:
        value = int(raw.replace('_', ''))
    except ValueError:
        raise ConfigurationError(f'{name}={raw!r} is not a whole number') from None
    if not low <= value <= high:
        raise ConfigurationError(f'{name}={value} is out of range ({low} to {high})')
    return value


@lru_cache(maxsize=None)
def s3_client():
    """One client per execution environment, reused by warm invocations."""
    return boto3.client('s3', config=Config(retries={'mode': 'standard'},
                                            connect_timeout=5, read_timeout=30))


@lru_cache(maxsize=None)
def lambda_client():
    return boto3.client('lambda', config=Config(retries={'mode': 'standard'},
                                                connect_timeout=5, read_timeout=30))


def log(**fields):
    """One JSON object per line: CloudWatch Logs Insights parses these fields as they are."""
    print(json.dumps(fields, ensure_ascii=False, default=str), flush=True)


def handle_sweep(event, context):
    settings = Settings.from_environ(os.environ)
    # Lambda's clock for this run; a test's context may not have one.
    remaining_ms = getattr(context, 'get_remaining_time_in_millis', lambda: 900_000)
    started = time.perf_counter()
    counts = dict.fromkeys(('listed', 'young', 'resized', 'tagged', 'in_progress',
                            'exhausted', 'gone', 'redriven', 'errors'), 0)
    redriven = set()
    stopped = 'end'
    cutoff = time.time() - settings.sweep_after_seconds
    for upload in _uploads(settings):
        if counts['redriven'] + counts['errors'] >= settings.sweep_limit:
            stopped = 'limit'
            break
        if remaining_ms() < RESERVE_MS:
            stopped = 'time'
            break
        counts['listed'] += 1
        if upload['LastModified'].timestamp() > cutoff:
            counts['young'] += 1
            continue
        if upload['Key'] in redriven:
            continue
        try:
            state = _state(upload['Key'], settings)
            if state == 'pending':
                _redrive(upload, settings, context)
                redriven.add(upload['Key'])
                state = 'redriven'
        except ClientError as error:
            counts['errors'] += 1
            log(level='ERROR', event='sweep-failed', key=upload['Key'],
                error=error.response.get('Error', {}).get('Code', ''), detail=str(error),
                operation=error.operation_name)
            continue
        counts[state] += 1
    summary = {**counts, 'stopped': stopped, 'limit': settings.sweep_limit,
               'after_seconds': settings.sweep_after_seconds,
               'ms': round((time.perf_counter() - started) * 1000, 1)}
    rule = (event.get('resources') or [None])[0] if isinstance(event, dict) else None
    log(level='ERROR' if counts['errors'] else 'INFO', event='swept', rule=rule, **summary)
    if counts['errors']:
        raise SweepFailed(f'{counts["errors"]} uploads could not be checked or re-driven; '
                          f'the next sweep tries them again')
    return summary


def _uploads(settings):
    """Every object under the prefix, a page of ListObjectsV2 at a time, as it is needed."""
    pages = s3_client().get_paginator('list_objects_v2').paginate(
        Bucket=settings.upload_bucket, Prefix=settings.upload_prefix)
    for page in pages:
        yield from page.get('Contents', [])


def _state(key, settings):
    """What became of an old upload: resized, tagged (an outcome), in_progress, exhausted,
    gone (deleted since it was listed) or pending, which alone is re-driven."""
    s3 = s3_client()
    try:
        s3.head_object(Bucket=settings.resized_bucket, Key=key)
        return 'resized'
    except ClientError as error:
        if _code(error) not in _MISSING:
            raise
    try:
        tag_set = s3.get_object_tagging(Bucket=settings.upload_bucket, Key=key)['TagSet']
    except ClientError as error:
        if _code(error) not in _MISSING:
            raise
        return 'gone'
    tags = {tag['Key']: tag['Value'] for tag in tag_set}
    if tags.get('resize-status'):
        return 'tagged'
    values = [tags.get(name, '') for name in
              ('resize-attempt', 'resize-attempts', 'resize-deadline')]
    # Anyone who may upload may write these tags too: what is not a whole number is no attempt.
    if all(_WHOLE_NUMBER.fullmatch(value) for value in values):
        attempt, attempts, deadline = (int(value) for value in values)
        if time.time() <= deadline + DEADLINE_GRACE_SECONDS:
            return 'in_progress'
        if attempts >= 1 and attempt >= ROUNDS * attempts:
            return 'exhausted'
    return 'pending'


def _redrive(upload, settings, context):
    key = upload['Key']
    # The bucket's partition is the function's own: a notification never crosses partitions.
    partition = getattr(context, 'invoked_function_arn', 'arn:aws').split(':')[1]
    lambda_client().invoke(FunctionName=settings.resize_function, InvocationType='Event',
                           Payload=json.dumps(s3_event(upload, settings, partition)))
    log(level='INFO', event='redriven', bucket=settings.upload_bucket, key=key,
        size=upload.get('Size'), last_modified=upload['LastModified'].isoformat(),
        function=settings.resize_function)


def s3_event(upload, settings, partition):
    """The ObjectCreated:Put notification S3 sends for the upload (its key form-encoded as S3
    encodes it), marked as the sweep's by its configurationId."""
    region = os.environ.get('AWS_REGION', '')
    bucket = settings.upload_bucket
    created = upload['LastModified']
    return {'Records': [{
        'eventVersion': '2.1', 'eventSource': 'aws:s3', 'awsRegion': region,
        'eventTime': created.strftime('%Y-%m-%dT%H:%M:%S.') + f'{created.microsecond // 1000:03d}Z',
        'eventName': 'ObjectCreated:Put',
        's3': {'s3SchemaVersion': '1.0', 'configurationId': 'image-sweeper',
               'bucket': {'name': bucket, 'arn': f'arn:{partition}:s3:::{bucket}'},
               'object': {'key': quote_plus(upload['Key'], safe='/'),
                          'size': upload.get('Size', 0),
                          'eTag': upload.get('ETag', '').strip('"')}},
    }]}


def _code(error):
    return error.response.get('Error', {}).get('Code', '')
