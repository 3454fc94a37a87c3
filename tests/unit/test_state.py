"""local_endpoint.state, local_endpoint.pickling and local_endpoint.event_journal in this
process: what a write leaves on disk, and what a start finds there."""
import hashlib
import io
import json
import os
import shutil
import tempfile
import time
import unittest
from unittest import mock

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from moto.core import DEFAULT_ACCOUNT_ID
from moto.logs.models import LogsBackend
from moto.s3.models import FakeKey, s3_backends
from werkzeug.test import Client, EnvironBuilder

from local_endpoint import pickling, state
from local_endpoint.event_journal import COMPACT_BYTES, COMPACT_LINES, EventJournal
from local_endpoint.server import Endpoint

BASE_URL = 'http://127.0.0.1:4566'


class StoreTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.folder = tempfile.mkdtemp()
        cls.endpoint = Endpoint('127.0.0.1', 4566, cls.folder)
        cls.client = Client(cls.endpoint)

    @classmethod
    def tearDownClass(cls):
        cls.endpoint.close()
        shutil.rmtree(cls.folder, ignore_errors=True)

    def s3(self, method, path, data=b'', headers=None, query=''):
        request = AWSRequest(method=method, url=BASE_URL + path + query, data=data,
                             headers=dict(headers or {}))
        SigV4Auth(Credentials('test', 'test'), 's3', 'us-east-1').add_auth(request)
        response = self.client.open(EnvironBuilder(
            path=path, base_url=BASE_URL, method=method, data=data,
            query_string=query.lstrip('?'), headers=dict(request.headers.items())))
        self.assertLess(response.status_code, 300, response.get_data())
        return response

    def restarted(self):
        """What a new endpoint process finds: S3 as this folder holds it (the backend of this
        process is put back afterwards, for the other tests)."""
        backends = s3_backends[DEFAULT_ACCOUNT_ID]
        running = dict(dict.items(backends))
        dict.clear(backends)
        self.addCleanup(lambda: (dict.clear(backends), dict.update(backends, running)))
        store = state.Store(self.folder, BASE_URL)
        store.load()
        return backends['aws'], store

    def blobs(self):
        return sorted(os.listdir(os.path.join(self.folder, 'state', 'blobs')))

    def test_objects_come_back_with_their_bodies_metadata_and_tags(self):
        large = os.urandom(pickling.BLOB_MIN_BYTES + 1)
        self.s3('PUT', '/kept-objects')
        self.s3('PUT', '/kept-objects/photos/red flower.jpg', large,
                {'Content-Type': 'image/jpeg', 'x-amz-meta-owner': 'ana'})
        self.s3('PUT', '/kept-objects/small.txt', b'hello')
        self.s3('PUT', '/kept-objects/small.txt', b'<Tagging><TagSet><Tag><Key>status</Key>'
                b'<Value>rejected</Value></Tag></TagSet></Tagging>', query='?tagging')
        backend, _ = self.restarted()
        bucket = backend.buckets['kept-objects']
        photo = bucket.keys['photos/red flower.jpg']
        self.assertEqual(photo.value, large)
        self.assertEqual(dict(photo.metadata), {'content-type': 'image/jpeg',
                                                'x-amz-meta-owner': 'ana'})
        self.assertEqual(bucket.keys['small.txt'].value, b'hello')
        self.assertEqual(backend.tagger.get_tag_dict_for_resource(bucket.keys['small.txt'].arn),
                         {'status': 'rejected'})

    def test_an_overwritten_or_deleted_objects_body_leaves_the_disk_at_once(self):
        self.s3('PUT', '/kept-overwrites')
        before = self.blobs()
        self.s3('PUT', '/kept-overwrites/big', os.urandom(pickling.BLOB_MIN_BYTES))
        first = self.blobs()
        self.assertEqual(len(first), len(before) + 1)
        self.s3('PUT', '/kept-overwrites/big', os.urandom(pickling.BLOB_MIN_BYTES))
        self.assertEqual(len(self.blobs()), len(first))
        self.assertNotEqual(self.blobs(), first)
        self.s3('DELETE', '/kept-overwrites/big')
        self.assertEqual(self.blobs(), before)

    def test_a_deleted_bucket_takes_its_records_and_a_form_upload_is_found_by_the_diff(self):
        self.s3('PUT', '/kept-gone')
        self.s3('PUT', '/kept-gone/a', b'a')
        self.s3('DELETE', '/kept-gone/a')
        self.s3('DELETE', '/kept-gone')
        self.s3('PUT', '/kept-form')
        moto_bucket = s3_backends[DEFAULT_ACCOUNT_ID]['aws'].buckets['kept-form']
        moto_bucket.keys['uploads/by-form'] = _fake_key('uploads/by-form', b'form')
        self.endpoint.store.bucket_saved(DEFAULT_ACCOUNT_ID, 'kept-form')
        backend, _ = self.restarted()
        self.assertNotIn('kept-gone', backend.buckets)
        self.assertEqual(backend.buckets['kept-form'].keys['uploads/by-form'].value, b'form')

    def test_a_versioned_key_keeps_its_versions_and_delete_markers(self):
        self.s3('PUT', '/kept-versions')
        self.s3('PUT', '/kept-versions', b'<VersioningConfiguration><Status>Enabled</Status>'
                b'</VersioningConfiguration>', query='?versioning')
        self.s3('PUT', '/kept-versions/k', b'v1')
        self.s3('DELETE', '/kept-versions/k')  # a delete marker, which has no ARN
        self.s3('PUT', '/kept-versions/k', b'v2-after-delete')
        self.s3('PUT', '/kept-versions/big', os.urandom(pickling.BLOB_MIN_BYTES))
        self.s3('DELETE', '/kept-versions/big')  # the marker's record names the hidden body
        self.assertEqual(self.endpoint.store.problems(), [])
        backend, _ = self.restarted()
        versions = backend.buckets['kept-versions'].keys.getlist('k')
        self.assertEqual(len(versions), 3)
        self.assertEqual(versions[-1].value, b'v2-after-delete')
        self.assertEqual(len(backend.buckets['kept-versions'].keys.getlist('big')), 2)

    def test_a_save_that_failed_is_tried_again_and_said_until_then(self):
        self.s3('PUT', '/kept-retried')
        store = self.endpoint.store
        blocked = os.path.join(store.folder, 'objects', 'kept-retried')
        shutil.rmtree(blocked, ignore_errors=True)
        with open(blocked, 'w'):  # a file where the bucket's folder goes: writes fail
            pass
        with self.assertLogs('local_endpoint.server', 'ERROR'):  # said in the endpoint's log
            self.s3('PUT', '/kept-retried/a', b'a')
        self.assertTrue(store.problems())
        os.remove(blocked)
        store.flush()
        self.assertEqual(store.problems(), [])
        backend, _ = self.restarted()
        self.assertEqual(backend.buckets['kept-retried'].keys['a'].value, b'a')

    def test_a_damaged_object_record_costs_that_object_only(self):
        self.s3('PUT', '/kept-damaged')
        self.s3('PUT', '/kept-damaged/good', b'good')
        self.s3('PUT', '/kept-damaged/bad', b'bad')
        bad = self.endpoint.store._object_path('kept-damaged', 'bad')
        with open(bad, 'r+b') as handle:
            handle.truncate(10)
        backend, store = self.restarted()
        self.assertEqual(list(backend.buckets['kept-damaged'].keys), ['good'])
        self.assertEqual(len(os.listdir(os.path.join(store.folder, 'damaged'))), 1)

    def test_a_large_value_is_hashed_once_and_only_what_the_last_save_saw_is_held(self):
        blobs = pickling.Blobs(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, blobs.folder)
        old, new = 'x' * pickling.BLOB_MIN_BYTES, 'y' * pickling.BLOB_MIN_BYTES
        first = pickling.StatePickler(io.BytesIO(), blobs)
        first.dump([old])
        hashed, sha256 = [], hashlib.sha256
        with mock.patch.object(pickling.hashlib, 'sha256',
                               lambda data: hashed.append(len(data)) or sha256(data)):
            second = pickling.StatePickler(io.BytesIO(), blobs, first.seen)
            second.dump([old, new])  # an unchanged zip, and a new one
        self.assertEqual(hashed, [len(new)])
        self.assertEqual(sorted(len(value) for value, _ in second.seen.values()),
                         [len(old), len(new)])
        third = pickling.StatePickler(io.BytesIO(), blobs, second.seen)
        third.dump([new])  # the old zip replaced: no longer held
        self.assertEqual([value for value, _ in third.seen.values()], [new])

    def test_a_service_pickle_cannot_keep_is_said_once_and_not_tried_again(self):
        store = state.Store(tempfile.mkdtemp(), BASE_URL)
        self.addCleanup(shutil.rmtree, os.path.dirname(store.folder))
        unpicklable = {'lock-free key': (lambda: None)}
        with mock.patch.object(state, 'get_backend',
                               lambda service: {'123456789012': _Regions(unpicklable)}):
            with self.assertLogs(state.logger, 'ERROR'):
                store.saved('ssm')
            store.saved('ssm')
        self.assertEqual(len(store.problems()), 1)
        self.assertIn('ssm is not kept across restarts', store.problems()[0])

    def test_after_motos_own_reset_the_next_start_finds_nothing(self):
        folder = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, folder)
        store = state.Store(folder, BASE_URL)
        for name in ('services/s3/123456789012', 'objects/bucket'):
            os.makedirs(os.path.join(store.folder, name))
        store.kept['bucket'] = {'key': ((), ())}
        store.forget()
        self.assertEqual(sorted(os.listdir(store.folder)), ['blobs'])
        self.assertEqual(store.kept, {})

    def test_data_that_names_the_endpoint_is_kept_as_it_is(self):
        """Only function URLs and API endpoints follow the port (state.rebase_urls, tested
        end to end); a message or a tag that names the endpoint is the user's data."""
        blobs = pickling.Blobs(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, blobs.folder)
        buffer = io.BytesIO()
        data = {'body': 'http://127.0.0.1:4566/uploads/a.jpg?X-Amz-Signature=abc',
                'zip': os.urandom(pickling.BLOB_MIN_BYTES)}
        pickling.StatePickler(buffer, blobs).dump(data)
        buffer.seek(0)
        self.assertEqual(pickling.StateUnpickler(buffer, blobs, 'http://127.0.0.1:4700',
                                              None).load(), data)

    def test_state_from_a_newer_version_is_refused_with_what_to_do(self):
        folder = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, folder)
        os.makedirs(os.path.join(folder, 'state'))
        with open(os.path.join(folder, 'state', 'format.json'), 'w') as handle:
            json.dump({'format': state.FORMAT + 1}, handle)
        with self.assertRaisesRegex(state.StateError, 'newer version.*make reset'):
            state.Store(folder, BASE_URL).load()

    def test_reads_are_not_saved_and_writes_are(self):
        for method, action in (('GET', None), ('POST', 'GetRole'), ('POST', 'ListQueues'),
                               ('POST', 'DescribeLogGroups'), ('HEAD', None)):
            self.assertTrue(state.is_read(method, action), (method, action))
        for method, action in (('POST', 'CreateRole'), ('POST', 'ReceiveMessage'),
                               ('PUT', None), ('DELETE', None), ('POST', 'Getaway'),
                               ('POST', 'PutLogEvents')):
            self.assertFalse(state.is_read(method, action), (method, action))

    def test_logs_are_saved_in_the_background_at_a_tenth_of_their_cost(self):
        store = state.Store(tempfile.mkdtemp(), BASE_URL)
        self.addCleanup(shutil.rmtree, os.path.dirname(store.folder))
        saved = []
        store.saved = lambda service: (saved.append(service), time.sleep(0.6))
        store.mark('logs')
        store.mark('sqs')
        store.settle()  # an event done: its queue message now, the logs later
        self.assertEqual(saved, ['sqs'])
        store.flush(now=100.0)
        self.assertEqual(saved, ['sqs', 'logs'])
        due = store.next_save['logs']  # the save took 0.6 s or more: 6 s or more later
        self.assertGreaterEqual(due, 106.0)
        store.mark('logs')
        store.flush(now=due - 0.01)
        self.assertEqual(saved, ['sqs', 'logs'])
        store.flush(now=due)
        self.assertEqual(saved, ['sqs', 'logs', 'logs'])

    def test_a_log_group_keeps_its_newest_events(self):
        logs = LogsBackend('us-east-1', '123456789012')
        logs.create_log_group('/aws/lambda/kept-logs', {})
        now = int(time.time() * 1000)
        for stream, count, start in (('old', 800, now - 60000), ('new', 500, now - 1000)):
            logs.create_log_stream('/aws/lambda/kept-logs', stream)
            logs.put_log_events('/aws/lambda/kept-logs', stream, [
                {'timestamp': start + number, 'message': f'{stream} {number}'}
                for number in range(count)])
        blobs = pickling.Blobs(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, blobs.folder)
        buffer = io.BytesIO()
        pickling.StatePickler(buffer, blobs).dump(logs.groups['/aws/lambda/kept-logs'])
        buffer.seek(0)
        group = pickling.StateUnpickler(buffer, blobs, BASE_URL, None).load()
        self.assertEqual({name: len(stream.events) for name, stream in group.streams.items()},
                         {'new': 500, 'old': pickling.KEPT_LOG_EVENTS - 500})
        self.assertEqual(group.streams['old'].events[-1].message, 'old 799')
        self.assertEqual(len(logs.groups['/aws/lambda/kept-logs'].streams['old'].events), 800)


class _Regions(dict):
    """An AccountSpecificBackend's shape: regions as plain dict entries."""

    def __init__(self, backend):
        super().__init__({'us-east-1': backend})


def _fake_key(name, value):
    return FakeKey(name, value, DEFAULT_ACCOUNT_ID, 'us-east-1', bucket_name='kept-form')


class EventJournalTest(unittest.TestCase):
    def setUp(self):
        self.folder = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.folder)
        self.path = os.path.join(self.folder, 'events.jsonl')

    def accept(self, journal, request_id, payload=b'{}'):
        journal.accepted(request_id, '123456789012', 'us-east-1', 'F', payload, 1, 0.0, 1000.0)

    def test_what_is_not_done_comes_back_at_its_last_attempt(self):
        journal = EventJournal(self.path)
        journal.load()
        self.accept(journal, 'a', b'\xff not json')
        self.accept(journal, 'b')
        self.accept(journal, 'c')
        journal.retried('b', 2, 59.0)
        journal.done('c')
        journal.close()
        pending = EventJournal(self.path).load()
        self.assertEqual([(event['request_id'], event['attempt'], event['payload'])
                          for event in pending], [('a', 1, b'\xff not json'), ('b', 2, b'{}')])
        with open(self.path) as handle:  # rewritten with only those
            self.assertEqual(len(handle.readlines()), 2)

    def test_a_line_a_crash_cut_short_is_skipped(self):
        journal = EventJournal(self.path)
        journal.load()
        self.accept(journal, 'a')
        journal.close()
        with open(self.path, 'a') as handle:
            handle.write('{"accepted": {"request_id": "b", "payl')
        self.assertEqual([event['request_id'] for event in EventJournal(self.path).load()],
                         ['a'])

    def test_a_long_journal_is_rewritten_with_only_what_is_pending(self):
        for size in ('lines', 'size'):
            journal = EventJournal(self.path)
            journal.load()
            self.accept(journal, 'a')
            journal.done('a')
            self.accept(journal, 'b')
            setattr(journal, size, {'lines': COMPACT_LINES, 'size': COMPACT_BYTES}[size])
            journal.retried('b', 2, 59.0)
            with open(self.path) as handle:
                lines = [json.loads(line) for line in handle]
            self.assertEqual([(line['accepted']['request_id'], line['accepted']['attempt'])
                              for line in lines], [('b', 2)], size)
            journal.done('b')
            journal.close()
            self.assertEqual(EventJournal(self.path).load(), [])

    def test_lines_that_are_not_the_journals_are_skipped(self):
        with open(self.path, 'w') as handle:
            handle.write('{"accepted": {"request_id": "x"}}\n[1, 2]\n{"retry": "x"}\n'
                         '{"accepted": {"request_id": "y", "account": "1", "region": "r", '
                         '"function": "F", "payload": "not base64!", "attempt": 1, '
                         '"shortened": 0, "accepted_at": 0}}\n')
        self.assertEqual(EventJournal(self.path).load(), [])
