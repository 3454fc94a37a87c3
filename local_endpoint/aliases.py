"""create-alias and update-alias check their routing as Lambda does.

moto stores any RoutingConfig verbatim (weights of 5.0, three versions, `$LATEST` with a second
version) and answers a duplicate alias with a code no SDK knows (ConflictException). Lambda's
answers, in the order it checks (aws-releases.md 1.2, from LocalStack's recordings of AWS): the
primary version exists (404), the alias is new (409), at most one additional version (400), its
weight within 0.0-1.0 (ValidationException), not the primary itself, not beside `$LATEST`, a
number, that exists (404). Empty AdditionalVersionWeights removes the routing, and an alias
without routing has no RoutingConfig key (moto answers null).
"""
import re

from moto.awslambda.exceptions import LambdaClientError, UnknownFunctionException
from moto.awslambda.models import LambdaAlias, LambdaStorage

VERSION = re.compile(r'^[0-9]+$')
WEIGHTS_AT = "at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: "
WEIGHT_CONSTRAINT = ('Map value must satisfy constraint: [Member must have value less than or '
                     'equal to 1.0, Member must have value greater than or equal to 0.0, Member '
                     'must not be null]')
KEY_CONSTRAINT = ('Map keys must satisfy constraint: [Member must have length less than or equal '
                  'to 1024, Member must have length greater than or equal to 1, Member must '
                  'satisfy regular expression pattern: [0-9]+, Member must not be null]')


class InvalidParameterValue(LambdaClientError):
    def __init__(self, message):
        super().__init__('InvalidParameterValueException', message)


class Validation(LambdaClientError):
    def __init__(self, message):
        super().__init__('ValidationException', message)


class ResourceConflict(LambdaClientError):
    code = 409

    def __init__(self, message):
        super().__init__('ResourceConflictException', message)


def install():
    """Once per process: moto's alias calls check first."""
    if getattr(LambdaStorage.put_alias, 'checks_routing', False):
        return
    original_put, original_update = LambdaStorage.put_alias, LambdaStorage.update_alias

    def put_alias(storage, name, function_name, function_version, description, routing_config):
        target = storage.get_function_by_name_or_arn_with_qualifier(function_name,
                                                                    function_version)
        unqualified = storage.split_function_arn(target.function_arn)[0]
        if name in storage._get_function_aliases(function_name):
            raise ResourceConflict(f'Alias already exists: {unqualified}:{name}')
        routing = checked_routing(storage, unqualified, function_version, routing_config)
        return original_put(storage, name, function_name, function_version, description,
                            routing)

    def update_alias(storage, name, function_name, function_version, description,
                     routing_config):
        alias = storage.get_alias(name, function_name)
        primary = function_version or alias.function_version
        target = storage.get_function_by_name_or_arn_with_qualifier(function_name, primary)
        unqualified = storage.split_function_arn(target.function_arn)[0]
        # A new primary is checked against the routing it will keep, if none is given.
        routing = checked_routing(storage, unqualified, primary,
                                  alias.routing_config if routing_config is None
                                  else routing_config)
        alias = original_update(storage, name, function_name, function_version, description,
                                routing)
        alias.routing_config = routing
        return alias

    original_json = LambdaAlias.to_json

    def to_json(alias):
        document = original_json(alias)
        if document.get('RoutingConfig') is None:
            document.pop('RoutingConfig', None)
        return document

    put_alias.checks_routing = True
    LambdaStorage.put_alias, LambdaStorage.update_alias = put_alias, update_alias
    LambdaAlias.to_json = to_json


def checked_routing(storage, unqualified_arn, primary, routing_config):
    """The RoutingConfig to store (None when it routes nothing), or Lambda's refusal."""
    weights = (routing_config or {}).get('AdditionalVersionWeights') or {}
    if not isinstance(weights, dict):
        raise Validation(f"1 validation error detected: Value '{weights}' {WEIGHTS_AT}"
                         f"{WEIGHT_CONSTRAINT}")
    if len(weights) > 1:
        raise InvalidParameterValue(
            'Number of items in AdditionalVersionWeights cannot be greater than 1')
    for version, weight in weights.items():
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) \
                or not 0.0 <= weight <= 1.0:
            shown = float(weight) if isinstance(weight, (int, float)) else weight
            raise Validation(f"1 validation error detected: Value '{{{version}={shown}}}' "
                             f"{WEIGHTS_AT}{WEIGHT_CONSTRAINT}")
        if version == primary:
            raise InvalidParameterValue(f'Invalid function version {primary}. Function version '
                                        f'{primary} is already included in routing '
                                        f'configuration.')
        if primary == '$LATEST':
            raise InvalidParameterValue(
                '$LATEST is not supported for an alias pointing to more than 1 version')
        if not VERSION.match(str(version)):
            raise Validation(f"1 validation error detected: Value '{{{version}={float(weight)}}}'"
                             f" {WEIGHTS_AT}{KEY_CONSTRAINT}")
        name = unqualified_arn.rsplit(':', 1)[1]
        if storage._get_version(name, version) is None:
            raise UnknownFunctionException(f'{unqualified_arn}:{version}')
    if not weights:
        return None
    return {'AdditionalVersionWeights': {version: float(weight)
                                         for version, weight in weights.items()}}
