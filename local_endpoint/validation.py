"""The checks Lambda makes of a function's name and configuration, which moto does not make.

moto stores any Runtime (`non-existent-runtime`, `PYTHON3.9`), Handler, Timeout and MemorySize
and, on update-function-configuration, any Role (`r1`); the function is then refused only when
invoked, or runs with a role that is not one. It takes create-function's FunctionName as the
name, an ARN included. Lambda refuses these calls first (LocalStack's recordings of AWS,
test_lambda_api.snapshot.json, test_create_lambda_exceptions, test_update_lambda_exceptions,
test_function_arns):
- a Runtime not among those it creates functions with: InvalidParameterValueException
  "Value R at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: [...]
  or be a valid ARN", the set as AWS printed it (January 2026, its order included);
- a runtime it no longer creates or updates functions with (python3.7, go1.x, ...):
  InvalidParameterValueException "The runtime parameter of R is no longer supported ..."
  (test_create_deprecated_function_runtime_with_validation_enabled);
- a Role, Handler, Timeout or MemorySize outside the model (pattern, length, least value):
  ValidationException "1 validation error detected: Value 'r1' at 'role' failed to satisfy
  constraint: ...";
- more than Lambda's quotas (the model allows more, for other kinds of function): Timeout over
  900 and MemorySize over 10240, in the words AWS answers them with; environment variables over
  4 KB (InvalidParameterValueException, with the JSON it measured);
- Layers that are no layer version ARNs, more than 5, of another region, two versions of one
  layer, or versions that do not exist (test_layer_function_exceptions);
- a FunctionName outside create-function's model, ValidationException; a name (the ARN's last
  part) over 64 characters, InvalidParameterValueException; an ARN of another region, 404
  (local_endpoint.function_names); of another account, 403 AccessDeniedException. An ARN or a
  partial ARN creates the function it names.
"""
import json
import re
from functools import lru_cache

import botocore.session
from moto.awslambda import models
from moto.awslambda.exceptions import InvalidParameterValueException, LambdaClientError

from local_endpoint import function_names

# As AWS printed them in its answer (recorded 12-01-2026), in its order.
RUNTIMES = ('nodejs20.x', 'python3.14', 'provided.al2023', 'python3.12', 'python3.13',
            'nodejs24.x', 'nodejs22.x', 'java25', 'python3.10', 'python3.11', 'java21',
            'ruby3.3', 'ruby3.4', 'ruby3.2', 'python3.8', 'python3.9', 'java17', 'nodejs16.x',
            'dotnet10', 'dotnet8', 'java11', 'dotnet6', 'nodejs18.x', 'provided.al2',
            'java8.al2')
# The request members checked against the model: its name, the name in AWS's refusals.
MODELLED = {'Role': 'role', 'Handler': 'handler', 'Timeout': 'timeout',
            'MemorySize': 'memorySize'}
MAX_TIMEOUT_SECONDS = 900
MAX_MEMORY_MB = 10240
MAX_NAME_LENGTH = 64
MAX_ENVIRONMENT_BYTES = 4096
MAX_LAYERS = 5
# A layer version's ARN as AWS prints the pattern (Lambda's own layers or AWS's).
LAYER_VERSION_ARN = (r'(arn:(aws[a-zA-Z-]*)?:lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?'
                     r'-[a-z]+-\d{1}:\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+)|'
                     r'(arn:[a-zA-Z0-9-]+:lambda:::awslayer:[a-zA-Z0-9-_]+)')


class OtherAccount(LambdaClientError):
    """Creating a function in another account: 403, and AWS says no more (test_function_arns,
    function_arn_other_account_exc: its Message is null)."""
    code = 403

    def __init__(self):
        super().__init__('AccessDeniedException', None)


@lru_cache(maxsize=None)
def _model():
    return botocore.session.get_session().get_service_model('lambda')


def _known_runtimes():
    """Every runtime Lambda's model names, retired ones included."""
    return set(_model().shape_for('Runtime').enum)


def refused(member, value, constraint):
    return LambdaClientError('ValidationException', f"1 validation error detected: Value "
                                                    f"'{value}' at '{member}' failed to satisfy "
                                                    f"constraint: {constraint}")


def check_runtime(runtime):
    if runtime in RUNTIMES:
        return
    if runtime in _known_runtimes():
        raise InvalidParameterValueException(
            f'The runtime parameter of {runtime} is no longer supported for creating or '
            f'updating AWS Lambda functions. We recommend you use a supported runtime while '
            f'creating or updating functions.')
    raise InvalidParameterValueException(
        f"Value {runtime} at 'runtime' failed to satisfy constraint: Member must satisfy enum "
        f"value set: [{', '.join(RUNTIMES)}] or be a valid ARN")


def check_modelled(operation, request):
    """The model's constraints on the members in MODELLED, in that order."""
    members = _model().operation_model(operation).input_shape.members
    for key, member in MODELLED.items():
        if key not in request:
            continue
        value, metadata = request[key], members[key].metadata
        pattern = metadata.get('pattern')
        if isinstance(value, str):
            if pattern and not re.fullmatch(pattern, value):
                raise refused(member, value, f'Member must satisfy regular expression pattern: '
                                             f'{pattern}')
            if len(value) > metadata.get('max', len(value)):
                raise refused(member, value, f'Member must have length less than or equal to '
                                             f'{metadata["max"]}')
        elif isinstance(value, int) and value < metadata.get('min', value):
            raise refused(member, value, f'Member must have value greater than or equal to '
                                         f'{metadata["min"]}')


def check_environment(request):
    """Lambda measures the variables as compact JSON, in UTF-8, and takes at most 4 KB
    (test_lambda_api.snapshot.json, TestLambdaSizeLimits: test_large_environment_variables_fails,
    test_large_environment_fails_multiple_keys, test_lambda_envvars_near_limit_succeeds)."""
    variables = (request.get('Environment') or {}).get('Variables')
    if not variables:
        return
    measured = json.dumps(variables, separators=(',', ':'), ensure_ascii=False)
    if len(measured.encode()) > MAX_ENVIRONMENT_BYTES:
        raise InvalidParameterValueException(
            f'Lambda was unable to configure your environment variables because the environment '
            f'variables you have provided exceeded the 4KB limit. String measured: {measured}')


def check_quotas(request):
    if request.get('Timeout', 0) > MAX_TIMEOUT_SECONDS:
        raise refused('timeout', request['Timeout'], f'Member must have value less than or '
                                                     f'equal to {MAX_TIMEOUT_SECONDS}')
    if request.get('MemorySize', 0) > MAX_MEMORY_MB:
        raise LambdaClientError('ValidationException', f"'MemorySize' value failed to satisfy "
                                                       f"constraint: Member must have value less "
                                                       f"than or equal to {MAX_MEMORY_MB}")


def check_layers(backend, arns):
    """Lambda's refusals of a function's Layers, in its order (test_lambda_api.snapshot.json,
    TestLambdaLayer::test_layer_function_exceptions, test_layer_function_quota_exception)."""
    if arns is None:
        return
    if any(not isinstance(arn, str) or not re.fullmatch(LAYER_VERSION_ARN, arn) for arn in arns):
        shown = ', '.join(map(str, arns))
        raise LambdaClientError(
            'ValidationException', f"1 validation error detected: Value '[{shown}]' "
                                   f"at 'layers' failed to satisfy constraint: Member must satisfy "
                                   f"constraint: [Member must have length less than or equal to "
                                   f"2048, Member must have length greater than or equal to 1, "
                                   f"Member must satisfy regular expression pattern: "
                                   f"{LAYER_VERSION_ARN}, Member must not be null]")
    if len(arns) > MAX_LAYERS:
        raise InvalidParameterValueException('Cannot reference more than 5 layers.')
    if any(arn.split(':')[3] != backend.region_name for arn in arns):
        raise InvalidParameterValueException(
            f'Layers are not in the same region as the function. Layers are expected to be in '
            f'region {backend.region_name}.')
    for index, arn in enumerate(arns):
        for other in arns[index + 1:]:
            if arn.rsplit(':', 1)[0] == other.rsplit(':', 1)[0]:
                raise InvalidParameterValueException(
                    f'Two different versions of the same layer are not allowed to be referenced '
                    f'in the same function. {arn} and {other} are versions of the same layer.')
    for arn in arns:
        if backend.layers_versions_by_arn(arn) is None:
            raise InvalidParameterValueException(f'Layer version {arn} does not exist.')


def check(operation, request):
    """Refuse a request's configuration as Lambda does: the model's constraints (checked before
    Lambda sees the request) first."""
    check_modelled(operation, request)
    check_quotas(request)
    check_environment(request)
    if request.get('Runtime') is not None:
        check_runtime(request['Runtime'])


def created_name(backend, name_or_arn):
    """The name create-function gives the function, or Lambda's refusal of FunctionName."""
    function_names.check_parameters('CreateFunction', name_or_arn)
    function_names.check_region(name_or_arn, backend.region_name)
    if function_names.account_of(name_or_arn) not in (None, backend.account_id):
        raise OtherAccount()
    name = function_names.split(name_or_arn)[0]
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidParameterValueException(
            f"1 validation error detected: Value '{name}' at 'functionName' failed to satisfy "
            f"constraint: Member must have length less than or equal to {MAX_NAME_LENGTH}")
    return name


def install():
    """Once per process: moto's create-function and update-function-configuration check
    first."""
    backend = models.LambdaBackend
    if getattr(backend, '_validation', False):
        return
    backend._validation = True
    create, update_configuration = backend.create_function, backend.update_function_configuration

    def create_function(self, spec):
        name = created_name(self, spec.get('FunctionName', ''))
        check('CreateFunction', spec)
        check_layers(self, spec.get('Layers'))
        return create(self, {**spec, 'FunctionName': name})

    def update_function_configuration(self, function_name, qualifier, body):
        check('UpdateFunctionConfiguration', body)
        check_layers(self, body.get('Layers'))
        return update_configuration(self, function_name, qualifier, body)

    backend.create_function = create_function
    backend.update_function_configuration = update_function_configuration
