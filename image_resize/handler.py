"""S3 upload event -> a resized copy in RESIZED_BUCKET, then the original is removed.

Lambda retries a failed asynchronous invocation twice, and S3 may deliver an event more than
once. So the rules here are:
- an upload that can never be resized (not an image, corrupt, too big) is kept, tagged with
  the reason and logged, and the invocation succeeds: a retry would fail the same way;
- anything that might work next time (S3 errors, throttling, timeouts) raises, so Lambda
  retries; the original is only deleted after its resized copy has been written;
- a redelivered event whose work is already done is a quiet success;
- an attempt that dies (out of memory, timed out) can say nothing, so every attempt first tags
  the original with its number, how many Lambda makes, and when its time runs out: once the
  last one's time is past, readers such as the gallery know no result is coming.
"""
import json
import os
import re
import time
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import unquote_plus

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from resize import DEFAULT_MAX_PIXELS, DEFAULT_MEMORY_MB, ImageRejected, resize_blob

OUTCOME_TAGS = ('resize-status', 'resize-reason', 'resize-detail')
ATTEMPT_TAGS = ('resize-attempt', 'resize-attempts', 'resize-deadline')
MAX_TAGS = 10  # S3's limit per object
_TAG_UNSAFE = re.compile(r'[^\w .:/=+@-]+')  # S3 tag values allow little punctuation
_MISSING = {'NoSuchKey', '404', 'NotFound'}


class ConfigurationError(RuntimeError):
    """The function is set up wrongly; every record would fail, so fail loudly."""


class RecordsFailed(RuntimeError):
    """Some records hit transient errors; raising makes Lambda retry the event."""


@dataclass(frozen=True)
class Settings:
    resized_bucket: str
    max_width: int = 400
    max_height: int = 400
    delete_original: bool = True
    max_input_pixels: int = DEFAULT_MAX_PIXELS
    max_input_bytes: int = 100 * 1024 * 1024
    memory_mb: int = DEFAULT_MEMORY_MB
    max_attempts: int = 3  # Lambda's for an asynchronous event: the first and two retries
    jpeg_quality: int = 85
    cache_control: str = 'max-age=86400'

    @classmethod
    def from_environ(cls, environ):
        bucket = environ.get('RESIZED_BUCKET', '').strip()
        if not bucket:
            raise ConfigurationError('RESIZED_BUCKET is not set: name the bucket that receives '
                                     'the resized images')
        return cls(
            resized_bucket=bucket,
            max_width=_integer(environ, 'MAX_WIDTH', cls.max_width, 1, 10000),
            max_height=_integer(environ, 'MAX_HEIGHT', cls.max_height, 1, 10000),
            delete_original=_boolean(environ, 'DELETE_ORIGINAL', cls.delete_original),
            max_input_pixels=_integer(environ, 'MAX_INPUT_PIXELS', cls.max_input_pixels,
                                      1, 1_000_000_000),
            max_input_bytes=_integer(environ, 'MAX_INPUT_BYTES', cls.max_input_bytes,
                                     1, 5 * 1024 ** 3),
            jpeg_quality=_integer(environ, 'JPEG_QUALITY', cls.jpeg_quality, 1, 100),
            memory_mb=_integer(environ, 'AWS_LAMBDA_FUNCTION_MEMORY_SIZE', cls.memory_mb,
                               128, 10240),
            max_attempts=_integer(environ, 'MAX_ATTEMPTS', cls.max_attempts, 1, 3),
            cache_control=environ.get('CACHE_CONTROL', cls.cache_control),
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


def _boolean(environ, name, default):
    raw = environ.get(name, '').strip().lower()
    if not raw:
        return default
    if raw in ('1', 'true', 'yes', 'on'):
        return True
    if raw in ('0', 'false', 'no', 'off'):
        return False
    raise ConfigurationError(f'{name}={raw!r} must be true or false')


@lru_cache(maxsize=None)
def s3_client():
    """One client per execution environment, reused by warm invocations."""
    return boto3.client('s3', config=Config(retries={'mode': 'standard'},
                                            connect_timeout=5, read_timeout=30))


def log(**fields):
    """One JSON object per line: CloudWatch Logs Insights parses these fields as they are."""
    print(json.dumps(fields, ensure_ascii=False, default=str), flush=True)


def handle_resize(event, context):
    settings = Settings.from_environ(os.environ)
    # Lambda's clock for this attempt; a test's context may not have one.
    remaining = getattr(context, 'get_remaining_time_in_millis', lambda: 900_000)()
    deadline = int(time.time() + remaining / 1000)
    records = event.get('Records') if isinstance(event, dict) else None
    if not isinstance(records, list):
        log(level='ERROR', event='not-an-s3-event', detail='the event has no Records list')
        raise ValueError('image_resize expects an S3 event notification with a Records list')

    outcomes = []
    failures = []
    for record in records:
        try:
            outcomes.append(handle_record(record, settings, deadline))
        except (ConfigurationError, ValueError):
            raise
        except Exception as error:  # transient: the rest still get their chance
            failures.append(error)
            log(level='ERROR', event='failed', error=type(error).__name__, detail=str(error),
                operation=getattr(error, 'operation_name', None), key=_record_key(record),
                retryable=True)
    if failures:
        raise RecordsFailed(f'{len(failures)} of {len(records)} records failed; '
                            f'first: {failures[0]}') from failures[0]
    return {'records': len(records), 'outcomes': outcomes}


def _record_key(record):
    try:
        return unquote_plus(record['s3']['object']['key'])
    except (KeyError, TypeError):
        return None


def handle_record(record, settings, deadline):
    name = record.get('eventName', '')
    if not name.startswith('ObjectCreated:'):
        log(level='INFO', event='ignored', event_name=name, key=_record_key(record))
        return 'ignored'
    try:
        bucket = record['s3']['bucket']['name']
        key = unquote_plus(record['s3']['object']['key'])
    except (KeyError, TypeError):
        raise ValueError('S3 record without s3.bucket.name or s3.object.key') from None
    if bucket == settings.resized_bucket:
        raise ConfigurationError(
            f'the upload bucket and RESIZED_BUCKET are both {bucket!r}: every resized image '
            f'would trigger another resize. Point the trigger at a different bucket.')
    version = record['s3']['object'].get('versionId')
    return resize_object(bucket, key, version, settings, deadline)


def resize_object(bucket, key, version, settings, deadline):
    s3 = s3_client()
    started = time.perf_counter()
    source = {'Bucket': bucket, 'Key': key, **({'VersionId': version} if version else {})}
    try:
        response = s3.get_object(**source)
    except ClientError as error:
        if _code(error) not in _MISSING:
            raise
        return _source_missing(bucket, key, settings)
    attempt = Attempt.begin(source, settings.max_attempts, deadline)
    try:
        return _resize(source, response, attempt, settings, started)
    except (ClientError, BotoCoreError) as error:
        if attempt.is_last:
            attempt.end(source, 'failed', _code(error) or type(error).__name__,
                        f'{error}; that was the last attempt')
        raise


def _resize(source, response, attempt, settings, started):
    s3 = s3_client()
    bucket, key = source['Bucket'], source['Key']
    size = response['ContentLength']
    if size > settings.max_input_bytes:
        response['Body'].close()
        return _reject(source, attempt, size, 'too-many-bytes',
                       f'{size:,} bytes; the limit is {settings.max_input_bytes:,}')
    blob = response['Body'].read()
    try:
        resized = resize_blob(blob, settings.max_width, settings.max_height,
                              max_pixels=settings.max_input_pixels,
                              jpeg_quality=settings.jpeg_quality, memory_mb=settings.memory_mb)
    except ImageRejected as rejection:
        return _reject(source, attempt, len(blob), rejection.reason, str(rejection))

    (source_width, source_height), (width, height) = resized.source_size, resized.size
    s3.put_object(
        Bucket=settings.resized_bucket, Key=key, Body=resized.data,
        ContentType=resized.mime_type, CacheControl=settings.cache_control,
        Metadata={'width': str(width), 'height': str(height),
                  'source-width': str(source_width), 'source-height': str(source_height),
                  'source-bytes': str(len(blob))})
    # Only now, with the copy safely written, may the original go.
    deleted = settings.delete_original and _delete_original(source, response['ETag'])
    log(level='INFO', event='resized', bucket=bucket, key=key, bytes_in=len(blob),
        bytes_out=len(resized.data), width_in=source_width, height_in=source_height,
        width_out=width, height_out=height, content_type=resized.mime_type,
        deleted_original=deleted, ms=round((time.perf_counter() - started) * 1000, 1))
    return 'resized'


def _delete_original(source, etag):
    """Delete exactly the object that was resized, never a newer upload to the same key.

    A version id already names one object. Without one, If-Match makes S3 refuse the delete
    if the key was overwritten since it was read; the newer upload has an event of its own.
    """
    try:
        s3_client().delete_object(**source, **({} if 'VersionId' in source else {'IfMatch': etag}))
    except ClientError as error:
        if _code(error) not in ('PreconditionFailed', *_MISSING):
            raise
        log(level='INFO', event='original-replaced', bucket=source['Bucket'], key=source['Key'],
            detail='the key changed after it was read; the newer object is left for its own event')
        return False
    return True


def _source_missing(bucket, key, settings):
    """The original is gone: a redelivery of work already done, or deleted by someone else."""
    try:
        s3_client().head_object(Bucket=settings.resized_bucket, Key=key)
    except ClientError as error:
        if _code(error) not in _MISSING:
            raise
        log(level='WARNING', event='source-missing', bucket=bucket, key=key,
            detail='the original no longer exists and has no resized copy; nothing to do')
        return 'source-missing'
    log(level='INFO', event='already-resized', bucket=bucket, key=key)
    return 'already-resized'


def _reject(source, attempt, size, reason, detail):
    """Keep the original, tagged so that people and the gallery can see why it was refused."""
    tagged = attempt.end(source, 'rejected', reason, detail)
    log(level='WARNING', event='rejected', bucket=source['Bucket'], key=source['Key'],
        bytes_in=size, reason=reason, detail=detail, tagged=tagged)
    return 'rejected'


@dataclass(frozen=True)
class Attempt:
    """This attempt's number, and the original's tags that are not ours (the owner's)."""
    number: int
    attempts: int
    owner_tags: list

    @property
    def is_last(self):
        return self.number >= self.attempts

    @classmethod
    def begin(cls, source, attempts, deadline):
        s3 = s3_client()
        existing = s3.get_object_tagging(**source)['TagSet']
        previous = next((tag['Value'] for tag in existing if tag['Key'] == 'resize-attempt'), '')
        attempt = cls(int(previous) + 1 if previous.isdigit() and len(previous) < 6 else 1,
                      attempts, [tag for tag in existing
                                 if tag['Key'] not in OUTCOME_TAGS + ATTEMPT_TAGS])
        attempt._tag(source, {'resize-attempt': attempt.number, 'resize-attempts': attempts,
                              'resize-deadline': deadline})
        return attempt

    def end(self, source, status, reason, detail):
        """Replace the attempt's tags with the outcome; best effort once no attempt is left."""
        try:
            return self._tag(source, {'resize-status': status, 'resize-reason': reason,
                                      'resize-detail': detail})
        except (ClientError, BotoCoreError) as error:
            if status != 'failed':
                raise
            log(level='ERROR', event='untagged', key=source['Key'], error=type(error).__name__,
                detail=f'could not record the failure: {error}')
            return False

    def _tag(self, source, ours):
        room = MAX_TAGS - len(self.owner_tags)  # never drop the owner's tags to make room
        if room <= 0:
            return False
        ours = [{'Key': name, 'Value': tag_value(str(value))} for name, value in ours.items()]
        s3_client().put_object_tagging(**source,
                                       Tagging={'TagSet': self.owner_tags + ours[:room]})
        return True


def tag_value(text):
    """Fit free text into an S3 tag value: allowed characters only, 256 at most."""
    return ' '.join(_TAG_UNSAFE.sub(' ', text).split())[:256]


def _code(error):
    return error.response.get('Error', {}).get('Code', '')
