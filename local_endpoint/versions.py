"""Which version of a function an invocation runs, as Lambda decides it.

moto stores versions and aliases but, when asked for `F:live`, hands back the alias's primary
version only: the routing weights (AdditionalVersionWeights) are never used, and the ARN the
caller invoked is lost. Here a name (plain, `F:qualifier`, or an ARN) and an Invoke `Qualifier`
resolve to a Target: the function object of the version that runs (its own code and
configuration, as published), the ARN the function sees as context.invoked_function_arn, and
the version Lambda reports (START line, X-Amz-Executed-Version).
"""
import random
import re
from dataclasses import dataclass

from moto.awslambda.exceptions import InvalidParameterValueException, UnknownFunctionException

ARN = re.compile(r'^arn:[^:]+:lambda:[^:]+:[^:]+:function:(?P<name>[^:]+)(?::(?P<qualifier>.+))?$')
LATEST = '$LATEST'


@dataclass(frozen=True)
class Target:
    function: object  # moto's LambdaFunction of the version that runs
    invoked_arn: str
    version: str


def split(name_or_arn):
    """(function name, qualifier or None) of `F`, `F:q` or a function ARN."""
    match = ARN.match(name_or_arn)
    if match:
        return match['name'], match['qualifier']
    name, _, qualifier = name_or_arn.partition(':')
    return name, qualifier or None


def resolve(backend, name_or_arn, qualifier=None, draw=None):
    """The Target of an invocation. `draw` (random.random unless given) gives a number in
    [0, 1): an alias with routing sends that share of its invocations to its additional
    version, as Lambda's probabilistic routing does."""
    name, derived = split(name_or_arn)
    if derived is not None and qualifier is not None and derived != qualifier:
        raise InvalidParameterValueException(
            'The derived qualifier from the function name does not match the specified '
            'qualifier.')
    qualifier = derived if derived is not None else qualifier
    storage = backend._lambdas
    latest = backend.get_function(name)  # raises moto's not-found for an unknown function
    if qualifier is None:
        return Target(latest, latest.function_arn, LATEST)
    invoked_arn = f'{latest.function_arn}:{qualifier}'
    if qualifier == LATEST:
        return Target(latest, invoked_arn, LATEST)
    version = qualifier
    if not qualifier.isdigit():
        alias = storage._get_function_aliases(name).get(qualifier)
        if alias is None:
            raise UnknownFunctionException(invoked_arn)
        version = routed_version(alias, draw or random.random)
        if version == LATEST:
            return Target(latest, invoked_arn, LATEST)
    function = storage._get_version(name, version)
    if function is None:
        raise UnknownFunctionException(f'{latest.function_arn}:{version}')
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
