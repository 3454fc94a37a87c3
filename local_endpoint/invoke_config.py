"""Asynchronous invocation config (put/get/update/delete/list-function-event-invoke-config),
kept per qualifier as Lambda keeps it.

moto stores one list on the function whatever the qualifier, appends on every put and answers
get with the first, so a second put is invisible; Lambda keeps one config per qualifier
($LATEST, a version or an alias), a put replaces it whole, an update changes what it names,
and publishing a version copies nothing. Here each config is kept by moto's object for its
qualifier (the function's $LATEST, the version, the alias), weakly: it goes when that goes,
and moto's copy of $LATEST into a new version does not carry it.

moto still authenticates and authorizes each call; only the storage and the answers are
replaced, with Lambda's messages (recorded from AWS, see aws-releases.md 3.1).
"""
import json
import re
import threading
import time
import weakref
from urllib.parse import unquote

from moto.awslambda import responses
from moto.awslambda.exceptions import (InvalidParameterValueException, LambdaClientError,
                                       UnknownEventConfig, ValidationException)
from moto.awslambda.models import lambda_backends
from moto.core.common_types import TYPE_RESPONSE
from moto.utilities.utils import get_partition

CONFIGS = weakref.WeakKeyDictionary()  # moto's function, version or alias -> config
CONFIGS_LOCK = threading.Lock()
LATEST = '$LATEST'
DEFAULT_RETRIES = 2
DEFAULT_MAX_AGE_SECONDS = 21600
AGE_RANGE = (60, 21600)
SETTINGS = ('MaximumRetryAttempts', 'MaximumEventAgeInSeconds', 'DestinationConfig')
NOTHING_SET = 'You must specify at least one of error handling or destination setting.'
QUALIFIER_MISMATCH = ('The derived qualifier from the function name does not match the '
                      'specified qualifier.')
DESTINATION_ARN = re.compile(r'^$|arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:([a-z]{2}(-gov)?'
                             r'(-iso([a-z])?)?-[a-z]+-\d{1})?:(\d{12})?:(.*)')


def install():
    """Answer the five calls in moto's Lambda responses, after moto's own auth check."""
    cls = responses.LambdaResponse
    if getattr(cls, '_local_invoke_config', False):
        return
    cls._local_invoke_config = True
    cls.put_function_event_invoke_config = _put
    cls.update_function_event_invoke_config = _update
    cls.get_function_event_invoke_config = _get
    cls.delete_function_event_invoke_config = _delete
    cls.list_function_event_invoke_configs = _list


def _target(handler, path_parts=2):
    name = unquote(handler.path.rsplit('/', path_parts)[1])
    qualifier = handler.querystring.get('Qualifier', [None])[0]
    return Target(handler.current_account, handler.region, name, qualifier)


def _answer(config, status=200):
    return status, {'status': status, 'Content-Type': 'application/json'}, json.dumps(config)


def _put(self) -> TYPE_RESPONSE:
    target = _target(self)
    settings = checked_settings(self.json_body, target)
    return _answer(target.store(settings))


def _update(self) -> TYPE_RESPONSE:
    target = _target(self)
    current = target.stored()
    if current is None:
        raise UnknownEventConfig(target.arn)
    changes = checked_settings(self.json_body, target)
    merged = {name: value for name, value in current.items() if name in SETTINGS}
    for name, value in changes.items():
        if name == 'DestinationConfig':
            value = {**merged.get('DestinationConfig', {}), **value}
        merged[name] = value
    return _answer(target.store(merged))


def _get(self) -> TYPE_RESPONSE:
    target = _target(self)
    current = target.stored_or_none()
    if current is None:  # the function or qualifier missing too: Lambda says only this
        raise UnknownEventConfig(target.arn)
    return _answer(current)


def _delete(self) -> TYPE_RESPONSE:
    target = _target(self)
    if target.stored_or_none() is None:
        raise UnknownEventConfig(target.arn)
    target.store(None)
    return 204, {'status': 204}, ''


def _list(self) -> TYPE_RESPONSE:
    """Every qualifier's config: $LATEST's, then versions', then aliases'."""
    target = _target(self, path_parts=3)
    storage = lambda_backends[target.account][target.region]._lambdas
    latest = target.function()
    holders = ([latest] + list(storage._functions[latest.function_name]['versions'])
               + list(storage._get_function_aliases(latest.function_name).values()))
    with CONFIGS_LOCK:
        configs = [CONFIGS[holder] for holder in holders if holder in CONFIGS]
    return _answer({'FunctionEventInvokeConfigs': configs})


class FunctionDoesNotExist(LambdaClientError):
    """Lambda's answer to put, update and list on a function or qualifier that is not
    there (test_lambda_eventinvokeconfig_exceptions)."""
    code = 404

    def __init__(self):
        super().__init__('ResourceNotFoundException', "The function doesn't exist.")


class Target:
    """The function and qualifier a call names: `F`, `F:Q`, an ARN, plus `?Qualifier=`."""

    def __init__(self, account, region, name, qualifier=None):
        self.account, self.region = account, region
        base, derived = split_name(name)
        if derived is not None and qualifier is not None and derived != qualifier:
            raise InvalidParameterValueException(QUALIFIER_MISMATCH)
        self.name = base
        self.qualifier = derived or qualifier or LATEST
        self.arn = (f'arn:{get_partition(region)}:lambda:{region}:{account}:function:'
                    f'{self.name}:{self.qualifier}')

    def function(self):
        """moto's $LATEST of the function (FunctionDoesNotExist if there is none)."""
        storage = lambda_backends[self.account][self.region]._lambdas
        if self.name not in storage._functions:
            raise FunctionDoesNotExist()
        return storage._functions[self.name]['latest']

    def holder(self):
        """moto's object for the qualifier: the function, the version or the alias."""
        latest = self.function()
        if self.qualifier == LATEST:
            return latest
        storage = lambda_backends[self.account][self.region]._lambdas
        version = storage._get_version(self.name, self.qualifier)
        if version is not None:
            return version
        aliases = storage._get_function_aliases(self.name)
        if self.qualifier in aliases:
            return aliases[self.qualifier]
        raise FunctionDoesNotExist()

    def stored(self):
        holder = self.holder()
        with CONFIGS_LOCK:
            return CONFIGS.get(holder)

    def stored_or_none(self):
        """The config, or None when there is none or nothing to hold one."""
        try:
            return self.stored()
        except FunctionDoesNotExist:
            return None

    def store(self, settings):
        """Replace the qualifier's config (None removes it); returns Lambda's answer for it."""
        holder = self.holder()
        if settings is None:
            with CONFIGS_LOCK:
                CONFIGS.pop(holder, None)
            return None
        destinations = settings.get('DestinationConfig', {})
        config = {'FunctionArn': self.arn, 'LastModified': round(time.time(), 3),
                  **{name: settings[name] for name in SETTINGS[:2] if name in settings},
                  'DestinationConfig': {'OnSuccess': destinations.get('OnSuccess', {}),
                                        'OnFailure': destinations.get('OnFailure', {})}}
        with CONFIGS_LOCK:
            CONFIGS[holder] = config
        return config


def split_name(name):
    """(function name, qualifier or None) of `F`, `F:Q`, or a full or partial function ARN."""
    _, found, rest = name.partition('function:')
    if not found:
        rest = name
    base, _, qualifier = rest.partition(':')
    return base, qualifier or None


def checked_settings(body, target):
    """The settings a put or update names, refused as Lambda refuses them."""
    settings = {name: body[name] for name in SETTINGS if body.get(name) is not None}
    if not settings or settings == {'DestinationConfig': {}}:
        raise InvalidParameterValueException(NOTHING_SET)
    retries = settings.get('MaximumRetryAttempts')
    if retries is not None and not (isinstance(retries, int) and 0 <= retries <= 2):
        raise ValidationException(retries, 'maximumRetryAttempts',
                                  'Member must have value less than or equal to 2'
                                  if isinstance(retries, int) and retries > 2 else
                                  'Member must have value greater than or equal to 0')
    age = settings.get('MaximumEventAgeInSeconds')
    if age is not None and not (isinstance(age, int) and AGE_RANGE[0] <= age <= AGE_RANGE[1]):
        raise ValidationException(age, 'maximumEventAgeInSeconds',
                                  f'Member must have value less than or equal to {AGE_RANGE[1]}'
                                  if isinstance(age, int) and age > AGE_RANGE[1] else
                                  f'Member must have value greater than or equal to '
                                  f'{AGE_RANGE[0]}')
    for kind in ('OnSuccess', 'OnFailure'):
        destination = (settings.get('DestinationConfig') or {}).get(kind, {}).get('Destination')
        if destination is None:
            continue
        if not isinstance(destination, str) or not DESTINATION_ARN.match(destination):
            raise ValidationException(destination, f'destinationConfig.{kind[0].lower()}'
                                                   f'{kind[1:]}.destination',
                                      f'Member must satisfy regular expression pattern: '
                                      f'{DESTINATION_ARN.pattern}')
        _check_destination(destination, target)
    return settings


def _check_destination(destination, target):
    """A Lambda destination must exist and not be the function itself."""
    if ':lambda:' not in destination:
        return
    name, _ = split_name(destination)
    if name == target.name:
        raise InvalidParameterValueException(
            "You can't specify the function as a destination for itself.")
    if name not in lambda_backends[target.account][target.region]._lambdas._functions:
        raise InvalidParameterValueException(f'The destination ARN {destination} is invalid.')


def applying(account, region, name, qualifier=None):
    """The config an invocation of `name` (qualifier in it or given) is delivered under, or
    None. An alias's invocations use the alias's own config only: AWS documents no fallback
    to the function's, and users report none."""
    try:
        return Target(account, region, name, qualifier).stored()
    except (InvalidParameterValueException, FunctionDoesNotExist, KeyError):
        return None


def kept():
    """The configs, for local_endpoint.state: pickled with moto's Lambda backend, the objects
    they are keyed by stay the same objects."""
    with CONFIGS_LOCK:
        return dict(CONFIGS)


def restore(configs):
    with CONFIGS_LOCK:
        CONFIGS.update(configs)
