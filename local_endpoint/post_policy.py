"""Browser-form uploads (presigned POST) checked as S3 checks them; moto checks nothing.

The form is read once (form_upload), as S3 reads it; the policy is checked against exactly
the fields and the number of bytes that will be stored, and moto is handed a body rebuilt
from them. A refused upload gets S3's status code and XML error, and never reaches the
bucket, so it triggers nothing. The signature is verified with the signer's secret, looked up
by the caller (the endpoint knows the local key and moto's IAM users and role sessions; the
session token, when the form carries one, must be the session's).
"""
import base64
import hashlib
import hmac
import json
from datetime import datetime, timezone
from urllib.parse import parse_qs

from local_endpoint.form_upload import Form
from local_endpoint.s3_errors import S3Error

MAX_KEY_BYTES = 1024
# Without a content-length-range, S3 takes up to 5 GB; moto holds an object in memory while
# it stores it, so the endpoint takes what image_resize reads at most (MAX_INPUT_BYTES).
MAX_FILE_BYTES = 100 * 1024 * 1024
# Fields no condition needs to name: the signature (SigV4 or SigV2), the policy, the file.
IGNORED_FIELDS = ('x-amz-signature', 'signature', 'awsaccesskeyid', 'file', 'policy')
# The fields each signature version needs, in the order S3 names the first one missing.
SIGNATURE_FIELDS = {'v4': ('X-Amz-Signature', 'X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Date'),
                    'v2': ('Signature', 'AWSAccessKeyId')}


def local_secret(access_key_id, token=None):
    """The local key only (`make local-env`'s test/test): what the unit tests sign with."""
    return 'test' if access_key_id == 'test' and not token else None


class Upload:
    """What a verified form asks for: who signed it, and the object it writes."""

    def __init__(self, access_key_id, token, bucket, key):
        self.access_key_id, self.token, self.bucket, self.key = access_key_id, token, bucket, key


def is_form_upload(environ):
    """S3 takes every POST to a bucket as a form upload, but DeleteObjects (`?delete`)."""
    path = environ.get('PATH_INFO', '').strip('/')
    return (environ.get('REQUEST_METHOD') == 'POST' and bool(path) and '/' not in path
            and 'delete' not in parse_qs(environ.get('QUERY_STRING', ''), keep_blank_values=True))


def check(environ, secret_of=local_secret, now=None):
    """Raise S3Error, or return (the environ moto gets: the checked fields and bytes only,
    Upload)."""
    bucket = environ['PATH_INFO'].strip('/')
    form = Form(environ)
    fields = form.read_fields()
    access_key_id, low, high = verify_fields(fields, bucket, secret_of,
                                             now or datetime.now(timezone.utc))
    return (form.read_file(low, high),
            Upload(access_key_id, fields.get('x-amz-security-token'), bucket, fields['key']))


def verify(fields, bucket, size, secret_of, now):
    """Raise S3Error unless S3 would accept the form with a file of `size` bytes; return the
    signer's access key id."""
    access_key, low, high = verify_fields(fields, bucket, secret_of, now)
    if size > high:
        raise S3Error(400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size',
                      ProposedSize=size, MaxSizeAllowed=high)
    if size < low:
        raise S3Error(400, 'EntityTooSmall',
                      'Your proposed upload is smaller than the minimum allowed size',
                      ProposedSize=size, MinSizeAllowed=low)
    return access_key


def verify_fields(fields, bucket, secret_of, now):
    """Raise S3Error unless S3 would accept the form's fields (lower-case names); return the
    signer's access key id and the smallest and largest file the policy allows."""
    if not fields.get('key'):
        raise missing_field('key')
    version = ('v4' if 'x-amz-signature' in fields or 'x-amz-credential' in fields else
               'v2' if 'signature' in fields or 'awsaccesskeyid' in fields else None)
    if 'policy' not in fields or version is None:
        raise S3Error(403, 'AccessDenied', 'Access Denied')
    for name in SIGNATURE_FIELDS[version]:
        if name.lower() not in fields:
            raise missing_field(name)
    if version == 'v4':
        access_key, _, scope = fields['x-amz-credential'].partition('/')
        given, expected = fields['x-amz-signature'], lambda secret: signature(
            secret, scope, fields['policy'])
    else:  # SigV2, which S3 still accepts for POST (and botocore's default presigns)
        access_key, given = fields['awsaccesskeyid'], fields['signature']
        expected = lambda secret: signature_v2(secret, fields['policy'])
    secret = secret_of(access_key, fields.get('x-amz-security-token'))
    if secret is None:
        raise S3Error(403, 'InvalidAccessKeyId',
                      'The AWS Access Key Id you provided does not exist in our records.',
                      AWSAccessKeyId=access_key)
    if not hmac.compare_digest(expected(secret).encode(), given.encode()):
        raise S3Error(403, 'SignatureDoesNotMatch',
                      'The request signature we calculated does not match the signature you '
                      'provided. Check your key and signing method.')
    expiration, conditions = decoded_policy(fields['policy'])
    if now >= expiration:
        raise S3Error(403, 'AccessDenied', 'Invalid according to Policy: Policy expired.')
    values = dict(fields, bucket=bucket)
    covered, low, high = set(), 0, MAX_FILE_BYTES
    for condition in conditions:
        if is_size_range(condition):
            low, high = max(low, size_bound(condition, 1)), min(high, size_bound(condition, 2))
        else:
            covered.add(apply(condition, values))
    extra = sorted(name for name in fields if name not in covered
                   and name not in IGNORED_FIELDS and not name.startswith('x-ignore-'))
    if extra:
        raise S3Error(403, 'AccessDenied',
                      f'Invalid according to Policy: Extra input fields: {", ".join(extra)}')
    key_bytes = len(fields['key'].encode())
    if key_bytes > MAX_KEY_BYTES:
        raise S3Error(400, 'KeyTooLongError', 'Your key is too long', MaxSizeAllowed=MAX_KEY_BYTES,
                      Size=key_bytes)
    return access_key, low, high


def decoded_policy(encoded):
    """The policy's expiration and conditions; S3's InvalidPolicyDocument when it has none."""
    try:
        policy = json.loads(base64.b64decode(encoded))
    except ValueError:  # not base64, not UTF-8, or not JSON
        raise invalid_policy('Invalid JSON.') from None
    if not isinstance(policy, dict) or 'expiration' not in policy:
        raise invalid_policy('Policy missing expiration.')
    try:
        expiration = datetime.strptime(str(policy['expiration'])[:19] + '+0000',
                                       '%Y-%m-%dT%H:%M:%S%z')
    except ValueError:
        raise invalid_policy(f"Invalid 'expiration' value: '{policy['expiration']}'") from None
    conditions = policy.get('conditions', [])
    if not isinstance(conditions, list):
        raise invalid_policy("Invalid 'conditions' value: must be a List.")
    return expiration, conditions


def is_size_range(condition):
    return (isinstance(condition, list) and len(condition) == 3
            and str(condition[0]).lower() == 'content-length-range')


def size_bound(condition, index):
    try:
        return int(condition[index])
    except (TypeError, ValueError):
        fail(condition)


def apply(condition, values):
    """Check one condition on the fields (lower-case names); return the name it covers."""
    if isinstance(condition, dict):
        if len(condition) != 1:
            raise invalid_policy('Invalid Simple-Condition: Simple-Conditions must have exactly '
                                 'one property specified.')
        [(name, expected)] = condition.items()
        if values.get(name.lower()) != expected:
            fail(condition)
        return name.lower()
    if not (isinstance(condition, list) and len(condition) == 3
            and all(isinstance(part, str) for part in condition)):
        raise invalid_policy(f'Invalid Condition: {json.dumps(condition)}')
    operator, name, expected = condition[0].lower(), condition[1].lower(), condition[2]
    if operator not in ('eq', 'starts-with'):
        raise invalid_policy(f'Invalid Condition: unknown operation {condition[0]}')
    value = values.get(name[1:]) if name.startswith('$') else None
    if value is None or (value != expected if operator == 'eq' else
                         not value.startswith(expected)):
        fail(condition)
    return name[1:]


def fail(condition):
    raise S3Error(403, 'AccessDenied',
                  f'Invalid according to Policy: Policy Condition failed: {json.dumps(condition)}')


def invalid_policy(reason):
    return S3Error(400, 'InvalidPolicyDocument', f'Invalid Policy: {reason}')


def missing_field(name):
    return S3Error(400, 'InvalidArgument', f"Bucket POST must contain a field named '{name}'.  "
                   'If it is specified, please check the order of the fields.',
                   ArgumentName=name, ArgumentValue='')


def signature(secret, scope, policy):
    """SigV4 for a POST policy: the base64 policy is the string to sign."""
    date, region, service, _ = (scope.split('/') + ['', '', '', ''])[:4]
    key = ('AWS4' + secret).encode()
    for part in (date, region, service, 'aws4_request'):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, policy.encode(), hashlib.sha256).hexdigest()


def signature_v2(secret, policy):
    return base64.b64encode(hmac.new(secret.encode(), policy.encode(), hashlib.sha1).digest()).decode()
