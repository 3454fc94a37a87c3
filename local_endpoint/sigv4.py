"""SigV4 signatures in an Authorization header, checked the way AWS checks them.

The endpoint checks them itself where moto checks nothing: its own control planes and Lambda
Invoke. The expected signature is botocore's, computed over the request as it arrived (raw
path and query, the headers the client says it signed, the body), so any client that signs
for AWS signs for this endpoint too: boto3, awscli, curl --aws-sigv4.
"""
import hashlib
import hmac
import io
import re

from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from werkzeug.exceptions import ClientDisconnected
from werkzeug.wsgi import get_input_stream

SCHEME = 'AWS4-HMAC-SHA256'
CREDENTIAL = re.compile(r'^(?P<access_key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/'
                        r'(?P<service>[^/]+)/aws4_request$')
UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD'


class Malformed(Exception):
    """The Authorization header is not a SigV4 one; the message says what is wrong."""


class Authorization:
    """The parts of `AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`."""

    def __init__(self, header):
        scheme, _, rest = header.strip().partition(' ')
        if scheme != SCHEME:
            raise Malformed('Unsupported Authorization Type')
        parts = dict(part.strip().partition('=')[::2] for part in rest.split(','))
        if not {'Credential', 'SignedHeaders', 'Signature'} <= set(parts):
            raise Malformed('The authorization header is malformed; the authorization header '
                            'requires three components: Credential, SignedHeaders, and Signature.')
        credential = CREDENTIAL.match(parts['Credential'])
        if credential is None:
            raise Malformed('The authorization header is malformed; the Credential is mal-formed; '
                            'expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".')
        self.access_key = credential['access_key']
        self.region, self.service = credential['region'], credential['service']
        self.signed_headers = parts['SignedHeaders'].split(';')
        self.signature = parts['Signature']


class BodyTooLarge(Exception):
    pass


def read_body(environ, limit):
    """The request body, which the signature covers, put back for whoever reads it next."""
    try:
        body = get_input_stream(environ).read(limit + 1)
    except ClientDisconnected:  # the signature will not match; nobody waits for the answer
        body = b''
    if len(body) > limit:
        raise BodyTooLarge()
    environ['wsgi.input'] = io.BytesIO(body)
    environ['CONTENT_LENGTH'] = str(len(body))
    environ.pop('wsgi.input_terminated', None)
    return body


def authorization_of(environ):
    """The request's SigV4 Authorization header, parsed; None when it has none."""
    header = environ.get('HTTP_AUTHORIZATION')
    return None if header is None else Authorization(header)


def matches(environ, body, authorization, credentials):
    """Whether the header's signature is what `credentials` (botocore's) give for this
    request and body."""
    expected = expected_signature(environ, body, authorization, credentials)
    return expected is not None and hmac.compare_digest(expected, authorization.signature)


def expected_signature(environ, body, authorization, credentials):
    """botocore's signature of the request as it arrived; None when it cannot be one (no
    X-Amz-Date, or a declared payload hash that is not the body's)."""
    headers = {name: _header(environ, name) for name in authorization.signed_headers}
    if not headers.get('x-amz-date') or not headers.get('host'):
        return None
    declared = environ.get('HTTP_X_AMZ_CONTENT_SHA256')
    if declared not in (None, UNSIGNED_PAYLOAD, hashlib.sha256(body).hexdigest()):
        return None
    raw_path = (environ.get('RAW_URI') or environ.get('REQUEST_URI')
                or environ.get('PATH_INFO', '/')).partition('?')[0]
    query = environ.get('QUERY_STRING', '')
    request = AWSRequest(method=environ['REQUEST_METHOD'],
                         url=f'http://{headers["host"]}{raw_path}' + (f'?{query}' if query else ''),
                         headers=headers, data=body)
    request.context['timestamp'] = headers['x-amz-date']
    auth_class = S3SigV4Auth if authorization.service == 's3' else SigV4Auth
    auth = auth_class(credentials, authorization.service, authorization.region)
    canonical = auth.canonical_request(request)
    return auth.signature(auth.string_to_sign(request, canonical), request)


def _header(environ, name):
    if name in ('content-type', 'content-length'):
        return environ.get(name.upper().replace('-', '_'), '')
    return environ.get('HTTP_' + name.upper().replace('-', '_'), '')
