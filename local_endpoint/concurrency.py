"""put-function-concurrency answers as Lambda does.

moto sets a function's reserved concurrency through a version's or an alias's ARN (it is the
function's, not a version's) and names a missing function without the qualifier Lambda puts on
it. Lambda (LocalStack's recordings of AWS, test_lambda_api.snapshot.json,
TestLambdaReservedConcurrency::test_function_concurrency_exceptions): a qualified name is
InvalidParameterValueException "This operation is permitted on Lambda functions only. ...",
and a missing function is "Function not found: arn:...:function:F:$LATEST", whatever the
concurrency asked for.
"""
from urllib.parse import unquote

from moto.awslambda.exceptions import InvalidParameterValueException, UnknownFunctionException
from moto.awslambda.models import make_function_arn
from moto.awslambda.responses import LambdaResponse

from local_endpoint import function_names

FUNCTIONS_ONLY = ('This operation is permitted on Lambda functions only. Aliases and versions do '
                  'not support this operation. Please specify either a function name or an '
                  'unqualified function ARN.')


def check(backend, name_or_arn):
    """Refuse a qualified name, then a function that does not exist, as Lambda does."""
    function_names.check_parameters('PutFunctionConcurrency', name_or_arn)
    function_names.check_region(name_or_arn, backend.region_name)
    name, qualifier = function_names.split(name_or_arn)
    if qualifier is not None:
        raise InvalidParameterValueException(FUNCTIONS_ONLY)
    if name not in backend._lambdas._functions:
        arn = make_function_arn(backend.region_name, backend.account_id, name)
        raise UnknownFunctionException(f'{arn}:$LATEST')


def install():
    """Once per process: moto's put-function-concurrency checks first."""
    if getattr(LambdaResponse.put_function_concurrency, 'functions_only', False):
        return
    original = LambdaResponse.put_function_concurrency

    def put_function_concurrency(response):
        check(response.backend, unquote(response.path.rsplit('/', 2)[-2]))
        return original(response)

    put_function_concurrency.functions_only = True
    LambdaResponse.put_function_concurrency = put_function_concurrency
