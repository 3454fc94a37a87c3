"""Which version of a function an invocation runs, as Lambda decides it.

moto stores versions and aliases but, when asked for `F:live`, hands back the alias's primary
version only: the routing weights (AdditionalVersionWeights) are never used, and the ARN the
caller invoked is lost. Here a name (plain, `F:qualifier`, or an ARN) and an Invoke `Qualifier`
resolve to a Target: the function object of the version that runs (its own code and
configuration, as published), the ARN the function sees as context.invoked_function_arn, and
the version Lambda reports (START line, X-Amz-Executed-Version).

Invoke names what it did not find as Lambda does (LocalStack's recordings of AWS,
test_lambda.snapshot.json, test_invoke_exceptions and test_lambda_alias_moving): the function
ARN with the qualifier asked for, `:$LATEST` when none was (moto's own error, wrapped, read
"404 Not Found: {...}" and had no qualifier).
"""
import random
from dataclasses import dataclass

# InvalidParameterValueException: what resolve() raises for a qualifier mismatch, as callers
# catch it (local_endpoint.lambda_service).
from moto.awslambda.exceptions import (InvalidParameterValueException,  # noqa: F401
                                       UnknownFunctionException)
from moto.awslambda.models import make_function_arn

from local_endpoint import function_names

LATEST = '$LATEST'


class FunctionNotFound(UnknownFunctionException):
    """moto's 404, whose str() is its message alone, as Invoke's answer carries it."""

    def __str__(self):
        return self.message


@dataclass(frozen=True)
class Target:
    function: object  # moto's LambdaFunction of the version that runs
    invoked_arn: str
    version: str


def split(name_or_arn):
    """(function name, qualifier or None) of any form of FunctionName."""
    return function_names.split(name_or_arn)


def resolve(backend, name_or_arn, qualifier=None, draw=None):
    """The Target of an invocation. `draw` (random.random unless given) gives a number in
    [0, 1): an alias with routing sends that share of its invocations to its additional
    version, as Lambda's probabilistic routing does."""
    function_names.check_region(name_or_arn, backend.region_name)
    qualifier = function_names.qualifier_of(name_or_arn, qualifier)
    name = split(name_or_arn)[0]
    storage = backend._lambdas
    if name not in storage._functions:
        raise FunctionNotFound(f'{make_function_arn(backend.region_name, backend.account_id, name)}'
                               f':{qualifier or LATEST}')
    latest = storage._get_latest(name)
    if qualifier is None:
        return Target(latest, latest.function_arn, LATEST)
    invoked_arn = f'{latest.function_arn}:{qualifier}'
    if qualifier == LATEST:
        return Target(latest, invoked_arn, LATEST)
    version = qualifier
    if not qualifier.isdigit():
        alias = storage._get_function_aliases(name).get(qualifier)
        if alias is None:
            raise FunctionNotFound(invoked_arn)
        version = routed_version(alias, draw or random.random)
        if version == LATEST:
            return Target(latest, invoked_arn, LATEST)
    function = storage._get_version(name, version)
    if function is None:
        raise FunctionNotFound(f'{latest.function_arn}:{version}')
    return Target(function, invoked_arn, str(function.version))


def routed_version(alias, draw):
    """The alias's primary version, or its additional version for that weight's share."""
    weights = (alias.routing_config or {}).get('AdditionalVersionWeights') or {}
    number = draw()
    for version, weight in weights.items():
        if number < float(weight):
            return str(version)
        number -= float(weight)
    return str(alias.function_version)
