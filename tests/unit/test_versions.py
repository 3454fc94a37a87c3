"""Versions and aliases on the local endpoint, in-process: a published version runs its own
code, an alias routes by its weights, and the function, its START line and Invoke's answer say
which version ran, as on AWS (aws-releases.md 1.3)."""
import base64
import io
import json
import time
import unittest
import urllib.parse
import uuid
import zipfile
from types import SimpleNamespace
from unittest import mock

from moto.awslambda.models import lambda_backends
from moto.core import DEFAULT_ACCOUNT_ID
from moto.logs.models import logs_backends

from local_endpoint import versions
from tests import lambda_api
from tests.lambda_api import BASE_URL, REGION

ROLE = f'arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/versions-test'
FUNCTION_ARN = f'arn:aws:lambda:{REGION}:{DEFAULT_ACCOUNT_ID}:function:'


def labelled_zip(label):
    """A handler that says which code it is and what its context says."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w') as archive:
        archive.writestr('handler.py', (
            'def handler(event, context):\n'
            f'    return {{"code": "{label}", "arn": context.invoked_function_arn,\n'
            '            "version": context.function_version}\n'))
    return base64.b64encode(buffer.getvalue()).decode()


def setUpModule():
    global endpoint, client
    endpoint, client = lambda_api.start('versions-test')


def tearDownModule():
    endpoint.close()


def call(*arguments, **keywords):
    return lambda_api.call(client, *arguments, **keywords)


class ReleasedFunction(unittest.TestCase):
    """Versions 1 and 2 published from code v1 and v2; $LATEST runs v3, never published."""

    @classmethod
    def setUpClass(cls):
        cls.name = f'Versions{uuid.uuid4().hex[:10]}'
        created = call('POST', '/2015-03-31/functions', {
            'FunctionName': cls.name, 'Runtime': 'python3.12', 'Handler': 'handler.handler',
            'Role': ROLE, 'Code': {'ZipFile': labelled_zip('v1')}, 'Publish': True})
        assert created.status_code == 201, created.get_data(as_text=True)
        for label in ('v2', 'v3'):
            call('PUT', f'/2015-03-31/functions/{cls.name}/code',
                 {'ZipFile': labelled_zip(label), 'Publish': label == 'v2'})
        call('POST', f'/2015-03-31/functions/{cls.name}/aliases',
             {'Name': 'live', 'FunctionVersion': '1'})

    @classmethod
    def tearDownClass(cls):
        lambda_backends[DEFAULT_ACCOUNT_ID][REGION].delete_function(cls.name)

    def invoke(self, name, query='', invocation_type='RequestResponse'):
        return call('POST', f'/2015-03-31/functions/{name}/invocations', {},
                    {'X-Amz-Log-Type': 'Tail', 'X-Amz-Invocation-Type': invocation_type},
                    query)

    def ran(self, response):
        """(what ran, X-Amz-Executed-Version, the START line's version)."""
        self.assertEqual(response.status_code, 200, response.get_data(as_text=True))
        tail = base64.b64decode(response.headers['X-Amz-Log-Result']).decode()
        start = next(line for line in tail.splitlines() if line.startswith('START'))
        return (json.loads(response.get_data()), response.headers['X-Amz-Executed-Version'],
                start.rsplit('Version: ', 1)[1])


class InvokeVersionTest(ReleasedFunction):
    def test_a_version_runs_its_own_code_however_it_is_named(self):
        arn = FUNCTION_ARN + self.name
        for name, query in ((f'{self.name}:1', ''), (self.name, '?Qualifier=1'),
                            (f'{arn}:1', '')):
            with self.subTest(name=name, query=query):
                self.assertEqual(self.ran(self.invoke(name, query)), (
                    {'code': 'v1', 'arn': f'{arn}:1', 'version': '1'}, '1', '1'))
        self.assertEqual(self.ran(self.invoke(self.name, '?Qualifier=2'))[0]['code'], 'v2')

    def test_an_alias_runs_its_version_and_the_function_sees_the_alias_arn(self):
        self.assertEqual(self.ran(self.invoke(self.name, '?Qualifier=live')), (
            {'code': 'v1', 'arn': f'{FUNCTION_ARN}{self.name}:live', 'version': '1'}, '1', '1'))

    def test_unqualified_runs_latest_as_before(self):
        self.assertEqual(self.ran(self.invoke(self.name)), (
            {'code': 'v3', 'arn': FUNCTION_ARN + self.name, 'version': '$LATEST'},
            '$LATEST', '$LATEST'))

    def test_versions_alternating_keep_their_warm_environments(self):
        for _ in range(2):
            for version in ('1', '2'):
                self.ran(self.invoke(f'{self.name}:{version}'))
        tails = [base64.b64decode(self.invoke(f'{self.name}:{version}').headers[
            'X-Amz-Log-Result']).decode() for version in ('1', '2')]
        self.assertTrue(all('Init Duration' not in tail for tail in tails), tails)

    def test_a_name_and_qualifier_that_disagree_are_refused(self):
        response = self.invoke(f'{self.name}:1', '?Qualifier=2')
        self.assertEqual((response.status_code, response.headers['x-amzn-ErrorType']),
                         (400, 'InvalidParameterValueException'))
        self.assertEqual(json.loads(response.get_data())['message'],
                         'The derived qualifier from the function name does not match the '
                         'specified qualifier.')

    def test_an_unknown_qualifier_is_not_found(self):
        for qualifier, missing in (('9', '9'), ('nope', 'nope')):
            with self.subTest(qualifier):
                response = self.invoke(self.name, f'?Qualifier={qualifier}')
                self.assertEqual(response.status_code, 404)
                self.assertIn(f'{FUNCTION_ARN}{self.name}:{missing}',
                              json.loads(response.get_data())['Message'])

    def test_an_event_keeps_its_qualifier_until_it_runs(self):
        with mock.patch.object(endpoint.events, 'submit') as submit:
            self.assertEqual(self.invoke(self.name, '?Qualifier=live', 'Event').status_code, 202)
        self.assertEqual(submit.call_args.args[2], f'{self.name}:live')


class S3NotificationToAliasTest(ReleasedFunction):
    def test_an_alias_arn_runs_the_aliass_version(self):
        """S3 delivers to the LambdaFunctionArn it was given: an alias ARN runs its version."""
        record = {'s3': {'bucket': {'name': 'uploads'}, 'object': {'key': 'a.png'}}}
        endpoint._deliver_s3_event(DEFAULT_ACCOUNT_ID, {'Records': [record]},
                                   f'{FUNCTION_ARN}{self.name}:live', REGION)
        group = logs_backends[DEFAULT_ACCOUNT_ID][REGION].groups
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            log = f'/aws/lambda/{self.name}'
            starts = [event.message for stream in (group[log].streams.values()
                                                   if log in group else [])
                      for event in stream.events if event.message.startswith('START')]
            if starts:
                break
            time.sleep(0.05)
        self.assertEqual([start.rsplit(' ', 1)[1].rstrip('\n') for start in starts], ['1'])


class FunctionUrlOnAliasTest(ReleasedFunction):
    def test_a_url_made_on_the_alias_follows_it_and_keeps_its_address(self):
        created = call('POST', f'/2021-10-31/functions/{self.name}/url', {'AuthType': 'NONE'},
                       query='?Qualifier=live')
        self.assertEqual(created.status_code, 201, created.get_data(as_text=True))
        path = urllib.parse.urlsplit(json.loads(created.get_data())['FunctionUrl']).path
        served = lambda: json.loads(client.get(path, base_url=BASE_URL).get_data())
        self.assertEqual(served()['code'], 'v1')
        call('PUT', f'/2015-03-31/functions/{self.name}/aliases/live', {'FunctionVersion': '2'})
        self.assertEqual(served()['code'], 'v2', 'the same address, the version live points at')
        call('PUT', f'/2015-03-31/functions/{self.name}/aliases/live', {'FunctionVersion': '1'})


class RoutingTest(unittest.TestCase):
    """An alias with AdditionalVersionWeights: each invocation draws its version."""

    def alias(self, primary, weights):
        return SimpleNamespace(function_version=primary,
                               routing_config={'AdditionalVersionWeights': weights})

    def test_the_weight_is_the_additional_versions_share(self):
        alias = self.alias('1', {'2': 0.25})
        self.assertEqual([versions.routed_version(alias, lambda: draw)
                          for draw in (0.0, 0.2499, 0.25, 0.99)], ['2', '2', '1', '1'])

    def test_without_routing_the_primary_always_runs(self):
        for routing in (None, {}, {'AdditionalVersionWeights': {}}):
            alias = SimpleNamespace(function_version='3', routing_config=routing)
            self.assertEqual(versions.routed_version(alias, lambda: 0.0), '3')


class InvokeRoutedAliasTest(ReleasedFunction):
    def test_a_weighted_alias_runs_both_versions(self):
        call('PUT', f'/2015-03-31/functions/{self.name}/aliases/live',
             {'FunctionVersion': '1', 'RoutingConfig': {'AdditionalVersionWeights': {'2': 0.5}}})
        ran = {}
        for draw in (0.1, 0.9):
            with mock.patch('local_endpoint.versions.random.random', return_value=draw):
                result, executed, start = self.ran(self.invoke(f'{self.name}:live'))
            ran[result['code']] = (executed, start, result['version'], result['arn'])
        alias_arn = f'{FUNCTION_ARN}{self.name}:live'
        self.assertEqual(ran, {'v2': ('2', '2', '2', alias_arn),
                               'v1': ('1', '1', '1', alias_arn)})



class AliasRoutingRulesTest(ReleasedFunction):
    """create-alias / update-alias answer as AWS does (aws-releases.md 1.2)."""

    def create(self, name, version, weights=None):
        body = {'Name': name, 'FunctionVersion': version}
        if weights is not None:
            body['RoutingConfig'] = {'AdditionalVersionWeights': weights}
        return call('POST', f'/2015-03-31/functions/{self.name}/aliases', body)

    def assertRefused(self, response, status, code, message):
        self.assertEqual((response.status_code, response.headers.get('x-amzn-ErrorType')),
                         (status, code), response.get_data(as_text=True))
        # Lambda's model names the member Message in ResourceNotFoundException, message in
        # the others refused here (local_endpoint.lambda_errors).
        key = 'Message' if code == 'ResourceNotFoundException' else 'message'
        self.assertEqual(json.loads(response.get_data())[key], message)

    def test_each_refusal_is_awss(self):
        arn = FUNCTION_ARN + self.name
        weights_at = "at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: "
        value_rule = ('Map value must satisfy constraint: [Member must have value less than or '
                      'equal to 1.0, Member must have value greater than or equal to 0.0, Member '
                      'must not be null]')
        cases = [
            (('a', '1', {'2': 0.1, '3': 0.1}), 400, 'InvalidParameterValueException',
             'Number of items in AdditionalVersionWeights cannot be greater than 1'),
            (('a', '1', {'2': 2}), 400, 'ValidationException',
             f"1 validation error detected: Value '{{2=2.0}}' {weights_at}{value_rule}"),
            (('a', '1', {'2': -1}), 400, 'ValidationException',
             f"1 validation error detected: Value '{{2=-1.0}}' {weights_at}{value_rule}"),
            (('a', '1', {'1': 0.5}), 400, 'InvalidParameterValueException',
             'Invalid function version 1. Function version 1 is already included in routing '
             'configuration.'),
            (('a', '10'), 404, 'ResourceNotFoundException', f'Function not found: {arn}:10'),
            (('a', '1', {'10': 0.5}), 404, 'ResourceNotFoundException',
             f'Function not found: {arn}:10'),
            (('a', '$LATEST', {'1': 0.5}), 400, 'InvalidParameterValueException',
             '$LATEST is not supported for an alias pointing to more than 1 version'),
            (('a', '1', {'$LATEST': 0.5}), 400, 'ValidationException',
             f"1 validation error detected: Value '{{$LATEST=0.5}}' {weights_at}Map keys must "
             f"satisfy constraint: [Member must have length less than or equal to 1024, Member "
             f"must have length greater than or equal to 1, Member must satisfy regular "
             f"expression pattern: [0-9]+, Member must not be null]"),
            (('live', '2'), 409, 'ResourceConflictException',
             f'Alias already exists: {arn}:live'),
        ]
        for arguments, status, code, message in cases:
            with self.subTest(arguments=arguments):
                self.assertRefused(self.create(*arguments), status, code, message)
        self.assertNotIn('a', [alias['Name'] for alias in json.loads(call(
            'GET', f'/2015-03-31/functions/{self.name}/aliases').get_data())['Aliases']])

    def test_empty_weights_remove_the_routing(self):
        created = json.loads(self.create('canary', '1', {'2': 0.1}).get_data())
        self.assertEqual(created['RoutingConfig'], {'AdditionalVersionWeights': {'2': 0.1}})
        promoted = json.loads(call('PUT', f'/2015-03-31/functions/{self.name}/aliases/canary', {
            'FunctionVersion': '2', 'RoutingConfig': {'AdditionalVersionWeights': {}}}).get_data())
        self.assertEqual(promoted['FunctionVersion'], '2')
        self.assertNotIn('RoutingConfig', promoted)

    def test_promoting_to_the_routed_version_without_clearing_it_is_refused(self):
        self.create('kept', '1', {'2': 0.1})
        response = call('PUT', f'/2015-03-31/functions/{self.name}/aliases/kept',
                        {'FunctionVersion': '2'})
        self.assertRefused(response, 400, 'InvalidParameterValueException',
                           'Invalid function version 2. Function version 2 is already included '
                           'in routing configuration.')


class VersionNumbersTest(unittest.TestCase):
    """publish-version and delete-function --qualifier as AWS answers them (aws-releases.md
    1.1, 1.4): a number is never given twice; unchanged code and configuration publish
    nothing; a version an alias uses, $LATEST and an alias cannot be deleted this way."""

    ZIPS = {label: labelled_zip(label) for label in ('v1', 'v2', 'v3')}  # fixed bytes each

    def setUp(self):
        self.name = f'Numbers{uuid.uuid4().hex[:10]}'
        created = call('POST', '/2015-03-31/functions', {
            'FunctionName': self.name, 'Runtime': 'python3.12', 'Handler': 'handler.handler',
            'Role': ROLE, 'Code': {'ZipFile': self.ZIPS['v1']}, 'Publish': True})
        self.assertEqual(created.status_code, 201, created.get_data(as_text=True))
        self.addCleanup(lambda_backends[DEFAULT_ACCOUNT_ID][REGION].delete_function, self.name)

    def upload(self, label):
        """update-function-code --publish: the version it answers."""
        response = call('PUT', f'/2015-03-31/functions/{self.name}/code',
                        {'ZipFile': self.ZIPS[label], 'Publish': True})
        self.assertEqual(response.status_code, 200, response.get_data(as_text=True))
        return json.loads(response.get_data())['Version']

    def publish(self, description=None):
        response = call('POST', f'/2015-03-31/functions/{self.name}/versions',
                        {} if description is None else {'Description': description})
        self.assertEqual(response.status_code, 201, response.get_data(as_text=True))
        return json.loads(response.get_data())

    def delete(self, qualifier):
        return call('DELETE', f'/2015-03-31/functions/{self.name}',
                    query='?Qualifier=' + urllib.parse.quote(qualifier, safe=''))

    def listed(self):
        return [version['Version'] for version in json.loads(call(
            'GET', f'/2015-03-31/functions/{self.name}/versions').get_data())['Versions']]

    def invoke(self, qualifier):
        return call('POST', f'/2015-03-31/functions/{self.name}/invocations', {},
                    query=f'?Qualifier={qualifier}')

    def assertRefused(self, response, status, code, message):
        self.assertEqual((response.status_code, response.headers.get('x-amzn-ErrorType')),
                         (status, code), response.get_data(as_text=True))
        # Lambda's model names the member Message in ResourceNotFoundException, message in
        # the others refused here (local_endpoint.lambda_errors).
        key = 'Message' if code == 'ResourceNotFoundException' else 'message'
        self.assertEqual(json.loads(response.get_data())[key], message)

    def test_a_deleted_versions_number_is_never_given_again(self):
        self.assertEqual(self.upload('v2'), '2')
        self.assertEqual(self.delete('2').status_code, 204)
        self.assertEqual(self.upload('v3'), '3')
        self.assertEqual(self.listed(), ['$LATEST', '1', '3'])
        for version in ('1', '3'):
            self.assertEqual(self.delete(version).status_code, 204)
        self.assertEqual(self.upload('v1'), '4', 'even with no version left')
        self.assertEqual(json.loads(self.invoke('4').get_data())['code'], 'v1')

    def test_unchanged_code_and_configuration_answer_the_last_version(self):
        self.assertEqual(self.upload('v1'), '1', 'the same zip again')
        again = self.publish('another description')
        self.assertEqual((again['Version'], again['Description']), ('1', ''))
        self.assertEqual(self.listed(), ['$LATEST', '1'])

    def test_a_changed_description_alone_is_a_change(self):
        call('PUT', f'/2015-03-31/functions/{self.name}/configuration',
             {'Description': 'resizes'})
        published = self.publish()
        self.assertEqual((published['Version'], published['Description']), ('2', 'resizes'))
        self.assertEqual(self.publish()['Version'], '2')

    def test_a_version_an_alias_uses_is_not_deleted(self):
        self.upload('v2')
        for alias, routing in (('live', None), ('canary', {'2': 0.1})):
            body = {'Name': alias, 'FunctionVersion': '1'}
            if routing:
                body['RoutingConfig'] = {'AdditionalVersionWeights': routing}
            call('POST', f'/2015-03-31/functions/{self.name}/aliases', body)
        self.assertRefused(self.delete('1'), 409, 'ResourceConflictException',
                           'Unable to delete version because the following aliases reference '
                           'it: [canary, live]')
        self.assertRefused(self.delete('2'), 409, 'ResourceConflictException',
                           'Unable to delete version because the following aliases reference '
                           'it: [canary]')
        self.assertEqual(self.listed(), ['$LATEST', '1', '2'])

    def test_latest_and_an_alias_are_not_deleted_by_qualifier(self):
        call('POST', f'/2015-03-31/functions/{self.name}/aliases',
             {'Name': 'live', 'FunctionVersion': '1'})
        self.assertRefused(self.delete('$LATEST'), 400, 'InvalidParameterValueException',
                           '$LATEST version cannot be deleted without deleting the function.')
        self.assertRefused(self.delete('live'), 400, 'InvalidParameterValueException',
                           'Deletion of aliases is not currently supported.')
        self.assertEqual(self.listed(), ['$LATEST', '1'])
        self.assertEqual(self.invoke('live').status_code, 200)


if __name__ == '__main__':
    unittest.main()
