"""The function URL configuration calls refuse what Lambda refuses, first.

moto takes a version number or `$LATEST` as a URL's qualifier, a qualifier that differs from the
name's, and names a missing function "Function not found". Lambda (LocalStack's recordings of
AWS, test_lambda_api.snapshot.json, TestLambdaUrl::test_url_config_exceptions): a qualifier
outside the model's pattern (an alias name only) is ValidationException; a qualifier that
differs from the name's is InvalidParameterValueException; a missing function or alias is 404
"Function does not exist" for create and update, "The resource you requested does not exist."
for get and delete; a second URL for the same function and qualifier is 409
ResourceConflictException (test_url_config_lifecycle, failed_duplication: moto replaced the
first, whose address then served nothing); an InvokeMode Lambda does not have is
ValidationException (test_lambda.snapshot.json, test_lambda_url_invalid_invoke_mode). Their
answers are AWS's in shape too (shaped()).
"""
import json
from urllib.parse import unquote

from moto.awslambda import urls
from moto.awslambda.exceptions import (GenericResourcNotFound, LambdaClientError,
                                       UnknownFunctionException)
from moto.awslambda.responses import LambdaResponse

from local_endpoint import function_names

LIST_PATH = r'{0}/(?P<api_version>[^/]+)/functions/(?P<function_name>[^/]+)/urls/?$'
# As AWS lists them refusing another (test_lambda.snapshot.json,
# test_lambda_url_invalid_invoke_mode).
INVOKE_MODES = ('RESPONSE_STREAM', 'BUFFERED')
# moto's handler: the operation, and whether a missing function is "Function does not exist".
CHECKED = {'create_function_url_config': ('CreateFunctionUrlConfig', True),
           'update_function_url_config': ('UpdateFunctionUrlConfig', True),
           'get_function_url_config': ('GetFunctionUrlConfig', False),
           'delete_function_url_config': ('DeleteFunctionUrlConfig', False)}


class FunctionDoesNotExist(LambdaClientError):
    code = 404

    def __init__(self):
        super().__init__('ResourceNotFoundException', 'Function does not exist')


class UrlConfigExists(LambdaClientError):
    code = 409

    def __init__(self, arn):
        super().__init__('ResourceConflictException',
                         f'Failed to create function url config for [functionArn = {arn}]. '
                         f'Error message:  FunctionUrlConfig exists for this Lambda function')


def check(backend, operation, name_or_arn, qualifier, says_function, invoke_mode=None):
    """Lambda's refusals, in its order: the model, the qualifiers, the function and alias."""
    problems = function_names.model_problems(operation, {'FunctionName': name_or_arn,
                                                         'Qualifier': qualifier})
    if invoke_mode is not None and invoke_mode not in INVOKE_MODES:
        problems.append(f"Value '{invoke_mode}' at 'invokeMode' failed to satisfy constraint: "
                        f"Member must satisfy enum value set: [{', '.join(INVOKE_MODES)}]")
    if problems:
        raise function_names.InvalidParameters(problems)
    qualifier = function_names.qualifier_of(name_or_arn, qualifier)
    name = function_names.split(name_or_arn)[0]
    missing = FunctionDoesNotExist if says_function else GenericResourcNotFound
    try:
        backend.get_function(name)
    except UnknownFunctionException:
        raise missing() from None
    if qualifier is not None and qualifier not in backend._lambdas._get_function_aliases(name):
        raise missing()
    return name, qualifier


def list_function_url_configs(response):
    """list-function-url-configs, which moto does not route (a 404 page): the function's URL
    configuration, as get answers it, or none (test_url_config_list_paging,
    list_function_notfound and list_all_empty)."""
    name = unquote(response.path.rstrip('/').split('/')[-2])
    check(response.backend, 'ListFunctionUrlConfigs', name, None, True)
    function = response.backend.get_function(function_names.split(name)[0])
    configs = []
    if function.url_config is not None:
        qualifier = getattr(function.url_config, 'qualifier', None)
        configs.append(qualified({**function.url_config.to_dict(), 'InvokeMode': (
            function.url_config.config.get('InvokeMode') or 'BUFFERED').upper()}, qualifier))
    return 200, {}, json.dumps({'FunctionUrlConfigs': configs})


def qualified(document, qualifier):
    """An alias's URL configuration names the alias in its FunctionArn, as AWS's does
    (test_url_config_list_paging, url_config_alias)."""
    if qualifier and not document['FunctionArn'].endswith(f':{qualifier}'):
        return {**document, 'FunctionArn': f"{document['FunctionArn']}:{qualifier}"}
    return document


def install():
    """Once per process, before the HTTP front wraps create (it then runs these checks too)."""
    for handler, (operation, says_function) in CHECKED.items():
        original = getattr(LambdaResponse, handler)
        if getattr(original, 'checks_url_configs', False):
            continue
        setattr(LambdaResponse, handler, _checking(original, operation, says_function))
    LambdaResponse.list_function_url_configs = list_function_url_configs
    urls.url_paths[LIST_PATH] = LambdaResponse.dispatch


def _checking(handler, operation, says_function):
    def checked(response):
        try:
            invoke_mode = json.loads(response.body or '{}').get('InvokeMode')
        except ValueError:  # moto answers a body that is not JSON itself
            invoke_mode = None
        name, qualifier = check(
            response.backend, operation, unquote(response.path.rstrip('/').split('/')[-2]),
            (response.querystring.get('Qualifier') or [None])[0], says_function, invoke_mode)
        if operation != 'CreateFunctionUrlConfig':
            return shaped(operation, invoke_mode, handler(response), qualifier)
        function = response.backend.get_function(name)
        existing = function.url_config
        if existing is not None and getattr(existing, 'qualifier', None) == qualifier:
            raise UrlConfigExists(function.function_arn + (f':{qualifier}' if qualifier else ''))
        answer = shaped(operation, invoke_mode, handler(response), qualifier)
        function.url_config.qualifier = qualifier  # what a second create is compared with
        return answer

    checked.checks_url_configs = True
    return checked


def shaped(operation, invoke_mode, answer, qualifier):
    """moto's answer as AWS's (test_url_config_lifecycle): get answers 200 (moto 201) with the
    InvokeMode, BUFFERED unless set; create and update name it only when the request did;
    LastModifiedTime with milliseconds and the zone, as CreationTime."""
    status, headers, body = (200, {}, answer) if isinstance(answer, str) else answer
    if operation == 'DeleteFunctionUrlConfig':
        return status, headers, body
    document = json.loads(body)
    if operation == 'GetFunctionUrlConfig':
        status, headers = 200, {**headers, 'status': 200}
        document['InvokeMode'] = (document.get('InvokeMode') or 'BUFFERED').upper()
    elif invoke_mode is None:
        document.pop('InvokeMode', None)
    else:
        document['InvokeMode'] = invoke_mode
    document = qualified(document, qualifier)
    modified = document.get('LastModifiedTime')
    if isinstance(modified, str) and len(modified) == len('2025-01-01T00:00:00'):
        document['LastModifiedTime'] = modified + '.000+0000'
    return status, headers, json.dumps(document)
