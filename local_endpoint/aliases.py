"""create-alias and update-alias check their routing as Lambda does.

moto stores any RoutingConfig verbatim (weights of 5.0, three versions, `$LATEST` with a second
version) and answers a duplicate alias with a code no SDK knows (ConflictException). Lambda's
answers, in the order it checks (aws-releases.md 1.2, from LocalStack's recordings of AWS): the
primary version exists (404), the alias is new (409), at most one additional version (400), its
weight within 0.0-1.0 (ValidationException), not the primary itself, not beside `$LATEST`, a
number, that exists (404). Empty AdditionalVersionWeights removes the routing, and an alias
without routing has no RoutingConfig key (moto answers null). Updating an alias that does not
exist is "Alias not found: ARN" (test_lambda_api.snapshot.json,
test_non_existent_alias_update), where moto said what get-alias says; deleting one succeeds,
204 as every deletion (test_non_existent_alias_deletion; moto answered 201). An update gives
the alias a new RevisionId, and list-aliases with FunctionVersion lists that version's only
(test_alias_lifecycle). An alias's Name, FunctionName and FunctionVersion are checked against
create-alias's model (moto made an alias `1`, which hid version 1, and `a!b`).
"""
import json
import re
import uuid

from moto.awslambda.exceptions import LambdaClientError, UnknownFunctionException
from moto.awslambda.models import LambdaAlias, LambdaStorage
from moto.awslambda.responses import LambdaResponse

from local_endpoint import function_names

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


class AliasNotFound(LambdaClientError):
    """update-alias's 404 (get-alias says "Cannot find alias arn: ...", as moto does)."""
    code = 404

    def __init__(self, arn):
        super().__init__('ResourceNotFoundException', f'Alias not found: {arn}')


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
        problems = function_names.model_problems('CreateAlias', {
            'FunctionName': function_name, 'Name': name, 'FunctionVersion': function_version})
        if problems:  # an alias named 1 would hide version 1
            raise function_names.InvalidParameters(problems)
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
        function = storage.get_function_by_name_or_arn_with_qualifier(function_name)
        alias = storage._get_function_aliases(function_name).get(name)
        if alias is None:
            raise AliasNotFound(f'{storage.split_function_arn(function.function_arn)[0]}:{name}')
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
        alias.revision_id = str(uuid.uuid4())  # each update is a new revision, as on AWS
        return alias

    original_json = LambdaAlias.to_json

    def to_json(alias):
        document = original_json(alias)
        if document.get('RoutingConfig') is None:
            document.pop('RoutingConfig', None)
        return document

    original_delete = LambdaResponse.delete_alias

    def delete_alias(response):
        """Lambda answers delete-alias 204 with no body (moto: 201 and {})."""
        original_delete(response)
        return 204, {'status': 204}, ''

    original_list = LambdaResponse.list_aliases

    def list_aliases(response):
        """list-aliases --function-version lists the aliases of that version (moto: all)."""
        status, headers, body = original_list(response)
        version = (response.querystring.get('FunctionVersion') or [None])[0]
        if version is None:
            return status, headers, body
        listed = json.loads(body)
        listed['Aliases'] = [alias for alias in listed['Aliases']
                             if alias['FunctionVersion'] == version]
        return status, headers, json.dumps(listed)

    put_alias.checks_routing = True
    LambdaStorage.put_alias, LambdaStorage.update_alias = put_alias, update_alias
    LambdaAlias.to_json = to_json
    LambdaResponse.delete_alias = delete_alias
    LambdaResponse.list_aliases = list_aliases


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
