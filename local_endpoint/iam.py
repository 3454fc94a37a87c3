"""IAM as the local endpoint applies it, on top of moto's policy engine.

moto can enforce IAM (`--enforce-iam`, or POST /moto-api/reset-auth), but only for requests
signed in an Authorization header, and only for principals it knows. Three things close the
gaps, so that a least-privilege role is tested here as it would be on AWS:

- Each execution environment runs with its function's role: credentials are minted by
  assuming the role in moto's STS backend, as Lambda does for every environment. (moto's
  AssumeRole *API*, called by a user on a role trusting lambda.amazonaws.com, fails with a
  500 in moto 5.2.5; the backend call does what Lambda's service principal does.)
- The local key `test`/`test` belongs to an IAM user, `local-admin`, allowed everything, so
  awscli, make and the tests keep working when IAM is enforced.
- moto 5.2.5 signs a GET without a body (Lambda's GetFunction, ListFunctions...) over its
  parsed headers, so every such call failed with SignatureDoesNotMatch: the expected signature
  is computed here over the request's real, empty, body.
- Browser-form uploads and presigned URLs carry their signature in the form or the query, not
  in a header; moto would fail on them. The endpoint verifies them and authorizes the signer
  (moto's policy engine, moto's errors), then hands the request to moto as already checked.
"""
import threading
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qsl, unquote

from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from moto import settings
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.authorization import ActionAuthenticatorMixin
from moto.iam.access_control import (CreateAccessKeyFailure, IAMPolicy, IAMRequestBase,
                                     PermissionResult, S3IAMRequest, create_access_key)
from moto.iam.models import iam_backends
from moto.s3.exceptions import S3ClientError
from moto.sts.models import sts_backends

from local_endpoint.s3_errors import S3Error

ADMIN_USER = 'local-admin'
ADMIN_ACCESS_KEY, ADMIN_SECRET_KEY = 'test', 'test'
ADMIN_POLICY = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", ' \
               '"Resource": "*"}]}'
ROLE_SESSION_SECONDS = 12 * 3600
PARTITION = 'aws'

_checked_here = threading.local()
_original_check = ActionAuthenticatorMixin._authenticate_and_authorize_action


def _check_unless_checked_here(self, iam_request_cls, resource='*'):
    if getattr(_checked_here, 'active', False):
        return None
    return _original_check(self, iam_request_cls, resource)


ActionAuthenticatorMixin._authenticate_and_authorize_action = _check_unless_checked_here

_original_signed_request = IAMRequestBase._create_aws_request


def _signed_request_over_raw_body(self):
    request = _original_signed_request(self)
    if self._method in ('GET', 'HEAD', 'DELETE') and not self._body:
        request.data = b''
    return request


IAMRequestBase._create_aws_request = _signed_request_over_raw_body


def enforce():
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    ActionAuthenticatorMixin.request_count = 0


def enforcing():
    return ActionAuthenticatorMixin.request_count >= settings.INITIAL_NO_AUTH_ACTION_COUNT


@contextmanager
def checked_here():
    """moto skips its own check for requests this module has verified and authorized."""
    _checked_here.active = True
    try:
        yield
    finally:
        _checked_here.active = False


def ensure_admin(account=DEFAULT_ACCOUNT_ID):
    """The local key's user; recreated if a /moto-api/reset wiped it."""
    backend = iam_backends[account][PARTITION]
    if ADMIN_USER in backend.users:
        return
    try:
        backend.create_user('us-east-1', ADMIN_USER)
    except Exception:  # created meanwhile by another request
        return
    backend.put_user_policy(ADMIN_USER, 'everything', ADMIN_POLICY)
    key = backend.create_access_key(ADMIN_USER)
    key.access_key_id, key.secret_access_key = ADMIN_ACCESS_KEY, ADMIN_SECRET_KEY


def role_credentials(account, region, role_arn, session_name):
    """Lambda's environment variables for a role session, as the service would mint them."""
    session = sts_backends[account][PARTITION].assume_role(
        region_name=region, role_session_name=session_name, role_arn=role_arn, policy=None,
        duration=ROLE_SESSION_SECONDS, external_id=None)
    return {'AWS_ACCESS_KEY_ID': session.access_key_id,
            'AWS_SECRET_ACCESS_KEY': session.secret_access_key,
            'AWS_SESSION_TOKEN': session.session_token}


class S3Authorization(S3IAMRequest):
    """moto's S3 permission check for a signer named in a form or a query string.

    moto's own constructor reads the Authorization header; the rest of its check (policies
    collected for the user or the assumed role, Deny wins, S3's error codes) is reused.
    Refusals leave as S3Error.
    """

    def __init__(self, access_key_id, token, action, bucket, region='us-east-1',
                 account=DEFAULT_ACCOUNT_ID):
        self.account_id, self._region, self._service = account, region, 's3'
        self._action = f's3:{action}'
        self._data = {'BucketName': bucket}
        self._method = self._path = self._body = None
        self._headers = {'X-Amz-Security-Token': token} if token else {}
        try:
            self._access_key = create_access_key(account, PARTITION, access_key_id,
                                                 self._headers)
        except CreateAccessKeyFailure as failure:
            try:
                self._raise_invalid_access_key(failure.reason)
            except S3ClientError as error:
                raise _refusal(error) from None

    def credentials(self):
        return self._access_key.create_credentials()

    def permit(self, bucket, key=None):
        """Raise moto's S3 AccessDenied unless the signer's policies allow the action."""
        resource = f'arn:{PARTITION}:s3:::{bucket}' + (f'/{key}' if key is not None else '')
        try:
            self.check_action_permitted(resource)
        except S3ClientError as error:
            raise _refusal(error) from None


PRESIGNED_ACTIONS = {'GET': 'GetObject', 'HEAD': 'GetObject', 'PUT': 'PutObject',
                     'DELETE': 'DeleteObject'}


def is_presigned(environ):
    query = environ.get('QUERY_STRING', '')
    return 'X-Amz-Signature=' in query or ('Signature=' in query and 'AWSAccessKeyId=' in query)


def check_presigned(environ, now=None):
    """Verify a SigV4 presigned S3 URL and its signer's permission; raise on refusal."""
    method = environ['REQUEST_METHOD']
    params = dict(parse_qsl(environ.get('QUERY_STRING', ''), keep_blank_values=True))
    if 'X-Amz-Signature' not in params:
        raise S3Error(
            403, 'AccessDenied', 'The local endpoint verifies SigV4 presigned URLs only (sign with '
            "signature_version='s3v4') while it enforces IAM")
    access_key_id, _, scope = params.get('X-Amz-Credential', '').partition('/')
    _, region, service = (scope.split('/') + ['', '', ''])[:3]  # date/region/service/...
    try:
        signed_at = datetime.strptime(params['X-Amz-Date'], '%Y%m%dT%H%M%SZ').replace(
            tzinfo=timezone.utc)
        expires = int(params['X-Amz-Expires'])
    except (KeyError, ValueError):
        raise S3Error(400, 'AuthorizationQueryParametersError',
                      'X-Amz-Date and X-Amz-Expires must be given') from None
    if (now or datetime.now(timezone.utc)) > signed_at + timedelta(seconds=expires):
        raise S3Error(403, 'AccessDenied', 'Request has expired')
    bucket, _, key = environ.get('PATH_INFO', '').lstrip('/').partition('/')
    action = (PRESIGNED_ACTIONS.get(method, f'{method.title()}Object') if key else
              'ListBucket')
    authorization = S3Authorization(access_key_id, params.get('X-Amz-Security-Token'), action,
                                    bucket, region or 'us-east-1')
    if params['X-Amz-Signature'] != _query_signature(environ, params, authorization.credentials(),
                                                     region, service, expires):
        raise S3Error(
            403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the '
            'signature you provided. Check your key and signing method.')
    authorization.permit(bucket, unquote(key) if key else None)


def _query_signature(environ, params, credentials, region, service, expires):
    host = environ.get('HTTP_HOST', '')
    signed = params.get('X-Amz-SignedHeaders', 'host').split(';')
    headers = {name: (host if name == 'host' else environ.get(
        'HTTP_' + name.upper().replace('-', '_'), '')) for name in signed}
    raw_path = environ.get('RAW_URI') or environ.get('REQUEST_URI') or environ['PATH_INFO']
    query = '&'.join(part for part in environ.get('QUERY_STRING', '').split('&')
                     if not part.startswith('X-Amz-Signature='))
    request = AWSRequest(method=environ['REQUEST_METHOD'],
                         url=f'http://{host}{raw_path.partition("?")[0]}?{query}',
                         headers=headers)
    request.context['timestamp'] = params['X-Amz-Date']
    auth = S3SigV4QueryAuth(credentials, service, region, expires=expires)
    canonical = auth.canonical_request(request)
    return auth.signature(auth.string_to_sign(request, canonical), request)


def _refusal(error):
    return S3Error(400 if error.code == 'InvalidToken' else 403, error.code, error.message)


def secret_of(access_key_id, token=None):
    """The secret of the local key, an IAM user's key or a role session's; None if unknown."""
    if access_key_id == ADMIN_ACCESS_KEY and not token:
        return ADMIN_SECRET_KEY
    signer = principal(access_key_id, token)
    return None if signer is None else signer.create_credentials().secret_key


def principal(access_key_id, token=None):
    """moto's record of whoever owns the key: an IAM user, or a role session when the token
    is that session's; None for an unknown key or a wrong token."""
    headers = {'X-Amz-Security-Token': token} if token else {}
    try:
        return create_access_key(DEFAULT_ACCOUNT_ID, PARTITION, access_key_id, headers)
    except CreateAccessKeyFailure:
        return None


def permission(signer, action, resource):
    """moto's policy engine over the principal's identity policies: PERMITTED, DENIED (an
    explicit Deny, which wins) or NEUTRAL (nothing allows it)."""
    outcome = PermissionResult.NEUTRAL
    for policy in signer.collect_policies():
        result = IAMPolicy(policy).is_action_permitted(action, resource)
        if result == PermissionResult.DENIED:
            return result
        if result == PermissionResult.PERMITTED:
            outcome = result
    return outcome
