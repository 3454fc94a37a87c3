"""image_resize's handler against moto: every record, idempotent, nothing lost."""
import time
from unittest import mock
from urllib.parse import quote_plus

from botocore.exceptions import ClientError
from wand.image import Image

from tests import images
from tests.aws import REGION, MotoTestCase, captured_log_lines
from deploy.functions import load

handler = load('image_resize')

UPLOADS = 'upload-bucket'
RESIZED = 'resized-bucket'


def s3_key(key, slash_encoded=True):
    """Encode a key as S3 does in event notifications (form encoding: space is '+')."""
    return quote_plus(key, safe='' if slash_encoded else '/')


def record(key, bucket=UPLOADS, event_name='ObjectCreated:Put', slash_encoded=True, **extra):
    obj = {'key': s3_key(key, slash_encoded), 'size': 1, 'eTag': 'x', **extra}
    return {'eventVersion': '2.1', 'eventSource': 'aws:s3', 'awsRegion': REGION,
            'eventTime': '2026-11-21T10:00:00.000Z', 'eventName': event_name,
            's3': {'s3SchemaVersion': '1.0', 'configurationId': 'resize',
                   'bucket': {'name': bucket, 'arn': f'arn:aws:s3:::{bucket}'},
                   'object': obj}}


def event(*records):
    return {'Records': list(records)}


class ResizeTestCase(MotoTestCase):
    """The function's two buckets, empty."""
    function_env = {'RESIZED_BUCKET': RESIZED}
    handlers = (handler,)

    def setUp(self):
        super().setUp()
        self.make_bucket(UPLOADS)
        self.make_bucket(RESIZED)


class ResizeHandlerTest(ResizeTestCase):
    def upload(self, key, data=None):
        self.s3.put_object(Bucket=UPLOADS, Key=key,
                           Body=images.jpeg(800, 600) if data is None else data)

    def invoke(self, payload):
        with captured_log_lines() as lines:
            result = handler.handle_resize(payload, None)
        return result, lines

    def test_resizes_writes_metadata_and_deletes_the_original(self):
        self.upload('uploads/photo.jpg')
        result, lines = self.invoke(event(record('uploads/photo.jpg')))
        self.assertEqual(result['outcomes'], ['resized'])
        self.assertEqual(self.keys(UPLOADS), [])
        head = self.s3.head_object(Bucket=RESIZED, Key='uploads/photo.jpg')
        self.assertEqual(head['ContentType'], 'image/jpeg')
        self.assertEqual(head['CacheControl'], 'max-age=86400')
        self.assertEqual(head['Metadata']['source-width'], '800')
        self.assertEqual(head['Metadata']['source-height'], '600')
        self.assertEqual((head['Metadata']['width'], head['Metadata']['height']), ('400', '300'))
        body = self.s3.get_object(Bucket=RESIZED, Key='uploads/photo.jpg')['Body'].read()
        with Image(blob=body) as image:
            self.assertEqual(image.size, (400, 300))

    def test_one_json_log_line_per_image(self):
        self.upload('uploads/a.jpg')
        _, lines = self.invoke(event(record('uploads/a.jpg')))
        [line] = [line for line in lines if line['event'] == 'resized']
        self.assertEqual(line['key'], 'uploads/a.jpg')
        self.assertEqual((line['width_in'], line['height_in']), (800, 600))
        self.assertEqual((line['width_out'], line['height_out']), (400, 300))
        self.assertGreater(line['bytes_in'], line['bytes_out'])
        self.assertGreater(line['bytes_out'], 0)
        self.assertIsInstance(line['ms'], float)

    def test_keys_are_decoded_as_s3_encodes_them(self):
        keys = ['uploads/red flower.jpg', 'uploads/1+1=2.jpg', 'uploads/café ☕ 写真.jpg',
                'deep/nested/prefix/%41 literal percent.jpg']
        for key in keys:
            self.upload(key)
        records = [record(key, slash_encoded=index % 2 == 0) for index, key in enumerate(keys)]
        self.assertIn('red+flower', records[0]['s3']['object']['key'])
        self.assertIn('%2B', records[1]['s3']['object']['key'])
        result, _ = self.invoke(event(*records))
        self.assertEqual(result['outcomes'], ['resized'] * len(keys))
        self.assertEqual(sorted(self.keys(RESIZED)), sorted(keys))
        self.assertEqual(self.keys(UPLOADS), [])

    def test_every_record_of_a_multi_record_event(self):
        for index in range(3):
            self.upload(f'uploads/{index}.jpg')
        result, _ = self.invoke(event(*(record(f'uploads/{index}.jpg') for index in range(3))))
        self.assertEqual(result['records'], 3)
        self.assertEqual(sorted(self.keys(RESIZED)), [f'uploads/{index}.jpg' for index in range(3)])

    def test_other_event_types_are_ignored(self):
        self.upload('uploads/kept.jpg')
        result, _ = self.invoke(event(record('uploads/kept.jpg', event_name='ObjectRemoved:Delete')))
        self.assertEqual(result['outcomes'], ['ignored'])
        self.assertEqual(self.keys(UPLOADS), ['uploads/kept.jpg'])
        self.assertEqual(self.keys(RESIZED), [])

    def test_post_and_multipart_uploads_are_handled(self):
        for name in ('ObjectCreated:Post', 'ObjectCreated:CompleteMultipartUpload'):
            self.upload('uploads/x.jpg')
            result, _ = self.invoke(event(record('uploads/x.jpg', event_name=name)))
            self.assertEqual(result['outcomes'], ['resized'])

    def test_redelivery_is_a_quiet_success(self):
        self.upload('uploads/twice.jpg')
        payload = event(record('uploads/twice.jpg'))
        self.invoke(payload)
        before = self.s3.get_object(Bucket=RESIZED, Key='uploads/twice.jpg')['ETag']
        result, lines = self.invoke(payload)
        self.assertEqual(result['outcomes'], ['already-resized'])
        self.assertEqual([line['event'] for line in lines], ['already-resized'])
        self.assertEqual(self.s3.get_object(Bucket=RESIZED, Key='uploads/twice.jpg')['ETag'],
                         before)

    def test_redelivery_with_the_original_kept_redoes_the_same_work(self):
        self.set_env(DELETE_ORIGINAL='false')
        self.upload('uploads/keep.jpg')
        for _ in range(2):
            result, _ = self.invoke(event(record('uploads/keep.jpg')))
            self.assertEqual(result['outcomes'], ['resized'])
        self.assertEqual(self.keys(UPLOADS), ['uploads/keep.jpg'])
        self.assertEqual(self.keys(RESIZED), ['uploads/keep.jpg'])

    def test_original_gone_without_a_copy_is_logged_not_raised(self):
        result, lines = self.invoke(event(record('uploads/never-existed.jpg')))
        self.assertEqual(result['outcomes'], ['source-missing'])
        self.assertEqual(lines[0]['level'], 'WARNING')

    def test_failing_put_keeps_the_original_and_raises_for_a_retry(self):
        self.upload('uploads/precious.jpg')
        slow_down = ClientError({'Error': {'Code': 'SlowDown', 'Message': 'Reduce your rate'}},
                                'PutObject')
        with mock.patch.object(handler.s3_client(), 'put_object', side_effect=slow_down):
            with self.assertRaises(handler.RecordsFailed) as caught:
                self.invoke(event(record('uploads/precious.jpg')))
        self.assertIs(caught.exception.__cause__, slow_down)
        self.assertEqual(self.keys(UPLOADS), ['uploads/precious.jpg'])
        self.assertEqual(self.keys(RESIZED), [])
        # The retry Lambda makes then succeeds.
        result, _ = self.invoke(event(record('uploads/precious.jpg')))
        self.assertEqual(result['outcomes'], ['resized'])

    def test_an_upload_that_replaces_the_original_mid_resize_is_never_deleted(self):
        self.upload('uploads/same-key.jpg')
        newer = images.png(300, 200)
        real_put = handler.s3_client().put_object

        def put_then_someone_overwrites(**kwargs):
            result = real_put(**kwargs)
            self.s3.put_object(Bucket=UPLOADS, Key='uploads/same-key.jpg', Body=newer)
            return result

        with mock.patch.object(handler.s3_client(), 'put_object',
                               side_effect=put_then_someone_overwrites):
            result, lines = self.invoke(event(record('uploads/same-key.jpg')))
        self.assertEqual(result['outcomes'], ['resized'])
        self.assertEqual(self.s3.get_object(Bucket=UPLOADS, Key='uploads/same-key.jpg')['Body']
                         .read(), newer)
        self.assertIn('original-replaced', [line['event'] for line in lines])
        [resized] = [line for line in lines if line['event'] == 'resized']
        self.assertFalse(resized['deleted_original'])

    def test_a_transient_failure_does_not_block_the_other_records(self):
        for name in ('a', 'b', 'c'):
            self.upload(f'uploads/{name}.jpg')
        real_put = handler.s3_client().put_object

        def flaky_put(**kwargs):
            if kwargs['Key'] == 'uploads/b.jpg':
                raise ClientError({'Error': {'Code': 'InternalError', 'Message': 'oops'}},
                                  'PutObject')
            return real_put(**kwargs)

        with mock.patch.object(handler.s3_client(), 'put_object', side_effect=flaky_put):
            with self.assertRaises(handler.RecordsFailed) as caught:
                with captured_log_lines() as lines:
                    handler.handle_resize(event(*(record(f'uploads/{name}.jpg')
                                                  for name in 'abc')), None)
        self.assertIn('1 of 3 records failed', str(caught.exception))
        self.assertEqual(sorted(self.keys(RESIZED)), ['uploads/a.jpg', 'uploads/c.jpg'])
        self.assertEqual(self.keys(UPLOADS), ['uploads/b.jpg'])
        [failure] = [line for line in lines if line['event'] == 'failed']
        self.assertTrue(failure['retryable'])

    def test_failing_get_raises(self):
        self.upload('uploads/x.jpg')
        denied = ClientError({'Error': {'Code': 'AccessDenied', 'Message': 'no'}}, 'GetObject')
        with mock.patch.object(handler.s3_client(), 'get_object', side_effect=denied):
            with self.assertRaises(handler.RecordsFailed):
                self.invoke(event(record('uploads/x.jpg')))
        self.assertEqual(self.keys(UPLOADS), ['uploads/x.jpg'])

    def test_bad_input_is_kept_tagged_and_logged_not_raised(self):
        cases = {'uploads/notes.jpg': (images.TEXT, 'unsupported-format'),
                 'uploads/empty.png': (b'', 'empty'),
                 'uploads/cut.jpg': (images.truncated(images.jpeg(1200, 900)), 'corrupt'),
                 'uploads/bomb.png': (images.png_header_bomb(), 'too-many-pixels'),
                 'uploads/vector.png': (images.SVG, 'unsupported-format')}
        for key, (data, _) in cases.items():
            self.upload(key, data)
        result, lines = self.invoke(event(*(record(key) for key in cases)))
        self.assertEqual(result['outcomes'], ['rejected'] * len(cases))
        self.assertEqual(sorted(self.keys(UPLOADS)), sorted(cases))
        self.assertEqual(self.keys(RESIZED), [])
        for key, (data, reason) in cases.items():
            tags = self.tags(UPLOADS, key)
            self.assertEqual(tags['resize-status'], 'rejected')
            self.assertEqual(tags['resize-reason'], reason)
            self.assertTrue(tags['resize-detail'])
            self.assertEqual(self.s3.get_object(Bucket=UPLOADS, Key=key)['Body'].read(), data)
        logged = {line['key']: line for line in lines if line['event'] == 'rejected'}
        self.assertEqual({key: line['reason'] for key, line in logged.items()},
                         {key: reason for key, (_, reason) in cases.items()})

    def test_rejection_detail_is_a_readable_tag_value(self):
        self.upload('uploads/n.jpg', images.TEXT)
        self.invoke(event(record('uploads/n.jpg')))
        self.assertEqual(self.tags(UPLOADS, 'uploads/n.jpg')['resize-detail'],
                         'not an accepted image: looks like text only JPEG PNG GIF and WebP '
                         'are resized')
        self.assertEqual(handler.tag_value('x' * 300 + ' "quoted"; (1,2)')[-3:], 'xxx')
        self.assertEqual(handler.tag_value('a "b"; (c, d) é'), 'a b c d é')

    def test_rejection_keeps_the_owners_tags(self):
        self.s3.put_object(Bucket=UPLOADS, Key='uploads/t.jpg', Body=images.TEXT,
                           Tagging='owner=alice&project=demo')
        self.invoke(event(record('uploads/t.jpg')))
        tags = self.tags(UPLOADS, 'uploads/t.jpg')
        self.assertEqual((tags['owner'], tags['project']), ('alice', 'demo'))
        self.assertEqual(tags['resize-status'], 'rejected')

    def test_files_over_the_byte_limit_are_rejected_unread(self):
        self.set_env(MAX_INPUT_BYTES='1000')
        self.upload('uploads/big.jpg')
        result, lines = self.invoke(event(record('uploads/big.jpg')))
        self.assertEqual(result['outcomes'], ['rejected'])
        self.assertEqual(self.tags(UPLOADS, 'uploads/big.jpg')['resize-reason'], 'too-many-bytes')

    def test_configuration_is_read_from_the_environment(self):
        self.set_env(MAX_WIDTH='100', MAX_HEIGHT='50', JPEG_QUALITY='40',
                     MAX_INPUT_PIXELS='1_000_000', CACHE_CONTROL='no-cache')
        self.upload('uploads/c.jpg')
        self.invoke(event(record('uploads/c.jpg')))
        head = self.s3.head_object(Bucket=RESIZED, Key='uploads/c.jpg')
        self.assertEqual(head['CacheControl'], 'no-cache')
        body = self.s3.get_object(Bucket=RESIZED, Key='uploads/c.jpg')['Body'].read()
        with Image(blob=body) as image:
            self.assertEqual(image.size, (67, 50))

    def test_same_source_and_destination_is_refused_loudly(self):
        self.upload('uploads/loop.jpg')
        self.set_env(RESIZED_BUCKET=UPLOADS)
        with self.assertRaises(handler.ConfigurationError) as caught:
            self.invoke(event(record('uploads/loop.jpg')))
        self.assertIn('trigger another resize', str(caught.exception))
        self.assertEqual(self.keys(UPLOADS), ['uploads/loop.jpg'])

    def test_bad_configuration_names_the_variable(self):
        for variables, words in (({'RESIZED_BUCKET': ''}, 'RESIZED_BUCKET is not set'),
                                 ({'MAX_WIDTH': 'wide'}, "MAX_WIDTH='wide'"),
                                 ({'JPEG_QUALITY': '101'}, 'JPEG_QUALITY=101 is out of range'),
                                 ({'DELETE_ORIGINAL': 'maybe'}, 'DELETE_ORIGINAL')):
            with self.subTest(variables):
                with mock.patch.dict('os.environ', variables):
                    with self.assertRaises(handler.ConfigurationError) as caught:
                        self.invoke(event())
                self.assertIn(words, str(caught.exception))

    def test_not_an_s3_event(self):
        with self.assertRaises(ValueError) as caught:
            self.invoke({'hello': 'world'})
        self.assertIn('Records', str(caught.exception))

    def test_versioned_bucket_deletes_exactly_the_version_it_resized(self):
        self.s3.put_bucket_versioning(Bucket=UPLOADS,
                                      VersioningConfiguration={'Status': 'Enabled'})
        version = self.s3.put_object(Bucket=UPLOADS, Key='uploads/v.jpg',
                                     Body=images.jpeg(800, 600))['VersionId']
        result, _ = self.invoke(event(record('uploads/v.jpg', versionId=version)))
        self.assertEqual(result['outcomes'], ['resized'])
        versions = self.s3.list_object_versions(Bucket=UPLOADS).get('Versions', [])
        self.assertEqual(versions, [])


class Context:
    """Lambda's context, as much of it as the handler reads."""

    def __init__(self, remaining_ms=60_000):
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self):
        return self.remaining_ms


class AttemptTest(ResizeTestCase):
    """Every attempt says on the original which it is and when its time runs out, so a reader
    can tell an upload still being worked on from one whose last attempt died."""

    def setUp(self):
        super().setUp()
        self.s3.put_object(Bucket=UPLOADS, Key='uploads/a.jpg', Body=images.jpeg(80, 60),
                           Tagging='owner=alice')

    def attempt(self, remaining_ms=60_000, fails_with=None):
        """One attempt; ``fails_with`` replaces the resize (an exception, or a crash)."""
        resize_blob = mock.patch.object(handler, 'resize_blob', side_effect=fails_with) \
            if fails_with else mock.patch.object(handler, 'resize_blob', handler.resize_blob)
        with resize_blob, captured_log_lines():
            return handler.handle_resize(event(record('uploads/a.jpg')), Context(remaining_ms))

    def test_each_attempt_is_numbered_with_its_deadline_and_the_owners_tags_kept(self):
        for number in (1, 2):
            with self.subTest(number), self.assertRaises(SystemExit):
                self.attempt(remaining_ms=30_000, fails_with=SystemExit(137))
            tags = self.tags(UPLOADS, 'uploads/a.jpg')
            self.assertEqual((tags['resize-attempt'], tags['resize-attempts'], tags['owner']),
                             (str(number), '3', 'alice'))
            self.assertAlmostEqual(int(tags['resize-deadline']), time.time() + 30, delta=2)

    def test_a_transient_error_on_the_last_attempt_is_recorded_as_failed(self):
        slow_down = ClientError({'Error': {'Code': 'SlowDown', 'Message': 'Reduce your rate'}},
                                'PutObject')
        for number in (1, 2, 3):
            with self.subTest(number), self.assertRaises(handler.RecordsFailed):
                self.attempt(fails_with=slow_down)
            tags = self.tags(UPLOADS, 'uploads/a.jpg')
            self.assertEqual(tags.get('resize-status'), 'failed' if number == 3 else None)
        self.assertEqual(tags['resize-reason'], 'SlowDown')
        self.assertIn('last attempt', tags['resize-detail'])
        self.assertEqual(tags['owner'], 'alice')
        self.assertNotIn('resize-attempt', tags)

    def test_fewer_attempts_when_lambda_makes_fewer(self):
        self.set_env(MAX_ATTEMPTS=1)
        with self.assertRaises(handler.RecordsFailed):
            self.attempt(fails_with=ClientError({'Error': {'Code': 'InternalError'}}, 'PutObject'))
        self.assertEqual(self.tags(UPLOADS, 'uploads/a.jpg')['resize-status'], 'failed')

    def test_a_rejection_replaces_the_attempt_with_its_outcome(self):
        self.s3.put_object(Bucket=UPLOADS, Key='uploads/a.jpg', Body=images.TEXT,
                           Tagging='owner=alice')
        self.attempt()
        tags = self.tags(UPLOADS, 'uploads/a.jpg')
        self.assertEqual(tags, {'owner': 'alice', 'resize-status': 'rejected',
                                'resize-reason': 'unsupported-format',
                                'resize-detail': tags['resize-detail']})

    def test_garbage_in_the_attempt_tag_starts_the_count_again(self):
        self.s3.put_object_tagging(Bucket=UPLOADS, Key='uploads/a.jpg', Tagging={'TagSet': [
            {'Key': 'resize-attempt', 'Value': '99999999999'}]})
        with self.assertRaises(SystemExit):
            self.attempt(fails_with=SystemExit(1))
        self.assertEqual(self.tags(UPLOADS, 'uploads/a.jpg')['resize-attempt'], '1')

    def test_three_deaths_end_as_failed_in_the_gallery(self):
        """Out of memory, a timeout, a crash: no outcome is written, yet the gallery's /status
        stops promising a result once the last attempt's time is past."""
        gallery = load('image_list')
        settings = gallery.Settings.from_environ({'UPLOAD_BUCKET': UPLOADS,
                                                  'RESIZED_BUCKET': RESIZED})
        for number in (1, 2, 3):
            with self.assertRaises(SystemExit):
                self.attempt(remaining_ms=1_000, fails_with=SystemExit(137))
            status = gallery.upload_status('uploads/a.jpg', settings)
            self.assertEqual((status['state'], status['attempt']), ('pending', number))
        later = time.time() + 60
        with mock.patch.object(gallery.time, 'time', return_value=later):
            status = gallery.upload_status('uploads/a.jpg', settings)
        self.assertEqual(status['state'], 'failed')
        self.assertIn('last attempt', status['detail'])
