"""`make plan / deploy / create / update / infra / delete / destroy / url / invoke`: the
commands, for function folders (`python -m deploy` runs main).

    python -m deploy plan|deploy|create|update|infra|delete|url FOLDER...
    python -m deploy destroy [--force] FOLDER...

Each folder's settings come from its make (`make -s settings`), its needs from its
function.json; each function is read, planned and run in turn, so the second sees what the
first created. Every AWS call is printed as the awscli command it is, reads indented.
"""
import argparse
import os
import shlex
import sys

from deploy import applied, deployed as deployed_state, failures, local_runtimes
from deploy.aws import Aws, AwsError, Unreachable, shell_line
from deploy.declaration import Account, DeclarationError, load, read_declaration, read_settings
from deploy.executor import Executor
from deploy.planner import (Names, PlanError, Planner, Step, is_function_arn, promote_steps,
                            rollback_steps, schedule_rule_name)

MODES = ('plan', 'deploy', 'create', 'update', 'infra')
# What stops a command with one sentence, never a traceback.
EXPECTED_ERRORS = (DeclarationError, PlanError, Unreachable, AwsError)


def explain(error):
    if isinstance(error, AwsError):
        return f'{shell_line(error.command)} failed:\n  {error.message}'
    return str(error)


def folder_name(folder):
    return os.path.basename(os.path.abspath(folder))


def function_of(folder, aws, configuration=None):
    """(function, names, settings); with a configuration list, the deployed configuration is
    read first and appended to it (None: not deployed), and its ARN names the account."""
    settings = read_settings(folder)
    read_declaration(folder, settings)  # its mistakes are said before AWS is asked anything
    account = Account(aws, settings)
    name = settings.get('FUNCTION_NAME', '')
    if configuration is not None and name and '${' not in name:
        deployed = aws.read('lambda', 'get-function-configuration', '--function-name', name)
        configuration.append(deployed)
        if deployed:
            account.seed(deployed['FunctionArn'])
    function = load(folder, settings, account)
    names = Names(account['ACCOUNT_ID'], account['REGION'], account['PARTITION'])
    return function, names, settings


def layer_query(function):
    layer = function.layer
    if not layer or layer.get('arn'):
        return None
    return ['--layer-name', layer['name'], '--compatible-architecture', function.architecture,
            '--compatible-runtime', function.runtime]


def converge(folders, mode, aws, echo=print):
    dry_run = mode == 'plan'
    planned_buckets = set()
    runtimes = set()
    for folder in folders:
        echo(f'{folder_name(folder)}: reading what is deployed')
        read = []
        function, names, settings = function_of(folder, aws, configuration=read)
        runtimes.add(function.runtime)
        configuration = read[0] if read else deployed_state.UNREAD
        key = applied.fingerprint(function, names, aws.endpoint)
        only_function = mode == 'update' and applied.matches(function, key)
        if only_function:
            echo(f'  {function.name}: its role, logs and triggers are as the last deploy '
                 f'applied them')
            state = deployed_state.read_function(aws, function, layer_query(function),
                                                 configuration)
        else:
            rules = [schedule_rule_name(function.name, trigger)
                     for trigger in function.triggers_of('schedule')]
            state = deployed_state.read(aws, function, rules, layer_query(function),
                                        configuration)
        for bucket in planned_buckets & set(state.buckets):  # a plan made earlier creates it
            state.buckets[bucket].exists = True
            state.buckets[bucket].public_access_block = {
                key: True for key in ('BlockPublicAcls', 'IgnorePublicAcls', 'BlockPublicPolicy',
                                      'RestrictPublicBuckets')}
        planner = Planner(function, state, names,
                          layer_required=bool((function.layer or {}).get('required')),
                          document_prefix=os.path.join(
                              os.path.relpath(function.folder), '.build', 'deploy', ''))
        steps = planner.plan('deploy' if dry_run else mode, only_function=only_function)
        for note in planner.notes:
            echo(f'  {note}')
        if not steps:
            echo(f'{function.name}: nothing to do')
        if dry_run:
            Executor(aws, echo=echo, dry_run=True).run(steps)
            planned_buckets.update(state.buckets)
            continue
        applied.record(function, None)
        Executor(aws, echo=echo).run(steps)
        if mode != 'infra' or state.configuration is not None:
            applied.record(function, key)
    if mode in ('create', 'update', 'deploy'):  # once per command, for all its functions
        local_runtimes.say_once(runtimes, aws.endpoint, echo)


def delete(folders, aws, echo=print, with_infra=False):
    """Delete each function and what points at it; with_infra also its role, log group,
    HTTP API and schedule (make destroy)."""
    for folder in folders:
        function, names, _ = function_of(folder, aws)
        arn = names.function_arn(function.name)
        for trigger in function.triggers_of('s3'):
            bucket = trigger['bucket']
            if not aws.exists('s3api', 'head-bucket', '--bucket', bucket):
                continue
            current = aws.read('s3api', 'get-bucket-notification-configuration',
                               '--bucket', bucket) or {}
            entries = current.get('LambdaFunctionConfigurations', [])
            kept = [entry for entry in entries
                    if not is_function_arn(entry.get('LambdaFunctionArn', ''), arn)]
            if kept != entries:
                document = dict(current, LambdaFunctionConfigurations=kept)
                path = os.path.join(folder, '.build', 'deploy', f'{bucket}-notification.json')
                Executor(aws, echo).run([_step(
                    ['s3api', 'put-bucket-notification-configuration', '--bucket', bucket,
                     '--notification-configuration', f'file://{os.path.relpath(path)}'],
                    {os.path.relpath(path): document}, f's3://{bucket} no longer calls '
                                                       f'{function.name}')])
        for trigger in function.triggers_of('schedule'):
            rule = schedule_rule_name(function.name, trigger)
            if aws.read('events', 'describe-rule', '--name', rule):
                aws.run('events', 'remove-targets', '--rule', rule, '--ids', 'function')
                aws.run('events', 'delete-rule', '--name', rule)
        if function.triggers_of('http_api'):
            apis = (aws.read('apigatewayv2', 'get-apis') or {}).get('Items', [])
            for api in apis:
                if api.get('Name') == function.name:
                    aws.run('apigatewayv2', 'delete-api', '--api-id', api['ApiId'])
        applied.record(function, None)
        if aws.read('lambda', 'get-function-configuration', '--function-name', function.name):
            aws.run('lambda', 'delete-function', '--function-name', function.name)
            echo(f'{function.name}: deleted')
        elif not with_infra:
            raise PlanError(f'function {function.name} does not exist in {names.region}: '
                            f'nothing to delete.')
        if with_infra and function.invoked_asynchronously:
            queue = aws.read('sqs', 'get-queue-url', '--queue-name', function.failure_queue)
            if queue:
                aws.run('sqs', 'delete-queue', '--queue-url', queue['QueueUrl'])
                echo(f'  deleted the queue {function.failure_queue}, with what it kept')
        if with_infra:
            if aws.read('logs', 'describe-log-groups', '--log-group-name-prefix',
                        function.log_group):
                try:
                    aws.run('logs', 'delete-log-group', '--log-group-name', function.log_group)
                except AwsError as error:
                    if not error.not_found:
                        raise
            if aws.read('iam', 'get-role', '--role-name', function.role_name):
                if aws.read('iam', 'get-role-policy', '--role-name', function.role_name,
                            '--policy-name', function.role_name):
                    aws.run('iam', 'delete-role-policy', '--role-name', function.role_name,
                            '--policy-name', function.role_name)
                aws.run('iam', 'delete-role', '--role-name', function.role_name)
                echo(f'  deleted the role {function.role_name}')


def destroy(folders, aws, force, echo=print, answer=input):
    functions = [function_of(folder, aws)[0] for folder in folders]
    buckets = []
    for function in functions:
        for bucket in deployed_state.buckets_of(function):
            if bucket not in buckets:
                buckets.append(bucket)
    if not force:
        echo('This deletes the functions ' + ', '.join(f.name for f in functions)
             + ', their roles, log groups, failure queues and schedules, and the buckets '
             + ', '.join(f's3://{bucket}' for bucket in buckets) + ' with every object in them.')
        try:
            reply = answer('Type yes to go on: ')
        except EOFError:
            reply = ''
        if reply.strip() != 'yes':
            echo('nothing deleted (FORCE=1 skips this question)')
            return 1
    delete(folders, aws, echo, with_infra=True)
    from deploy.buckets import empty  # boto3 costs 0.8 s of imports: only here
    for bucket in buckets:
        if aws.exists('s3api', 'head-bucket', '--bucket', bucket):
            echo(f'  emptying s3://{bucket}: every object version and delete marker')
            echo(f'    s3://{bucket}: deleted {empty(bucket)} objects and versions')
            aws.run('s3api', 'delete-bucket', '--bucket', bucket)
            echo(f'  deleted {bucket}')
    echo('destroyed')
    return 0


def releases_of(folder, aws):
    read = []
    function, _, _ = function_of(folder, aws, configuration=read)
    state = deployed_state.read_function(aws, function, configuration=read[0])
    return function, state


def versions(folders, aws, echo=print):
    """`make versions`: each published version, its date and CodeSha256, and the aliases on
    it (with their share when the alias splits its invocations)."""
    for folder in folders:
        function, state = releases_of(folder, aws)
        if state.configuration is None:
            raise PlanError(f'function {function.name} does not exist: run make deploy')
        on = {}
        for alias in state.aliases.values():
            weights = (alias.get('RoutingConfig') or {}).get('AdditionalVersionWeights') or {}
            primary = 1 - sum(weights.values())
            on.setdefault(str(alias['FunctionVersion']), []).append(
                alias['Name'] + (f' ({primary:.0%})' if weights else ''))
            for version, weight in weights.items():
                on.setdefault(version, []).append(f'{alias["Name"]} ({weight:.0%})')
        echo(f'{function.name}:')
        echo(f'  {"version":>7}  {"published":<29}  {"CodeSha256":<44}  aliases')
        for version in state.version_records:
            number = version['Version']
            echo(f'  {number:>7}  {version.get("LastModified", ""):<29}  '
                 f'{version.get("CodeSha256", ""):<44}  {", ".join(on.get(number, []))}')


def move_alias(folders, aws, promote=False, to=None, echo=print):
    """`make rollback [TO=N]` (one function: each has its own versions, and a function the
    last deploy did not change must not go back) and `make promote` (every function with a
    canary in progress): one update-alias each, no rebuild."""
    if not promote and len(folders) > 1:
        raise PlanError('a rollback is per function: make -C FOLDER rollback [TO=N] '
                        '(make versions shows where each alias points)')
    promoted = 0
    for folder in folders:
        function, state = releases_of(folder, aws)
        try:
            steps = (promote_steps(function, state) if promote
                     else rollback_steps(function, state, to))
        except PlanError:
            if not promote or len(folders) == 1:
                raise
            echo(f'{function.qualified}: no canary in progress, left as it is')
            continue
        Executor(aws, echo=echo).run(steps)
        promoted += 1
    if promote and not promoted and len(folders) > 1:
        raise PlanError('no function has a canary to promote (make update CANARY=10 starts one)')


def failed_events(folders, aws, redrive=False, echo=print):
    """`make failed` / `make redrive` for every async function among the folders."""
    status = 0
    for folder in folders:
        function, _, _ = function_of(folder, aws)
        if not function.invoked_asynchronously:
            continue
        if redrive:
            status |= 1 if failures.redrive(aws, function, folder, echo) else 0
        else:
            failures.failed(aws, function, echo)
    return status


def urls(folders, aws, echo=print):
    found = False
    for folder in folders:
        function, _, _ = function_of(folder, aws)
        if function.triggers_of('url'):
            url = aws.read('lambda', 'get-function-url-config', '--function-name', function.name)
            if url:
                echo(url['FunctionUrl'])
                found = True
        if function.triggers_of('http_api'):
            for api in (aws.read('apigatewayv2', 'get-apis') or {}).get('Items', []):
                if api.get('Name') == function.name:
                    echo(api['ApiEndpoint'])
                    found = True
    if not found:
        raise PlanError('no function URL or HTTP API exists yet: run make deploy')


def environment(folders, aws, echo=print):
    """Shell export lines of each function's environment, as deployed (`make upload` runs the
    gallery's code with it)."""
    for folder in folders:
        function, _, _ = function_of(folder, aws)
        for name, value in function.environment.items():
            echo(f'export {name}={shlex.quote(value)}')


def invoke(folder, event, aws, echo=print):
    """`make invoke`: one synchronous invocation with the event file; the result and the
    log tail, decoded. Exit 1 when the function failed."""
    from deploy.logs import report
    function, names, _ = function_of(folder, aws)
    build = os.path.join(os.path.relpath(function.folder), '.build')
    os.makedirs(build, exist_ok=True)
    response = os.path.join(build, 'response.json')
    try:
        invocation = aws.run('lambda', 'invoke', '--function-name', function.name,
                             '--payload', f'fileb://{event}', '--log-type', 'Tail', response)
    except AwsError as error:
        if error.not_found:
            raise PlanError(f'function {function.name} does not exist in {names.region}: '
                            f'run make deploy (or make create) first.') from None
        raise
    return report(invocation, response)


def _step(argv, documents, note):
    return Step(argv, note, documents)


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m deploy')
    parser.add_argument('command', choices=MODES + ('delete', 'destroy', 'url', 'env', 'invoke',
                                                    'versions', 'rollback', 'promote',
                                                    'failed', 'redrive'))
    parser.add_argument('folders', nargs='+', help='function folders')
    parser.add_argument('--force', action='store_true', help='destroy without asking')
    parser.add_argument('--event', help='make invoke: the payload file')
    parser.add_argument('--to', type=int, help='make rollback: the version to go back to')
    arguments = parser.parse_args(argv)
    # Reads are printed indented under what they are for; the rest as it runs.
    aws = Aws(echo=lambda line: print(line, flush=True))
    try:
        if arguments.command in MODES:
            converge(arguments.folders, arguments.command, aws)
        elif arguments.command == 'delete':
            delete(arguments.folders, aws)
        elif arguments.command == 'url':
            urls(arguments.folders, Aws(echo=lambda line: None))
        elif arguments.command in ('failed', 'redrive'):
            return failed_events(arguments.folders, aws, arguments.command == 'redrive')
        elif arguments.command == 'versions':
            versions(arguments.folders, Aws(echo=lambda line: None))
        elif arguments.command in ('rollback', 'promote'):
            move_alias(arguments.folders, aws, arguments.command == 'promote', arguments.to)
        elif arguments.command == 'invoke':
            return invoke(arguments.folders[0], arguments.event, aws)
        elif arguments.command == 'env':
            environment(arguments.folders, Aws(echo=lambda line: None))
        else:
            return destroy(arguments.folders, aws, arguments.force)
    except EXPECTED_ERRORS as error:
        print(f'error: {explain(error)}', file=sys.stderr)
        return 1
    return 0
