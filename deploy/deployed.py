"""What exists in AWS for one function: read with awscli, each read printed like any command.

Only "not found" reads as absent (deploy.aws.Aws.read); any other error (access denied,
throttling, a network failure) stops the deploy with AWS's own message.
"""
import json
from dataclasses import dataclass, field


@dataclass
class Bucket:
    exists: bool = False
    public_access_block: dict = None
    lifecycle: list = None
    cors: list = None
    notification: dict = field(default_factory=dict)


@dataclass
class Deployed:
    configuration: dict = None
    role: dict = None
    role_policy: dict = None
    log_group: dict = None
    statements: list = field(default_factory=list)
    url: dict = None
    http_api: dict = None
    rules: dict = field(default_factory=dict)  # rule name -> {'rule': ..., 'targets': [...]}
    buckets: dict = field(default_factory=dict)
    layer_versions: list = None  # newest first, of the function's own layer
    aliases: dict = field(default_factory=dict)  # name -> get-alias's answer
    failure_queue_url: str = None
    invoke_config: dict = None  # the alias's event invoke config
    versions: list = field(default_factory=list)  # published version numbers, ascending
    version_records: list = field(default_factory=list)  # list-versions-by-function's, $LATEST out


UNREAD = object()  # a configuration not read yet (None: read, and not deployed)


def read(aws, function, rule_names=(), layer_query=None, configuration=UNREAD):
    """Everything the planner compares for `function` (a deploy.declaration.Function)."""
    state = Deployed()
    state.configuration = _configuration(aws, function, configuration)
    role = aws.read('iam', 'get-role', '--role-name', function.role_name)
    state.role = role and role['Role']
    if state.role:
        policy = aws.read('iam', 'get-role-policy', '--role-name', function.role_name,
                          '--policy-name', function.role_name)
        state.role_policy = policy and policy['PolicyDocument']
    groups = aws.read('logs', 'describe-log-groups', '--log-group-name-prefix',
                      function.log_group)
    state.log_group = next((group for group in (groups or {}).get('logGroups', [])
                            if group['logGroupName'] == function.log_group), None)
    if state.configuration:
        read_releases(aws, function, state)
        state.statements = statements(aws, function)
        if function.triggers_of('url') or function.triggers_of('http_api'):
            # read for either front, so the one no longer chosen can be removed
            state.url = aws.read('lambda', 'get-function-url-config', '--function-name',
                                 function.name, '--qualifier', function.alias)
    if function.triggers_of('http_api') or function.triggers_of('url'):
        apis = aws.read('apigatewayv2', 'get-apis') or {}
        state.http_api = next((api for api in apis.get('Items', [])
                               if api.get('Name') == function.name), None)
    if function.invoked_asynchronously:
        answer = aws.read('sqs', 'get-queue-url', '--queue-name', function.failure_queue)
        state.failure_queue_url = answer and answer['QueueUrl']
        if state.configuration and function.alias in state.aliases:
            state.invoke_config = aws.read('lambda', 'get-function-event-invoke-config',
                                           '--function-name', function.name,
                                           '--qualifier', function.alias)
    for name in rule_names:
        rule = aws.read('events', 'describe-rule', '--name', name)
        targets = aws.read('events', 'list-targets-by-rule', '--rule', name) if rule else None
        state.rules[name] = {'rule': rule, 'targets': (targets or {}).get('Targets', [])}
    for bucket in buckets_of(function):
        state.buckets[bucket] = read_bucket(aws, bucket, *bucket_needs(function, bucket))
    if layer_query:
        answer = aws.read('lambda', 'list-layer-versions', *layer_query) or {}
        state.layer_versions = [item['LayerVersionArn']
                                for item in answer.get('LayerVersions', [])]
    return state


def _configuration(aws, function, configuration):
    if configuration is UNREAD:
        return aws.read('lambda', 'get-function-configuration', '--function-name',
                        function.name)
    return configuration


def read_releases(aws, function, state):
    """Its published versions and aliases: what a deploy moves and what it may delete."""
    versions = aws.read('lambda', 'list-versions-by-function', '--function-name',
                        function.name) or {}
    state.version_records = [version for version in versions.get('Versions', [])
                             if version['Version'].isdigit()]
    state.versions = sorted(int(version['Version']) for version in state.version_records)
    aliases = aws.read('lambda', 'list-aliases', '--function-name', function.name) or {}
    state.aliases = {alias['Name']: alias for alias in aliases.get('Aliases', [])}


def read_function(aws, function, layer_query=None, configuration=UNREAD):
    """Only the function, its releases and its layer: what `make update` compares when
    nothing around the function changed since the last deploy (deploy.applied)."""
    state = Deployed()
    state.configuration = _configuration(aws, function, configuration)
    if state.configuration:
        read_releases(aws, function, state)
    if layer_query:
        answer = aws.read('lambda', 'list-layer-versions', *layer_query) or {}
        state.layer_versions = [item['LayerVersionArn']
                                for item in answer.get('LayerVersions', [])]
    return state


def statements(aws, function):
    """The grants on the alias (each qualifier has its own policy), and those an earlier
    version of this tool put on the unqualified function: the planner replaces them."""
    found = []
    for qualifier in ([function.alias] if function.alias else []) + [None]:
        policy = aws.read('lambda', 'get-policy', '--function-name', function.name,
                          *(['--qualifier', qualifier] if qualifier else []))
        for statement in json.loads(policy['Policy'])['Statement'] if policy else []:
            resource = statement.get('Resource', '')
            on_alias = resource.endswith(f':{function.alias}')
            if (qualifier is None) != on_alias and statement not in found:
                found.append(dict(statement, Qualifier=qualifier))
    return found


def buckets_of(function):
    """Buckets the function declares, triggers from, or lets its page post to."""
    names = list(function.buckets)
    for trigger in function.triggers:
        for name in [trigger.get('bucket')] + list(trigger.get('page_posts_to', [])):
            if name and name not in names:
                names.append(name)
    return names


def bucket_needs(function, name):
    """Which of a bucket's settings the function declares: only those are read."""
    lifecycle = bool(function.buckets.get(name, {}).get('lifecycle'))
    cors = any(name in trigger.get('page_posts_to', []) for trigger in function.triggers)
    notification = any(trigger.get('bucket') == name for trigger in function.triggers_of('s3'))
    return lifecycle, cors, notification


def read_bucket(aws, name, lifecycle=True, cors=True, notification=True):
    if not aws.exists('s3api', 'head-bucket', '--bucket', name):
        return Bucket()
    bucket = Bucket(exists=True)
    block = aws.read('s3api', 'get-public-access-block', '--bucket', name)
    bucket.public_access_block = block and block['PublicAccessBlockConfiguration']
    if lifecycle:
        answer = aws.read('s3api', 'get-bucket-lifecycle-configuration', '--bucket', name)
        bucket.lifecycle = answer and answer['Rules']
    if cors:
        answer = aws.read('s3api', 'get-bucket-cors', '--bucket', name)
        bucket.cors = answer and answer['CORSRules']
    if notification:
        bucket.notification = aws.read('s3api', 'get-bucket-notification-configuration',
                                       '--bucket', name) or {}
    return bucket

