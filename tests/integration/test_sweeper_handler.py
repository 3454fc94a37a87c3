"""image_sweeper's handler against moto: what it re-drives, what it leaves, how much per run."""
import datetime
import json
import os
import time
import unittest
from types import SimpleNamespace
from unittest import mock
from urllib.parse import unquote_plus

from botocore.exceptions import ClientError
from moto.core.utils import utcnow

from tests.aws import REGION, MotoTestCase, captured_log_lines
from deploy import declaration
from deploy.functions import ROOT, load
from deploy.planner import Names, role_policy

sweeper = load('image_sweeper')
resizer = load('image_resize')

UPLOADS = 'upload-bucket'
RESIZED = 'resized-bucket'
ALIAS = 'ResizeImage-test:live'
CONTEXT = SimpleNamespace(
    invoked_function_arn=f'arn:aws:lambda:{REGION}:123456789012:function:SweepUploads-test:live',
    get_remaining_time_in_millis=lambda: 60_000)


class SweeperTest(MotoTestCase):
    function_env = {'UPLOAD_BUCKET': UPLOADS, 'RESIZED_BUCKET': RESIZED,
                    'RESIZE_FUNCTION': ALIAS, 'UPLOAD_PREFIX': 'uploads/'}
    handlers = (sweeper, resizer)

    def setUp(self):
        super().setUp()
        sweeper.lambda_client.cache_clear()
        self.make_bucket(UPLOADS)
        self.make_bucket(RESIZED)
        self.invocations = []
        patcher = mock.patch.object(sweeper.lambda_client(), 'invoke', side_effect=self.record)
        patcher.start()
        self.addCleanup(patcher.stop)

    def record(self, **request):
        self.invocations.append(request)
        return {'StatusCode': 202}

    def upload(self, key, age_seconds=3600, tags=None, bucket=UPLOADS):
        """An object as old as asked: moto stamps LastModified with its clock."""
        created = utcnow() - datetime.timedelta(seconds=age_seconds)
        with mock.patch('moto.s3.models.utcnow', return_value=created):
            self.s3.put_object(Bucket=bucket, Key=key, Body=b'image bytes',
                               **({'Tagging': tags} if tags else {}))

    def sweep(self):
        with captured_log_lines() as lines:
            summary = sweeper.handle_sweep({'resources': ['arn:aws:events:rule/sweep']}, CONTEXT)
        return summary, lines

    def redriven_keys(self):
        keys = []
        for invocation in self.invocations:
            [record] = json.loads(invocation['Payload'])['Records']
            keys.append(unquote_plus(record['s3']['object']['key']))
        return keys

    def test_an_old_pending_upload_is_redriven_with_the_event_s3_sends(self):
        self.upload('uploads/red flower+1.jpg')
        summary, lines = self.sweep()
        [invocation] = self.invocations
        self.assertEqual(invocation['FunctionName'], ALIAS)
        self.assertEqual(invocation['InvocationType'], 'Event')
        [record] = json.loads(invocation['Payload'])['Records']
        self.assertEqual(record['eventName'], 'ObjectCreated:Put')
        self.assertEqual(record['eventSource'], 'aws:s3')
        self.assertEqual(record['awsRegion'], REGION)
        self.assertRegex(record['eventTime'], r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$')
        self.assertEqual(record['s3']['bucket'], {'name': UPLOADS,
                                                  'arn': f'arn:aws:s3:::{UPLOADS}'})
        self.assertEqual(record['s3']['object']['key'], 'uploads/red+flower%2B1.jpg')
        self.assertEqual(record['s3']['object']['size'], len(b'image bytes'))
        self.assertRegex(record['s3']['object']['eTag'], r'^[0-9a-f]{32}$')
        self.assertEqual(summary['redriven'], 1)
        self.assertEqual(summary['stopped'], 'end')
        [line] = [line for line in lines if line['event'] == 'redriven']
        self.assertEqual(line['key'], 'uploads/red flower+1.jpg')
        [last] = [line for line in lines if line['event'] == 'swept']
        self.assertEqual(last['rule'], 'arn:aws:events:rule/sweep')

    def test_the_resize_function_reads_the_event_as_an_s3_notification(self):
        self.upload('uploads/café photo.jpg')
        self.sweep()
        [invocation] = self.invocations
        [record] = json.loads(invocation['Payload'])['Records']
        with mock.patch.object(resizer, 'resize_object', return_value='resized') as resize:
            resizer.handle_resize(json.loads(invocation['Payload']), None)
        [(bucket, key, version, _, _), _] = resize.call_args
        self.assertEqual((bucket, key, version), (UPLOADS, 'uploads/café photo.jpg', None))

    def test_a_young_upload_is_left_for_s3s_own_event(self):
        self.upload('uploads/young.jpg', age_seconds=60)
        self.upload('uploads/old.jpg', age_seconds=1000)
        summary, _ = self.sweep()
        self.assertEqual(self.redriven_keys(), ['uploads/old.jpg'])
        self.assertEqual((summary['young'], summary['redriven']), (1, 1))

    def test_the_threshold_is_settable(self):
        self.upload('uploads/a.jpg', age_seconds=200)
        self.set_env(SWEEP_AFTER_SECONDS=100)
        self.sweep()
        self.assertEqual(self.redriven_keys(), ['uploads/a.jpg'])

    def test_resized_and_tagged_uploads_are_left(self):
        self.upload('uploads/done.jpg')
        self.upload('uploads/done.jpg', bucket=RESIZED)
        self.upload('uploads/rejected.jpg', tags='resize-status=rejected&resize-reason=empty')
        self.upload('uploads/failed.jpg', tags='resize-status=failed')
        self.upload('uploads/pending.jpg')
        self.upload('elsewhere/pending.jpg')
        summary, _ = self.sweep()
        self.assertEqual(self.redriven_keys(), ['uploads/pending.jpg'])
        self.assertEqual((summary['resized'], summary['tagged'], summary['redriven']), (1, 2, 1))

    def test_an_attempt_under_way_is_left_to_finish(self):
        deadline = int(time.time()) + 30
        self.upload('uploads/busy.jpg',
                    tags=f'resize-attempt=1&resize-attempts=3&resize-deadline={deadline}')
        summary, _ = self.sweep()
        self.assertEqual(self.invocations, [])
        self.assertEqual(summary['in_progress'], 1)

    def test_an_upload_the_function_died_on_gets_one_more_round_then_is_left(self):
        past = int(time.time()) - 600
        self.upload('uploads/crashed.jpg',
                    tags=f'resize-attempt=3&resize-attempts=3&resize-deadline={past}')
        self.upload('uploads/crashed-again.jpg',
                    tags=f'resize-attempt=6&resize-attempts=3&resize-deadline={past}')
        self.upload('uploads/scribbled.jpg', tags='resize-attempt=lots&resize-attempts=3')
        summary, _ = self.sweep()
        self.assertEqual(sorted(self.redriven_keys()),
                         ['uploads/crashed.jpg', 'uploads/scribbled.jpg'])
        self.assertEqual(summary['exhausted'], 1)

    def test_the_limit_is_honoured_across_pages(self):
        for index in range(7):
            self.upload(f'uploads/{index}.jpg')
        self.set_env(SWEEP_LIMIT=5)
        pages = []
        paginate = sweeper.s3_client().get_paginator('list_objects_v2').paginate

        def small_pages(**request):  # a page of 2 keys, so the run crosses pages
            pages.append(request)
            return paginate(**request, PaginationConfig={'PageSize': 2})

        with mock.patch.object(sweeper.s3_client(), 'get_paginator') as paginator:
            paginator.return_value.paginate.side_effect = small_pages
            summary, lines = self.sweep()
        self.assertEqual(self.redriven_keys(), [f'uploads/{index}.jpg' for index in range(5)])
        self.assertEqual((summary['redriven'], summary['stopped']), (5, 'limit'))
        self.assertEqual(len([line for line in lines if line['event'] == 'redriven']), 5)

    def test_a_key_listed_twice_is_redriven_once(self):
        self.upload('uploads/twice.jpg')
        [item] = self.s3.list_objects_v2(Bucket=UPLOADS)['Contents']
        with mock.patch.object(sweeper, '_uploads', return_value=iter([item, item])):
            self.sweep()
        self.assertEqual(self.redriven_keys(), ['uploads/twice.jpg'])

    def test_the_run_stops_while_it_has_time_to_say_so(self):
        for index in range(3):
            self.upload(f'uploads/{index}.jpg')
        clock = iter([60_000, 60_000, 1_000])
        context = SimpleNamespace(invoked_function_arn=CONTEXT.invoked_function_arn,
                                  get_remaining_time_in_millis=lambda: next(clock))
        with captured_log_lines():
            summary = sweeper.handle_sweep({}, context)
        self.assertEqual((summary['redriven'], summary['stopped']), (2, 'time'))

    def test_a_failed_invoke_is_logged_the_others_still_go_and_the_run_fails(self):
        self.upload('uploads/a.jpg')
        self.upload('uploads/b.jpg')
        refusal = ClientError({'Error': {'Code': 'TooManyRequestsException',
                                         'Message': 'Rate exceeded'}}, 'Invoke')
        outcomes = [refusal, {'StatusCode': 202}]

        def flaky(**request):
            outcome = outcomes.pop(0)
            if isinstance(outcome, Exception):
                raise outcome
            return self.record(**request)

        sweeper.lambda_client().invoke.side_effect = flaky
        with captured_log_lines() as lines, self.assertRaises(sweeper.SweepFailed):
            sweeper.handle_sweep({}, CONTEXT)
        self.assertEqual(self.redriven_keys(), ['uploads/b.jpg'])
        [failure] = [line for line in lines if line['event'] == 'sweep-failed']
        self.assertEqual((failure['key'], failure['error']), ('uploads/a.jpg',
                                                              'TooManyRequestsException'))
        [summary] = [line for line in lines if line['event'] == 'swept']
        self.assertEqual((summary['errors'], summary['redriven']), (1, 1))

    def test_settings_are_checked(self):
        for name, value in (('SWEEP_LIMIT', '0'), ('SWEEP_LIMIT', 'many'),
                            ('SWEEP_AFTER_SECONDS', '-5'), ('RESIZE_FUNCTION', ' ')):
            with self.subTest(name=name, value=value):
                self.set_env(**{name: value})
                with self.assertRaises(sweeper.ConfigurationError):
                    sweeper.handle_sweep({}, CONTEXT)
                self.set_env(**{name: self.function_env.get(name, '')})


class SweeperPolicyTest(unittest.TestCase):
    """The role the deploy writes from function.json: what the sweep calls, nothing more (the
    deploy adds its log group and failure queue to every function)."""

    def test_the_role_grants_exactly_what_the_sweep_calls(self):
        folder = os.path.join(ROOT, 'image_sweeper')
        settings = declaration.read_settings(folder)
        settings.update(ACCOUNT_ID='123456789012', REGION='eu-west-1', PARTITION='aws',
                        APP='app', STAGE='dev', UPLOAD_PREFIX='uploads/',
                        UPLOAD_BUCKET='up-${REGION}', RESIZED_BUCKET='down-${REGION}',
                        RESIZE_FUNCTION='ResizeImage-dev:live')
        function = declaration.load(folder, settings, declaration.Account(None, settings))
        policy = role_policy(function, Names('123456789012', 'eu-west-1', 'aws'))
        declared = {permission['sid'] for permission in function.permissions}
        granted = {(action, resource) for statement in policy['Statement']
                   if statement['Sid'] in declared
                   for action in statement['Action'] for resource in statement['Resource']}
        self.assertEqual(granted, {
            ('s3:ListBucket', 'arn:aws:s3:::up-eu-west-1'),
            ('s3:ListBucket', 'arn:aws:s3:::down-eu-west-1'),
            ('s3:GetObjectTagging', 'arn:aws:s3:::up-eu-west-1/uploads/*'),
            ('s3:GetObject', 'arn:aws:s3:::down-eu-west-1/uploads/*'),
            ('lambda:InvokeFunction',
             'arn:aws:lambda:eu-west-1:123456789012:function:ResizeImage-dev:live')})
        self.assertEqual(function.triggers, [{'type': 'schedule',
                                              'expression': 'rate(15 minutes)'}])
        self.assertEqual(function.environment, {
            'UPLOAD_BUCKET': 'up-eu-west-1', 'RESIZED_BUCKET': 'down-eu-west-1',
            'UPLOAD_PREFIX': 'uploads/', 'RESIZE_FUNCTION': 'ResizeImage-dev:live'})
