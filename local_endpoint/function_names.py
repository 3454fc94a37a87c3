"""A FunctionName as Lambda reads it, in every call that names a function.

Lambda takes a name (`F`), a name with a qualifier (`F:1`, `F:live`, `F:$LATEST`), a partial
ARN (`123456789012:function:F[:q]`, `function:F[:q]`) or a full ARN
(`arn:aws:lambda:us-east-1:123456789012:function:F[:q]`). moto knows the first two and the full
ARN only: a partial ARN failed with a server error, `F:$LATEST` in a path was not routed (a 404
page), the ARN's region was ignored, and an ARN's qualifier silently won over a different
Qualifier parameter. Lambda's answers (LocalStack's recordings of AWS,
test_lambda_api.snapshot.json): an ARN of another region is 404 ResourceNotFoundException
"Functions from 'R' are not reachable in this region ('us-east-1')"
(test_get_function_wrong_region), and a qualifier in the name that differs from the Qualifier is
400 InvalidParameterValueException (test_ops_with_arn_qualifier_mismatch).
"""
import re

from moto.awslambda import urls
from moto.awslambda.exceptions import InvalidParameterValueException, LambdaClientError
from moto.awslambda.models import LambdaStorage

ARN = re.compile(r'^arn:[^:]*:lambda:(?P<region>[^:]*):(?P<account>[^:]*):function:'
                 r'(?P<name>[^:]+)(?::(?P<qualifier>[^:]+))?$')
PARTIAL_ARN = re.compile(r'^(?:(?P<account>\d{12}):)?function:(?P<name>[^:]+)'
                         r'(?::(?P<qualifier>[^:]+))?$')
MISMATCH = ('The derived qualifier from the function name does not match the specified '
            'qualifier.')
# moto routes a function name in a path by this pattern, which has no `$` for `F:$LATEST`
# (written \x24 here: moto strips every `$` from its patterns, its own regex's end included).
ROUTED_NAME = r'(?P<function_name>[\w_:%-]+)'
ROUTABLE_NAME = r'(?P<function_name>[\w_:%\x24-]+)'


class NotReachable(LambdaClientError):
    code = 404

    def __init__(self, region, here):
        super().__init__('ResourceNotFoundException', f"Functions from '{region}' are not "
                                                      f"reachable in this region ('{here}')")

    def __str__(self):  # the message alone, as Invoke's answer carries it
        return self.message


def split(name_or_arn):
    """(function name, qualifier or None) of any form Lambda takes."""
    match = ARN.match(name_or_arn) or PARTIAL_ARN.match(name_or_arn)
    if match:
        return match['name'], match['qualifier']
    name, _, qualifier = name_or_arn.partition(':')
    return name, qualifier or None


def check_region(name_or_arn, here):
    """Refuse, as Lambda does, a function ARN of another region than the endpoint's called."""
    match = ARN.match(name_or_arn)
    if match and match['region'] != here:
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
        if PARTIAL_ARN.match(name_or_arn):
            name, qualifier = split(name_or_arn)
            name_or_arn = name if qualifier is None else f'{name}:{qualifier}'
        return forbid_qualifier(storage, name_or_arn)

    LambdaStorage.get_function_by_name_or_arn_with_qualifier = \
        get_function_by_name_or_arn_with_qualifier
    LambdaStorage.get_function_by_name_or_arn_forbid_qualifier = \
        get_function_by_name_or_arn_forbid_qualifier
    urls.url_paths = {path.replace(ROUTED_NAME, ROUTABLE_NAME): handler
                      for path, handler in urls.url_paths.items()}
