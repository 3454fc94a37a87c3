"""Who may call a function URL: the check Lambda's front end makes before running anything
(AWS Lambda developer guide, "Control access to Lambda function URLs", urls-auth).

A URL of AuthType AWS_IAM wants a SigV4-signed request: an unsigned one is refused whether
IAM is enforced or not, as Invoke refuses one (local_endpoint.invoke_auth). With IAM enforced
the signature is verified and the signer's identity policies must allow
lambda:InvokeFunctionUrl on the URL's function, and a URL of AuthType NONE serves only when
the function's resource policy grants everyone both lambda:InvokeFunctionUrl (for AuthType
NONE) and lambda:InvokeFunction (invoked via a function URL), as AWS requires of URLs made
since October 2025. Each refusal is Lambda's: 403, AccessDeniedException, "Forbidden. ...".
"""
import fnmatch

from moto.core import DEFAULT_ACCOUNT_ID
from moto.iam.access_control import PermissionResult
from moto.sts.models import sts_backends

from local_endpoint import iam, sigv4

FORBIDDEN = ('Forbidden. For troubleshooting Function URL authorization issues, see: '
             'https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html')
URL_ACTION = 'lambda:InvokeFunctionUrl'
INVOKE_ACTION = 'lambda:InvokeFunction'


class Forbidden(Exception):
    pass


def check(environ, auth_type, target_arn, statements, enforcing, body_limit):
    """Raise Forbidden unless this request may call the URL serving `target_arn` (the
    function's ARN, with the alias for an alias's URL); `statements` are the function's
    resource policy's. Returns the event's requestContext.authorizer for an AWS_IAM URL (who
    signed), None for a public one."""
    if auth_type != 'AWS_IAM':
        if enforcing and not (
                _granted(statements, URL_ACTION, target_arn, _for_auth_type_none)
                and _granted(statements, INVOKE_ACTION, target_arn, _via_function_url)):
            raise Forbidden(FORBIDDEN)
        return None
    try:
        authorization = sigv4.authorization_of(environ)
    except sigv4.Malformed:
        raise Forbidden(FORBIDDEN) from None
    if authorization is None:
        raise Forbidden(FORBIDDEN)
    if enforcing:
        _check_signer(environ, authorization, target_arn, body_limit)
    return _authorizer(authorization)


def _authorizer(authorization):
    """The signer as the event names it (urls-invocation guide, request payload): STS's
    GetCallerIdentity of the key."""
    identity = sts_backends[DEFAULT_ACCOUNT_ID][iam.PARTITION]
    user_id, arn, account = identity.get_caller_identity(authorization.access_key,
                                                         authorization.region)
    return {'iam': {'accessKey': authorization.access_key, 'accountId': account,
                    'callerId': user_id, 'cognitoIdentity': None, 'principalOrgId': None,
                    'userArn': arn, 'userId': user_id}}


def _check_signer(environ, authorization, target_arn, body_limit):
    signer = iam.principal(authorization.access_key, environ.get('HTTP_X_AMZ_SECURITY_TOKEN'))
    if signer is None:
        raise Forbidden(FORBIDDEN)
    try:
        body = sigv4.read_body(environ, body_limit)
    except sigv4.BodyTooLarge:
        raise Forbidden(FORBIDDEN) from None
    if not sigv4.matches(environ, body, authorization, signer.create_credentials()):
        raise Forbidden(FORBIDDEN)
    if iam.permission(signer, URL_ACTION, target_arn) != PermissionResult.PERMITTED:
        raise Forbidden(FORBIDDEN)


def _granted(statements, action, target_arn, condition_holds):
    """Whether a statement allows everyone `action` on the target under its condition."""
    return any(statement.get('Effect', 'Allow') == 'Allow'
               and statement.get('Principal') in ('*', {'AWS': '*'})
               and _matches(statement.get('Action'), [action, 'lambda:*', '*'])
               and any(fnmatch.fnmatchcase(target_arn, resource)
                       for resource in _listed(statement.get('Resource')))
               and condition_holds(statement)
               for statement in statements)


def _for_auth_type_none(statement):
    """AddPermission's FunctionUrlAuthType NONE: kept as given (moto) or as AWS's condition."""
    condition = statement.get('Condition', {}).get('StringEquals', {})
    return 'NONE' in (statement.get('FunctionUrlAuthType'),
                      condition.get('lambda:FunctionUrlAuthType'))


def _via_function_url(statement):
    """AddPermission's InvokedViaFunctionUrl: kept as given (moto) or as AWS's condition."""
    condition = statement.get('Condition', {}).get('Bool', {})
    return (statement.get('InvokedViaFunctionUrl') is True
            or str(condition.get('lambda:InvokedViaFunctionUrl')).lower() == 'true')


def _matches(actions, accepted):
    return any(action in accepted for action in _listed(actions))


def _listed(value):
    return value if isinstance(value, list) else [value] if value else []
