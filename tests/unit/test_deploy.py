"""The deploy helpers on their own: zipper, update planner, IAM and bucket documents."""
import json
import os
import shutil
import stat
import tempfile
import unittest
import zipfile
from types import SimpleNamespace
from unittest import mock

from deploy import documents, plan, zipper


class ZipperTest(unittest.TestCase):
    def setUp(self):
        self.directory = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.directory)
        self.source = os.path.join(self.directory, 'function')
        self.deps = os.path.join(self.directory, 'function', '.build', 'site-packages')
        for name, text in {'handler.py': 'x = 1\n', 'page.html': '<p>\n', 'Makefile': 'all:\n',
                           'requirements.txt': 'a\n', 'events/e.json': '{}',
                           '__pycache__/handler.cpython-311.pyc': 'cache',
                           'tests/test_x.py': '', '.hidden': '', 'old.zip': 'zip',
                           '.build/site-packages/lib/__init__.py': 'y = 2\n',
                           '.build/site-packages/lib-1.0.dist-info/METADATA': 'Name: lib\n',
                           '.build/site-packages/boto3/__init__.py': '',
                           '.build/site-packages/botocore/__init__.py': '',
                           '.build/site-packages/s3transfer/__init__.py': '',
                           '.build/site-packages/boto3-1.0.dist-info/METADATA': '',
                           '.build/site-packages/bin/tool': '#!/bin/sh\n'}.items():
            path = os.path.join(self.source, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, 'w') as handle:
                handle.write(text)
        os.chmod(os.path.join(self.source, 'handler.py'), 0o600)

    def build(self, output='out.zip'):
        path = os.path.join(self.directory, output)
        zipper.build(path, self.source, self.deps, ['Makefile', 'requirements.txt', 'events'])
        return path

    def test_contents_code_at_the_root_plus_dependencies(self):
        with zipfile.ZipFile(self.build()) as archive:
            self.assertEqual(archive.namelist(), ['handler.py', 'lib-1.0.dist-info/METADATA',
                                                  'lib/__init__.py', 'page.html'])

    def test_same_inputs_same_bytes_whatever_the_file_times(self):
        first = open(self.build('a.zip'), 'rb').read()
        os.utime(os.path.join(self.source, 'handler.py'), (1e9, 1e9))
        second = open(self.build('b.zip'), 'rb').read()
        self.assertEqual(first, second)

    def test_timestamps_and_permissions_are_normalised(self):
        with zipfile.ZipFile(self.build()) as archive:
            for info in archive.infolist():
                self.assertEqual(info.date_time, zipper.FIXED_TIME)
                self.assertEqual(stat.S_IMODE(info.external_attr >> 16), 0o644, info.filename)

    def test_sha256_is_what_lambda_reports(self):
        path = self.build()
        import base64
        import hashlib
        expected = base64.b64encode(hashlib.sha256(open(path, 'rb').read()).digest()).decode()
        self.assertEqual(zipper.code_sha256(path), expected)

    def test_limits_name_themselves_and_leave_no_zip(self):
        path = os.path.join(self.directory, 'big.zip')
        with mock.patch.object(zipper, 'UNZIPPED_LIMIT', 10):
            with self.assertRaises(zipper.PackageTooLarge) as caught:
                zipper.build(path, self.source, self.deps)
        self.assertIn('250 MB', str(caught.exception))
        with mock.patch.object(zipper, 'DIRECT_UPLOAD_LIMIT', 10):
            with self.assertRaises(zipper.PackageTooLarge) as caught:
                zipper.build(path, self.source, self.deps)
        self.assertIn('50 MB', str(caught.exception))
        self.assertIn('--zip-file', str(caught.exception))
        self.assertEqual([name for name in os.listdir(self.directory) if 'zip' in name], [])


DEPLOYED = {'FunctionName': 'F', 'Runtime': 'python3.12', 'Handler': 'handler.h', 'Timeout': 30,
            'MemorySize': 256, 'Role': 'arn:aws:iam::1:role/r', 'Architectures': ['x86_64'],
            'Environment': {'Variables': {'A': '1'}}, 'Layers': [{'Arn': 'arn:layer:1'}]}


class PlanTest(unittest.TestCase):
    def setUp(self):
        handle, self.zip = tempfile.mkstemp(suffix='.zip')
        os.write(handle, b'zip bytes')
        os.close(handle)
        self.addCleanup(os.unlink, self.zip)
        self.deployed = dict(DEPLOYED, CodeSha256=zipper.code_sha256(self.zip))
        self.desired = plan.deployed_configuration(self.deployed)

    def test_nothing_to_do(self):
        self.assertEqual(plan.changes(self.deployed, self.zip, 'x86_64', self.desired), ([], []))

    def test_code_change(self):
        deployed = dict(self.deployed, CodeSha256='other')
        actions, reasons = plan.changes(deployed, self.zip, 'x86_64', self.desired)
        self.assertEqual(actions, ['code'])

    def test_architecture_change_needs_the_code_call(self):
        actions, reasons = plan.changes(self.deployed, self.zip, 'arm64', self.desired)
        self.assertEqual(actions, ['code'])
        self.assertIn('x86_64 -> arm64', reasons[0])

    def test_configuration_changes_never_print_values(self):
        desired = dict(self.desired, Timeout=60, Environment={'A': 'secret', 'B': '2'}, Layers=[])
        actions, reasons = plan.changes(self.deployed, self.zip, 'x86_64', desired)
        self.assertEqual(actions, ['configuration'])
        self.assertIn('Timeout: 30 -> 60', reasons)
        self.assertIn('environment: A, B changed', reasons)
        self.assertNotIn('secret', ' '.join(reasons))

    def test_environment_leaves_unset_values_to_the_code(self):
        self.assertEqual(plan.environment(['A=1', 'B=', 'C=x=y']),
                         {'Variables': {'A': '1', 'C': 'x=y'}})
        with self.assertRaises(ValueError):
            plan.environment(['nonsense'])


NAMES = SimpleNamespace(upload_bucket='up', resized_bucket='res', upload_prefix='uploads/',
                        partition='aws', region='eu-west-1', account='123456789012',
                        function='ResizeImage', function_arn='arn:aws:lambda:f',
                        origin='https://x.lambda-url.eu-west-1.on.aws/', rejected_days=7)


class DocumentsTest(unittest.TestCase):
    def actions(self, policy):
        return {action for statement in policy['Statement']
                for action in ([statement['Action']] if isinstance(statement['Action'], str)
                               else statement['Action'])}

    def resources(self, policy):
        return {resource for statement in policy['Statement']
                for resource in ([statement['Resource']] if isinstance(statement['Resource'], str)
                                 else statement['Resource'])}

    def test_policies_are_least_privilege(self):
        for policy in (documents.resize_policy(NAMES), documents.list_policy(NAMES)):
            self.assertFalse([action for action in self.actions(policy) if '*' in action])
            self.assertNotIn('*', self.resources(policy))
            self.assertFalse([resource for resource in self.resources(policy)
                              if resource.endswith(':::up/*') or resource.endswith(':::res/*')],
                             'object grants stay under the upload prefix')

    def test_resize_policy(self):
        policy = documents.resize_policy(NAMES)
        self.assertTrue({'s3:GetObject', 's3:DeleteObject', 's3:PutObjectTagging',
                         's3:PutObject', 'logs:PutLogEvents'} <= self.actions(policy))
        [write] = [s for s in policy['Statement'] if s['Sid'] == 'WriteResized']
        self.assertEqual(write['Resource'], 'arn:aws:s3:::res/uploads/*')
        self.assertIn('arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/ResizeImage:*',
                      self.resources(policy))

    def test_list_policy_cannot_delete_or_write_resized(self):
        policy = documents.list_policy(NAMES)
        self.assertFalse({'s3:DeleteObject', 's3:PutObjectTagging'} & self.actions(policy))
        [sign] = [s for s in policy['Statement'] if 's3:PutObject' in s['Action']]
        self.assertEqual(sign['Resource'], 'arn:aws:s3:::up/uploads/*')

    def test_notification_filters_the_upload_prefix(self):
        [configuration] = documents.notification(NAMES)['LambdaFunctionConfigurations']
        self.assertEqual(configuration['Events'], ['s3:ObjectCreated:*'])
        self.assertEqual(configuration['Filter']['Key']['FilterRules'],
                         [{'Name': 'prefix', 'Value': 'uploads/'}])

    def test_cors_allows_posts_from_the_gallery_origin_only(self):
        [rule] = documents.cors(NAMES)['CORSRules']
        self.assertEqual(rule['AllowedOrigins'], ['https://x.lambda-url.eu-west-1.on.aws'])
        self.assertEqual(rule['AllowedMethods'], ['POST'])

    def test_lifecycle_expires_rejected_uploads(self):
        rule = documents.lifecycle(NAMES)['Rules'][0]
        self.assertEqual(rule['Filter'], {'Tag': {'Key': 'resize-status', 'Value': 'rejected'}})
        self.assertEqual(rule['Expiration'], {'Days': 7})

    def test_documents_are_valid_json_from_the_command_line(self):
        with mock.patch('sys.stdout') as stdout:
            documents.main(['trust-policy'])
        printed = ''.join(call.args[0] for call in stdout.write.call_args_list)
        self.assertEqual(json.loads(printed)['Statement'][0]['Principal'],
                         {'Service': 'lambda.amazonaws.com'})
