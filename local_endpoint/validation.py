"""The checks Lambda makes of a function's Runtime and Role, which moto does not make.

moto stores any Runtime (`non-existent-runtime`, `PYTHON3.9`) and, on
update-function-configuration, any Role (`r1`); the function is then refused only when invoked,
or runs with a role that is not one. Lambda refuses both calls first (LocalStack's recordings of
AWS, test_lambda_api.snapshot.json, test_create_lambda_exceptions and
test_update_lambda_exceptions):
- a Runtime not among those it creates functions with: InvalidParameterValueException
  "Value R at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: [...]
  or be a valid ARN", the set as AWS printed it (January 2026, its order included);
- a runtime it no longer creates or updates functions with (python3.7, go1.x, ...):
  InvalidParameterValueException "The runtime parameter of R is no longer supported ..."
  (test_create_deprecated_function_runtime_with_validation_enabled);
- a Role that is not a role ARN: ValidationException "1 validation error detected: Value 'r1'
  at 'role' failed to satisfy constraint: Member must satisfy regular expression pattern: ...".
"""
import re
from functools import lru_cache

import botocore.session
from moto.awslambda import models
from moto.awslambda.exceptions import InvalidParameterValueException, LambdaClientError

# As AWS printed them in its answer (recorded 12-01-2026), in its order.
RUNTIMES = ('nodejs20.x', 'python3.14', 'provided.al2023', 'python3.12', 'python3.13',
            'nodejs24.x', 'nodejs22.x', 'java25', 'python3.10', 'python3.11', 'java21',
            'ruby3.3', 'ruby3.4', 'ruby3.2', 'python3.8', 'python3.9', 'java17', 'nodejs16.x',
            'dotnet10', 'dotnet8', 'java11', 'dotnet6', 'nodejs18.x', 'provided.al2',
            'java8.al2')


@lru_cache(maxsize=None)
def _model():
    return botocore.session.get_session().get_service_model('lambda')


def _known_runtimes():
    """Every runtime Lambda's model names, retired ones included."""
    return set(_model().shape_for('Runtime').enum)


def _role_pattern():
    """The pattern of a role ARN in Lambda's model, as AWS prints it in its refusal."""
    return _model().shape_for('RoleArn').metadata['pattern']


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


def check_role(role):
    pattern = _role_pattern()
    if not isinstance(role, str) or not re.fullmatch(pattern, role):
        raise LambdaClientError(
            'ValidationException', f"1 validation error detected: Value '{role}' at 'role' "
                                   f"failed to satisfy constraint: Member must satisfy regular "
                                   f"expression pattern: {pattern}")


def check(request):
    """Refuse a request's Role and Runtime as Lambda does: the Role (checked against the API's
    model, before Lambda sees the request) first."""
    if 'Role' in request:
        check_role(request['Role'])
    if request.get('Runtime') is not None:
        check_runtime(request['Runtime'])


def install():
    """Once per process: moto's create-function and update-function-configuration check
    first."""
    backend = models.LambdaBackend
    if getattr(backend, '_validation', False):
        return
    backend._validation = True
    create, update_configuration = backend.create_function, backend.update_function_configuration

    def create_function(self, spec):
        check(spec)
        return create(self, spec)

    def update_function_configuration(self, function_name, qualifier, body):
        check(body)
        return update_configuration(self, function_name, qualifier, body)

    backend.create_function = create_function
    backend.update_function_configuration = update_function_configuration
