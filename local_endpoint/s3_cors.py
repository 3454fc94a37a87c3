"""S3's CORS, from each bucket's own rules (PutBucketCors) and nothing else.

moto's server answers every request with `Access-Control-Allow-Origin` echoing the request's
Origin (flask-cors), so any web page could read anything the endpoint holds. Here every
response outside function URLs loses whatever Access-Control-* headers it was given, and gets
only those a matching bucket rule grants; preflights are answered here, as S3 answers them,
and never reach moto. The rule matching and the answers follow S3's recorded responses
(LocalStack's S3 CORS snapshots): the first rule whose origin, method and requested headers
all match wins.
"""
import re

from moto.core import DEFAULT_ACCOUNT_ID
from moto.s3.models import s3_backends
from werkzeug.wrappers import Response

from local_endpoint.s3_errors import S3Error
from local_endpoint.sigv4 import Authorization, Malformed

NOT_ALLOWED = ("CORSResponse: This CORS request is not allowed. This is usually because the "
               "evalution of Origin, request method / Access-Control-Request-Method or "
               "Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.")
VARY = 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method'


def preflight(environ):
    """S3's answer to an OPTIONS request: the matching rule's headers, or its refusal."""
    try:
        headers = _preflight_headers(environ)
    except S3Error as refusal:
        return refusal.response()
    response = Response(status=200, headers=headers)
    response.headers.remove('Content-Type')
    return response


def _preflight_headers(environ):
    origin = environ.get('HTTP_ORIGIN')
    method = environ.get('HTTP_ACCESS_CONTROL_REQUEST_METHOD') or 'OPTIONS'
    if not origin:
        raise S3Error(400, 'BadRequest', 'Insufficient information. Origin request header needed.')
    bucket = _bucket(environ)
    if bucket is None or not bucket.cors:
        raise S3Error(403, 'AccessForbidden', 'CORSResponse: Bucket not found' if bucket is None
                      else 'CORSResponse: CORS is not enabled for this bucket.',
                      Method=method, ResourceType='BUCKET')
    requested = [name.strip().lower() for name in
                 environ.get('HTTP_ACCESS_CONTROL_REQUEST_HEADERS', '').split(',') if name.strip()]
    rule = _matching_rule(bucket.cors, origin, method, requested)
    if rule is None:
        raise S3Error(403, 'AccessForbidden', NOT_ALLOWED, Method=method, ResourceType='OBJECT')
    headers = _granted(rule, origin)
    if requested:
        headers.append(('Access-Control-Allow-Headers', ', '.join(requested)))
    return headers


def granted_headers(environ):
    """The headers a bucket rule grants this (non-preflight) S3 request; none without an
    Origin, outside S3, or when no rule matches."""
    origin = environ.get('HTTP_ORIGIN')
    if not origin or not _is_s3(environ):
        return []
    bucket = _bucket(environ)
    rule = bucket and _matching_rule(bucket.cors, origin, environ.get('REQUEST_METHOD'), [])
    return _granted(rule, origin) if rule else []


def answering(start_response, granted):
    """start_response for everything but function URLs: no Access-Control-* header but
    `granted`, whoever wrote the response."""
    def start(status, headers, exc_info=None):
        kept = [(name, value) for name, value in headers
                if not name.lower().startswith('access-control-')]
        return start_response(status, kept + granted, exc_info)
    return start


def _granted(rule, origin):
    wildcard = '*' in rule.allowed_origins
    headers = [('Access-Control-Allow-Origin', '*' if wildcard else origin)]
    if not wildcard:
        headers.append(('Access-Control-Allow-Credentials', 'true'))
    headers += [('Vary', VARY), ('Access-Control-Allow-Methods', ', '.join(rule.allowed_methods))]
    if rule.exposed_headers:
        headers.append(('Access-Control-Expose-Headers', ', '.join(rule.exposed_headers)))
    if rule.max_age_seconds:
        headers.append(('Access-Control-Max-Age', str(rule.max_age_seconds)))
    return headers


def _matching_rule(rules, origin, method, requested_headers):
    for rule in rules:
        if (method in rule.allowed_methods
                and any(_matches(allowed, origin) for allowed in rule.allowed_origins)
                and all(any(_matches(allowed.lower(), name) for allowed in rule.allowed_headers or [])
                        for name in requested_headers)):
            return rule
    return None


def _matches(pattern, value):
    """S3's patterns: one `*` stands for any characters."""
    return pattern == '*' or re.fullmatch(re.escape(pattern).replace(r'\*', '.+'), value) is not None


def _bucket(environ):
    name = environ.get('PATH_INFO', '').lstrip('/').partition('/')[0]
    return s3_backends[DEFAULT_ACCOUNT_ID]['aws'].buckets.get(name) if name else None


def _is_s3(environ):
    """moto takes a request as S3's unless it is signed for another service."""
    try:
        return Authorization(environ.get('HTTP_AUTHORIZATION', '')).service == 's3'
    except Malformed:  # unsigned, presigned, SigV2: S3's
        return True
