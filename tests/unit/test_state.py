"""local_endpoint.state and local_endpoint.event_journal in this process: what a write leaves
on disk, and what a start finds there."""
import io
import json
import os
import shutil
import tempfile
import time
import unittest

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from moto.core import DEFAULT_ACCOUNT_ID
from moto.s3.models import FakeKey, s3_backends
from werkzeug.test import Client, EnvironBuilder

from local_endpoint import state
from local_endpoint.event_journal import EventJournal
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
        large = os.urandom(state.BLOB_MIN_BYTES + 1)
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
        self.s3('PUT', '/kept-overwrites/big', os.urandom(state.BLOB_MIN_BYTES))
        first = self.blobs()
        self.assertEqual(len(first), len(before) + 1)
        self.s3('PUT', '/kept-overwrites/big', os.urandom(state.BLOB_MIN_BYTES))
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

    def test_endpoint_urls_follow_the_port_of_the_next_start(self):
        blobs = state.Blobs(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, blobs.folder)
        buffer = io.BytesIO()
        state.StatePickler(buffer, blobs, 'http://127.0.0.1:4566').dump(
            {'url': 'http://127.0.0.1:4566/lambda-url/abc/', 'other': 'http://example.com/'})
        buffer.seek(0)
        loaded = state.StateUnpickler(buffer, blobs, 'http://127.0.0.1:4700', None).load()
        self.assertEqual(loaded, {'url': 'http://127.0.0.1:4700/lambda-url/abc/',
                                  'other': 'http://example.com/'})

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
        store.saved = lambda service: (saved.append(service), time.sleep(0.05))
        store.mark('logs')
        store.mark('sqs')
        store.settle()  # an event done: its queue message now, the logs later
        self.assertEqual(saved, ['sqs'])
        store.flush(now=100.0)
        self.assertEqual(saved, ['sqs', 'logs'])
        store.mark('logs')
        store.flush(now=100.1)  # the last save took 0.05 s: not before 100.5
        self.assertEqual(saved, ['sqs', 'logs'])
        store.flush(now=100.6)
        self.assertEqual(saved, ['sqs', 'logs', 'logs'])


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

    def test_the_journal_is_emptied_once_long_and_nothing_is_pending(self):
        journal = EventJournal(self.path)
        journal.load()
        journal.lines = 10000
        self.accept(journal, 'a')
        journal.done('a')
        self.assertEqual(os.path.getsize(self.path), 0)
        self.accept(journal, 'b')
        journal.close()
        self.assertEqual([event['payload'] for event in EventJournal(self.path).load()], [b'{}'])
