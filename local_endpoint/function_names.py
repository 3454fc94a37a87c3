"""A FunctionName as Lambda reads it, in every call that names a function.

Lambda takes a name (`F`), a name with a qualifier (`F:1`, `F:live`, `F:$LATEST`), a partial
ARN (`123456789012:function:F[:q]`, `function:F[:q]`) or a full ARN
(`arn:aws:lambda:us-east-1:123456789012:function:F[:q]`). moto knows the first two and the full
ARN only: a partial ARN failed with a server error, `F:$LATEST` in a path was not routed (a 404
page), the ARN's region was ignored, and an ARN's qualifier silently won over a different
Qualifier parameter. Lambda's answers (LocalStack's recordings of AWS,
test_lambda_api.snapshot.json): an ARN of another region is 404 ResourceNotFoundException
"Functions from 'R' are not reachable in this region ('us-east-1')"
(test_get_function_wrong_region), a qualifier in the name that differs from the Qualifier is
400 InvalidParameterValueException (test_ops_with_arn_qualifier_mismatch), and a FunctionName
or Qualifier outside the pattern or length of the operation's model is 400 ValidationException
(test_function_name_and_qualifier_validation: Invoke, GetFunction, DeleteFunction; moto took
`my-function!` as a name).
"""
import re
from functools import lru_cache
from urllib.parse import unquote

import botocore.session
from moto.awslambda import urls
from moto.awslambda.exceptions import InvalidParameterValueException, LambdaClientError
from moto.awslambda.models import LambdaStorage
from moto.awslambda.responses import LambdaResponse

# Lambda's FunctionName pattern (its model's, as AWS prints it in a refusal), with its parts named.
NAME = re.compile(r'(?:arn:(?:aws[a-zA-Z-]*)?:lambda:)?'
                  r'(?:(?P<region>(?:eusc-)?[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d):)?'
                  r'(?:(?P<account>\d{12}):)?(?:function:)?(?P<name>[a-zA-Z0-9-_.]+)'
                  r'(?::(?P<qualifier>\$LATEST(?:\.PUBLISHED)?|[a-zA-Z0-9-_]+))?')
# As AWS lists them refusing another (its answer quoted in github.com/ex-aws/ex_aws pull 442).
INVOCATION_TYPES = ('DryRun', 'RequestResponse', 'Event')
MISMATCH = ('The derived qualifier from the function name does not match the specified '
            'qualifier.')
# moto routes a function name in a path by this pattern, which has no `$` for `F:$LATEST` and
# no character Lambda refuses (a 404 page): here any name reaches the checks.
ROUTED_NAME, ROUTABLE_NAME = r'(?P<function_name>[\w_:%-]+)', r'(?P<function_name>[^/]+)'
# The calls whose FunctionName and Qualifier are checked here: moto's handler, its operation.
CHECKED_CALLS = {'get_function': 'GetFunction',
                 'get_function_configuration': 'GetFunctionConfiguration',
                 'delete_function': 'DeleteFunction'}


class NotReachable(LambdaClientError):
    code = 404

    def __init__(self, region, here):
        super().__init__('ResourceNotFoundException', f"Functions from '{region}' are not "
                                                      f"reachable in this region ('{here}')")

    def __str__(self):  # the message alone, as Invoke's answer carries it
        return self.message


class InvalidParameters(LambdaClientError):
    """The refusal of the request validation in front of Lambda, by the operation's model."""

    def __init__(self, problems):
        errors = 'error' if len(problems) == 1 else 'errors'
        super().__init__('ValidationException', f'{len(problems)} validation {errors} '
                                                f'detected: ' + '; '.join(problems))


@lru_cache(maxsize=None)
def _members(operation):
    model = botocore.session.get_session().get_service_model('lambda')
    return model.operation_model(operation).input_shape.members


def check_parameters(operation, name_or_arn, qualifier=None, invocation_type=None):
    """Refuse a FunctionName or Qualifier outside the operation's model, as AWS words it
    (test_lambda_api.snapshot.json, test_function_name_and_qualifier_validation): per member,
    its pattern, else its length; and Invoke's InvocationType outside its set."""
    problems = model_problems(operation, {'FunctionName': name_or_arn, 'Qualifier': qualifier})
    if invocation_type is not None and invocation_type not in INVOCATION_TYPES:
        problems.append(f"Value '{invocation_type}' at 'invocationType' failed to satisfy "
                        f"constraint: Member must satisfy enum value set: "
                        f"[{', '.join(INVOCATION_TYPES)}]")
    if problems:
        raise InvalidParameters(problems)


def model_problems(operation, values):
    """What the request validation in front of Lambda says of these values ({member: value},
    members as the model names them; None is absent), in AWS's words."""
    members = _members(operation)
    problems = []
    for member, value in values.items():
        if value is None or member not in members:
            continue
        constraint = None
        metadata = members[member].metadata
        pattern, longest = metadata.get('pattern'), metadata.get('max')
        if pattern and not re.fullmatch(pattern, value):
            constraint = f'Member must satisfy regular expression pattern: {pattern}'
        elif longest is not None and len(value) > longest:
            constraint = f'Member must have length less than or equal to {longest}'
        if constraint:
            problems.append(f"Value '{value}' at '{member[0].lower()}{member[1:]}' failed to "
                            f"satisfy constraint: {constraint}")
    return problems


def split(name_or_arn):
    """(function name, qualifier or None) of any form Lambda takes."""
    match = NAME.fullmatch(name_or_arn)
    if match:
        return match['name'], match['qualifier']
    name, _, qualifier = name_or_arn.partition(':')
    return name, qualifier or None


def account_of(name_or_arn):
    """The account a (partial) ARN names, None for a name."""
    match = NAME.fullmatch(name_or_arn)
    return match['account'] if match else None


def check_region(name_or_arn, here):
    """Refuse, as Lambda does, a function ARN of another region than the endpoint's called."""
    match = NAME.fullmatch(name_or_arn)
    if match and match['region'] and match['region'] != here:
        raise NotReachable(match['region'], here)


def qualifier_of(name_or_arn, qualifier):
    """The one qualifier a name and a Qualifier parameter give together, or Lambda's refusal
    when they differ."""
    derived = split(name_or_arn)[1]
    if derived is not None and qualifier is not None and derived != qualifier:
        raise InvalidParameterValueException(MISMATCH)
    return derived if derived is not None else qualifier


def install():
    """Once per process: moto's function lookups read names as Lambda does."""
    if getattr(LambdaStorage, '_function_names', False):
        return
    LambdaStorage._function_names = True
    with_qualifier = LambdaStorage.get_function_by_name_or_arn_with_qualifier
    forbid_qualifier = LambdaStorage.get_function_by_name_or_arn_forbid_qualifier

    def get_function_by_name_or_arn_with_qualifier(storage, name_or_arn, qualifier=None):
        check_region(name_or_arn, storage.region_name)
        qualifier = qualifier_of(name_or_arn, qualifier)
        return with_qualifier(storage, split(name_or_arn)[0], qualifier)

    def get_function_by_name_or_arn_forbid_qualifier(storage, name_or_arn):
        check_region(name_or_arn, storage.region_name)
        name, qualifier = split(name_or_arn)
        return forbid_qualifier(storage, name if qualifier is None else f'{name}:{qualifier}')

    LambdaStorage.get_function_by_name_or_arn_with_qualifier = \
        get_function_by_name_or_arn_with_qualifier
    LambdaStorage.get_function_by_name_or_arn_forbid_qualifier = \
        get_function_by_name_or_arn_forbid_qualifier
    urls.url_paths = {path.replace(ROUTED_NAME, ROUTABLE_NAME): handler
                      for path, handler in urls.url_paths.items()}
    for handler, operation in CHECKED_CALLS.items():
        setattr(LambdaResponse, handler, _checking(getattr(LambdaResponse, handler), operation))


def _checking(handler, operation):
    """moto's handler of a call naming a function in its path, after the call's checks."""
    def checked(response):
        name = unquote(response.path.rstrip('/').split('/functions/', 1)[1].split('/', 1)[0])
        check_parameters(operation, name, response._get_param('Qualifier'))
        return handler(response)

    return checked
