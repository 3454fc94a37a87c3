"""The gallery: resized images newest first, and a form that uploads straight to S3.

Served over HTTP by a function URL or an API Gateway HTTP API (payload format 2.0):
  GET /          the gallery page, one ListObjectsV2 page at a time
  GET /presign   a fresh presigned POST for one more upload (JSON)
  GET /status    ?key=... what became of an upload: resized, rejected, failed or pending (JSON)

Work per request does not grow with the bucket. Upload keys embed a reverse timestamp, so S3's
lexicographic listing is already newest first and one page of ListObjectsV2 is one page of the
gallery; nothing is listed, sorted or presigned beyond what is shown.

Since 2023 new buckets refuse public ACLs and anonymous writes, so the browser uploads through
a presigned POST whose policy (size, content type, key) S3 itself enforces, and reads images
through presigned GET URLs.
"""
import json
import os
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from urllib.parse import parse_qs, urlencode, urlsplit

import boto3
import botocore.session
from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.utils import parse_timestamp, percent_encode
from jinja2 import Environment, FileSystemLoader

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATES = Environment(loader=FileSystemLoader(HERE), autoescape=True,
                        trim_blocks=True, lstrip_blocks=True)

# Reverse timestamps: 13 digits of milliseconds counting down from the year 2286.
_REVERSE_EPOCH_MS = 10 ** 13 - 1
_UPLOAD_KEY = re.compile(r'(?P<reverse>\d{13})-[0-9a-f]+$')
_MISSING = {'NoSuchKey', '404', 'NotFound'}
_WHOLE_NUMBER = re.compile(r'[0-9]{1,12}')
# How S3 writes a timestamp in XML (LastModified): ISO 8601 in UTC, milliseconds.
_ISO_8601_UTC = re.compile(r'(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?Z')
# The resize function tags the original at the start of each attempt with its deadline, in
# whole seconds; past it (and this grace, for rounding and clock skew) that attempt is over.
DEADLINE_GRACE_SECONDS = 5
STOPPED = ('the resize function stopped without finishing on its last attempt '
           '(out of memory, timeout or crash)')
GAVE_UP = 'the resize function gave up after its last attempt'
# Enough "previous" links to walk back 20 pages; older history falls back to "Newest".
MAX_TRAIL = 20
MAX_KEY_LENGTH = 1024


class ConfigurationError(RuntimeError):
    pass


class BadRequest(ValueError):
    pass


@dataclass(frozen=True)
class Settings:
    upload_bucket: str
    resized_bucket: str
    page_size: int = 50
    url_expires: int = 3600
    max_upload_bytes: int = 20 * 1024 * 1024
    upload_prefix: str = 'uploads/'
    upload_bucket_region: str = ''

    @classmethod
    def from_environ(cls, environ):
        missing = [name for name in ('UPLOAD_BUCKET', 'RESIZED_BUCKET')
                   if not environ.get(name, '').strip()]
        if missing:
            raise ConfigurationError(f'{" and ".join(missing)} not set')
        return cls(
            upload_bucket=environ['UPLOAD_BUCKET'].strip(),
            resized_bucket=environ['RESIZED_BUCKET'].strip(),
            page_size=_integer(environ, 'PAGE_SIZE', cls.page_size, 1, 1000),
            # SigV4 presigned URLs live at most 7 days.
            url_expires=_integer(environ, 'URL_EXPIRES', cls.url_expires, 1, 604800),
            max_upload_bytes=_integer(environ, 'MAX_UPLOAD_BYTES', cls.max_upload_bytes,
                                      1, 5 * 1024 ** 3),
            upload_prefix=environ.get('UPLOAD_PREFIX', cls.upload_prefix),
            upload_bucket_region=environ.get('UPLOAD_BUCKET_REGION', '').strip(),
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


@dataclass(frozen=True)
class Request:
    """``path`` is what the gallery routes on; ``raw_path`` what the client asked for."""
    method: str
    path: str
    query: dict
    raw_path: str
    raw_query: str
    accept: str

    @classmethod
    def from_event(cls, event):
        """Read an HTTP API 2.0 / function URL event; an empty event is ``GET /``."""
        context = event.get('requestContext') or {}
        http = context.get('http') or {}
        method = (http.get('method') or event.get('httpMethod') or 'GET').upper()
        if event.get('rawPath'):
            raw_path = event['rawPath']
            path = _path_in_stage(raw_path, context.get('stage'))
        else:
            raw_path = path = event.get('path') or '/'
        raw_query = event.get('rawQueryString') or ''
        if 'rawQueryString' in event:
            query = parse_qs(raw_query, keep_blank_values=True)
        else:
            query = {name: [value] for name, value in
                     (event.get('queryStringParameters') or {}).items()}
        headers = {str(name).lower(): value for name, value in
                   (event.get('headers') or {}).items()}
        return cls(method, path, query, raw_path, raw_query, str(headers.get('accept', '')))

    def first(self, name):
        values = self.query.get(name)
        return values[0] if values else None

    def prefers_json(self):
        return 'application/json' in self.accept and 'text/html' not in self.accept


def _path_in_stage(raw_path, stage):
    """The path the gallery routes on: rawPath without an API Gateway stage's segment.

    Function URLs and an HTTP API's $default stage serve the gallery at the root. A named stage
    is served under /<stage>/ and HTTP APIs keep that segment in rawPath, so it comes off here;
    a custom domain mapped to the stage sends paths without it, so it comes off only when
    present. The stage's root without its slash is '' (it gets redirected): relative links on
    the page would otherwise resolve outside the stage.
    """
    if stage and stage != '$default':
        prefix = f'/{stage}'
        if raw_path == prefix:
            return ''
        if raw_path.startswith(prefix + '/'):
            return raw_path[len(prefix):]
    return raw_path


def log(**fields):
    print(json.dumps(fields, ensure_ascii=False, default=str), flush=True)


def parse_s3_timestamp(value):
    """A timestamp from an S3 answer, as botocore's own parser reads it, at a fraction of its CPU.

    botocore hands every timestamp to dateutil's general-purpose parser, some 40 us each: 2 ms
    of a gallery page for its 50 LastModified. S3's XML always writes them one way
    (2023-11-14T22:13:20.000Z); that form is read here, anything else (HTTP dates in headers,
    epoch seconds) goes to botocore's parser.
    """
    match = _ISO_8601_UTC.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return parse_timestamp(value)
    *fields, fraction = match.groups()
    return datetime(*map(int, fields), int((fraction or '0').ljust(6, '0')), tzinfo=timezone.utc)


@lru_cache(maxsize=None)
def _session():
    """The session every client of this function comes from; its credentials are theirs.

    Its response parser reads timestamps with parse_s3_timestamp: botocore's hook for that
    (the response_parser_factory component's set_parser_defaults, which awscli uses for its
    cli_timestamp_format) is per session, so other sessions in the process are untouched.
    """
    core = botocore.session.get_session()
    core.get_component('response_parser_factory').set_parser_defaults(
        timestamp_parser=parse_s3_timestamp)
    return boto3.session.Session(botocore_session=core)


@lru_cache(maxsize=None)
def s3_client(region=None):
    """Clients per region, kept for warm invocations.

    Presigning is local, so the client must already know the bucket's region and name its
    regional host: a URL for the wrong region, or for the legacy global host that botocore's
    default ("auto") addressing presigns with, is answered with a redirect that neither a CORS
    preflight nor an <img> follows. A custom endpoint (AWS_ENDPOINT_URL, e.g. a local one on
    127.0.0.1) has no per-bucket host names, so it gets path-style URLs.
    """
    custom_endpoint = os.environ.get('AWS_ENDPOINT_URL_S3') or os.environ.get('AWS_ENDPOINT_URL')
    return _session().client('s3', region_name=region, config=Config(
        signature_version='s3v4', retries={'mode': 'standard'}, connect_timeout=5,
        read_timeout=10, s3={'addressing_style': 'path' if custom_endpoint else 'virtual'}))


@dataclass(frozen=True)
class ObjectUrls:
    """Presigned GET URLs of one bucket's objects: generate_presigned_url's, for less CPU.

    generate_presigned_url runs the client's request pipeline for every URL, the S3 endpoint
    rules included, though for one bucket all of it comes out the same but the key: it was two
    thirds of a gallery page's CPU. So the client presigns one URL, and its address up to the
    key (host or path style, endpoint), signing region and service are kept; each URL is then
    signed by S3SigV4QueryAuth, the botocore signer generate_presigned_url ends in, so the URLs
    are the ones it would make.
    """
    base: str
    region: str
    service: str
    credentials: object

    @classmethod
    def resolve(cls, client, bucket, credentials):
        """``credentials`` are the client's own (refreshable, so never frozen here)."""
        probe = urlsplit(client.generate_presigned_url(
            'get_object', Params={'Bucket': bucket, 'Key': 'probe'}))
        scope = parse_qs(probe.query)['X-Amz-Credential'][0].split('/')
        return cls(base=probe._replace(path=probe.path.removesuffix('probe'), query='').geturl(),
                   region=scope[-3], service=scope[-2], credentials=credentials)

    def signer(self, expires):
        """A function from key to URL, for one page: the credentials are frozen here, once, so
        a page is signed by one set of them and the next page by refreshed ones if due."""
        auth = S3SigV4QueryAuth(self.credentials.get_frozen_credentials(), self.service,
                                self.region, expires=expires)
        # The signer derives the Host header it signs from the URL, twice per URL (about a
        # third of its CPU); it is the bucket's, so it is derived once and given to each request.
        host = auth.headers_to_sign(AWSRequest(method='GET', url=self.base))['host']

        def url(key):
            # Keys go in the path as botocore's serializer writes a greedy label ({Key+}).
            request = AWSRequest(method='GET', url=self.base + percent_encode(key, safe='/~'),
                                 headers={'host': host})
            auth.add_auth(request)
            return request.url
        return url


@lru_cache(maxsize=None)
def _object_urls(client, bucket):
    """Per client, not per region: a client made anew (another endpoint) resolves again."""
    return ObjectUrls.resolve(client, bucket, _session().get_credentials())


def image_urls(settings):
    """The resized bucket's URLs, its endpoint resolved once per client (so per region)."""
    return _object_urls(client_for(settings.resized_bucket, settings), settings.resized_bucket)


_BUCKET_REGIONS = {}


def bucket_region(bucket, configured=''):
    """The bucket's region, asked once per execution environment.

    A refusal (no s3:GetBucketLocation) is remembered and falls back to the function's own
    region; any other error falls back for this request only, and the next one asks again.
    """
    if configured:
        return configured
    if bucket not in _BUCKET_REGIONS:
        try:
            location = s3_client().get_bucket_location(Bucket=bucket).get('LocationConstraint')
        except ClientError as error:
            fallback = s3_client().meta.region_name
            log(level='WARNING', event='bucket-region-unknown', bucket=bucket,
                error=_code(error), assumed=fallback,
                detail='set UPLOAD_BUCKET_REGION or allow s3:GetBucketLocation')
            if _code(error) == 'AccessDenied':
                _BUCKET_REGIONS[bucket] = fallback
            return fallback
        _BUCKET_REGIONS[bucket] = {None: 'us-east-1', '': 'us-east-1', 'EU': 'eu-west-1'}.get(
            location, location)
    return _BUCKET_REGIONS[bucket]


def client_for(bucket, settings):
    configured = settings.upload_bucket_region if bucket == settings.upload_bucket else ''
    return s3_client(bucket_region(bucket, configured))


ROUTES = {'/': 'gallery', '/presign': 'presign', '/status': 'status'}
JSON_ROUTES = {'presign', 'status'}


def handle_list_image(event, context):
    request = Request.from_event(event if isinstance(event, dict) else {})
    route = ROUTES.get(request.path)
    wants_json = route in JSON_ROUTES or (route is None and request.prefers_json())
    if request.path == '':
        return _redirect(request.raw_path + '/' + (f'?{request.raw_query}'
                                                   if request.raw_query else ''))
    if route is None:
        return _error(404, f'No page at {request.raw_path}', wants_json)
    try:
        settings = Settings.from_environ(os.environ)
        if request.method not in ('GET', 'HEAD'):
            return _error(405, f'{request.method} is not allowed here', wants_json,
                          {'Allow': 'GET, HEAD'})
        if route == 'presign':
            response = _json(200, upload_form(settings))
        elif route == 'status':
            response = _json(200, upload_status(request.first('key'), settings))
        else:
            response = gallery(request, settings)
    except BadRequest as error:
        return _error(400, str(error), wants_json)
    except ConfigurationError as error:
        log(level='ERROR', event='configuration-error', detail=str(error))
        return _error(500, f'The gallery is misconfigured: {error}.', wants_json)
    except (ClientError, BotoCoreError) as error:
        log(level='ERROR', event='s3-error', error=type(error).__name__, code=_code(error),
            detail=str(error))
        return _error(502, 'The image store did not answer as expected; try again shortly.',
                      wants_json)
    if request.method == 'HEAD':
        response['body'] = ''
    return response


def gallery(request, settings):
    after = _cursor(request.first('after'), settings)
    trail = [_cursor(value, settings) or '' for value in request.query.get('back', [])]
    listing = client_for(settings.resized_bucket, settings).list_objects_v2(
        Bucket=settings.resized_bucket, Prefix=settings.upload_prefix,
        MaxKeys=settings.page_size, **({'StartAfter': after} if after else {}))
    urls = image_urls(settings)
    url = urls.signer(settings.url_expires)
    images = [{'key': item['Key'],
               'url': url(item['Key']),
               'bytes': item['Size'],
               'uploaded': uploaded_at(item['Key'], item['LastModified'])}
              for item in listing.get('Contents', [])]

    newer = older = None
    if after:
        newer = '?' + urlencode({'after': trail[-1], 'back': trail[:-1]}, doseq=True) \
            if trail and trail[-1] else '?'
    if listing.get('IsTruncated') and images:
        older = '?' + urlencode({'after': images[-1]['key'],
                                 'back': (trail + [after or ''])[-MAX_TRAIL:]}, doseq=True)

    nonce = secrets.token_urlsafe(16)
    form = upload_form(settings)
    body = TEMPLATES.get_template('list.html').render(
        images=images, newer=newer, older=older, first_page=not after, form=form,
        page_size=settings.page_size, nonce=nonce)
    return _html(200, body, _csp(nonce, urls.base, form['url']))


def _cursor(value, settings):
    if not value:
        return None
    if len(value) > MAX_KEY_LENGTH or not value.startswith(settings.upload_prefix):
        raise BadRequest('That page link is not valid: it does not name an upload.')
    return value


def new_upload_key(settings, now=None):
    """A server-chosen key that sorts newest first: reverse milliseconds, then randomness."""
    millis = int((time.time() if now is None else now) * 1000)
    return f'{settings.upload_prefix}{_REVERSE_EPOCH_MS - millis:013d}-{secrets.token_hex(6)}'


def uploaded_at(key, fallback):
    match = _UPLOAD_KEY.search(key)
    if not match:
        return fallback
    millis = _REVERSE_EPOCH_MS - int(match['reverse'])
    return datetime.fromtimestamp(millis / 1000, tz=timezone.utc)


def upload_form(settings):
    """A presigned POST for one upload: S3 enforces the key, the size and the content type."""
    key = new_upload_key(settings)
    post = client_for(settings.upload_bucket, settings).generate_presigned_post(
        Bucket=settings.upload_bucket, Key=key,
        Conditions=[['content-length-range', 1, settings.max_upload_bytes],
                    ['starts-with', '$Content-Type', 'image/']],
        ExpiresIn=settings.url_expires)
    return {'url': post['url'], 'fields': post['fields'], 'key': key,
            'maxBytes': settings.max_upload_bytes, 'expiresIn': settings.url_expires}


def upload_status(key, settings):
    """What became of an upload, for the page to poll instead of reloading blindly."""
    if not key or len(key) > MAX_KEY_LENGTH or not key.startswith(settings.upload_prefix):
        raise BadRequest(f'key must name an upload under {settings.upload_prefix!r}')
    try:
        client_for(settings.resized_bucket, settings).head_object(
            Bucket=settings.resized_bucket, Key=key)
        url = image_urls(settings).signer(settings.url_expires)(key)
        return {'key': key, 'state': 'resized', 'url': url}
    except ClientError as error:
        if _code(error) not in _MISSING:
            raise
    try:
        tags = client_for(settings.upload_bucket, settings).get_object_tagging(
            Bucket=settings.upload_bucket, Key=key)['TagSet']
    except ClientError as error:
        if _code(error) not in _MISSING:
            raise
        return {'key': key, 'state': 'missing'}
    tags = {tag['Key']: tag['Value'] for tag in tags}
    if tags.get('resize-status') == 'rejected':
        return {'key': key, 'state': 'rejected', 'reason': tags.get('resize-reason', ''),
                'detail': tags.get('resize-detail', '')}
    if tags.get('resize-status') == 'failed':
        return {'key': key, 'state': 'failed', 'reason': tags.get('resize-reason') or 'failed',
                'detail': tags.get('resize-detail') or GAVE_UP}
    attempt = Attempt.from_tags(tags)
    if attempt is None:
        return {'key': key, 'state': 'pending'}
    if attempt.is_last() and time.time() > attempt.deadline + DEADLINE_GRACE_SECONDS:
        return {'key': key, 'state': 'failed', 'reason': 'function-stopped', 'detail': STOPPED}
    return {'key': key, 'state': 'pending', 'attempt': attempt.number,
            'attempts': attempt.attempts}


@dataclass(frozen=True)
class Attempt:
    """The resize attempt under way, as the resize function tagged the original.

    A function killed by running out of memory, its timeout or a crash cannot say so; its
    last attempt's deadline passing without an outcome is how the gallery learns of it. Anyone
    who may write to the bucket may write these tags too, so whatever is not a plausible
    whole number means "no attempt known" (pending), never an error.
    """
    number: int
    attempts: int
    deadline: int

    @classmethod
    def from_tags(cls, tags):
        values = [tags.get(name, '') for name in
                  ('resize-attempt', 'resize-attempts', 'resize-deadline')]
        if not all(_WHOLE_NUMBER.fullmatch(value) for value in values):
            return None
        number, attempts, deadline = (int(value) for value in values)
        if number < 1 or attempts < 1:
            return None
        return cls(number, attempts, deadline)

    def is_last(self):
        return self.number >= self.attempts


def _csp(nonce, image_url, upload_url):
    images, uploads = _origin(image_url), _origin(upload_url)
    return '; '.join([
        "default-src 'none'",
        f"script-src 'nonce-{nonce}'",
        f"style-src 'nonce-{nonce}'",
        f"img-src 'self' {images} data: blob:",
        f"connect-src 'self' {uploads} {images}",
        f"form-action {uploads}",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ])


def _origin(url):
    parts = urlsplit(url)
    return f'{parts.scheme}://{parts.netloc}'


def _html(status, body, csp):
    return {'statusCode': status, 'isBase64Encoded': False, 'body': body,
            'headers': {'Content-Type': 'text/html; charset=utf-8',
                        'Content-Security-Policy': csp,
                        'Cache-Control': 'no-store',
                        'Referrer-Policy': 'no-referrer',
                        'X-Content-Type-Options': 'nosniff'}}


def _redirect(location):
    return {'statusCode': 308, 'isBase64Encoded': False, 'body': '',
            'headers': {'Location': location, 'Cache-Control': 'no-store'}}


def _json(status, payload, extra_headers=None):
    return {'statusCode': status, 'isBase64Encoded': False, 'body': json.dumps(payload),
            'headers': {'Content-Type': 'application/json', 'Cache-Control': 'no-store',
                        'X-Content-Type-Options': 'nosniff', **(extra_headers or {})}}


def _error(status, message, as_json, extra_headers=None):
    if as_json:
        return _json(status, {'error': message}, extra_headers)
    nonce = secrets.token_urlsafe(16)
    body = TEMPLATES.get_template('list.html').render(error=message, status=status,
                                                       nonce=nonce)
    response = _html(status, body, "default-src 'none'; "
                                   f"style-src 'nonce-{nonce}'; base-uri 'none'; "
                                   "frame-ancestors 'none'")
    response['headers'].update(extra_headers or {})
    return response


def _code(error):
    if isinstance(error, ClientError):
        return error.response.get('Error', {}).get('Code', '')
    return ''


def prepare(environ=os.environ):
    """What every first page needs, done while Lambda initialises the environment: Init runs
    with burst CPU, a first request on the function's share of a core (at 512 MB, 0.29 of
    one, it took 500 ms of the first page). The template is compiled and the S3 clients are
    made with their endpoint resolved; nothing here fails the Init: a page says what is wrong.
    """
    TEMPLATES.get_template('list.html')
    try:
        settings = Settings.from_environ(environ)
    except ConfigurationError:
        return
    client_for(settings.upload_bucket, settings)
    image_urls(settings)


if 'AWS_LAMBDA_FUNCTION_NAME' in os.environ:  # in Lambda, not when tests import the module
    prepare()
