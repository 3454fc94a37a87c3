"""add-permission, get-policy and remove-permission answer as Lambda does.

moto adds any statement (a StatementId with a dot, a principal that is no principal, a second
statement with the same id, one on $LATEST), answers 200 where Lambda answers 201, says a
missing alias is a missing function, and removes a statement from the function's own policy
whatever the Qualifier. Lambda's answers (LocalStack's recordings of AWS,
test_lambda_api.snapshot.json, TestLambdaPermissions::test_permission_exceptions and
test_remove_multi_permissions), in the order checked here: the request's model (StatementId,
Qualifier: ValidationException), a qualifier that differs from the name's, the function (404),
the qualifier (an alias name: "Cannot find alias arn: ..."; else "Function not found: ..."),
$LATEST ("We currently do not support adding policies for $LATEST."), the principal, the
RevisionId (412), the statement id (409). get-policy of a function, version or alias that does
not exist, or has no policy, is "The resource you requested does not exist."; remove-permission
of a function that does not exist is "No policy found for: ARN", of a policy without that
statement "Statement S is not found in resource policy.".
"""
import json
import re
from urllib.parse import unquote

from moto.awslambda.exceptions import (GenericResourcNotFound, InvalidParameterValueException,
                                       LambdaClientError, PreconditionFailedException,
                                       UnknownAliasException, UnknownFunctionException,
                                       UnknownPolicyException)
from moto.awslambda.models import make_function_arn
from moto.awslambda.responses import LambdaResponse

from local_endpoint import function_names

ALIAS_NAME = re.compile(r'(?!^[0-9]+$)[a-zA-Z0-9-_]+')
# Principals Lambda takes: any, an account, an ARN, an AWS service.
PRINCIPAL = re.compile(r'\*|\d{12}|arn:.+|[a-z0-9.-]+\.amazon(aws)?\.com')
LATEST = '$LATEST'
WRONG_REVISION = ('The Revision Id provided does not match the latest Revision Id. Call the '
                  'GetPolicy API to retrieve the latest Revision Id')


class StatementConflict(LambdaClientError):
    code = 409

    def __init__(self, sid):
        super().__init__('ResourceConflictException',
                         f'The statement id ({sid}) provided already exists. Please provide a new '
                         f'statement id, or remove the existing statement.')


class NotFound(LambdaClientError):
    code = 404

    def __init__(self, message):
        super().__init__('ResourceNotFoundException', message)


def target(backend, name_or_arn, qualifier):
    """The function object whose policy a qualifier names, or Lambda's refusal."""
    qualifier = function_names.qualifier_of(name_or_arn, qualifier)
    latest = backend.get_function(function_names.split(name_or_arn)[0])
    if qualifier is None or qualifier == LATEST:
        return latest, qualifier
    storage = backend._lambdas
    if ALIAS_NAME.fullmatch(qualifier):
        alias = storage._get_function_aliases(latest.function_name).get(qualifier)
        if alias is None:
            raise UnknownAliasException(f'{latest.function_arn}:{qualifier}')
        version = str(alias.function_version)
        return (latest if version == LATEST
                else storage._get_version(latest.function_name, version)), qualifier
    version = storage._get_version(latest.function_name, qualifier)
    if version is None:
        raise UnknownFunctionException(f'{latest.function_arn}:{qualifier}')
    return version, qualifier


def add_permission(response):
    name = unquote(response.path.split('/')[-2])
    qualifier = response.querystring.get('Qualifier', [None])[0]
    request = json.loads(response.body or '{}')
    problems = function_names.model_problems('AddPermission', {
        'FunctionName': name, 'StatementId': request.get('StatementId'), 'Qualifier': qualifier})
    if problems:
        raise function_names.InvalidParameters(problems)
    function, qualifier = target(response.backend, name, qualifier)
    if qualifier == LATEST:
        raise InvalidParameterValueException(
            'We currently do not support adding policies for $LATEST.')
    if not PRINCIPAL.fullmatch(str(request.get('Principal', ''))):
        raise InvalidParameterValueException(
            'The provided principal was invalid. Please check the principal and try again.')
    check_revision(function.policy, request.get('RevisionId'))
    if any(statement.get('Sid') == request.get('StatementId')
           for statement in function.policy.statements):
        raise StatementConflict(request['StatementId'])
    statement, _ = function.policy.add_statement(response.body, qualifier)
    return 201, {'status': 201}, json.dumps({'Statement': json.dumps(statement)})


def get_policy(response):
    name = unquote(response.path.split('/')[-2])
    qualifier = response.querystring.get('Qualifier', [None])[0]
    try:
        function, _ = target(response.backend, name, qualifier)
    except (UnknownFunctionException, UnknownAliasException):
        raise GenericResourcNotFound() from None
    return function.policy.wire_format()


def remove_permission(response):
    name = unquote(response.path.split('/')[-3])
    sid = unquote(response.path.split('/')[-1].split('?')[0])
    qualifier = response.querystring.get('Qualifier', [None])[0]
    backend = response.backend
    try:
        function, _ = target(backend, name, qualifier)
    except UnknownFunctionException:
        plain = function_names.split(name)[0]
        raise NotFound(f'No policy found for: '
                       f'{make_function_arn(backend.region_name, backend.account_id, plain)}'
                       ) from None
    policy = function.policy
    if not policy.statements:
        raise UnknownPolicyException()
    check_revision(policy, response.querystring.get('RevisionId', [None])[0])
    if not any(statement.get('Sid') == sid for statement in policy.statements):
        raise NotFound(f'Statement {sid} is not found in resource policy.')
    policy.del_statement(sid)
    return 204, {'status': 204}, ''


def check_revision(policy, revision):
    if revision and revision != policy.revision:
        raise PreconditionFailedException(WRONG_REVISION)


def install():
    """Once per process: moto's three handlers answer through these."""
    LambdaResponse.add_permission = add_permission
    LambdaResponse.get_policy = get_policy
    LambdaResponse.remove_permission = remove_permission
