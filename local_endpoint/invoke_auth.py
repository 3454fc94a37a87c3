"""Who may call Invoke: the check Lambda makes before running anything, which moto cannot make
here (the endpoint serves Invoke itself).

Unsigned requests are refused whether IAM is enforced or not: a web page can POST to the
endpoint without a preflight, but not with an Authorization header. With IAM enforced the
signature is verified over the request and its body, and the signer's identity policies must
allow lambda:InvokeFunction on the function (moto's policy engine), with Lambda's answers.
Function URLs (AuthType NONE) and S3 notifications do not come this way: they stay public and
internal, as on AWS.
"""
from urllib.parse import parse_qs

from moto.core import DEFAULT_ACCOUNT_ID
from moto.iam.access_control import PermissionResult

from local_endpoint import iam, sigv4
from local_endpoint.lambda_service import MAX_SYNC_PAYLOAD_BYTES

ACTION = 'lambda:InvokeFunction'


class Refusal(Exception):
    """Lambda's error: HTTP status, x-amzn-ErrorType and message."""

    def __init__(self, status, error_type, message):
        super().__init__(message)
        self.status, self.error_type, self.message = status, error_type, message


def check(environ, name, enforcing):
    """Raise Refusal unless the request may invoke the function `name` (as in the path)."""
    if 'HTTP_AUTHORIZATION' not in environ:
        raise Refusal(403, 'MissingAuthenticationTokenException', 'Missing Authentication Token')
    if not enforcing:
        return
    try:
        authorization = sigv4.authorization_of(environ)
    except sigv4.Malformed as error:
        raise Refusal(400, 'IncompleteSignatureException', str(error)) from None
    token = environ.get('HTTP_X_AMZ_SECURITY_TOKEN')
    signer = iam.principal(authorization.access_key, token)
    if signer is None:
        raise Refusal(403, 'UnrecognizedClientException',
                      'The security token included in the request is invalid.')
    if environ.get('CONTENT_LENGTH', '').isdigit() \
            and int(environ['CONTENT_LENGTH']) > MAX_SYNC_PAYLOAD_BYTES:
        return  # refused unread by Invoke, as by Lambda's front end: nothing runs
    try:
        body = sigv4.read_body(environ, MAX_SYNC_PAYLOAD_BYTES)
    except sigv4.BodyTooLarge:
        raise Refusal(413, 'RequestEntityTooLargeException',
                      f'Request must be smaller than {MAX_SYNC_PAYLOAD_BYTES} bytes for the '
                      f'InvokeFunction operation') from None
    if not sigv4.matches(environ, body, authorization, signer.create_credentials()):
        raise Refusal(403, 'InvalidSignatureException',
                      'The request signature we calculated does not match the signature you '
                      'provided. Check your AWS Secret Access Key and signing method. Consult '
                      'the service documentation for details.')
    resource = function_arn(name, _qualifier(environ), authorization.region)
    decision = iam.permission(signer, ACTION, resource)
    if decision != PermissionResult.PERMITTED:
        reason = ('with an explicit deny in an identity-based policy'
                  if decision == PermissionResult.DENIED else
                  f'because no identity-based policy allows the {ACTION} action')
        raise Refusal(403, 'AccessDeniedException', f'User: {signer.arn} is not authorized to '
                      f'perform: {ACTION} on resource: {resource} {reason}')


def function_arn(name, qualifier, region, account=DEFAULT_ACCOUNT_ID):
    """The ARN Invoke is authorized on: FunctionName may be a name, a partial ARN
    (123456789012:function:name) or a full one, with the qualifier in it or in ?Qualifier."""
    if name.startswith('arn:'):
        arn = name
    elif ':function:' in name:
        arn = f'arn:{iam.PARTITION}:lambda:{region}:{name}'
    else:
        arn = f'arn:{iam.PARTITION}:lambda:{region}:{account}:function:{name}'
    return f'{arn}:{qualifier}' if qualifier and arn.count(':') == 6 else arn


def _qualifier(environ):
    return parse_qs(environ.get('QUERY_STRING', '')).get('Qualifier', [None])[0]
