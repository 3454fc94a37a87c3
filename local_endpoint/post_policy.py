"""Browser-form uploads (presigned POST) checked as S3 checks them; moto checks nothing.

A refused upload gets S3's status code and XML error, and never reaches the bucket, so it
triggers nothing. The signature is verified with the signer's secret, looked up by the caller
(the endpoint knows the local key and moto's IAM users and role sessions; the session token,
when the form carries one, must be the session's).
"""
import base64
import hashlib
import hmac
import io
import json
from datetime import datetime, timezone

from werkzeug.formparser import parse_form_data

from local_endpoint.s3_errors import S3Error


def local_secret(access_key_id, token=None):
    """The local key only (`make local-env`'s test/test): what the unit tests sign with."""
    return 'test' if access_key_id == 'test' and not token else None


# Fields no condition needs to name: the signature (SigV4 or SigV2), the policy, the file.
IGNORED_FIELDS = ('x-amz-signature', 'signature', 'awsaccesskeyid', 'file', 'policy')


class Upload:
    """What a verified form asks for: who signed it, and the object it writes."""

    def __init__(self, access_key_id, token, bucket, key):
        self.access_key_id, self.token, self.bucket, self.key = access_key_id, token, bucket, key


def is_form_upload(environ):
    path = environ.get('PATH_INFO', '').strip('/')
    return (environ.get('REQUEST_METHOD') == 'POST' and path and '/' not in path
            and not environ.get('QUERY_STRING')
            and environ.get('CONTENT_TYPE', '').startswith('multipart/form-data'))


def check(environ, secret_of=local_secret, now=None):
    """Raise S3Error, or return (environ for moto with the body ready to read again, Upload)."""
    length = int(environ.get('CONTENT_LENGTH') or 0)
    raw = environ['wsgi.input'].read(length)
    parsing = dict(environ, **{'wsgi.input': io.BytesIO(raw)})
    _, form, files = parse_form_data(parsing)
    fields = {name.lower(): value for name, value in form.items()}
    bucket = environ['PATH_INFO'].strip('/')
    upload = files.get('file')
    size = len(upload.read()) if upload else 0
    access_key_id = verify(fields, bucket, size, secret_of, now or datetime.now(timezone.utc))
    key = fields.get('key', '').replace('${filename}', upload.filename if upload else '')
    return (dict(environ, **{'wsgi.input': io.BytesIO(raw)}),
            Upload(access_key_id, fields.get('x-amz-security-token'), bucket, key))


def verify(fields, bucket, size, secret_of, now):
    """Raise S3Error unless S3 would accept the form; return the signer's access key id."""
    if 'policy' not in fields:
        raise S3Error(403, 'AccessDenied', 'Access Denied')
    if 'x-amz-credential' in fields:  # SigV4
        access_key, _, scope = fields['x-amz-credential'].partition('/')
        given = fields.get('x-amz-signature', '')
        expected = lambda secret: signature(secret, scope, fields['policy'])
    else:  # SigV2, which S3 still accepts for POST (and botocore's default presigns)
        access_key, given = fields.get('awsaccesskeyid', ''), fields.get('signature', '')
        expected = lambda secret: signature_v2(secret, fields['policy'])
    secret = secret_of(access_key, fields.get('x-amz-security-token'))
    if secret is None:
        raise S3Error(403, 'InvalidAccessKeyId',
                      'The AWS Access Key Id you provided does not exist in our records.',
                      AWSAccessKeyId=access_key)
    if not hmac.compare_digest(expected(secret), given):
        raise S3Error(403, 'SignatureDoesNotMatch',
                      'The request signature we calculated does not match the signature you '
                      'provided. Check your key and signing method.')
    try:
        policy = json.loads(base64.b64decode(fields['policy']))
        expiration = datetime.strptime(policy['expiration'].replace('Z', '+0000')[:19] + '+0000',
                                       '%Y-%m-%dT%H:%M:%S%z')
    except (ValueError, KeyError):
        raise S3Error(400, 'InvalidPolicyDocument',
                      'Invalid Policy: Invalid JSON or missing expiration.') from None
    if now >= expiration:
        raise S3Error(403, 'AccessDenied', 'Invalid according to Policy: Policy expired.')
    values = dict(fields, bucket=bucket)
    covered = set()
    for condition in policy.get('conditions', []):
        covered |= apply(condition, values, size)
    extra = sorted(name for name in fields if name not in covered
                   and name not in IGNORED_FIELDS and not name.startswith('x-ignore-'))
    if extra:
        raise S3Error(403, 'AccessDenied',
                      f'Invalid according to Policy: Extra input fields: {", ".join(extra)}')
    return access_key


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
            raise S3Error(400, 'EntityTooLarge',
                          'Your proposed upload exceeds the maximum allowed size',
                          ProposedSize=size, MaxSizeAllowed=high)
        if size < low:
            raise S3Error(400, 'EntityTooSmall',
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
        raise S3Error(400, 'InvalidPolicyDocument', f'Invalid Policy: unknown condition {operator}')
    return {name}


def fail(condition):
    raise S3Error(403, 'AccessDenied',
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
