"""EventBridge scheduled rules on the local endpoint: expressions checked as AWS checks them,
next-fire times, and the scheduler firing the event AWS sends to Lambda targets, on a clock the
tests turn by hand (no test waits a real minute)."""
import json
import tempfile
import threading
import unittest
from datetime import datetime, timedelta, timezone

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from moto.core import DEFAULT_ACCOUNT_ID
from moto.events.exceptions import ValidationException
from moto.events.models import events_backends
from werkzeug.test import Client

from local_endpoint import schedules
from local_endpoint.events import AsyncInvoker
from local_endpoint.schedules import InvalidSchedule, Scheduler, parse
from local_endpoint.server import Endpoint
from tests.unit.test_events import StandInLambdas, fails, wait_for

BASE_URL = 'http://127.0.0.1:4566'
REGION = 'us-east-1'
FUNCTION = f'arn:aws:lambda:{REGION}:{DEFAULT_ACCOUNT_ID}:function:sweeper'
RULE_ARN = f'arn:aws:events:{REGION}:{DEFAULT_ACCOUNT_ID}:rule/sweep'
# AWS-validated refusals and acceptances (aws-releases.md 4.2)
REFUSED = ['rate(10 seconds)', 'rate(10 years)', 'rate(1 minutes)', 'rate(1 hours)',
           'rate(1 days)', 'rate(10 minute)', 'rate(10 hour)', 'rate(10 day)', 'rate()',
           'rate(10)', 'rate(0 minutes)', 'rate(-10 minutes)', 'rate(10 MINUTES)',
           'rate( 10 minutes )', ' rate(10 minutes)', 'cron(0 1 * * * *)', 'cron(INVALID)',
           'cron(7 20 * * NOT *)', 'cron(71 8 1 * ? *)']
ACCEPTED = ['rate(1 minute)', 'rate(15 minutes)', 'rate(1 hour)', 'rate(2 days)',
            'cron(0 9 ? * MON-FRI *)', 'cron(0/15 * * * ? *)', 'cron(0 2 ? * SAT#3 *)',
            'cron(15 10 ? * 6L 2002-2005)']


def at(text):
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def backend():
    return events_backends[DEFAULT_ACCOUNT_ID][REGION]


def setUpModule():
    schedules.install()


class ExpressionTest(unittest.TestCase):
    def test_refuses_what_aws_refuses_and_accepts_what_it_accepts(self):
        for expression in REFUSED:
            with self.subTest(expression), self.assertRaises(InvalidSchedule):
                parse(expression)
        for expression in ACCEPTED:
            with self.subTest(expression):
                parse(expression)

    def test_put_rule_answers_aws_error_for_an_invalid_expression(self):
        backend().reset()
        for expression in REFUSED:
            with self.subTest(expression):
                with self.assertRaises(ValidationException) as caught:
                    backend().put_rule('sweep', scheduled_expression=expression)
                self.assertEqual(caught.exception.message,
                                 'Parameter ScheduleExpression is not valid.')
        self.assertEqual(backend().put_rule('sweep', scheduled_expression='rate(5 minutes)').arn,
                         RULE_ARN)


class NextFireTest(unittest.TestCase):
    def next_fires(self, expression, start, count=3):
        schedule, moments, now = parse(expression), [], at(start)
        due = schedule.first_due(now)
        for _ in range(count):
            if due is None:
                break
            moments.append(due.isoformat(timespec='minutes')[:16])
            due = schedule.next_due(due, due)
        return moments

    def test_cron_fields(self):
        cases = {
            ('cron(0 9 ? * MON-FRI *)', '2026-11-20T09:00:00'):  # Friday 09:00 is past
                ['2026-11-23T09:00', '2026-11-24T09:00', '2026-11-25T09:00'],
            ('cron(0/15 * * * ? *)', '2026-11-22T09:46:50'):
                ['2026-11-22T10:00', '2026-11-22T10:15', '2026-11-22T10:30'],
            ('cron(0 2 ? * SAT#3 *)', '2026-11-01T00:00:00'):
                ['2026-11-21T02:00', '2026-12-19T02:00', '2027-01-16T02:00'],
            ('cron(15 10 ? * 6L 2002-2005)', '2002-01-01T00:00:00'):  # last Fridays
                ['2002-01-25T10:15', '2002-02-22T10:15', '2002-03-29T10:15'],
            ('cron(15 10 ? * 6L 2002-2005)', '2026-01-01T00:00:00'): [],
            ('cron(0 0 L * ? *)', '2028-01-31T12:00:00'):
                ['2028-02-29T00:00', '2028-03-31T00:00', '2028-04-30T00:00'],
            ('cron(30 8 15W * ? *)', '2026-11-01T00:00:00'):  # 15 Nov is a Sunday
                ['2026-11-16T08:30', '2026-12-15T08:30', '2027-01-15T08:30'],
            ('cron(0 18 LW JAN,FEB ? 2026)', '2026-01-01T00:00:00'):  # 31 Jan is a Saturday
                ['2026-01-30T18:00', '2026-02-27T18:00'],
            ('cron(5,35 22-23 1 jan ? *)', '2026-06-01T00:00:00'):
                ['2027-01-01T22:05', '2027-01-01T22:35', '2027-01-01T23:05'],
        }
        for (expression, start), expected in cases.items():
            with self.subTest(expression, start=start):
                self.assertEqual(self.next_fires(expression, start), expected)

    def test_rate_counts_from_the_first_minute_seen(self):
        self.assertEqual(self.next_fires('rate(15 minutes)', '2026-11-22T09:46:50'),
                         ['2026-11-22T10:01', '2026-11-22T10:16', '2026-11-22T10:31'])
        self.assertEqual(self.next_fires('rate(1 day)', '2026-12-31T23:59:59', 2),
                         ['2027-01-01T23:59', '2027-01-02T23:59'])

    def test_missed_runs_are_skipped_not_caught_up(self):
        rate = parse('rate(5 minutes)')
        self.assertEqual(rate.next_due(at('2026-11-22T10:00'), at('2026-11-22T13:02:30')),
                         at('2026-11-22T13:05'))
        cron = parse('cron(0 * * * ? *)')
        self.assertEqual(cron.next_due(at('2026-11-22T10:00'), at('2026-11-22T13:02:30')),
                         at('2026-11-22T14:00'))

    def test_a_rate_past_year_9999_never_fires(self):
        self.assertIsNone(parse('rate(999999999 days)').first_due(at('2026-11-22T10:00')))


class SchedulerTest(unittest.TestCase):
    def setUp(self):
        backend().reset()
        self.submitted = []
        self.scheduler = Scheduler(lambda *args: self.submitted.append(args))

    def put_rule(self, expression='rate(1 minute)', targets=None, **options):
        backend().put_rule('sweep', scheduled_expression=expression, **options)
        backend().put_targets('sweep', None, targets or [{'Id': '1', 'Arn': FUNCTION}])

    def events(self):
        return [json.loads(payload) for *_, payload in self.submitted]

    def test_fires_the_scheduled_event_to_lambda_targets_with_a_new_id_each_time(self):
        self.put_rule(targets=[{'Id': '1', 'Arn': FUNCTION},
                               {'Id': 'q', 'Arn': f'arn:aws:sqs:{REGION}:{DEFAULT_ACCOUNT_ID}:q'}])
        self.scheduler.tick(at('2026-11-22T10:00:20'))
        self.assertEqual(self.submitted, [])  # a minute after the rule was first seen
        self.scheduler.tick(at('2026-11-22T10:01:00'))
        self.scheduler.tick(at('2026-11-22T10:01:30'))
        self.scheduler.tick(at('2026-11-22T10:02:01'))
        self.assertEqual([args[:3] for args in self.submitted],
                         [(DEFAULT_ACCOUNT_ID, REGION, FUNCTION)] * 2)
        first, second = self.events()
        self.assertEqual(first, {
            'version': '0', 'id': first['id'], 'detail-type': 'Scheduled Event',
            'source': 'aws.events', 'account': DEFAULT_ACCOUNT_ID,
            'time': '2026-11-22T10:01:00Z', 'region': REGION, 'resources': [RULE_ARN],
            'detail': {}})
        self.assertEqual(second['time'], '2026-11-22T10:02:00Z')
        self.assertNotEqual(first['id'], second['id'])

    def test_target_input_replaces_the_event(self):
        self.put_rule('cron(* * * * ? *)', [{'Id': '1', 'Arn': f'{FUNCTION}:live',
                                             'Input': '{"job": "cleanup"}'}])
        self.scheduler.tick(at('2026-11-22T10:00:10'))
        self.scheduler.tick(at('2026-11-22T10:01:00'))
        self.assertEqual(self.submitted, [(DEFAULT_ACCOUNT_ID, REGION, f'{FUNCTION}:live',
                                           b'{"job": "cleanup"}')])

    def test_disabled_or_deleted_rules_and_removed_targets_stop_firing(self):
        self.put_rule()
        self.scheduler.tick(at('2026-11-22T10:00:00'))
        backend().disable_rule('sweep', None)
        self.scheduler.tick(at('2026-11-22T10:05:00'))
        backend().enable_rule('sweep', None)
        self.scheduler.tick(at('2026-11-22T10:06:00'))  # enabled again: counts anew
        self.assertEqual(self.submitted, [])
        self.scheduler.tick(at('2026-11-22T10:07:00'))
        self.assertEqual(len(self.submitted), 1)
        backend().remove_targets('sweep', None, ['1'])
        self.scheduler.tick(at('2026-11-22T10:08:00'))
        self.assertEqual(len(self.submitted), 1)
        backend().put_targets('sweep', None, [{'Id': '1', 'Arn': FUNCTION}])
        self.scheduler.tick(at('2026-11-22T10:09:00'))
        self.assertEqual(len(self.submitted), 2)
        backend().remove_targets('sweep', None, ['1'])
        backend().delete_rule('sweep', None)
        self.scheduler.tick(at('2026-11-22T10:10:00'))
        self.assertEqual(len(self.submitted), 2)

    def test_a_rule_created_disabled_never_fires(self):
        self.put_rule(state='DISABLED')
        for minute in range(5):
            self.scheduler.tick(at(f'2026-11-22T10:0{minute}:00'))
        self.assertEqual(self.submitted, [])

    def test_no_burst_after_a_gap_or_a_restart(self):
        self.put_rule('rate(1 minute)')
        self.scheduler.tick(at('2026-11-22T10:00:00'))
        self.scheduler.tick(at('2026-11-22T13:00:30'))  # the machine slept three hours
        self.assertEqual(len(self.submitted), 1)
        restarted = Scheduler(lambda *args: self.submitted.append(args))
        restarted.tick(at('2026-11-22T15:00:30'))
        restarted.tick(at('2026-11-22T15:00:59'))
        self.assertEqual(len(self.submitted), 1)
        restarted.tick(at('2026-11-22T15:01:00'))
        self.assertEqual(len(self.submitted), 2)

    def test_loop_runs_on_the_clock_and_sleep_it_is_given(self):
        self.put_rule('rate(1 minute)')
        moments = iter([at('2026-11-22T10:00:00') + timedelta(seconds=20 * tick)
                        for tick in range(10)])
        finished = threading.Event()

        def sleep(seconds):  # one round per 20 "seconds"; stops after the last
            self.assertEqual(seconds, schedules.TICK_SECONDS)
            if len(self.submitted) == 3:
                finished.set()
                return True
            return False

        scheduler = Scheduler(lambda *args: self.submitted.append(args),
                              clock=lambda: next(moments), sleep=sleep)
        scheduler.start()
        self.assertTrue(finished.wait(5))
        self.assertEqual([event['time'] for event in self.events()],
                         ['2026-11-22T10:01:00Z', '2026-11-22T10:02:00Z',
                          '2026-11-22T10:03:00Z'])


class DeliveryTest(unittest.TestCase):
    """A scheduled event goes through the endpoint's async delivery: its retries apply."""

    def test_a_failing_target_is_retried(self):
        backend().reset()
        backend().put_rule('sweep', scheduled_expression='rate(1 minute)')
        backend().put_targets('sweep', None, [{'Id': '1', 'Arn': FUNCTION}])
        lambdas = StandInLambdas(**{FUNCTION: fails})
        invoker = AsyncInvoker(lambdas, tempfile.mkdtemp(), retry_delays=(0.01, 0.01))
        self.addCleanup(invoker.close)
        scheduler = Scheduler(invoker.submit)
        scheduler.tick(at('2026-11-22T10:00:00'))
        scheduler.tick(at('2026-11-22T10:01:00'))
        self.assertTrue(wait_for(lambda: len(lambdas.payloads[FUNCTION]) == 3))
        self.assertEqual(json.loads(lambdas.payloads[FUNCTION][0])['detail-type'],
                         'Scheduled Event')


class EndpointTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.endpoint = Endpoint('127.0.0.1', 4566, tempfile.mkdtemp())
        cls.client = Client(cls.endpoint)

    @classmethod
    def tearDownClass(cls):
        cls.endpoint.close()

    def setUp(self):
        backend().reset()

    def call(self, action, body):
        data = json.dumps(body).encode()
        request = AWSRequest(method='POST', url=BASE_URL + '/', data=data, headers={
            'X-Amz-Target': f'AWSEvents.{action}',
            'Content-Type': 'application/x-amz-json-1.1'})
        SigV4Auth(Credentials('test', 'test'), 'events', REGION).add_auth(request)
        return self.client.post('/', base_url=BASE_URL, data=data,
                                headers=dict(request.headers.items()))

    def test_put_rule_refuses_an_invalid_expression_as_aws_does(self):
        response = self.call('PutRule', {'Name': 'sweep', 'ScheduleExpression': 'rate(1 minutes)'})
        self.assertEqual(response.status_code, 400)
        self.assertEqual(json.loads(response.data), {
            '__type': 'ValidationException',
            'message': 'Parameter ScheduleExpression is not valid.'})
        response = self.call('PutRule', {'Name': 'sweep', 'ScheduleExpression': 'rate(1 minute)'})
        self.assertEqual((response.status_code, json.loads(response.data)),
                         (200, {'RuleArn': RULE_ARN}))

    def test_put_events_does_not_reach_a_scheduled_rule_with_a_lambda_target(self):
        self.call('PutRule', {'Name': 'sweep', 'ScheduleExpression': 'rate(1 minute)'})
        self.call('PutTargets', {'Rule': 'sweep', 'Targets': [{'Id': '1', 'Arn': FUNCTION}]})
        response = self.call('PutEvents', {'Entries': [{
            'Source': 'app', 'DetailType': 'thing', 'Detail': '{}'}]})
        self.assertEqual(response.status_code, 200)
        self.assertEqual(json.loads(response.data)['FailedEntryCount'], 0)

    def test_the_endpoint_fires_into_its_async_delivery(self):
        missing = FUNCTION.replace('sweeper', 'never-deployed')
        self.call('PutRule', {'Name': 'sweep', 'ScheduleExpression': 'cron(* * * * ? *)'})
        self.call('PutTargets', {'Rule': 'sweep', 'Targets': [{'Id': '1', 'Arn': missing}]})
        self.endpoint.schedules.tick(at('2026-11-22T10:00:30'))
        self.endpoint.schedules.tick(at('2026-11-22T10:01:00'))

        def recorded():
            try:
                with open(self.endpoint.events.failed_path) as records:
                    return [json.loads(line) for line in records]
            except FileNotFoundError:
                return []

        self.assertTrue(wait_for(recorded))
        [record] = recorded()
        self.assertEqual((record['function'], record['errorType'], record['event']['time']),
                         (missing, 'FunctionNotFound', '2026-11-22T10:01:00Z'))
