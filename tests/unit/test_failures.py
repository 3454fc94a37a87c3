"""make failed and make redrive against a stubbed queue: what is listed, what is deleted."""
import json
import shutil
import tempfile
import unittest
from types import SimpleNamespace

from deploy import failures

RECORD = {'version': '1.0', 'timestamp': '2026-11-22T10:00:00.000Z',
          'requestContext': {'requestId': 'r', 'functionArn': 'arn:aws:lambda:f:live',
                             'condition': 'RetriesExhausted', 'approximateInvokeCount': 3},
          'requestPayload': {'Records': [{'s3': {'bucket': {'name': 'up'},
                                                 'object': {'key': 'uploads/a+b.jpg'}}}]},
          'responseContext': {'statusCode': 200, 'executedVersion': '2',
                              'functionError': 'Unhandled'},
          'responsePayload': {'errorType': 'RuntimeError', 'errorMessage': 'broken'}}


class Queue:
    """Two messages; invokes fail for the events named in `failing`."""

    def __init__(self, failing=()):
        self.messages = {f'm{number}': dict(RECORD, requestPayload={'n': number})
                         for number in (1, 2)}
        self.failing, self.ran, self.hidden = set(failing), [], set()

    def read(self, *argv):
        return {'QueueUrl': 'http://sqs/q'}

    def run(self, *argv, read=False, output='json'):
        self.ran.append(argv)
        if argv[:2] == ('sqs', 'receive-message'):
            shown = [name for name in self.messages if name not in self.hidden][:10]
            self.hidden.update(shown)
            return {'Messages': [{'MessageId': name, 'ReceiptHandle': f'h-{name}',
                                  'Body': json.dumps(self.messages[name])} for name in shown]}
        if argv[:2] == ('sqs', 'change-message-visibility-batch'):
            for entry in json.loads(argv[argv.index('--entries') + 1]):
                self.hidden.discard(entry['ReceiptHandle'][2:])
        if argv[:2] == ('sqs', 'delete-message'):
            del self.messages[argv[argv.index('--receipt-handle') + 1][2:]]
        if argv[:2] == ('lambda', 'invoke'):
            payload = argv[argv.index('--payload') + 1][len('fileb://'):]
            with open(payload) as handle:
                number = json.load(handle)['n']
            return {'StatusCode': 200, **({'FunctionError': 'Unhandled'}
                                          if number in self.failing else {})}
        return None


FUNCTION = SimpleNamespace(name='F-dev', qualified='F-dev:live', failure_queue='F-dev-failures',
                           invoked_asynchronously=True)


class FailuresTest(unittest.TestCase):
    def test_a_record_reads_as_one_line_with_the_object_decoded(self):
        self.assertEqual(failures.describe(RECORD),
                         '2026-11-22T10:00:00.000Z  RetriesExhausted after 3 attempts  '
                         'RuntimeError: broken  s3://up/uploads/a b.jpg')

    def test_listing_leaves_every_message_there_for_redrive(self):
        queue, lines = Queue(), []
        self.assertEqual(failures.failed(queue, FUNCTION, lines.append), 2)
        self.assertEqual(queue.hidden, set(), 'made visible again')
        self.assertEqual(len(queue.messages), 2)

    def test_redrive_deletes_only_what_succeeded(self):
        folder = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, folder)
        queue = Queue(failing={2})
        self.assertEqual(failures.redrive(queue, FUNCTION, folder, lambda line: None), 1)
        self.assertEqual(list(queue.messages), ['m2'], 'the one that failed again stays')
        invoked = [argv for argv in queue.ran if argv[:2] == ('lambda', 'invoke')]
        self.assertEqual({argv[argv.index('--function-name') + 1] for argv in invoked},
                         {'F-dev:live'})

    def test_a_function_without_async_triggers_has_no_queue(self):
        with self.assertRaisesRegex(failures.PlanError, 'no failure queue'):
            failures.queue_url(Queue(), SimpleNamespace(**dict(vars(FUNCTION),
                                                               invoked_asynchronously=False)))


if __name__ == '__main__':
    unittest.main()
