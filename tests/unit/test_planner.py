"""The deploy's decisions, branch by branch, against stubbed deployed states: what the planner
asks awscli to run, in which order, and what the executor makes of it. No AWS, no make."""
import json
import os
import shutil
import socket
import tempfile
import time
import unittest

from deploy import applied, declaration, deployed as deployed_state
from deploy.aws import Aws, AwsError, Unreachable
from deploy.deployed import Bucket, Deployed
from deploy.executor import Executor
from deploy.functions import ROOT
from deploy.planner import (Names, PlanError, Planner, promote_steps, resolve, role_policy,
                            rollback_steps, statement_id)
from deploy.zipper import code_sha256

NAMES = Names('123456789012', 'eu-west-1', 'aws')
SETTINGS = {
    'FUNCTION_NAME': 'ResizeImage-dev', 'HANDLER': 'handler.handle_resize',
    'RUNTIME': 'python3.12', 'ARCH': 'x86_64', 'TIMEOUT': '60', 'MEMORY_SIZE': '1024',
    'ROLE_NAME': 'app-ResizeImage-dev', 'ZIPFILE_NAME': 'function.zip', 'LAYERS': '',
    'LOG_RETENTION_DAYS': '30', 'DESCRIPTION': '', 'APP': 'app', 'STAGE': 'dev',
    'ACCOUNT_ID': '', 'REGION': '', 'PARTITION': '',
    'UPLOAD_BUCKET': 'app-dev-uploads-${ACCOUNT_ID}-${REGION}',
    'RESIZED_BUCKET': 'app-dev-resized-${ACCOUNT_ID}-${REGION}', 'UPLOAD_PREFIX': 'uploads/',
    'REJECTED_DAYS': '7', 'LAYER_NAME': 'app-imagemagick', 'IMAGEMAGICK_LAYER_ARN': '',
    'LAYER_REQUIRED': '', 'WAND_MAGICK_LIBRARY_SUFFIX': '-6.Q16', 'GALLERY_FRONT': 'url',
    'GALLERY_ORIGIN': '', 'UPLOAD_BUCKET_REGION': '${REGION}'}
EMPTY = ('MAX_WIDTH', 'MAX_HEIGHT', 'DELETE_ORIGINAL', 'MAX_INPUT_PIXELS', 'MAX_INPUT_BYTES',
         'JPEG_QUALITY', 'CACHE_CONTROL', 'MAX_ATTEMPTS', 'PAGE_SIZE', 'URL_EXPIRES',
         'MAX_UPLOAD_BYTES')
UPLOADS = 'app-dev-uploads-123456789012-eu-west-1'
RESIZED = 'app-dev-resized-123456789012-eu-west-1'
ARN = 'arn:aws:lambda:eu-west-1:123456789012:function:ResizeImage-dev'


class FakeIdentity:
    """Answers the account lookups the way Aws would, counting them."""

    def __init__(self):
        self.asked = 0

    def identity(self):
        self.asked += 1
        return {'Account': '123456789012', 'Arn': 'arn:aws:iam::123456789012:user/me'}

    def region(self):
        return 'eu-west-1'


def function_from(folder, **overrides):
    """A sample function as the deploy reads it, with a zip of its own in a temp folder."""
    directory = tempfile.mkdtemp()
    shutil.copy(os.path.join(ROOT, folder, 'function.json'), directory)
    with open(os.path.join(directory, 'function.zip'), 'wb') as handle:
        handle.write(b'zip bytes')
    settings = dict(SETTINGS, **{name: '' for name in EMPTY}, **overrides)
    function = declaration.load(directory, settings,
                                declaration.Account(FakeIdentity(), settings))
    return function, directory


def argvs(steps):
    return [' '.join(str(part) for part in step.argv[:2]) for step in steps]


def deployed_function(function, **changes):
    configuration = {
        'FunctionName': function.name, 'Runtime': 'python3.12', 'Handler': function.handler,
        'Timeout': function.timeout, 'MemorySize': function.memory_size,
        'Role': NAMES.role_arn(function.role_name), 'Architectures': ['x86_64'],
        'Description': function.description, 'Layers': [],
        'Environment': {'Variables': dict(function.environment)},
        'CodeSha256': code_sha256(function.zip_path)}
    configuration.update(changes)
    return configuration


def everything_deployed(function):
    """The state a complete deploy of the resize function leaves."""
    state = Deployed(
        configuration=deployed_function(function),
        role={'RoleName': function.role_name}, role_policy=role_policy(function, NAMES),
        log_group={'logGroupName': function.log_group, 'retentionInDays': 30},
        buckets={UPLOADS: Bucket(True, ALL_BLOCKED), RESIZED: Bucket(True, ALL_BLOCKED)})
    planner = Planner(function, state, NAMES)
    planner.plan_buckets()
    [lifecycle] = [step for step in planner.steps
                   if 'put-bucket-lifecycle-configuration' in step.argv]
    state.buckets[UPLOADS].lifecycle = list(lifecycle.documents.values())[0]['Rules']
    [grant] = planner.trigger_s3(function.triggers[0])
    state.statements = granted('s3', [grant], function.name)
    state.aliases = {'live': {'Name': 'live', 'FunctionVersion': '1'}}
    state.versions = [1]
    state.failure_queue_url = 'http://sqs/ResizeImage-dev-failures'
    state.invoke_config = {'MaximumRetryAttempts': 2, 'MaximumEventAgeInSeconds': 21600,
                           'DestinationConfig': {'OnFailure': {'Destination': NAMES.queue_arn(
                               'ResizeImage-dev-failures')}}}
    state.buckets[UPLOADS].notification = {'LambdaFunctionConfigurations': [{
        'Id': 'ResizeImage-dev-s3', 'LambdaFunctionArn': f'{ARN}:live',
        'Events': ['s3:ObjectCreated:*'],
        'Filter': {'Key': {'FilterRules': [{'Name': 'Prefix', 'Value': 'uploads/'}]}}}]}
    return state


def granted(kind, grants, function_name, alias='live'):
    """The statements a deploy leaves on the alias for these grants."""
    return [{'Sid': statement_id(kind, [*grant, '--qualifier', alias], function_name),
             'Qualifier': alias} for grant in grants]


LIVE = {'live': {'Name': 'live', 'FunctionVersion': '1'}}
ALL_BLOCKED = {'BlockPublicAcls': True, 'IgnorePublicAcls': True, 'BlockPublicPolicy': True,
               'RestrictPublicBuckets': True}


class DeclarationTest(unittest.TestCase):
    def test_settings_fill_the_declaration_and_the_account_is_asked_once(self):
        identity = FakeIdentity()
        settings = dict(SETTINGS, **{name: '' for name in EMPTY})
        directory = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, directory)
        shutil.copy(os.path.join(ROOT, 'image_resize', 'function.json'), directory)
        function = declaration.load(directory, settings, declaration.Account(identity, settings))
        self.assertEqual(function.environment, {'RESIZED_BUCKET': RESIZED,
                                                'WAND_MAGICK_LIBRARY_SUFFIX': '-6.Q16'})
        self.assertEqual(function.triggers, [{'type': 's3', 'bucket': UPLOADS,
                                              'prefix': 'uploads/',
                                              'events': ['s3:ObjectCreated:*']}])
        self.assertEqual((function.timeout, function.memory_size), (60, 1024))
        self.assertEqual(identity.asked, 1)

    def test_a_name_make_does_not_set_is_named(self):
        directory = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, directory)
        with open(os.path.join(directory, 'function.json'), 'w') as handle:
            json.dump({'environment': {'X': '${NOT_A_SETTING}'}}, handle)
        with self.assertRaisesRegex(declaration.DeclarationError, r'\$\{NOT_A_SETTING\}'):
            declaration.load(directory, SETTINGS, declaration.Account(FakeIdentity(), SETTINGS))

    def test_settings_that_name_each_other_in_a_loop(self):
        with self.assertRaisesRegex(declaration.DeclarationError, 'loop'):
            declaration.expand('${A}', {'A': '${B}', 'B': '${A}'}.get)

    def test_unknown_keys_and_trigger_types_are_refused(self):
        directory = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, directory)
        for document, message in (({'trigers': []}, 'unknown keys trigers'),
                                  ({'triggers': [{'type': 'sqs'}]}, "'sqs' is not one of")):
            with self.subTest(message):
                with open(os.path.join(directory, 'function.json'), 'w') as handle:
                    json.dump(document, handle)
                with self.assertRaisesRegex(declaration.DeclarationError, message):
                    declaration.load(directory, SETTINGS,
                                     declaration.Account(FakeIdentity(), SETTINGS))

    def test_a_folder_without_a_declaration_is_a_plain_function(self):
        directory = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, directory)
        function = declaration.load(directory, SETTINGS,
                                    declaration.Account(FakeIdentity(), SETTINGS))
        self.assertEqual((function.triggers, function.permissions, function.environment),
                         ([], [], {}))

    def test_a_stage_goes_into_bucket_names(self):
        for stage in ('Prod', 'my stage', 'x' * 17):
            with self.subTest(stage):
                with self.assertRaisesRegex(declaration.DeclarationError, 'lower-case'):
                    function_from('image_list', STAGE=stage)

    def test_names_aws_would_refuse_are_refused_first(self):
        with self.assertRaisesRegex(declaration.DeclarationError, 'ROLE_NAME=.*1-64'):
            function_from('image_list', ROLE_NAME='r' * 65)
        with self.assertRaisesRegex(declaration.DeclarationError, 'FUNCTION_NAME=.*1-64'):
            function_from('image_list', FUNCTION_NAME='has space')

    def test_numbers_must_be_numbers(self):
        with self.assertRaisesRegex(declaration.DeclarationError, 'MEMORY_SIZE'):
            function_from('image_list', MEMORY_SIZE='lots')

    def test_references_lists_what_make_must_print(self):
        self.assertEqual(declaration.references({'a': '${X}-${Y}', 'b': ['${X}']}), ['X', 'Y'])


class RolePolicyTest(unittest.TestCase):
    def actions(self, policy):
        return {action for statement in policy['Statement'] for action in statement['Action']}

    def resources(self, policy):
        return {resource for statement in policy['Statement']
                for resource in statement['Resource']}

    def test_the_samples_are_least_privilege(self):
        for folder in ('image_resize', 'image_list'):
            with self.subTest(folder):
                function, directory = function_from(folder)
                self.addCleanup(shutil.rmtree, directory)
                policy = role_policy(function, NAMES)
                self.assertFalse([action for action in self.actions(policy) if '*' in action])
                self.assertFalse([resource for resource in self.resources(policy)
                                  if resource.endswith(':::' + UPLOADS + '/*')
                                  or resource.endswith(':::' + RESIZED + '/*')],
                                 'object grants stay under the upload prefix')
                self.assertIn(f'arn:aws:logs:eu-west-1:123456789012:log-group:'
                              f'{function.log_group}:*', self.resources(policy))

    def test_the_gallery_cannot_delete_or_tag(self):
        function, directory = function_from('image_list', FUNCTION_NAME='ListImage-dev')
        self.addCleanup(shutil.rmtree, directory)
        policy = role_policy(function, NAMES)
        self.assertFalse({'s3:DeleteObject', 's3:PutObjectTagging'} & self.actions(policy))


class PlannerTest(unittest.TestCase):
    def setUp(self):
        self.function, directory = function_from('image_resize')
        self.addCleanup(shutil.rmtree, directory)

    def plan(self, state, mode='deploy', **options):
        planner = Planner(self.function, state, NAMES, **options)
        return planner.plan(mode), planner

    def test_first_deploy_creates_everything_in_order(self):
        state = Deployed(buckets={UPLOADS: Bucket(), RESIZED: Bucket()})
        steps, _ = self.plan(state)
        self.assertEqual(argvs(steps), [
            's3api create-bucket', 's3api put-public-access-block',
            's3api put-bucket-lifecycle-configuration',
            's3api create-bucket', 's3api put-public-access-block',
            'iam create-role', 'iam put-role-policy',
            'logs create-log-group', 'logs put-retention-policy', 'sqs create-queue',
            'lambda create-function', 'lambda wait', 'lambda create-alias',
            'lambda put-function-event-invoke-config', 'lambda add-permission',
            's3api put-bucket-notification-configuration'])
        create = steps[argvs(steps).index('lambda create-function')]
        self.assertEqual(create.retry_on, 'cannot be assumed', 'a new role may not be usable yet')
        self.assertIn('--publish', create.argv)
        self.assertNotIn('eu-west-1', ' '.join(map(str, steps[0].argv[:3])))
        self.assertIn('LocationConstraint=eu-west-1', steps[0].argv)

    def test_nothing_to_do(self):
        steps, planner = self.plan(everything_deployed(self.function))
        self.assertEqual(steps, [])
        self.assertIn('ResizeImage-dev: code unchanged (CodeSha256 '
                      f'{code_sha256(self.function.zip_path)})', planner.notes)

    def test_create_refuses_an_existing_function_and_update_a_missing_one(self):
        with self.assertRaisesRegex(PlanError, 'ResizeImage-dev already exists in eu-west-1: '
                                               'use make update'):
            self.plan(everything_deployed(self.function), 'create')
        state = Deployed(buckets={UPLOADS: Bucket(True, ALL_BLOCKED), RESIZED: Bucket()})
        with self.assertRaisesRegex(PlanError, 'does not exist in eu-west-1: run make deploy'):
            self.plan(state, 'update')

    def test_infra_without_the_function_leaves_code_and_triggers_alone(self):
        state = Deployed(buckets={UPLOADS: Bucket(), RESIZED: Bucket()})
        steps, planner = self.plan(state, 'infra')
        self.assertFalse([step for step in steps if step.argv[0] == 'lambda'])
        self.assertFalse([step for step in steps if 'notification' in step.argv[1]])
        self.assertIn('ResizeImage-dev does not exist yet: make create wires its triggers',
                      planner.notes)

    def test_new_code_is_published(self):
        state = everything_deployed(self.function)
        state.configuration['CodeSha256'] = 'older'
        steps, _ = self.plan(state, 'update')
        self.assertEqual(argvs(steps), ['lambda update-function-code', 'lambda wait',
                                        'lambda update-alias'])
        self.assertIn('--publish', steps[0].argv)
        self.assertIn('CodeSha256 older -> ', steps[0].note)

    def test_an_architecture_change_goes_with_the_code(self):
        state = everything_deployed(self.function)
        self.function.architecture = 'arm64'
        steps, _ = self.plan(state, 'update')
        self.assertEqual(argvs(steps), ['lambda update-function-code', 'lambda wait',
                                        'lambda update-alias'])
        self.assertIn('arm64', steps[0].argv)
        self.assertIn('architecture x86_64 -> arm64', steps[0].note)

    def test_a_configuration_change_is_applied_then_published_without_showing_values(self):
        state = everything_deployed(self.function)
        self.function.timeout = 90
        self.function.environment['SECRET'] = 'hunter2'
        steps, _ = self.plan(state, 'update')
        self.assertEqual(argvs(steps), ['lambda update-function-configuration', 'lambda wait',
                                        'lambda publish-version', 'lambda update-alias'])
        self.assertIn('Timeout: 60 -> 90', steps[0].note)
        self.assertIn('environment: SECRET added', steps[0].note)
        self.assertNotIn('hunter2', ' '.join(step.note + ' '.join(map(str, step.argv))
                                             for step in steps))
        self.assertIn('{"Layers": []}', steps[0].argv, 'layers removed when none is wanted')

    def test_a_required_layer_that_is_not_published_stops_the_deploy(self):
        state = Deployed(buckets={UPLOADS: Bucket(), RESIZED: Bucket()}, layer_versions=[])
        with self.assertRaisesRegex(PlanError, 'ResizeImage-dev needs ImageMagick.*Run make '
                                               'layer-publish.*IMAGEMAGICK_LAYER_ARN'):
            self.plan(state, layer_required=True)

    def test_the_newest_layer_is_attached_with_its_environment(self):
        state = everything_deployed(self.function)
        state.layer_versions = ['arn:layer:9', 'arn:layer:8']
        steps, _ = self.plan(state, 'update', layer_required=True)
        self.assertEqual(argvs(steps)[0], 'lambda update-function-configuration')
        self.assertEqual(steps[0].argv[steps[0].argv.index('--layers') + 1], 'arn:layer:9')
        [environment] = steps[0].documents.values()
        self.assertEqual(environment['Variables']['MAGICK_HOME'], '/opt')

    def test_a_changed_role_policy_is_put_and_the_role_kept(self):
        state = everything_deployed(self.function)
        state.role_policy = {'Version': '2012-10-17', 'Statement': []}
        steps, _ = self.plan(state)
        self.assertEqual(argvs(steps), ['iam put-role-policy'])

    def test_a_changed_grant_is_added_before_the_old_one_goes(self):
        state = everything_deployed(self.function)
        state.statements = [{'Sid': 's3-uploads'}, {'Sid': 's3-0123456789'},
                            {'Sid': 'someone-elses'}]
        steps, _ = self.plan(state)
        self.assertEqual(argvs(steps), ['lambda add-permission', 'lambda remove-permission',
                                        'lambda remove-permission'])
        self.assertEqual({step.argv[step.argv.index('--statement-id') + 1] for step in steps[1:]},
                         {'s3-uploads', 's3-0123456789'}, 'never a statement not ours')

    def test_the_notification_keeps_what_is_not_ours_in_one_call(self):
        state = everything_deployed(self.function)
        other = {'Id': 'theirs', 'LambdaFunctionArn': 'arn:other', 'Events': ['s3:ObjectRemoved:*']}
        state.buckets[UPLOADS].notification = {'LambdaFunctionConfigurations': [other],
                                               'QueueConfigurations': [{'Id': 'q'}]}
        steps, _ = self.plan(state)
        self.assertEqual(argvs(steps), ['s3api put-bucket-notification-configuration'])
        [document] = steps[0].documents.values()
        self.assertEqual(document['QueueConfigurations'], [{'Id': 'q'}])
        self.assertEqual([entry['Id'] for entry in document['LambdaFunctionConfigurations']],
                         ['theirs', 'ResizeImage-dev-s3'])

    def test_a_changed_prefix_rewrites_the_notification(self):
        state = everything_deployed(self.function)
        self.function.triggers[0]['prefix'] = 'incoming/'
        steps, _ = self.plan(state)
        self.assertIn('s3api put-bucket-notification-configuration', argvs(steps))


class FailureQueueTest(unittest.TestCase):
    """An asynchronously invoked function keeps what fails in a queue of its own."""

    def setUp(self):
        self.function, directory = function_from('image_resize', ASYNC_RETRY_ATTEMPTS='1',
                                                 ASYNC_MAX_EVENT_AGE='3600')
        self.addCleanup(shutil.rmtree, directory)

    def test_settings_change_the_alias_config_and_the_role_may_send_only_there(self):
        steps = Planner(self.function, everything_deployed(self.function), NAMES).plan('deploy')
        [config] = [step.argv for step in steps
                    if step.argv[1] == 'put-function-event-invoke-config']
        self.assertEqual(config[config.index('--qualifier') + 1], 'live')
        self.assertEqual((config[config.index('--maximum-retry-attempts') + 1],
                          config[config.index('--maximum-event-age-in-seconds') + 1]), (1, 3600))
        self.assertEqual(json.loads(config[config.index('--destination-config') + 1]), {
            'OnFailure': {'Destination': 'arn:aws:sqs:eu-west-1:123456789012:'
                                         'ResizeImage-dev-failures'}})
        [send] = [statement for statement in role_policy(self.function, NAMES)['Statement']
                  if statement['Sid'] == 'KeepFailedEvents']
        self.assertEqual((send['Action'], send['Resource']), (
            ['sqs:SendMessage'], ['arn:aws:sqs:eu-west-1:123456789012:ResizeImage-dev-failures']))

    def test_a_function_nothing_invokes_asynchronously_has_none(self):
        function, directory = function_from('image_list', FUNCTION_NAME='ListImage-dev')
        self.addCleanup(shutil.rmtree, directory)
        self.assertFalse(function.invoked_asynchronously)
        self.assertNotIn('KeepFailedEvents', json.dumps(role_policy(function, NAMES)))

    def test_out_of_range_settings_are_refused(self):
        with self.assertRaisesRegex(declaration.DeclarationError, 'ASYNC_RETRY_ATTEMPTS.*0 to 2'):
            function_from('image_resize', ASYNC_RETRY_ATTEMPTS='3')


class ReleaseTest(unittest.TestCase):
    """The alias every trigger invokes: moved by each publish, split by a canary, moved back
    by a rollback; versions beyond KEEP_VERSIONS deleted unless an alias points at them."""

    def setUp(self):
        self.function, directory = function_from('image_resize')
        self.addCleanup(shutil.rmtree, directory)
        self.state = everything_deployed(self.function)
        self.state.configuration['CodeSha256'] = 'older'

    def release(self, steps, version='7'):
        [step] = [step for step in steps if step.argv[1] in ('create-alias', 'update-alias')]
        return resolve(step.argv, {'version:ResizeImage-dev': version})

    def test_a_publish_moves_the_alias_and_clears_any_routing(self):
        argv = self.release(Planner(self.function, self.state, NAMES).plan('update'))
        self.assertEqual(argv[argv.index('--function-version') + 1], '7')
        self.assertIn('AdditionalVersionWeights={}', argv)

    def test_a_canary_gives_the_new_version_its_share_and_keeps_the_primary(self):
        self.function.canary = 20
        argv = self.release(Planner(self.function, self.state, NAMES).plan('update'))
        self.assertNotIn('--function-version', argv)
        self.assertEqual(json.loads(argv[argv.index('--routing-config') + 1]),
                         {'AdditionalVersionWeights': {'7': 0.2}})

    def test_a_function_from_before_aliases_gets_one_on_its_newest_version(self):
        self.state.aliases, self.state.versions = {}, [1, 2]
        self.state.configuration['CodeSha256'] = code_sha256(self.function.zip_path)
        steps = Planner(self.function, self.state, NAMES).plan('update', only_function=True)
        self.assertEqual([step.argv[1:2] + step.argv[-2:] for step in steps],
                         [['create-alias', '--function-version', 2]])
        self.state.versions = []
        steps = Planner(self.function, self.state, NAMES).plan('update', only_function=True)
        self.assertEqual(argvs(steps), ['lambda publish-version', 'lambda create-alias'])

    def test_old_versions_go_but_never_one_an_alias_points_at(self):
        self.state.versions = list(range(1, 13))
        self.state.aliases = {'live': {'FunctionVersion': '12', 'RoutingConfig': {
            'AdditionalVersionWeights': {'2': 0.1}}}, 'old': {'FunctionVersion': '1'}}
        steps = Planner(self.function, self.state, NAMES).plan('update')
        deleted = [step.argv[-1] for step in steps if step.argv[1] == 'delete-function']
        self.assertEqual(deleted, [3], 'keeps 9 besides the new one; 1 and 2 are aliased')

    def test_rollback_goes_to_the_version_before_or_to_one_named(self):
        self.state.versions = [3, 5, 8]
        self.state.aliases = {'live': {'FunctionVersion': '8'}}
        [step] = rollback_steps(self.function, self.state)
        self.assertEqual(step.argv[-3:-2], [5])
        self.assertIn('-> version 5 (was 8)', step.note)
        [step] = rollback_steps(self.function, self.state, to=3)
        self.assertEqual(step.argv[-3:-2], [3])
        with self.assertRaisesRegex(PlanError, 'has no version 4'):
            rollback_steps(self.function, self.state, to=4)
        self.state.aliases = {'live': {'FunctionVersion': '3'}}
        with self.assertRaisesRegex(PlanError, 'nothing to roll back to'):
            rollback_steps(self.function, self.state)

    def test_rollback_of_a_canary_abandons_it_and_promote_finishes_it(self):
        self.state.versions = [3, 4]
        self.state.aliases = {'live': {'FunctionVersion': '3', 'RoutingConfig': {
            'AdditionalVersionWeights': {'4': 0.2}}}}
        [step] = rollback_steps(self.function, self.state)
        self.assertEqual(step.argv[-3:], [3, '--routing-config', 'AdditionalVersionWeights={}'])
        self.assertIn('canary of version 4 abandoned', step.note)
        [step] = promote_steps(self.function, self.state)
        self.assertEqual(step.argv[-3:], ['4', '--routing-config', 'AdditionalVersionWeights={}'])
        self.state.aliases = {'live': {'FunctionVersion': '4'}}
        with self.assertRaisesRegex(PlanError, 'no canary to promote'):
            promote_steps(self.function, self.state)

    def test_triggers_invoke_the_alias_and_grants_are_on_it(self):
        self.state.statements = [{'Sid': 's3-0123456789', 'Qualifier': None}]
        self.state.buckets[UPLOADS].notification = {'LambdaFunctionConfigurations': [{
            'Id': 'ResizeImage-dev-s3', 'LambdaFunctionArn': ARN,
            'Events': ['s3:ObjectCreated:*']}]}
        steps = Planner(self.function, self.state, NAMES).plan('deploy')
        [grant] = [step.argv for step in steps if step.argv[1] == 'add-permission']
        self.assertEqual(grant[grant.index('--qualifier') + 1], 'live')
        [put] = [step for step in steps if 'notification' in step.argv[1]]
        [document] = put.documents.values()
        self.assertEqual([entry['LambdaFunctionArn'] for entry in
                          document['LambdaFunctionConfigurations']], [f'{ARN}:live'],
                         "the function's unqualified entry replaced in the same call")
        [revoke] = [step.argv for step in steps if step.argv[1] == 'remove-permission']
        self.assertNotIn('--qualifier', revoke, 'an unqualified grant is removed as it was put')
        self.assertLess(argvs(steps).index('lambda add-permission'),
                        argvs(steps).index('lambda remove-permission'))


class AppliedTest(unittest.TestCase):
    """make update reads only the function while what surrounds it is as last applied."""

    def setUp(self):
        self.function, directory = function_from('image_resize')
        self.addCleanup(shutil.rmtree, directory)

    def test_the_fingerprint_follows_the_surroundings_not_the_code_or_settings(self):
        key = applied.fingerprint(self.function, NAMES, 'http://127.0.0.1:4566')
        self.function.memory_size, self.function.environment['X'] = 2048, 'y'
        self.assertEqual(applied.fingerprint(self.function, NAMES, 'http://127.0.0.1:4566'), key)
        self.function.permissions.append({'actions': ['s3:GetObject'], 'resources': ['x']})
        self.assertNotEqual(applied.fingerprint(self.function, NAMES, 'http://127.0.0.1:4566'),
                            key)
        self.assertNotEqual(applied.fingerprint(self.function, NAMES, None), key,
                            'another endpoint is another deployment')

    def test_recorded_then_forgotten(self):
        self.assertFalse(applied.matches(self.function, 'k'))
        applied.record(self.function, 'k')
        self.assertTrue(applied.matches(self.function, 'k'))
        applied.record(self.function, None)
        self.assertFalse(applied.matches(self.function, 'k'))

    def test_only_the_function_is_planned(self):
        state = everything_deployed(self.function)
        state.role_policy, state.statements = None, []
        state.configuration['CodeSha256'] = 'older'
        steps = Planner(self.function, state, NAMES).plan('update', only_function=True)
        self.assertEqual(argvs(steps), ['lambda update-function-code', 'lambda wait',
                                        'lambda update-alias'])


class TriggerTest(unittest.TestCase):
    def gallery(self, front='url', **overrides):
        function, directory = function_from('image_list', FUNCTION_NAME='ListImage-dev',
                                            GALLERY_FRONT=front, **overrides)
        self.addCleanup(shutil.rmtree, directory)
        return function

    def test_a_new_url_gives_its_origin_to_the_bucket_cors(self):
        function = self.gallery()
        state = Deployed(configuration=deployed_function(function), aliases=LIVE,
                         versions=[1], role={}, log_group={},
                         role_policy=role_policy(function, NAMES),
                         buckets={UPLOADS: Bucket(True, ALL_BLOCKED)})
        steps = Planner(function, state, NAMES).plan('deploy')
        self.assertEqual(argvs(steps), ['logs put-retention-policy',
                                        'lambda create-function-url-config',
                                        'lambda add-permission', 'lambda add-permission',
                                        's3api put-bucket-cors'])
        results = {'url:ListImage-dev': 'https://abc.lambda-url.eu-west-1.on.aws/'}
        [document] = resolve(steps[-1].documents, results).values()
        self.assertEqual(document['CORSRules'][0]['AllowedOrigins'],
                         ['https://abc.lambda-url.eu-west-1.on.aws'])
        self.assertEqual(document['CORSRules'][0]['AllowedMethods'], ['POST'])

    def test_an_existing_url_and_cors_are_left_alone(self):
        function = self.gallery()
        url = 'https://abc.lambda-url.eu-west-1.on.aws/'
        planner = Planner(function, Deployed(buckets={UPLOADS: Bucket(True)}), NAMES)
        grants = planner.trigger_url(function.triggers[0])
        state = Deployed(
            configuration=deployed_function(function), role={}, role_policy=role_policy(
                function, NAMES), log_group={'retentionInDays': 30}, aliases=LIVE, versions=[1],
            url={'FunctionUrl': url, 'AuthType': 'NONE'},
            statements=granted('url', grants, function.name),
            buckets={UPLOADS: Bucket(True, ALL_BLOCKED, cors=[{
                'AllowedOrigins': [url.rstrip('/')], 'AllowedMethods': ['POST'],
                'AllowedHeaders': ['*'], 'ExposeHeaders': ['ETag'], 'MaxAgeSeconds': 3000}])})
        self.assertEqual(Planner(function, state, NAMES).plan('deploy'), [])

    def test_an_http_api_front(self):
        function = self.gallery('http_api')
        state = Deployed(configuration=deployed_function(function), aliases=LIVE,
                         versions=[1], role={}, log_group={},
                         role_policy=role_policy(function, NAMES),
                         buckets={UPLOADS: Bucket(True, ALL_BLOCKED)})
        steps = Planner(function, state, NAMES).plan('deploy')
        self.assertEqual(argvs(steps)[1:], ['apigatewayv2 create-api', 'lambda add-permission',
                                            's3api put-bucket-cors'])
        results = {'api-id:ListImage-dev': 'a1b2c3', 'api:ListImage-dev': 'https://a1b2c3.x'}
        grant = resolve(steps[2].argv, results)
        self.assertIn('arn:aws:execute-api:eu-west-1:123456789012:a1b2c3/*/*', grant)
        self.assertIn('apigateway.amazonaws.com', grant)

    def test_moving_the_gallery_from_its_url_to_an_http_api(self):
        function = self.gallery('http_api')
        state = Deployed(configuration=deployed_function(function), aliases=LIVE,
                         versions=[1], role={}, log_group={'retentionInDays': 30},
                         role_policy=role_policy(function, NAMES),
                         url={'FunctionUrl': 'https://abc.lambda-url.eu-west-1.on.aws/',
                              'AuthType': 'NONE'},
                         statements=[{'Sid': 'url-0123456789'}, {'Sid': 'url-abcdef0123'}],
                         buckets={UPLOADS: Bucket(True, ALL_BLOCKED)})
        steps = Planner(function, state, NAMES).plan('deploy')
        self.assertEqual(argvs(steps), [
            'apigatewayv2 create-api', 'lambda add-permission', 's3api put-bucket-cors',
            'lambda delete-function-url-config', 'lambda remove-permission',
            'lambda remove-permission'])

    def test_a_schedule(self):
        function = self.gallery()
        function.triggers = [{'type': 'schedule', 'expression': 'rate(15 minutes)'}]
        state = Deployed(configuration=deployed_function(function), aliases=LIVE,
                         versions=[1], role={}, log_group={'retentionInDays': 30},
                         role_policy=role_policy(function, NAMES),
                         failure_queue_url='http://sqs/ListImage-dev-failures')
        steps = Planner(function, state, NAMES).plan('deploy')
        self.assertEqual(argvs(steps), ['events put-rule',
                                        'lambda put-function-event-invoke-config',
                                        'lambda add-permission', 'events put-targets'])
        self.assertIn('rate(15 minutes)', steps[0].argv)
        rule = {'ScheduleExpression': 'rate(15 minutes)', 'State': 'ENABLED'}
        grant = steps[2].argv[steps[2].argv.index('--action'):]
        state.rules = {'ListImage-dev-schedule': {'rule': rule, 'targets': [
            {'Id': 'function', 'Arn': NAMES.function_arn('ListImage-dev:live')}]}}
        state.statements = granted('schedule', [grant], function.name)
        state.invoke_config = {'MaximumRetryAttempts': 2, 'MaximumEventAgeInSeconds': 21600,
                               'DestinationConfig': {'OnFailure': {
                                   'Destination': NAMES.queue_arn('ListImage-dev-failures')}}}
        self.assertEqual(Planner(function, state, NAMES).plan('deploy'), [])


class FakeAws:
    """Records commands; answers from a table; fails the first N times where told."""

    def __init__(self, answers=None, failures=None):
        self.answers, self.failures, self.ran = answers or {}, failures or {}, []

    def run(self, *argv, read=False, output='json'):
        self.ran.append(list(argv))
        key = ' '.join(argv[:2])
        if self.failures.get(key):
            self.failures[key] -= 1
            raise AwsError(list(argv), 'InvalidParameterValueException',
                           'An error occurred (InvalidParameterValueException): The role '
                           'defined for the function cannot be assumed by Lambda.')
        return self.answers.get(key)


class ExecutorTest(unittest.TestCase):
    def setUp(self):
        self.directory = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.directory)
        self.printed = []

    def test_plan_prints_pasteable_commands_writes_their_documents_and_runs_nothing(self):
        aws = FakeAws()
        path = os.path.join(self.directory, 'policy.json')
        from deploy.planner import Step
        Executor(aws, echo=self.printed.append, dry_run=True).run([Step(
            ['iam', 'put-role-policy', '--policy-document', f'file://{path}'], 'role: policy',
            {path: {'Version': '2012-10-17'}})])
        self.assertEqual(aws.ran, [])
        self.assertEqual(self.printed, ['role: policy', f'  aws iam put-role-policy '
                                                        f'--policy-document file://{path}'])
        self.assertEqual(json.load(open(path)), {'Version': '2012-10-17'})

    def test_a_new_role_is_waited_for_and_other_errors_are_not(self):
        from deploy.planner import Step
        sleeps = []
        aws = FakeAws(failures={'lambda create-function': 2})
        Executor(aws, echo=self.printed.append, sleep=sleeps.append).run(
            [Step(['lambda', 'create-function'], retry_on='cannot be assumed')])
        self.assertEqual((len(aws.ran), sleeps), (3, [3, 3]))
        aws = FakeAws(failures={'lambda create-function': 1})
        with self.assertRaises(AwsError):
            Executor(aws, echo=self.printed.append, sleep=sleeps.append).run(
                [Step(['lambda', 'create-function'])])

    def test_a_created_url_reaches_the_steps_after_it(self):
        from deploy.planner import Later, LaterFormat, Step, origin_of
        aws = FakeAws(answers={'lambda create-function-url-config': {
            'FunctionUrl': 'http://127.0.0.1:4566/lambda-url/abc/'}})
        path = os.path.join(self.directory, 'cors.json')
        Executor(aws, echo=self.printed.append).run([
            Step(['lambda', 'create-function-url-config'], capture='url:f'),
            Step(['s3api', 'put-bucket-cors', f'file://{path}'], documents={path: {
                'AllowedOrigins': [LaterFormat('{}', Later('url:f', '?'), convert=origin_of)]}})])
        self.assertEqual(json.load(open(path)), {'AllowedOrigins': ['http://127.0.0.1:4566']},
                         "an origin is the page's scheme, host and port")


class DeployedReadTest(unittest.TestCase):
    def test_only_not_found_reads_as_absent(self):
        function, directory = function_from('image_list', FUNCTION_NAME='ListImage-dev')
        self.addCleanup(shutil.rmtree, directory)

        class Denied(FakeAws):
            def run(self, *argv, read=False, output='json'):
                if argv[:2] == ('iam', 'get-role'):
                    raise AwsError(list(argv), 'AccessDenied', 'An error occurred (AccessDenied)')
                if argv[:2] == ('lambda', 'get-function-configuration'):
                    raise AwsError(list(argv), 'ResourceNotFoundException', 'not found')
                return super().run(*argv)

            read = Aws.read
            exists = Aws.exists

        with self.assertRaises(AwsError) as raised:
            deployed_state.read(Denied(), function)
        self.assertEqual(raised.exception.code, 'AccessDenied')


class AwsTest(unittest.TestCase):
    def test_a_closed_local_port_is_named_at_once(self):
        with socket.socket() as probe:
            probe.bind(('127.0.0.1', 0))
            port = probe.getsockname()[1]
        aws = Aws(echo=lambda line: None, endpoint=f'http://127.0.0.1:{port}')
        started = time.monotonic()
        with self.assertRaisesRegex(Unreachable, f'nothing answers at http://127.0.0.1:{port}.*'
                                                 f'make up'):
            aws.run('lambda', 'create-function', '--function-name', 'f')
        self.assertLess(time.monotonic() - started, 3, 'one short attempt, not retries')

    def test_services_awscli_sends_to_aws_whatever_the_environment_get_the_endpoint(self):
        class Driver:
            ran = []

            def main(self, argv):
                self.ran.append(argv)
                return 0

        aws = Aws(echo=lambda line: None, endpoint='http://127.0.0.1:4566')
        aws._driver, aws._checked = Driver(), True
        aws.run('sqs', 'get-queue-url', '--queue-name', 'q')
        aws.run('lambda', 'list-functions')
        self.assertEqual(Driver.ran[0][-4:], ['--endpoint-url', 'http://127.0.0.1:4566',
                                             '--output', 'json'])
        self.assertNotIn('--endpoint-url', Driver.ran[1], 'AWS_ENDPOINT_URL applies there')

    def test_errors_keep_aws_code(self):
        error = AwsError(['s3api', 'head-bucket'], '404', 'Not Found')
        self.assertTrue(error.not_found)
        self.assertFalse(AwsError([], 'AccessDenied', '').not_found)


if __name__ == '__main__':
    unittest.main()
