"""make infra / create / update / upload / destroy: the real awscli against a moto server.

The server runs on 127.0.0.1 for this module; AWS_ENDPOINT_URL points awscli and boto3 at it
and the credentials are dummies, so nothing here can reach AWS.
"""
import json
import logging
import os
import socket
import urllib.parse
import urllib.request

import boto3
from moto.server import ThreadedMotoServer

from deploy.zipper import code_sha256
from tests import images
from tests.workspace import ProjectCopyTestCase, make

REGION = 'us-east-1'
ACCOUNT = '123456789012'  # moto's
APP = 'test-images'
UPLOAD_BUCKET = f'{APP}-dev-uploads-{ACCOUNT}-{REGION}'
RESIZED_BUCKET = f'{APP}-dev-resized-{ACCOUNT}-{REGION}'
SERVER = {}


def setUpModule():
    logging.getLogger('werkzeug').setLevel(logging.WARNING)  # one line per request otherwise
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address='127.0.0.1', port=port, verbose=False)
    server.start()
    SERVER.update(server=server, endpoint=f'http://127.0.0.1:{port}')


def tearDownModule():
    SERVER['server'].stop()


def policy_actions(document):
    return {action for statement in document['Statement'] for action in (
        [statement['Action']] if isinstance(statement['Action'], str) else statement['Action'])}


def make_environment():
    environment = {name: value for name, value in os.environ.items()
                   if not name.startswith('AWS_')}
    environment.update({
        'AWS_ENDPOINT_URL': SERVER['endpoint'], 'AWS_ACCESS_KEY_ID': 'testing',
        'AWS_SECRET_ACCESS_KEY': 'testing', 'AWS_DEFAULT_REGION': REGION,
        'AWS_CONFIG_FILE': os.devnull, 'AWS_SHARED_CREDENTIALS_FILE': os.devnull, 'APP': APP})
    return environment


class AgainstMotoServer(ProjectCopyTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        request = urllib.request.Request(f'{SERVER["endpoint"]}/moto-api/reset', method='POST')
        urllib.request.urlopen(request).close()
        cls.environment = make_environment()

    @classmethod
    def make(cls, *arguments, directory='', check=True):
        return make(os.path.join(cls.root, directory), *arguments, env=cls.environment,
                    check=check)

    @staticmethod
    def client(service):
        return boto3.client(service, endpoint_url=SERVER['endpoint'], region_name=REGION,
                            aws_access_key_id='testing', aws_secret_access_key='testing')


class DeployedServiceTest(AgainstMotoServer):
    """One `make infra create`, then checks of what it left; each check reads, none depends
    on another."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.created = cls.make('infra', 'create')

    def configuration(self, function):
        return self.client('lambda').get_function_configuration(FunctionName=function)

    def test_functions_have_the_configured_runtime_role_handler_and_environment(self):
        resize = self.configuration('ResizeImage-dev')
        self.assertEqual((resize['Runtime'], resize['Handler'], resize['Architectures']),
                         ('python3.12', 'handler.handle_resize', ['x86_64']))
        self.assertEqual(resize['Role'], f'arn:aws:iam::{ACCOUNT}:role/{APP}-ResizeImage-dev')
        self.assertEqual((resize['Timeout'], resize['MemorySize']), (60, 1024))
        self.assertEqual(resize['Environment']['Variables'], {
            'RESIZED_BUCKET': RESIZED_BUCKET, 'WAND_MAGICK_LIBRARY_SUFFIX': '-6.Q16'})
        gallery = self.configuration('ListImage-dev')
        self.assertEqual(gallery['Handler'], 'handler.handle_list_image')
        self.assertEqual(gallery['Role'], f'arn:aws:iam::{ACCOUNT}:role/{APP}-ListImage-dev')
        self.assertEqual(gallery['Environment']['Variables'], {
            'UPLOAD_BUCKET': UPLOAD_BUCKET, 'RESIZED_BUCKET': RESIZED_BUCKET,
            'UPLOAD_PREFIX': 'uploads/', 'UPLOAD_BUCKET_REGION': REGION})
        self.assertIn('ResizeImage-dev: active', self.created.stdout)

    def test_each_function_has_its_own_least_privilege_role(self):
        iam = self.client('iam')
        for role, must, never in (
                (f'{APP}-ResizeImage-dev', {'s3:GetObject', 's3:DeleteObject', 's3:PutObjectTagging',
                                        's3:PutObject'}, set()),
                (f'{APP}-ListImage-dev', {'s3:ListBucket', 's3:PutObject', 's3:GetObjectTagging'},
                 {'s3:DeleteObject', 's3:PutObjectTagging'})):
            with self.subTest(role):
                trust = iam.get_role(RoleName=role)['Role']['AssumeRolePolicyDocument']
                self.assertEqual(trust['Statement'][0]['Principal'],
                                 {'Service': 'lambda.amazonaws.com'})
                self.assertEqual(iam.list_attached_role_policies(RoleName=role)
                                 ['AttachedPolicies'], [], 'no AmazonS3FullAccess')
                document = iam.get_role_policy(RoleName=role, PolicyName=role)['PolicyDocument']
                actions = policy_actions(document)
                self.assertTrue(must <= actions, must - actions)
                self.assertFalse(never & actions)
                self.assertNotIn('s3:*', actions)

    def test_uploads_trigger_the_resize_function(self):
        notification = self.client('s3').get_bucket_notification_configuration(
            Bucket=UPLOAD_BUCKET)
        [configuration] = notification['LambdaFunctionConfigurations']
        self.assertEqual(configuration['LambdaFunctionArn'],
                         f'arn:aws:lambda:{REGION}:{ACCOUNT}:function:ResizeImage-dev:live',
                         'the trigger invokes the alias, which each deploy moves')
        self.assertEqual(configuration['Events'], ['s3:ObjectCreated:*'])
        self.assertEqual(configuration['Filter']['Key']['FilterRules'],
                         [{'Name': 'prefix', 'Value': 'uploads/'}])
        policy = json.loads(self.client('lambda').get_policy(
            FunctionName='ResizeImage-dev', Qualifier='live')['Policy'])
        [statement] = policy['Statement']
        self.assertTrue(statement['Resource'].endswith(':function:ResizeImage-dev:live'))
        self.assertEqual(statement['Principal'], {'Service': 's3.amazonaws.com'})
        self.assertEqual(statement['Condition']['ArnLike']['AWS:SourceArn'],
                         f'arn:aws:s3:::{UPLOAD_BUCKET}')
        self.assertEqual(statement['Condition']['StringEquals']['AWS:SourceAccount'], ACCOUNT)

    def test_the_gallery_has_a_public_url_and_may_post_uploads(self):
        url = self.client('lambda').get_function_url_config(FunctionName='ListImage-dev')
        self.assertEqual(url['AuthType'], 'NONE')
        self.assertIn(url['FunctionUrl'], self.created.stdout)
        self.assertEqual(self.make('url').stdout.strip(), url['FunctionUrl'])
        policy = json.loads(self.client('lambda').get_policy(FunctionName='ListImage-dev')['Policy'])
        self.assertEqual(sorted(statement['Action'] for statement in policy['Statement']),
                         ['lambda:InvokeFunction', 'lambda:InvokeFunctionUrl'])
        [rule] = self.client('s3').get_bucket_cors(Bucket=UPLOAD_BUCKET)['CORSRules']
        origin = urllib.parse.urlsplit(url['FunctionUrl'])
        self.assertEqual(rule['AllowedOrigins'], [f'{origin.scheme}://{origin.netloc}'])
        self.assertEqual(rule['AllowedMethods'], ['POST'])

    def test_buckets_are_private_and_refused_uploads_expire(self):
        s3 = self.client('s3')
        for bucket in (UPLOAD_BUCKET, RESIZED_BUCKET):
            block = s3.get_public_access_block(Bucket=bucket)['PublicAccessBlockConfiguration']
            self.assertTrue(all(block.values()), bucket)
        rules = s3.get_bucket_lifecycle_configuration(Bucket=UPLOAD_BUCKET)['Rules']
        expire = [rule for rule in rules if rule['ID'] == 'expire-rejected-uploads'][0]
        self.assertEqual(expire['Expiration'], {'Days': 30})

    def test_infra_is_safe_to_run_again(self):
        result = self.make('infra')
        self.assertIn(f'{UPLOAD_BUCKET} exists', result.stdout)
        self.assertIn(f'{APP}-ResizeImage-dev exists', result.stdout)
        self.test_uploads_trigger_the_resize_function()
        self.test_the_gallery_has_a_public_url_and_may_post_uploads()

    def test_update_publishes_only_changed_code(self):
        versions = lambda: [version['Version'] for version in self.client('lambda')
                            .list_versions_by_function(FunctionName='ListImage-dev')['Versions']]
        before = versions()
        result = self.make('update', directory='image_list')
        self.assertIn('ListImage-dev: code unchanged', result.stdout)
        self.assertIn('ListImage-dev: configuration unchanged', result.stdout)
        self.assertEqual(versions(), before)

        handler = self.path('image_list', 'handler.py')
        original = open(handler).read()
        self.addCleanup(lambda: open(handler, 'w').write(original))
        with open(handler, 'a') as source:
            source.write('\n# a code change\n')
        result = self.make('update', directory='image_list')
        self.assertIn('ListImage-dev: publishing new code', result.stdout)
        self.assertEqual(len(versions()), len(before) + 1)
        self.assertEqual(self.configuration('ListImage-dev')['CodeSha256'],
                         code_sha256(self.path('image_list', 'image_list.zip')))

    def test_a_configuration_change_is_applied(self):
        result = self.make('update', 'PAGE_SIZE=20', directory='image_list')
        self.assertIn('environment: PAGE_SIZE added', result.stdout)
        self.assertEqual(self.configuration('ListImage-dev')['Environment']['Variables']['PAGE_SIZE'],
                         '20')
        self.make('update', directory='image_list')  # and back
        self.assertNotIn('PAGE_SIZE', self.configuration('ListImage-dev')['Environment']['Variables'])

    def test_upload_with_curl_through_the_presigned_post(self):
        photo = self.path('photo.jpg')
        with open(photo, 'wb') as handle:
            handle.write(images.jpeg(800, 600))
        result = self.make('upload', f'FILE={photo}', 'UPLOAD_WAIT=0')
        self.assertIn('curl --silent --show-error --fail-with-body -F key=uploads/', result.stdout)
        keys = [item['Key'] for item in self.client('s3').list_objects_v2(
            Bucket=UPLOAD_BUCKET).get('Contents', [])]
        self.assertTrue([key for key in keys if key.startswith('uploads/') and key in result.stdout])

    def test_missing_functions_are_named(self):
        for target in ('update', 'invoke'):
            with self.subTest(target):
                result = self.make(target, 'FUNCTION_NAME=NoSuchFunction', directory='image_list',
                                   check=False)
                self.assertNotEqual(result.returncode, 0)
                self.assertIn('function NoSuchFunction does not exist in us-east-1: run make '
                              'deploy (or make create) first', result.stderr)
        result = self.make('create', directory='image_list', check=False)
        self.assertIn('ListImage-dev already exists', result.stderr)


class ReleaseTest(AgainstMotoServer):
    """Versions and the live alias: what make update, versions, rollback, CANARY and promote
    leave, read back through the API."""

    def setUp(self):
        request = urllib.request.Request(f'{SERVER["endpoint"]}/moto-api/reset', method='POST')
        urllib.request.urlopen(request).close()

    def alias(self):
        return self.client('lambda').get_alias(FunctionName='ListImage-dev', Name='live')

    def edit(self, marker):
        handler = self.path('image_list', 'handler.py')
        with open(handler, 'a') as source:
            source.write(f'\n# {marker}\n')

    def test_each_deploy_moves_live_and_rollback_moves_it_back_without_a_build(self):
        self.make('deploy', 'FUNCTIONS=image_list')
        url = self.client('lambda').get_function_url_config(
            FunctionName='ListImage-dev', Qualifier='live')['FunctionUrl']
        self.assertEqual(self.alias()['FunctionVersion'], '1')
        for number in (2, 3, 4):
            self.edit(f'release {number}')
            result = self.make('update', directory='image_list')
            self.assertIn('ListImage-dev:live -> the new version', result.stdout)
            self.assertEqual(self.alias()['FunctionVersion'], str(number))
        self.assertEqual(self.client('lambda').get_function_url_config(
            FunctionName='ListImage-dev', Qualifier='live')['FunctionUrl'], url,
            'the URL belongs to the alias: it stays across deploys')

        listed = self.make('versions', directory='image_list').stdout
        self.assertRegex(listed, r'\n\s+4\s+\S+\s+\S+\s+live\n')
        zip_path = self.path('image_list', 'image_list.zip')
        built = os.path.getmtime(zip_path)
        result = self.make('rollback', directory='image_list')
        self.assertIn('ListImage-dev:live -> version 3 (was 4)', result.stdout)
        self.assertEqual(len([line for line in result.stdout.splitlines()
                              if line.startswith('aws lambda update-alias')]), 1)
        self.assertEqual(os.path.getmtime(zip_path), built, 'no rebuild')
        self.assertEqual(self.alias()['FunctionVersion'], '3')
        self.make('rollback', 'TO=1', directory='image_list')
        self.assertEqual(self.alias()['FunctionVersion'], '1')
        everything = self.make('rollback', check=False)
        self.assertNotEqual(everything.returncode, 0)
        self.assertIn('a rollback is per function: make -C FOLDER rollback', everything.stderr)

    def test_a_canary_is_promoted_and_old_versions_pruned(self):
        self.make('deploy', 'FUNCTIONS=image_list')
        for number in (2, 3):
            self.edit(f'release {number}')
            self.make('update', directory='image_list')
        self.edit('canary')
        result = self.make('update', 'CANARY=20', directory='image_list')
        self.assertIn('the new version gets 20 % of invocations, version 3 the rest',
                      result.stdout)
        alias = self.alias()
        self.assertEqual((alias['FunctionVersion'], alias['RoutingConfig']),
                         ('3', {'AdditionalVersionWeights': {'4': 0.2}}))
        self.assertIn('live (80%)', self.make('versions', directory='image_list').stdout)
        self.make('promote', directory='image_list')
        alias = self.alias()
        self.assertEqual(alias['FunctionVersion'], '4')
        self.assertFalse((alias.get('RoutingConfig') or {}).get('AdditionalVersionWeights'))

        self.edit('pruned')  # (moto reuses deleted version numbers: this is the last publish)
        self.make('update', 'KEEP_VERSIONS=3', directory='image_list')
        versions = [version['Version'] for version in self.client('lambda')
                    .list_versions_by_function(FunctionName='ListImage-dev')['Versions']]
        self.assertEqual(versions, ['$LATEST', '3', '4', '5'], 'KEEP_VERSIONS=3')


class ImageMagickLayerTest(AgainstMotoServer):
    def publish_layer(self, name=f'{APP}-imagemagick'):
        return self.client('lambda').publish_layer_version(
            LayerName=name, Content={'ZipFile': b'PK\x05\x06' + b'\x00' * 18},
            CompatibleRuntimes=['python3.12'], CompatibleArchitectures=['x86_64'])[
            'LayerVersionArn']

    def test_create_stops_without_a_layer_and_attaches_the_newest_published(self):
        self.make('infra')
        # LAYER_REQUIRED=yes: as against real AWS (locally, the host's ImageMagick serves)
        refused = self.make('create', 'LAYER_REQUIRED=yes', directory='image_resize',
                            check=False)
        self.assertNotEqual(refused.returncode, 0)
        self.assertIn('ResizeImage-dev needs ImageMagick', refused.stderr)
        self.assertIn('Run make layer-publish', refused.stderr)
        with self.assertRaises(self.client('lambda').exceptions.ResourceNotFoundException):
            self.client('lambda').get_function(FunctionName='ResizeImage-dev')

        self.publish_layer()
        newest = self.publish_layer()
        self.make('create', 'LAYER_REQUIRED=yes', directory='image_resize')
        configuration = self.client('lambda').get_function_configuration(
            FunctionName='ResizeImage-dev')
        self.assertEqual([item['Arn'] for item in configuration['Layers']], [newest])
        self.assertEqual(configuration['Environment']['Variables'], dict(
            configuration['Environment']['Variables'], MAGICK_HOME='/opt',
            MAGICK_CONFIGURE_PATH='/opt/etc/imagemagick',
            MAGICK_CODER_MODULE_PATH='/opt/lib/imagemagick/coders'))

        other = self.publish_layer('someone-elses-imagemagick')
        self.make('update', f'IMAGEMAGICK_LAYER_ARN={other}', directory='image_resize')
        configuration = self.client('lambda').get_function_configuration(
            FunctionName='ResizeImage-dev')
        self.assertEqual([item['Arn'] for item in configuration['Layers']], [other])


class DestroyTest(AgainstMotoServer):
    def test_destroy_leaves_nothing_behind(self):
        self.make('infra', 'create')
        self.client('s3').put_object(Bucket=RESIZED_BUCKET, Key='uploads/x', Body=b'x')
        functions = len([name for name in os.listdir(self.root)
                         if os.path.isfile(self.path(name, 'function.json'))])
        self.assertEqual(len(self.client('logs').describe_log_groups()['logGroups']), functions,
                         'make infra made each function its log group')
        self.assertTrue(self.client('sqs').list_queues().get('QueueUrls'), 'failure queues')

        refused = self.make('destroy', check=False)  # no answer on stdin: nothing deleted
        self.assertNotEqual(refused.returncode, 0)
        self.assertIn('nothing deleted', refused.stdout)
        self.assertEqual(len(self.client('lambda').list_functions()['Functions']), functions)

        self.make('destroy', 'FORCE=1')
        self.assertEqual(self.client('lambda').list_functions()['Functions'], [])
        self.assertEqual(self.client('s3').list_buckets()['Buckets'], [])
        self.assertEqual([role['RoleName'] for role in self.client('iam').list_roles()['Roles']
                          if role['RoleName'].startswith(APP)], [])
        self.assertEqual(self.client('logs').describe_log_groups()['logGroups'], [])
        self.assertFalse(self.client('sqs').list_queues().get('QueueUrls'))
        self.assertEqual(self.client('events').list_rules()['Rules'], [])


class StageTest(AgainstMotoServer):
    def test_a_second_stage_lives_beside_the_first_with_its_own_config(self):
        with open(self.path('config-prod.mk'), 'w') as handle:
            handle.write('LOG_RETENTION_DAYS = 90\n')
        self.make('deploy', 'FUNCTIONS=image_list')
        self.make('deploy', 'FUNCTIONS=image_list', 'STAGE=prod')
        lambdas, logs = self.client('lambda'), self.client('logs')
        for stage, days in (('dev', 30), ('prod', 90)):
            with self.subTest(stage):
                configuration = lambdas.get_function_configuration(
                    FunctionName=f'ListImage-{stage}')
                self.assertEqual(configuration['Role'],
                                 f'arn:aws:iam::{ACCOUNT}:role/{APP}-ListImage-{stage}')
                self.assertEqual(configuration['Environment']['Variables']['UPLOAD_BUCKET'],
                                 f'{APP}-{stage}-uploads-{ACCOUNT}-{REGION}')
                [group] = logs.describe_log_groups(
                    logGroupNamePrefix=f'/aws/lambda/ListImage-{stage}')['logGroups']
                self.assertEqual(group['retentionInDays'], days)
                self.assertTrue(lambdas.get_function_url_config(
                    FunctionName=f'ListImage-{stage}')['FunctionUrl'])
