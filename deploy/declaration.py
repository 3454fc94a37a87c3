"""A function folder, read as the deploy sees it: its settings from make, its needs from JSON.

A function is a folder. Its Makefile settles the values (FUNCTION_NAME, MEMORY_SIZE... from the
command line, config.mk or the environment); its `function.json` declares, as data, what the
function needs around it: environment variables, the permissions its code uses, the buckets it
reads or writes, its triggers, a layer. Values in the JSON may name make variables as
`${NAME}`; `make settings` prints every one the JSON names, so there is one source of truth.

ACCOUNT_ID, REGION and PARTITION may be left empty: they are then asked of AWS once, in this
process (sts get-caller-identity), rather than by a make lookup per variable.
"""
import json
import os
import re
import subprocess
from dataclasses import dataclass, field

REFERENCE = re.compile(r'\$\{([A-Za-z_][A-Za-z0-9_]*)\}')
STAGE = re.compile(r'[a-z0-9]{1,16}')
FUNCTION_NAME = re.compile(r'[A-Za-z0-9_-]{1,64}')  # Lambda's, for an unqualified name
ROLE_NAME = re.compile(r'[\w+=,.@-]{1,64}')  # IAM's
ALIAS = re.compile(r'(?!^[0-9]+$)[A-Za-z0-9_-]{1,128}')  # Lambda's
DECLARATION = 'function.json'
TRIGGER_TYPES = ('s3', 'url', 'http_api', 'schedule')
# Settings every function has (lambda.mk defines them); the JSON's references come on top.
BASE_SETTINGS = ('FUNCTION_NAME', 'HANDLER', 'RUNTIME', 'ARCH', 'TIMEOUT', 'MEMORY_SIZE',
                 'ROLE_NAME', 'ZIPFILE_NAME', 'LAYERS', 'LOG_RETENTION_DAYS', 'DESCRIPTION',
                 'ZIP_EXCLUDE', 'ALIAS', 'KEEP_VERSIONS', 'CANARY', 'ASYNC_RETRY_ATTEMPTS',
                 'ASYNC_MAX_EVENT_AGE', 'APP', 'STAGE',
                 'ACCOUNT_ID', 'REGION', 'PARTITION')
ACCOUNT_SETTINGS = ('ACCOUNT_ID', 'REGION', 'PARTITION')


class DeclarationError(ValueError):
    """The folder's declaration or settings cannot be deployed as written."""


@dataclass
class Function:
    folder: str
    name: str
    handler: str
    runtime: str
    architecture: str
    timeout: int
    memory_size: int
    role_name: str
    zip_path: str
    description: str = ''
    environment: dict = field(default_factory=dict)
    layers: list = field(default_factory=list)
    layer: dict = None  # a layer of the function's own, attached when published
    permissions: list = field(default_factory=list)
    buckets: dict = field(default_factory=dict)
    triggers: list = field(default_factory=list)
    log_retention_days: int = None
    zip_exclude: list = field(default_factory=list)
    alias: str = 'live'  # what every trigger invokes; each deploy moves it
    keep_versions: int = 10  # older versions no alias points at are deleted
    canary: int = None  # percent of the alias's invocations the new version gets

    retry_attempts: int = 2  # Lambda's retries of a failed async event, 0-2
    max_event_age: int = 21600  # seconds an async event may wait, 60-21600

    @property
    def invoked_asynchronously(self):
        """S3 and EventBridge invoke asynchronously: such a function keeps what fails."""
        return bool(self.triggers_of('s3') or self.triggers_of('schedule'))

    @property
    def failure_queue(self):
        return f'{self.name}-failures'[:80]

    @property
    def qualified(self):
        """The name triggers invoke: the function through its alias."""
        return f'{self.name}:{self.alias}'

    @property
    def log_group(self):
        return f'/aws/lambda/{self.name}'

    def triggers_of(self, kind):
        return [trigger for trigger in self.triggers if trigger['type'] == kind]


def references(document):
    """Every ${NAME} a declaration names, in order of first appearance."""
    found = []
    for name in REFERENCE.findall(json.dumps(document)):
        if name not in found:
            found.append(name)
    return found


def read_settings(folder, make='make'):
    """The folder's settings as make settles them (`make -s settings`: NAME=VALUE lines).

    Command-line variables given to the make that runs this reach the inner make through
    MAKEFLAGS, so `make update PAGE_SIZE=20` is seen here too."""
    result = subprocess.run([make, '--no-print-directory', '-s', '-C', folder, 'settings'],
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise DeclarationError(f'{folder}: make settings failed:\n{result.stderr.strip()}')
    settings = {}
    for line in result.stdout.splitlines():
        name, separator, value = line.partition('=')
        if separator:
            settings[name] = value
    return settings


class Account:
    """ACCOUNT_ID, REGION and PARTITION: as set, else asked of AWS once."""

    def __init__(self, aws, settings):
        self.aws = aws
        self.values = {name: settings.get(name, '') for name in ACCOUNT_SETTINGS}

    def seed(self, function_arn):
        """The account, region and partition a deployed function's ARN already tells, so
        that `make update` need not ask STS."""
        _, partition, _, region, account = function_arn.split(':')[:5]
        for name, value in (('PARTITION', partition), ('REGION', region),
                            ('ACCOUNT_ID', account)):
            self.values[name] = self.values[name] or value

    def __getitem__(self, name):
        if not self.values[name] and name == 'REGION':
            self.values['REGION'] = self.aws.region()
            if not self.values['REGION']:
                raise DeclarationError('no AWS region: set AWS_REGION or run aws configure')
        if not self.values[name]:
            identity = self.aws.identity()
            self.values['ACCOUNT_ID'] = self.values['ACCOUNT_ID'] or identity['Account']
            self.values['PARTITION'] = self.values['PARTITION'] or identity['Arn'].split(':')[1]
        return self.values[name]


def expand(value, lookup, depth=0):
    """Replace ${NAME} in every string of a JSON value; a value may itself name others."""
    if isinstance(value, dict):
        return {expand(key, lookup, depth): expand(item, lookup, depth)
                for key, item in value.items()}
    if isinstance(value, list):
        return [expand(item, lookup, depth) for item in value]
    if not isinstance(value, str) or '${' not in value:
        return value
    if depth > 10:
        raise DeclarationError(f'{value!r}: settings name each other in a loop')
    return REFERENCE.sub(lambda match: expand(lookup(match.group(1)), lookup, depth + 1), value)


def _undefined(path, folder, name):
    return DeclarationError(f'{path} names ${{{name}}}, which make does not set: define it in '
                            f'{os.path.basename(os.path.abspath(folder))}/Makefile ({name} ?= '
                            f'its default, empty for none) or config.mk')


def read_declaration(folder, settings):
    """The folder's function.json ({} without one), checked before anything is asked of
    AWS: valid JSON, every ${NAME} a make variable, a stage that fits in bucket names."""
    path = os.path.join(folder, DECLARATION)
    declared = {}
    if os.path.exists(path):
        with open(path) as handle:
            try:
                declared = json.load(handle)
            except json.JSONDecodeError as error:
                raise DeclarationError(f'{path}: not valid JSON: {error}') from None
    for name in references(declared):
        if name not in settings and name not in ACCOUNT_SETTINGS:
            raise _undefined(path, folder, name)
    stage = settings.get('STAGE', '')
    if stage and not STAGE.fullmatch(stage):
        raise DeclarationError(f'STAGE={stage!r}: a stage is 1-16 lower-case letters and digits '
                               f'(it goes into bucket names), e.g. dev or prod')
    return declared


def load(folder, settings, account):
    """The deployable Function a folder and its settings describe."""
    path = os.path.join(folder, DECLARATION)
    declared = read_declaration(folder, settings)

    def lookup(name):
        if name in ACCOUNT_SETTINGS and not settings.get(name):
            return account[name]
        if name not in settings:
            raise _undefined(path, folder, name)
        return settings[name]

    value = lambda name: expand(f'${{{name}}}', lookup)
    declared = expand(declared, lookup)
    unknown = set(declared) - {'description', 'environment', 'permissions', 'buckets',
                               'triggers', 'layer'}
    if unknown:
        raise DeclarationError(f'{path}: unknown keys {", ".join(sorted(unknown))}')
    triggers = []
    for trigger in declared.get('triggers', []):
        if trigger.get('type') not in TRIGGER_TYPES:
            raise DeclarationError(f'{path}: trigger type {trigger.get("type")!r} is not one of '
                                   f'{", ".join(TRIGGER_TYPES)}')
        triggers.append(trigger)
    for setting, pattern, what in (
            ('FUNCTION_NAME', FUNCTION_NAME, 'letters, digits, - and _'),
            ('ROLE_NAME', ROLE_NAME, 'letters, digits and +=,.@_-')):
        if not pattern.fullmatch(value(setting)):
            raise DeclarationError(f'{setting}={value(setting)!r}: AWS takes 1-64 {what}; set '
                                   f'a shorter NAME, APP or {setting}')
    return Function(
        folder=os.path.abspath(folder),
        name=value('FUNCTION_NAME'), handler=value('HANDLER'), runtime=value('RUNTIME'),
        architecture=value('ARCH'), timeout=_integer(value, 'TIMEOUT'),
        memory_size=_integer(value, 'MEMORY_SIZE'), role_name=value('ROLE_NAME'),
        zip_path=os.path.join(os.path.abspath(folder), value('ZIPFILE_NAME')),
        description=value('DESCRIPTION') or declared.get('description', ''),
        environment={name: text for name, text in declared.get('environment', {}).items()
                     if text != ''},
        layers=value('LAYERS').split(),
        layer=declared.get('layer'),
        permissions=declared.get('permissions', []),
        buckets=declared.get('buckets', {}),
        triggers=triggers,
        log_retention_days=_integer(value, 'LOG_RETENTION_DAYS', optional=True),
        zip_exclude=settings.get('ZIP_EXCLUDE', '').split(),
        alias=_alias(settings.get('ALIAS') or 'live'),
        keep_versions=_keep(settings.get('KEEP_VERSIONS', '')),
        canary=_canary(settings.get('CANARY', '')),
        retry_attempts=_bounded(settings, 'ASYNC_RETRY_ATTEMPTS', 2, 0, 2),
        max_event_age=_bounded(settings, 'ASYNC_MAX_EVENT_AGE', 21600, 60, 21600))


def _alias(name):
    if not ALIAS.fullmatch(name):
        raise DeclarationError(f'ALIAS={name!r}: an alias is 1-128 letters, digits, - and _, '
                               f'not all digits (those are versions)')
    return name


def _bounded(settings, name, default, low, high):
    text = settings.get(name, '')
    if text == '':
        return default
    if not text.isdigit() or not low <= int(text) <= high:
        raise DeclarationError(f'{name}={text!r}: Lambda takes {low} to {high}')
    return int(text)


def _keep(text):
    if text == '':
        return 10
    if not text.isdigit() or int(text) < 1:
        raise DeclarationError(f'KEEP_VERSIONS={text!r}: how many versions to keep, 1 or more')
    return int(text)


def _canary(text):
    if text == '':
        return None
    if not text.isdigit() or not 1 <= int(text) <= 99:
        raise DeclarationError(f'CANARY={text!r}: the percent of invocations the new version '
                               f'gets, 1 to 99 (make promote then gives it all)')
    return int(text)


def _integer(value, name, optional=False):
    text = value(name)
    if optional and text == '':
        return None
    try:
        return int(text)
    except ValueError:
        raise DeclarationError(f'{name} must be a whole number, not {text!r}') from None
