"""Browser-form uploads (presigned POST) checked as S3 checks them; moto checks nothing.

A refused upload gets S3's status code and XML error, and never reaches the bucket, so it
triggers nothing. The signature is verified against the local credentials (LOCAL_CREDENTIALS:
access key "test", secret "test", the ones `make local-env` exports).
"""
import base64
import hashlib
import hmac
import io
import json
from datetime import datetime, timezone
from xml.sax.saxutils import escape

from werkzeug.formparser import parse_form_data
from werkzeug.wrappers import Response

LOCAL_CREDENTIALS = {'test': 'test'}
# Fields no condition needs to name: the signature (SigV4 or SigV2), the policy, the file.
IGNORED_FIELDS = ('x-amz-signature', 'signature', 'awsaccesskeyid', 'file', 'policy')


class Refused(Exception):
    def __init__(self, status, code, message, **extra):
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra

    def response(self):
        details = ''.join(f'<{name}>{escape(str(value))}</{name}>'
                          for name, value in self.extra.items())
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{self.code}</Code>'
                f'<Message>{escape(self.message)}</Message>{details}</Error>')
        return Response(body, status=self.status, content_type='application/xml')


def is_form_upload(environ):
    path = environ.get('PATH_INFO', '').strip('/')
    return (environ.get('REQUEST_METHOD') == 'POST' and path and '/' not in path
            and not environ.get('QUERY_STRING')
            and environ.get('CONTENT_TYPE', '').startswith('multipart/form-data'))


def check(environ, credentials=LOCAL_CREDENTIALS, now=None):
    """Raise Refused, or return the environ for moto with the body ready to read again."""
    length = int(environ.get('CONTENT_LENGTH') or 0)
    raw = environ['wsgi.input'].read(length)
    parsing = dict(environ, **{'wsgi.input': io.BytesIO(raw)})
    _, form, files = parse_form_data(parsing)
    fields = {name.lower(): value for name, value in form.items()}
    bucket = environ['PATH_INFO'].strip('/')
    upload = files.get('file')
    size = len(upload.read()) if upload else 0
    verify(fields, bucket, size, credentials, now or datetime.now(timezone.utc))
    return dict(environ, **{'wsgi.input': io.BytesIO(raw)})


def verify(fields, bucket, size, credentials, now):
    if 'policy' not in fields:
        raise Refused(403, 'AccessDenied', 'Access Denied')
    if 'x-amz-credential' in fields:  # SigV4
        access_key, _, scope = fields['x-amz-credential'].partition('/')
        given = fields.get('x-amz-signature', '')
        expected = lambda secret: signature(secret, scope, fields['policy'])
    else:  # SigV2, which S3 still accepts for POST (and botocore's default presigns)
        access_key, given = fields.get('awsaccesskeyid', ''), fields.get('signature', '')
        expected = lambda secret: signature_v2(secret, fields['policy'])
    if access_key not in credentials:
        raise Refused(403, 'InvalidAccessKeyId',
                      'The AWS Access Key Id you provided does not exist in our records.',
                      AWSAccessKeyId=access_key)
    if not hmac.compare_digest(expected(credentials[access_key]), given):
        raise Refused(403, 'SignatureDoesNotMatch',
                      'The request signature we calculated does not match the signature you '
                      'provided. Check your key and signing method.')
    try:
        policy = json.loads(base64.b64decode(fields['policy']))
        expiration = datetime.strptime(policy['expiration'].replace('Z', '+0000')[:19] + '+0000',
                                       '%Y-%m-%dT%H:%M:%S%z')
    except (ValueError, KeyError):
        raise Refused(400, 'InvalidPolicyDocument',
                      'Invalid Policy: Invalid JSON or missing expiration.') from None
    if now >= expiration:
        raise Refused(403, 'AccessDenied', 'Invalid according to Policy: Policy expired.')
    values = dict(fields, bucket=bucket)
    covered = set()
    for condition in policy.get('conditions', []):
        covered |= apply(condition, values, size)
    extra = sorted(name for name in fields if name not in covered
                   and name not in IGNORED_FIELDS and not name.startswith('x-ignore-'))
    if extra:
        raise Refused(403, 'AccessDenied',
                      f'Invalid according to Policy: Extra input fields: {", ".join(extra)}')


def apply(condition, values, size):
    """Check one condition; return the (lower-case) field names it covers."""
    if isinstance(condition, dict):
        [(name, expected)] = condition.items()
        name = name.lower()
        if values.get(name) != expected:
            fail(condition)
        return {name}
    operator = condition[0].lower()
    if operator == 'content-length-range':
        low, high = int(condition[1]), int(condition[2])
        if size > high:
            raise Refused(400, 'EntityTooLarge',
                          'Your proposed upload exceeds the maximum allowed size',
                          ProposedSize=size, MaxSizeAllowed=high)
        if size < low:
            raise Refused(400, 'EntityTooSmall',
                          'Your proposed upload is smaller than the minimum allowed size',
                          ProposedSize=size, MinSizeAllowed=low)
        return set()
    name = condition[1].lstrip('$').lower()
    value = values.get(name, '')
    if operator == 'eq' and value != condition[2]:
        fail(condition)
    elif operator == 'starts-with' and not value.startswith(condition[2]):
        fail(condition)
    elif operator not in ('eq', 'starts-with'):
        raise Refused(400, 'InvalidPolicyDocument', f'Invalid Policy: unknown condition {operator}')
    return {name}


def fail(condition):
    raise Refused(403, 'AccessDenied',
                  f'Invalid according to Policy: Policy Condition failed: {json.dumps(condition)}')


def signature(secret, scope, policy):
    """SigV4 for a POST policy: the base64 policy is the string to sign."""
    date, region, service, _ = (scope.split('/') + ['', '', '', ''])[:4]
    key = ('AWS4' + secret).encode()
    for part in (date, region, service, 'aws4_request'):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, policy.encode(), hashlib.sha256).hexdigest()


def signature_v2(secret, policy):
    return base64.b64encode(hmac.new(secret.encode(), policy.encode(), hashlib.sha1).digest()).decode()
