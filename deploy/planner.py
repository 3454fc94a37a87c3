"""What to run so that AWS holds what a function folder declares: awscli commands, as data.

The planner compares the desired state (deploy.declaration.Function) with the deployed one
(deploy.deployed.Deployed) and returns Steps; it calls nothing. deploy.executor prints each
step's command and runs it, or only prints it (`make plan`).

Two rules keep a live function served while it is changed:
- permissions are added before the ones they replace are removed (a statement's id carries a
  hash of its content, so a changed grant is a new statement), and a bucket's notification is
  written in one call that keeps every configuration not ours: there is no moment in which S3
  may not invoke the function;
- "not found" is the only answer read as "absent" (deploy.aws), so a denied read never leads to
  creating something twice.
"""
import hashlib
import json
import re
import urllib.parse
from dataclasses import dataclass, field

from deploy.zipper import code_sha256

# Statement ids this tool writes: a kind and a hash of what the statement grants; and the ids
# the Makefiles of earlier versions wrote, replaced on the next deploy.
OURS = re.compile(r'^(s3|url|http_api|schedule)-[0-9a-f]{10}$')
EARLIER = {'s3-uploads', 'function-url-public', 'function-url-invoke'}
ROLE_PROPAGATION = 'cannot be assumed'  # create-function's error while a new role propagates


class PlanError(ValueError):
    """The declared state cannot be reached from the deployed one (say why, and what to do)."""


@dataclass
class Later:
    """A value known only once an earlier step has run (a new function URL)."""
    key: str
    display: str

    def __str__(self):
        return self.display


@dataclass
class Step:
    argv: list
    note: str = ''
    documents: dict = field(default_factory=dict)  # file name -> JSON, named as file://
    capture: str = ''  # store this step's output under this key, for Later values
    retry_on: str = ''  # an error text that means "try again shortly" (IAM propagation)
    phase: int = 0  # the order of wiring steps, see Planner.plan_triggers
    done: str = ''  # said once the step has run (never by make plan)


# Wiring runs in this order: what is created (a URL, an API, a rule), the grants it needs,
# what starts calling (S3's notification validates the grant), then the grants it replaced.
CREATE, GRANT, CONNECT, REVOKE = range(4)


@dataclass
class Names:
    account: str
    region: str
    partition: str

    def function_arn(self, function):
        return f'arn:{self.partition}:lambda:{self.region}:{self.account}:function:{function}'

    def role_arn(self, role):
        return f'arn:{self.partition}:iam::{self.account}:role/{role}'

    def bucket_arn(self, bucket):
        return f'arn:{self.partition}:s3:::{bucket}'

    def queue_arn(self, queue):
        return f'arn:{self.partition}:sqs:{self.region}:{self.account}:{queue}'


def trust_policy():
    return {'Version': '2012-10-17', 'Statement': [{
        'Effect': 'Allow', 'Principal': {'Service': 'lambda.amazonaws.com'},
        'Action': 'sts:AssumeRole'}]}


def role_policy(function, names):
    """The declared permissions, plus writing to the function's own log group and no other."""
    statements = []
    for number, permission in enumerate(function.permissions, 1):
        statement = {'Sid': permission.get('sid', f'Declared{number}'), 'Effect': 'Allow',
                     'Action': permission['actions'], 'Resource': permission['resources']}
        statements.append(statement)
    if function.invoked_asynchronously:
        statements.append({'Sid': 'KeepFailedEvents', 'Effect': 'Allow',
                           'Action': ['sqs:SendMessage'],
                           'Resource': [names.queue_arn(function.failure_queue)]})
    group = (f'arn:{names.partition}:logs:{names.region}:{names.account}:'
             f'log-group:{function.log_group}')
    statements.append({'Sid': 'OwnLogGroup', 'Effect': 'Allow',
                       'Action': ['logs:CreateLogGroup', 'logs:CreateLogStream',
                                  'logs:PutLogEvents'],
                       'Resource': [group, f'{group}:*']})
    return {'Version': '2012-10-17', 'Statement': statements}


def resolve_layers(function, deployed, required):
    """The layers to attach and the environment they bring: LAYERS, plus the function's own
    layer (its ARN if set, else the newest published for the runtime and architecture)."""
    layers, environment = list(function.layers), dict(function.environment)
    own = function.layer
    if own:
        arn = own.get('arn') or (deployed.layer_versions or [None])[0]
        if arn:
            layers.append(arn)
            environment.update({name: value for name, value
                                in own.get('environment', {}).items() if value})
        elif required and not function.layers:
            variable = own.get('arn_variable')
            raise PlanError(
                f'{function.name} needs {own.get("provides", "its layer")}, which Lambda\'s '
                f'{function.runtime} runtime does not have, and no layer {own["name"]} is '
                f'published for {function.architecture}: {own.get("missing", "")} '
                f'Run make layer-publish (it builds the layer and publishes it; create then '
                f'attaches it){", or set " + variable if variable else ""}.')
    return layers, environment


def desired_configuration(function, layers, environment):
    return {'Runtime': function.runtime, 'Handler': function.handler,
            'Timeout': function.timeout, 'MemorySize': function.memory_size,
            'Role': None, 'Layers': layers, 'Environment': environment,
            'Description': function.description}


def deployed_configuration(configuration):
    return {'Runtime': configuration.get('Runtime'), 'Handler': configuration.get('Handler'),
            'Timeout': configuration.get('Timeout'),
            'MemorySize': configuration.get('MemorySize'), 'Role': configuration.get('Role'),
            'Layers': [layer['Arn'] for layer in configuration.get('Layers') or []],
            'Environment': (configuration.get('Environment') or {}).get('Variables') or {},
            'Description': configuration.get('Description') or ''}


def configuration_changes(current, desired):
    """Reasons, one per changed field; environment values are never shown (secrets)."""
    reasons = []
    for name, wanted in desired.items():
        if current[name] == wanted:
            continue
        if name == 'Environment':
            old, new = current[name], wanted
            for verb, keys in (('added', set(new) - set(old)), ('removed', set(old) - set(new)),
                               ('changed', {key for key in set(old) & set(new)
                                            if old[key] != new[key]})):
                if keys:
                    reasons.append(f'environment: {", ".join(sorted(keys))} {verb}')
        elif name == 'Description':
            reasons.append('description changed')
        else:
            reasons.append(f'{name}: {current[name]} -> {wanted}')
    return reasons


class Planner:
    def __init__(self, function, deployed, names, layer_required=False, document_prefix=''):
        self.function, self.deployed, self.names = function, deployed, names
        self.layer_required = layer_required
        self.prefix = document_prefix or f'{function.name}-'
        self.steps, self.notes = [], []

    # -- helpers --------------------------------------------------------------------------
    def add(self, *argv, note='', documents=None, capture='', retry_on='', phase=CREATE,
            done=''):
        self.steps.append(Step(list(argv), note, documents or {}, capture, retry_on, phase,
                               done))

    def document(self, name, value):
        return f'{self.prefix}{name}.json', value

    def up_to_date(self, text):
        self.notes.append(text)

    # -- the plan -------------------------------------------------------------------------
    def plan(self, mode, only_function=False):
        """mode: infra (all but the function's code), create, update or deploy.
        only_function: the code and configuration, nothing around them (deploy.applied)."""
        function, deployed = self.function, self.deployed
        exists = deployed.configuration is not None
        if mode == 'create' and exists:
            raise PlanError(f'function {function.name} already exists in {self.names.region}: '
                            f'use make update (or make deploy).')
        if mode == 'update' and not exists:
            raise PlanError(f'function {function.name} does not exist in {self.names.region}: '
                            f'run make deploy (or make create) first.')
        if only_function:
            self.plan_update()
            return self.steps
        self.plan_buckets()
        role_created = self.plan_role()
        self.plan_log_group()
        self.plan_failure_queue()
        if mode != 'infra':
            if exists:
                self.plan_update()
            else:
                self.plan_create(role_created)
        if exists or mode != 'infra':
            self.plan_triggers()
        elif function.triggers:
            self.up_to_date(f'{function.name} does not exist yet: make create wires its '
                            f'triggers')
        return self.steps

    def plan_buckets(self):
        for name, bucket in self.deployed.buckets.items():
            declared = self.function.buckets.get(name, {})
            if not bucket.exists:
                location = ([] if self.names.region == 'us-east-1' else
                            ['--create-bucket-configuration',
                             f'LocationConstraint={self.names.region}'])
                self.add('s3api', 'create-bucket', '--bucket', name, *location,
                         note=f'bucket {name}: create')
            else:
                self.up_to_date(f'{name} exists')
            block = {'BlockPublicAcls': True, 'IgnorePublicAcls': True,
                     'BlockPublicPolicy': True, 'RestrictPublicBuckets': True}
            if bucket.public_access_block != block:
                self.add('s3api', 'put-public-access-block', '--bucket', name,
                         '--public-access-block-configuration',
                         ','.join(f'{key}=true' for key in block))
            rules = lifecycle_rules(declared.get('lifecycle', []))
            if rules and bucket.lifecycle != rules:
                file, document = self.document(f'{name}-lifecycle', {'Rules': rules})
                self.add('s3api', 'put-bucket-lifecycle-configuration', '--bucket', name,
                         '--lifecycle-configuration', f'file://{file}', documents={file: document})

    def plan_role(self):
        function, deployed = self.function, self.deployed
        created = deployed.role is None
        if created:
            file, document = self.document('trust-policy', trust_policy())
            self.add('iam', 'create-role', '--role-name', function.role_name,
                     '--description', f'runs the Lambda function {function.name}',
                     '--assume-role-policy-document', f'file://{file}',
                     note=f'role {function.role_name}: create', documents={file: document})
        else:
            self.up_to_date(f'{function.role_name} exists')
        policy = role_policy(function, self.names)
        if deployed.role_policy != policy:
            file, document = self.document('role-policy', policy)
            self.add('iam', 'put-role-policy', '--role-name', function.role_name,
                     '--policy-name', function.role_name, '--policy-document', f'file://{file}',
                     note=f'role {function.role_name}: least-privilege policy',
                     documents={file: document})
        return created

    def plan_log_group(self):
        function, group = self.function, self.deployed.log_group
        if group is None:
            self.add('logs', 'create-log-group', '--log-group-name', function.log_group,
                     note=f'log group {function.log_group}: create')
        days = function.log_retention_days
        if days and (group or {}).get('retentionInDays') != days:
            self.add('logs', 'put-retention-policy', '--log-group-name', function.log_group,
                     '--retention-in-days', days)

    def plan_failure_queue(self):
        """Where an async event that failed its attempts is kept (S3 and EventBridge drop it
        otherwise): a queue of the function's own, for make failed and make redrive."""
        function = self.function
        if not function.invoked_asynchronously:
            return
        if self.deployed.failure_queue_url is None:
            self.add('sqs', 'create-queue', '--queue-name', function.failure_queue,
                     '--attributes', 'MessageRetentionPeriod=1209600',
                     note=f'queue {function.failure_queue}: failed events, kept 14 days')
        else:
            self.up_to_date(f'{function.failure_queue} exists')

    def plan_invoke_config(self):
        """The alias's retries, event age and on-failure destination (its own queue)."""
        function = self.function
        destination = self.names.queue_arn(function.failure_queue)
        current = self.deployed.invoke_config or {}
        if (current.get('MaximumRetryAttempts') == function.retry_attempts
                and current.get('MaximumEventAgeInSeconds') == function.max_event_age
                and ((current.get('DestinationConfig') or {}).get('OnFailure') or {})
                .get('Destination') == destination):
            self.up_to_date(f'{function.qualified}: {function.retry_attempts} retries, then '
                            f'{function.failure_queue}')
            return
        self.add('lambda', 'put-function-event-invoke-config', '--function-name', function.name,
                 '--qualifier', function.alias, '--maximum-retry-attempts',
                 function.retry_attempts, '--maximum-event-age-in-seconds',
                 function.max_event_age, '--destination-config',
                 json.dumps({'OnFailure': {'Destination': destination}}),
                 note=f'{function.qualified}: {function.retry_attempts} retries, then '
                      f'{function.failure_queue}', phase=GRANT)

    def configuration_argv(self, layers, environment):
        function = self.function
        file, document = self.document('environment', {'Variables': environment})
        argv = ['--runtime', function.runtime, '--role', self.names.role_arn(function.role_name),
                '--handler', function.handler, '--timeout', function.timeout,
                '--memory-size', function.memory_size, '--description', function.description,
                '--environment', f'file://{file}']
        return argv, {file: document}

    def plan_create(self, role_created):
        function = self.function
        layers, environment = resolve_layers(function, self.deployed, self.layer_required)
        argv, documents = self.configuration_argv(layers, environment)
        self.add('lambda', 'create-function', '--function-name', function.name, *argv,
                 '--architectures', function.architecture,
                 *(['--layers', *layers] if layers else []),
                 '--zip-file', f'fileb://{function.zip_path}', '--publish',
                 note=f'{function.name}: create', documents=documents,
                 retry_on=ROLE_PROPAGATION if role_created else '',
                 capture=f'version:{function.name}')
        self.add('lambda', 'wait', 'function-active-v2', '--function-name', function.name,
                 note=f'{function.name}: waiting until it is active',
                 done=f'{function.name}: active')
        self.plan_release(self.published())

    def published(self):
        """The version the steps above publish, known once they ran."""
        return Later(f'version:{self.function.name}', '<the version published above>')

    def plan_update(self):
        function, configuration = self.function, self.deployed.configuration
        layers, environment = resolve_layers(function, self.deployed, self.layer_required)
        desired = desired_configuration(function, layers, environment)
        desired['Role'] = self.names.role_arn(function.role_name)
        reasons = configuration_changes(deployed_configuration(configuration), desired)
        sha = code_sha256(function.zip_path)
        architecture = (configuration.get('Architectures') or ['x86_64'])[0]
        code_changed = sha != configuration.get('CodeSha256')
        if reasons:
            argv, documents = self.configuration_argv(layers, environment)
            self.add('lambda', 'update-function-configuration', '--function-name', function.name,
                     *argv, *(['--layers', *layers] if layers
                              else ['--cli-input-json', '{"Layers": []}']),
                     note=f'{function.name}: updating the configuration ({"; ".join(reasons)})',
                     documents=documents)
            self.add('lambda', 'wait', 'function-updated-v2', '--function-name', function.name)
        else:
            self.up_to_date(f'{function.name}: configuration unchanged')
        if code_changed or architecture != function.architecture:
            why = (f'CodeSha256 {configuration.get("CodeSha256")} -> {sha}' if code_changed
                   else f'architecture {architecture} -> {function.architecture}')
            self.add('lambda', 'update-function-code', '--function-name', function.name,
                     '--zip-file', f'fileb://{function.zip_path}',
                     '--architectures', function.architecture, '--publish',
                     note=f'{function.name}: publishing new code ({why})',
                     capture=f'version:{function.name}')
            self.add('lambda', 'wait', 'function-updated-v2', '--function-name', function.name)
            self.plan_release(self.published())
        else:
            self.up_to_date(f'{function.name}: code unchanged (CodeSha256 {sha})')
            if reasons:
                self.add('lambda', 'publish-version', '--function-name', function.name,
                         note=f'{function.name}: publishing the new configuration as a version',
                         capture=f'version:{function.name}')
                self.plan_release(self.published())
            else:
                self.plan_release(None)

    # -- releases: the alias every trigger invokes ---------------------------------------
    def plan_release(self, published):
        """Point the alias at the version just published (or give it CANARY % of the
        invocations), then delete versions beyond KEEP_VERSIONS that no alias points at."""
        function, aliases = self.function, self.deployed.aliases
        alias = aliases.get(function.alias)
        if published is None:
            if alias:
                self.up_to_date(f'{function.qualified} -> version {alias["FunctionVersion"]}'
                                f'{routing_text(alias)}')
            elif self.deployed.versions:  # deployed before it had an alias
                self.add('lambda', 'create-alias', '--function-name', function.name,
                         '--name', function.alias, '--function-version',
                         self.deployed.versions[-1],
                         note=f'{function.qualified} -> version {self.deployed.versions[-1]}')
            else:
                self.add('lambda', 'publish-version', '--function-name', function.name,
                         note=f'{function.name}: publishing its first version',
                         capture=f'version:{function.name}')
                self.plan_release(self.published())
                return
        elif alias is None:
            self.add('lambda', 'create-alias', '--function-name', function.name,
                     '--name', function.alias, '--function-version', published,
                     note=f'{function.qualified} -> the new version')
        elif function.canary:
            weights = LaterFormat('{{"AdditionalVersionWeights": {{"{}": %s}}}}'
                                  % (function.canary / 100), published)
            self.add('lambda', 'update-alias', '--function-name', function.name,
                     '--name', function.alias, '--routing-config', weights,
                     note=f'{function.qualified}: the new version gets {function.canary} % of '
                          f'invocations, version {alias["FunctionVersion"]} the rest (make '
                          f'promote, or make rollback)')
        else:
            self.add('lambda', 'update-alias', '--function-name', function.name,
                     '--name', function.alias, '--function-version', published,
                     '--routing-config', 'AdditionalVersionWeights={}',
                     note=f'{function.qualified} -> the new version (was '
                          f'{alias["FunctionVersion"]})')
        self.plan_prune(publishing=published is not None)

    def plan_prune(self, publishing):
        referenced = set()
        for alias in self.deployed.aliases.values():
            referenced.add(str(alias.get('FunctionVersion')))
            referenced.update(((alias.get('RoutingConfig') or {})
                               .get('AdditionalVersionWeights') or {}).keys())
        keep = self.function.keep_versions - (1 if publishing else 0)
        old = sorted(self.deployed.versions, reverse=True)[max(keep, 0):]
        for version in sorted(version for version in old if str(version) not in referenced):
            self.add('lambda', 'delete-function', '--function-name', self.function.name,
                     '--qualifier', version,
                     note=f'{self.function.name}: version {version} is older than the '
                          f'{self.function.keep_versions} kept (KEEP_VERSIONS)')

    # -- triggers -------------------------------------------------------------------------
    def plan_triggers(self):
        start = len(self.steps)
        self.plan_undeclared_fronts()
        if self.function.invoked_asynchronously:
            self.plan_invoke_config()
        wanted = {}
        for trigger in self.function.triggers:
            kind = trigger['type']
            for statement in getattr(self, f'trigger_{kind}')(trigger):
                on_alias = [*statement, '--qualifier', self.function.alias]
                wanted[statement_id(kind, on_alias, self.function.name)] = statement
        self.plan_permissions(wanted)
        self.steps[start:] = sorted(self.steps[start:], key=lambda step: step.phase)

    def plan_permissions(self, wanted):
        """Add what is missing (each grant on the alias, which has its own policy), then
        remove what we wrote before and no longer grant, on the alias or the function."""
        function = self.function
        present = {(statement.get('Sid'), statement.get('Qualifier'))
                   for statement in self.deployed.statements}
        for sid, arguments in wanted.items():
            if (sid, function.alias) not in present:
                self.add('lambda', 'add-permission', '--function-name', function.name,
                         '--qualifier', function.alias, '--statement-id', sid, *arguments,
                         phase=GRANT)
        for sid, qualifier in sorted(present, key=lambda pair: (pair[0] or '', pair[1] or '')):
            if (sid in wanted and qualifier == function.alias) or not sid:
                continue
            if OURS.match(sid) or sid in EARLIER:
                self.add('lambda', 'remove-permission', '--function-name', function.name,
                         *(['--qualifier', qualifier] if qualifier else []),
                         '--statement-id', sid, note=f'{function.name}: a grant replaced',
                         phase=REVOKE)

    def plan_undeclared_fronts(self):
        """A function URL or HTTP API the folder no longer declares (the gallery moved to the
        other front) is removed, not left public and unused."""
        function = self.function
        if self.deployed.url and not function.triggers_of('url'):
            self.add('lambda', 'delete-function-url-config', '--function-name', function.name,
                     '--qualifier', function.alias,
                     note=f'{function.name}: its function URL is no longer declared',
                     phase=REVOKE)
        if self.deployed.http_api and not function.triggers_of('http_api'):
            self.add('apigatewayv2', 'delete-api', '--api-id', self.deployed.http_api['ApiId'],
                     note=f'{function.name}: its HTTP API is no longer declared', phase=REVOKE)

    def trigger_s3(self, trigger):
        function, names = self.function, self.names
        bucket = trigger['bucket']
        arn = names.function_arn(function.qualified)
        mine = notification_entry(function.name, arn, trigger)
        current = self.deployed.buckets[bucket].notification
        of_function = lambda entry: is_function_arn(entry.get('LambdaFunctionArn', ''),
                                                    names.function_arn(function.name))
        others = [entry for entry in current.get('LambdaFunctionConfigurations', [])
                  if not of_function(entry)]
        ours = [entry for entry in current.get('LambdaFunctionConfigurations', [])
                if of_function(entry)]
        if [normal_entry(entry) for entry in ours] != [normal_entry(mine)]:
            document = {key: value for key, value in current.items()
                        if key != 'LambdaFunctionConfigurations'}
            document['LambdaFunctionConfigurations'] = others + [mine]
            file, document = self.document(f'{bucket}-notification', document)
            self.add('s3api', 'put-bucket-notification-configuration', '--bucket', bucket,
                     '--notification-configuration', f'file://{file}',
                     note=f's3://{bucket}/{trigger.get("prefix", "")}* -> {function.name}',
                     documents={file: document}, phase=CONNECT)
        else:
            self.up_to_date(f's3://{bucket}/{trigger.get("prefix", "")}* -> {function.name}')
        return [['--action', 'lambda:InvokeFunction', '--principal', 's3.amazonaws.com',
                 '--source-arn', names.bucket_arn(bucket), '--source-account', names.account]]

    def trigger_url(self, trigger):
        function, url = self.function, self.deployed.url
        auth = trigger.get('auth', 'NONE')
        if url is None:
            self.add('lambda', 'create-function-url-config', '--function-name', function.name,
                     '--qualifier', function.alias, '--auth-type', auth,
                     note=f'{function.qualified}: a function URL (its address stays when the '
                          f'alias moves)', capture=f'url:{function.name}')
            origin = Later(f'url:{function.name}', '<the FunctionUrl created above>')
        else:
            if url.get('AuthType') != auth:
                self.add('lambda', 'update-function-url-config', '--function-name',
                         function.name, '--qualifier', function.alias, '--auth-type', auth,
                         phase=CONNECT)
            self.up_to_date(f'{function.name}: {url["FunctionUrl"]}')
            origin = url['FunctionUrl']
        self.plan_cors(trigger, origin)
        if auth != 'NONE':
            return []
        return [['--action', 'lambda:InvokeFunctionUrl', '--principal', '*',
                 '--function-url-auth-type', 'NONE'],
                ['--action', 'lambda:InvokeFunction', '--principal', '*',
                 '--invoked-via-function-url']]

    def trigger_http_api(self, trigger):
        function, names, api = self.function, self.names, self.deployed.http_api
        if api is None:
            self.add('apigatewayv2', 'create-api', '--name', function.name,
                     '--protocol-type', 'HTTP', '--target',
                     names.function_arn(function.qualified),
                     note=f'{function.name}: an HTTP API', capture=f'api:{function.name}')
            origin = Later(f'api:{function.name}', '<the ApiEndpoint created above>')
            api_id = Later(f'api-id:{function.name}', '<its ApiId>')
        else:
            self.up_to_date(f'{function.name}: {api["ApiEndpoint"]}')
            origin, api_id = api['ApiEndpoint'], api['ApiId']
        self.plan_cors(trigger, origin)
        source = f'arn:{names.partition}:execute-api:{names.region}:{names.account}:{{}}/*/*'
        return [['--action', 'lambda:InvokeFunction', '--principal', 'apigateway.amazonaws.com',
                 '--source-arn', LaterFormat(source, api_id)]]

    def trigger_schedule(self, trigger):
        function, names = self.function, self.names
        rule_name = schedule_rule_name(function.name, trigger)
        expression = trigger['expression']
        current = self.deployed.rules.get(rule_name) or {}
        rule = current.get('rule')
        if (not rule or rule.get('ScheduleExpression') != expression
                or rule.get('State') != 'ENABLED'):
            self.add('events', 'put-rule', '--name', rule_name, '--schedule-expression',
                     expression, '--state', 'ENABLED',
                     note=f'{function.name}: runs on {expression}')
        else:
            self.up_to_date(f'{function.name}: runs on {expression}')
        arn = names.function_arn(function.qualified)
        if [target.get('Arn') for target in current.get('targets', [])] != [arn]:
            self.add('events', 'put-targets', '--rule', rule_name, '--targets',
                     f'Id=function,Arn={arn}', phase=CONNECT)
        rule_arn = f'arn:{names.partition}:events:{names.region}:{names.account}:rule/{rule_name}'
        return [['--action', 'lambda:InvokeFunction', '--principal', 'events.amazonaws.com',
                 '--source-arn', rule_arn]]

    def plan_cors(self, trigger, origin):
        origin = trigger.get('origin') or origin
        for bucket in trigger.get('page_posts_to', []):
            rules = [{'AllowedOrigins': [LaterFormat('{}', origin, convert=origin_of)],
                      'AllowedMethods': ['POST'], 'AllowedHeaders': ['*'],
                      'ExposeHeaders': ['ETag'], 'MaxAgeSeconds': 3000}]
            current = self.deployed.buckets[bucket].cors
            if isinstance(origin, str) and current == resolve(rules, {}):
                self.up_to_date(f's3://{bucket} takes POSTs from {origin_of(origin)}')
                continue
            file, document = self.document(f'{bucket}-cors', {'CORSRules': rules})
            self.add('s3api', 'put-bucket-cors', '--bucket', bucket, '--cors-configuration',
                     f'file://{file}', note=f'{bucket}: takes the page\'s POSTs',
                     documents={file: document}, phase=CONNECT)


@dataclass
class LaterFormat:
    """A text made from a value that may be known only later."""
    template: str
    value: object
    convert: object = None  # applied to the value once known

    def resolved(self, results):
        value = self.value
        if isinstance(value, Later):
            value = results.get(value.key, value)
        if self.convert and not isinstance(value, Later):
            value = self.convert(value)
        return self.template.format(value)

    def __str__(self):
        return self.resolved({})


def resolve(value, results):
    """A JSON value or argument with every Later/LaterFormat replaced from results."""
    if isinstance(value, dict):
        return {key: resolve(item, results) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve(item, results) for item in value]
    if isinstance(value, LaterFormat):
        return value.resolved(results)
    if isinstance(value, Later):
        return results.get(value.key, str(value))
    return value


def rollback_steps(function, deployed, to=None):
    """Move the alias back: off a canary in progress (to its primary), or to version TO, or
    to the version published before the one it points at. One update-alias, no rebuild."""
    alias = _alias_of(function, deployed)
    primary = int(alias['FunctionVersion'])
    weights = (alias.get('RoutingConfig') or {}).get('AdditionalVersionWeights') or {}
    if to is None and weights:
        target, why = primary, (f'the canary of version {", ".join(weights)} abandoned: '
                                f'{function.qualified} -> version {primary} only')
    elif to is not None:
        if int(to) not in deployed.versions:
            raise PlanError(f'{function.name} has no version {to}: its versions are '
                            f'{", ".join(map(str, deployed.versions))} (make versions)')
        target, why = int(to), f'{function.qualified} -> version {to} (was {primary})'
    else:
        older = [version for version in deployed.versions if version < primary]
        if not older:
            raise PlanError(f'{function.qualified} points at version {primary}, the oldest '
                            f'kept: there is nothing to roll back to')
        target, why = older[-1], f'{function.qualified} -> version {older[-1]} (was {primary})'
    if target == primary and not weights:
        raise PlanError(f'{function.qualified} already points at version {target}')
    return [Step(['lambda', 'update-alias', '--function-name', function.name, '--name',
                  function.alias, '--function-version', target, '--routing-config',
                  'AdditionalVersionWeights={}'], why)]


def promote_steps(function, deployed):
    """A canary in progress gets all the alias's invocations."""
    alias = _alias_of(function, deployed)
    weights = (alias.get('RoutingConfig') or {}).get('AdditionalVersionWeights') or {}
    if not weights:
        raise PlanError(f'{function.qualified} points at version {alias["FunctionVersion"]} '
                        f'alone: there is no canary to promote (make update CANARY=10 starts one)')
    [version] = weights
    return [Step(['lambda', 'update-alias', '--function-name', function.name, '--name',
                  function.alias, '--function-version', version, '--routing-config',
                  'AdditionalVersionWeights={}'],
                 f'{function.qualified} -> version {version} (was '
                 f'{alias["FunctionVersion"]} for {1 - weights[version]:.0%} of invocations)')]


def _alias_of(function, deployed):
    alias = deployed.aliases.get(function.alias)
    if deployed.configuration is None or alias is None:
        raise PlanError(f'{function.qualified} does not exist: make deploy creates it')
    return alias


def routing_text(alias):
    weights = (alias.get('RoutingConfig') or {}).get('AdditionalVersionWeights') or {}
    return ''.join(f', version {version} for {weight:.0%}' for version, weight in weights.items())


def origin_of(url):
    """A page's origin, as browsers send it: scheme, host and port, no path."""
    parts = urllib.parse.urlsplit(url)
    return f'{parts.scheme}://{parts.netloc}'


def statement_id(kind, arguments, function_name):
    """The grant's id: its kind and a hash of what it grants. An HTTP API's id is known only
    once it exists, so its grant is named by the API's name (the function's) instead."""
    stable = [function_name if isinstance(argument, LaterFormat) else str(argument)
              for argument in arguments]
    text = json.dumps(stable)
    return f'{kind}-{hashlib.sha256(text.encode()).hexdigest()[:10]}'


def schedule_rule_name(function_name, trigger):
    return trigger.get('rule') or f'{function_name}-schedule'[:64]


def is_function_arn(arn, function_arn):
    """The function's ARN, or one of its versions' or aliases'."""
    return arn == function_arn or arn.startswith(function_arn + ':')


def notification_entry(function_name, arn, trigger):
    rules = [{'Name': name, 'Value': trigger[name]} for name in ('prefix', 'suffix')
             if trigger.get(name)]
    entry = {'Id': f'{function_name}-s3', 'LambdaFunctionArn': arn,
             'Events': trigger.get('events', ['s3:ObjectCreated:*'])}
    if rules:
        entry['Filter'] = {'Key': {'FilterRules': rules}}
    return entry


def normal_entry(entry):
    """A notification entry as compared: S3 may answer 'Prefix' for 'prefix'."""
    rules = entry.get('Filter', {}).get('Key', {}).get('FilterRules', [])
    return (entry.get('Id'), entry.get('LambdaFunctionArn'), sorted(entry.get('Events', [])),
            sorted((rule['Name'].lower(), rule['Value']) for rule in rules))


def lifecycle_rules(declared):
    """A bucket's declared lifecycle: each rule expires objects with a tag after some days."""
    rules = []
    for rule in declared:
        if 'expire_tagged' in rule:
            key, _, value = rule['expire_tagged'].partition('=')
            rules.append({'ID': rule['id'], 'Status': 'Enabled',
                          'Filter': {'Tag': {'Key': key, 'Value': value}},
                          'Expiration': {'Days': int(rule['days'])}})
        elif 'abort_incomplete_uploads_after_days' in rule:
            days = int(rule['abort_incomplete_uploads_after_days'])
            rules.append({'ID': rule['id'], 'Status': 'Enabled', 'Filter': {'Prefix': ''},
                          'AbortIncompleteMultipartUpload': {'DaysAfterInitiation': days}})
        else:
            raise PlanError(f'lifecycle rule {rule.get("id")!r}: expected expire_tagged or '
                            f'abort_incomplete_uploads_after_days')
    return rules
