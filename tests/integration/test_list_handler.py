"""image_list's handler against moto: the gallery page, its upload form and status checks."""
import base64
import json
import time
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import boto3
import requests
from botocore.config import Config
from botocore.credentials import RefreshableCredentials
from botocore.utils import parse_timestamp

from tests.aws import REGION, MotoTestCase
from deploy.functions import load

handler = load('image_list')

UPLOADS = 'upload-bucket'
RESIZED = 'resized-bucket'


class Page(HTMLParser):
    """The parts of the rendered page the tests look at."""

    def __init__(self, body):
        super().__init__()
        self.images, self.links, self.hidden, self.nonces = [], {}, {}, set()
        self.form_action = None
        self.feed(body)

    def handle_starttag(self, tag, attributes):
        attributes = dict(attributes)
        if tag == 'img':
            self.images.append(attributes)
        elif tag == 'a' and attributes.get('rel'):
            self.links[attributes['rel']] = attributes['href']
        elif tag == 'form':
            self.form_action = attributes.get('action')
        elif tag == 'input' and attributes.get('type') == 'hidden':
            self.hidden[attributes['name']] = attributes['value']
        if tag in ('script', 'style'):
            self.nonces.add(attributes.get('nonce'))


def http_event(path='/', query='', stage='$default', accept=None):
    headers = {'host': 'gallery.example', **({'accept': accept} if accept else {})}
    return {'version': '2.0', 'routeKey': '$default', 'rawPath': path, 'rawQueryString': query,
            'headers': headers,
            'requestContext': {'http': {'method': 'GET', 'path': path, 'protocol': 'HTTP/1.1',
                                        'sourceIp': '127.0.0.1', 'userAgent': 'test'},
                               'stage': stage, 'routeKey': '$default'},
            'isBase64Encoded': False}


class GalleryTestCase(MotoTestCase):
    function_env = {'UPLOAD_BUCKET': UPLOADS, 'RESIZED_BUCKET': RESIZED}
    handlers = (handler,)

    def setUp(self):
        super().setUp()
        self.make_bucket(UPLOADS)
        self.make_bucket(RESIZED)
        self.settings = handler.Settings.from_environ({'UPLOAD_BUCKET': UPLOADS,
                                                       'RESIZED_BUCKET': RESIZED})

    def get(self, path='/', query='', method='GET', **event):
        payload = http_event(path, query, **event)
        payload['requestContext']['http']['method'] = method
        return handler.handle_list_image(payload, None)

    def get_json(self, path, query=''):
        response = self.get(path, query)
        self.assertEqual(response['headers']['Content-Type'], 'application/json')
        return response['statusCode'], json.loads(response['body'])

    def add_resized(self, count, start=1_700_000_000.0):
        """``count`` resized images, uploaded one second apart; returns keys newest first."""
        keys = [handler.new_upload_key(self.settings, now=start + index) for index in range(count)]
        for key in keys:
            self.s3.put_object(Bucket=RESIZED, Key=key, Body=b'jpeg', ContentType='image/jpeg')
        return keys[::-1]

    def count_s3_calls(self):
        calls = []
        client = handler.client_for(RESIZED, self.settings)
        client.meta.events.register('before-call.s3', lambda model, **_: calls.append(model.name))
        return calls


class PrepareTest(GalleryTestCase):
    """What Lambda's Init does for the first page (burst CPU), so it is not done on the
    function's share of a core."""

    def test_the_first_page_finds_its_clients_and_urls_made(self):
        resolved = handler._object_urls.cache_info().currsize
        handler.prepare({'UPLOAD_BUCKET': UPLOADS, 'RESIZED_BUCKET': RESIZED,
                         'AWS_DEFAULT_REGION': REGION})
        self.assertEqual(handler._object_urls.cache_info().currsize, resolved + 1)
        made = handler.s3_client.cache_info().currsize
        calls = self.count_s3_calls()
        self.assertEqual(self.get()['statusCode'], 200)
        self.assertEqual(calls, ['ListObjectsV2'])
        self.assertEqual(handler.s3_client.cache_info().currsize, made, 'no client made')

    def test_settings_that_are_wrong_leave_it_to_the_page_to_say(self):
        handler.prepare({})  # no buckets: the page answers 500 with why, Init does not fail


class GalleryPageTest(GalleryTestCase):
    def test_empty_gallery(self):
        response = self.get()
        self.assertEqual(response['statusCode'], 200)
        self.assertEqual(response['headers']['Content-Type'], 'text/html; charset=utf-8')
        self.assertIn('No images yet', response['body'])

    def test_empty_event_still_renders_the_gallery(self):
        response = handler.handle_list_image({}, None)
        self.assertEqual(response['statusCode'], 200)
        self.assertIn('<h1>Image gallery</h1>', response['body'])

    def test_images_are_shown_through_presigned_urls(self):
        [key] = self.add_resized(1)
        page = Page(self.get()['body'])
        [image] = page.images
        self.assertEqual(image['alt'], key)
        url = urlsplit(image['src'])
        self.assertEqual(url.path, f'/{key}')
        query = parse_qs(url.query)
        self.assertEqual(query['X-Amz-Algorithm'], ['AWS4-HMAC-SHA256'])
        self.assertEqual(query['X-Amz-Expires'], ['3600'])
        self.assertIn('X-Amz-Signature', query)

    def test_url_expiry_is_configurable(self):
        self.set_env(URL_EXPIRES='120')
        self.add_resized(1)
        [image] = Page(self.get()['body']).images
        self.assertEqual(parse_qs(urlsplit(image['src']).query)['X-Amz-Expires'], ['120'])

    def test_120_images_paginate_newest_first_with_one_listing_per_page(self):
        newest_first = self.add_resized(120)
        calls = self.count_s3_calls()

        first = Page(self.get()['body'])
        self.assertEqual([image['alt'] for image in first.images], newest_first[:50])
        self.assertNotIn('prev', first.links)
        self.assertEqual(calls, ['ListObjectsV2'], 'one listing, no per-image requests')

        second = Page(self.get(query=first.links['next'].lstrip('?'))['body'])
        self.assertEqual([image['alt'] for image in second.images], newest_first[50:100])

        third = Page(self.get(query=second.links['next'].lstrip('?'))['body'])
        self.assertEqual([image['alt'] for image in third.images], newest_first[100:])
        self.assertNotIn('next', third.links)

        back = Page(self.get(query=third.links['prev'].lstrip('?'))['body'])
        self.assertEqual([image['alt'] for image in back.images], newest_first[50:100])
        back_again = Page(self.get(query=back.links['prev'].lstrip('?'))['body'])
        self.assertEqual([image['alt'] for image in back_again.images], newest_first[:50])
        self.assertEqual(calls.count('ListObjectsV2'), 5)
        self.assertEqual(set(calls), {'ListObjectsV2'})

    def test_page_size_is_configurable(self):
        self.set_env(PAGE_SIZE='7')
        newest_first = self.add_resized(10)
        page = Page(self.get()['body'])
        self.assertEqual([image['alt'] for image in page.images], newest_first[:7])
        self.assertIn('next', page.links)

    def test_new_upload_keys_sort_newest_first(self):
        older = handler.new_upload_key(self.settings, now=1_700_000_000)
        newer = handler.new_upload_key(self.settings, now=1_700_000_000.001)
        self.assertLess(newer, older)
        self.assertTrue(newer.startswith('uploads/'))
        self.assertEqual(handler.uploaded_at(newer, None).timestamp(), 1_700_000_000.001)

    def test_keys_are_user_data_and_rendered_escaped(self):
        key = 'uploads/"><script>alert(1)</script><img src=x onerror=alert(2)>'
        self.s3.put_object(Bucket=RESIZED, Key=key, Body=b'x')
        body = self.get()['body']
        self.assertNotIn('<script>alert(1)', body)
        self.assertNotIn('<img src=x', body)
        self.assertIn('&lt;script&gt;alert(1)&lt;/script&gt;', body)
        [image] = Page(body).images
        self.assertEqual(image['alt'], key)

    def test_content_security_policy_uses_a_fresh_nonce(self):
        first, second = self.get(), self.get()
        policy = first['headers']['Content-Security-Policy']
        page = Page(first['body'])
        [nonce] = page.nonces
        self.assertIn(f"script-src 'nonce-{nonce}'", policy)
        self.assertIn("default-src 'none'", policy)
        self.assertIn("frame-ancestors 'none'", policy)
        self.assertIn(f'form-action https://{UPLOADS}.s3.amazonaws.com', policy)
        self.assertNotIn(nonce, second['headers']['Content-Security-Policy'])
        self.assertNotIn('unsafe-inline', policy)

    def test_page_embeds_a_presigned_post(self):
        page = Page(self.get()['body'])
        self.assertEqual(page.form_action, f'https://{UPLOADS}.s3.amazonaws.com/')
        self.assertTrue(page.hidden['key'].startswith('uploads/'))
        for field in ('policy', 'x-amz-algorithm', 'x-amz-credential', 'x-amz-date',
                      'x-amz-signature'):
            self.assertIn(field, page.hidden)
        self.assertNotIn('cdn', self.get()['body'].lower())

    def test_head_has_no_body(self):
        response = self.get(method='HEAD')
        self.assertEqual(response['statusCode'], 200)
        self.assertEqual(response['body'], '')


# botocore's clock (naive UTC), which generate_presigned_url and the gallery's signer both read.
SIGNING_CLOCK = 'botocore.auth.get_current_datetime'
FROZEN_NOW = datetime(2024, 5, 6, 7, 8, 9)
KEYS = ['uploads/8299999999999-0a1b2c3d4e5f', 'uploads/a b+c%20d~e=f&g', 'uploads/ünï/✓ 東京.jpg',
        '/leading/slash', 'a//double//', 'uploads/x?y#z', 'uploads/"><img src=x>', 'uploads/..',
        './uploads/.', "uploads/it's (1) [2] {3} $@!*,;:"]


def query(url):
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


class PresignedUrlTest(GalleryTestCase):
    """The gallery signs each image URL itself; they must be generate_presigned_url's URLs."""

    def client(self, session, style, region, endpoint=None):
        return session.client('s3', region_name=region, endpoint_url=endpoint, config=Config(
            signature_version='s3v4', s3={'addressing_style': style}))

    def test_urls_are_the_ones_generate_presigned_url_makes(self):
        # The signed Host header drops a default port and keeps others, IPv6 in brackets.
        for style, endpoint in (('virtual', None), ('path', 'http://127.0.0.1:4566'),
                                ('path', 'http://[::1]:4566'),
                                ('virtual', 'https://S3.Example.com:443')):
            for token in (None, 'role-session-token'):
                for region in ('us-east-1', 'eu-west-1'):
                    with self.subTest(style=style, endpoint=endpoint, token=token,
                                      region=region):
                        session = boto3.session.Session(
                            aws_access_key_id='ASIAEXAMPLE', aws_secret_access_key='secret',
                            aws_session_token=token)
                        client = self.client(session, style, region, endpoint)
                        urls = handler.ObjectUrls.resolve(client, RESIZED,
                                                          session.get_credentials())
                        with mock.patch(SIGNING_CLOCK, return_value=FROZEN_NOW):
                            signed = [urls.signer(900)(key) for key in KEYS]
                            expected = [client.generate_presigned_url(
                                'get_object', Params={'Bucket': RESIZED, 'Key': key},
                                ExpiresIn=900) for key in KEYS]
                        self.assertEqual(signed, expected)
                        self.assertEqual('X-Amz-Security-Token' in query(signed[0]), bool(token))
                        host = urlsplit(signed[0]).netloc
                        self.assertEqual(host.startswith(RESIZED), style == 'virtual')

    def test_the_pages_urls_are_its_clients_own(self):
        keys = self.add_resized(50)
        with mock.patch(SIGNING_CLOCK, return_value=FROZEN_NOW):
            page = Page(self.get()['body'])
            client = handler.client_for(RESIZED, self.settings)
            expected = [client.generate_presigned_url(
                'get_object', Params={'Bucket': RESIZED, 'Key': key}, ExpiresIn=3600)
                for key in keys]
        self.assertEqual([image['src'] for image in page.images], expected)

    def test_the_endpoint_is_resolved_once_not_per_image(self):
        self.add_resized(50)
        resolved = []
        handler.client_for(RESIZED, self.settings).meta.events.register(
            'before-endpoint-resolution.s3', lambda model, **_: resolved.append(model.name))
        for _ in range(2):
            self.assertEqual(len(Page(self.get()['body']).images), 50)
        self.assertEqual(resolved.count('GetObject'), 1, resolved)

    def test_each_page_is_signed_with_the_credentials_current_then(self):
        """Role credentials are refreshed while an environment lives: never frozen for good."""
        issued = iter(range(1, 10))

        def refresh():  # expiring within botocore's mandatory refresh window: always renewed
            number = next(issued)
            return {'access_key': f'ASIAROLE{number}', 'secret_key': f'secret{number}',
                    'token': f'token{number}', 'expiry_time':
                    (datetime.now(timezone.utc) + timedelta(minutes=5)).isoformat()}

        credentials = RefreshableCredentials.create_from_metadata(refresh(), refresh, 'test')
        client = self.client(boto3.session.Session(), 'virtual', REGION)
        urls = handler.ObjectUrls.resolve(client, RESIZED, credentials)
        with mock.patch(SIGNING_CLOCK, return_value=FROZEN_NOW):
            first_page, second_page = urls.signer(3600), urls.signer(3600)
            first = [first_page(key) for key in KEYS[:3]]
            second = second_page(KEYS[0])
            renewed = self.client(boto3.session.Session(
                aws_access_key_id='ASIAROLE3', aws_secret_access_key='secret3',
                aws_session_token='token3'), 'virtual', REGION)
            expected = renewed.generate_presigned_url(
                'get_object', Params={'Bucket': RESIZED, 'Key': KEYS[0]})
        self.assertEqual({query(url)['X-Amz-Security-Token'] for url in first}, {'token2'})
        self.assertEqual(second, expected)

    def test_a_presigned_url_gets_the_object(self):
        key = 'uploads/a b+ü~ (1).jpg'
        self.s3.put_object(Bucket=RESIZED, Key=key, Body=b'resized bytes')
        [image] = Page(self.get()['body']).images
        self.assertEqual(urlsplit(image['src']).netloc, f'{RESIZED}.s3.amazonaws.com')
        response = requests.get(image['src'], timeout=10)  # moto answers; nothing leaves
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.content, b'resized bytes')

    def test_status_urls_are_presigned_the_same_way(self):
        key = handler.new_upload_key(self.settings)
        self.s3.put_object(Bucket=RESIZED, Key=key, Body=b'x')
        with mock.patch(SIGNING_CLOCK, return_value=FROZEN_NOW):
            status = self.get_json('/status', f'key={key}')[1]
            expected = handler.client_for(RESIZED, self.settings).generate_presigned_url(
                'get_object', Params={'Bucket': RESIZED, 'Key': key})
        self.assertEqual(status['url'], expected)


class TimestampTest(GalleryTestCase):
    def test_s3_timestamps_are_read_as_botocore_reads_them(self):
        for value in ('2023-11-14T22:13:20.000Z', '2023-11-14T22:13:20Z',
                      '2023-11-14T22:13:20.123456Z', '2024-02-29T23:59:59.5Z',
                      'Tue, 14 Nov 2023 22:13:20 GMT', '1700000000',
                      '2023-11-14T23:13:20.000+01:00'):
            with self.subTest(value):
                self.assertEqual(handler.parse_s3_timestamp(value), parse_timestamp(value))
        with self.assertRaises(ValueError):
            handler.parse_s3_timestamp('2023-02-30T00:00:00.000Z')

    def test_listing_timestamps_are_read_without_dateutil(self):
        self.add_resized(50)
        with mock.patch('botocore.parsers.DEFAULT_TIMESTAMP_PARSER',
                        side_effect=parse_timestamp) as botocores_parser:
            self.assertEqual(len(Page(self.get()['body']).images), 50)
        botocores_parser.assert_not_called()

    def test_an_image_without_a_timestamped_key_shows_its_last_modified(self):
        self.s3.put_object(Bucket=RESIZED, Key='uploads/plain.jpg', Body=b'x')
        modified = self.s3.head_object(Bucket=RESIZED, Key='uploads/plain.jpg')['LastModified']
        self.assertIn(modified.strftime('%Y-%m-%d %H:%M:%S UTC'), self.get()['body'])


class UploadFormTest(GalleryTestCase):
    def policy(self, fields):
        return json.loads(base64.b64decode(fields['policy']))

    def test_presigned_post_fields_and_conditions(self):
        status, form = self.get_json('/presign')
        self.assertEqual(status, 200)
        fields = form['fields']
        self.assertEqual(fields['key'], form['key'])
        self.assertTrue(form['key'].startswith('uploads/'))
        policy = self.policy(fields)
        conditions = policy['conditions']
        self.assertIn(['content-length-range', 1, 20 * 1024 * 1024], conditions)
        self.assertIn(['starts-with', '$Content-Type', 'image/'], conditions)
        self.assertIn({'bucket': UPLOADS}, conditions)
        self.assertIn({'key': form['key']}, conditions)
        self.assertNotIn('acl', json.dumps(policy))
        expires = time.mktime(time.strptime(policy['expiration'], '%Y-%m-%dT%H:%M:%SZ'))
        self.assertAlmostEqual(expires - time.mktime(time.gmtime()), 3600, delta=60)

    def test_each_form_gets_its_own_key(self):
        keys = {self.get_json('/presign')[1]['key'] for _ in range(5)}
        self.assertEqual(len(keys), 5)

    def test_size_limit_is_configurable(self):
        self.set_env(MAX_UPLOAD_BYTES='1024')
        _, form = self.get_json('/presign')
        self.assertIn(['content-length-range', 1, 1024], self.policy(form['fields'])['conditions'])

    def test_client_is_created_for_the_upload_buckets_region(self):
        self.make_bucket('upload-eu', region='eu-west-1')
        self.set_env(UPLOAD_BUCKET='upload-eu')
        _, form = self.get_json('/presign')
        self.assertEqual(form['url'], 'https://upload-eu.s3.eu-west-1.amazonaws.com/')
        self.assertIn('/eu-west-1/s3/aws4_request', form['fields']['x-amz-credential'])

    def test_upload_bucket_region_can_be_configured(self):
        self.set_env(UPLOAD_BUCKET_REGION='ap-southeast-2')
        _, form = self.get_json('/presign')
        self.assertIn('/ap-southeast-2/s3/', form['fields']['x-amz-credential'])

    def test_region_lookup_failure_is_retried_on_the_next_request(self):
        client = handler.s3_client()
        throttled = handler.ClientError({'Error': {'Code': 'SlowDown', 'Message': 'x'}},
                                        'GetBucketLocation')
        with mock.patch.object(client, 'get_bucket_location', side_effect=throttled):
            self.assertEqual(handler.bucket_region(UPLOADS), REGION)
        self.assertNotIn(UPLOADS, handler._BUCKET_REGIONS)
        with mock.patch.object(client, 'get_bucket_location',
                               return_value={'LocationConstraint': 'eu-west-1'}):
            self.assertEqual(handler.bucket_region(UPLOADS), 'eu-west-1')
            self.assertEqual(handler.bucket_region(UPLOADS), 'eu-west-1')
            self.assertEqual(client.get_bucket_location.call_count, 1)

    def test_a_custom_endpoint_gets_path_style_urls(self):
        handler.s3_client.cache_clear()
        with mock.patch.dict('os.environ', {'AWS_ENDPOINT_URL': 'http://127.0.0.1:4566'}):
            client = handler.s3_client(REGION)
        self.assertEqual(client.generate_presigned_post(UPLOADS, 'k')['url'],
                         f'http://127.0.0.1:4566/{UPLOADS}')


class StatusTest(GalleryTestCase):
    def test_pending_resized_rejected_and_missing(self):
        key = handler.new_upload_key(self.settings)
        self.assertEqual(self.get_json('/status', f'key={key}')[1]['state'], 'missing')

        self.s3.put_object(Bucket=UPLOADS, Key=key, Body=b'x')
        self.assertEqual(self.get_json('/status', f'key={key}')[1]['state'], 'pending')

        self.s3.put_object_tagging(Bucket=UPLOADS, Key=key, Tagging={'TagSet': [
            {'Key': 'resize-status', 'Value': 'rejected'},
            {'Key': 'resize-reason', 'Value': 'unsupported-format'},
            {'Key': 'resize-detail', 'Value': 'not an accepted image_ looks like text'}]})
        status = self.get_json('/status', f'key={key}')[1]
        self.assertEqual((status['state'], status['reason']), ('rejected', 'unsupported-format'))
        self.assertIn('looks like text', status['detail'])

        self.s3.put_object(Bucket=RESIZED, Key=key, Body=b'x')
        status = self.get_json('/status', f'key={key}')[1]
        self.assertEqual(status['state'], 'resized')
        self.assertIn('X-Amz-Signature=', status['url'])

    def upload_tagged(self, **tags):
        key = handler.new_upload_key(self.settings)
        self.s3.put_object(Bucket=UPLOADS, Key=key, Body=b'x')
        self.s3.put_object_tagging(Bucket=UPLOADS, Key=key, Tagging={'TagSet': [
            {'Key': name, 'Value': str(value)} for name, value in tags.items()]})
        return key

    def status(self, key):
        status, body = self.get_json('/status', f'key={key}')
        self.assertEqual(status, 200)
        return body

    def attempt(self, number, attempts, seconds_left):
        return {'resize-attempt': number, 'resize-attempts': attempts,
                'resize-deadline': int(time.time()) + seconds_left}

    def test_a_resize_that_knew_its_last_attempt_failed_is_failed(self):
        key = self.upload_tagged(**{'resize-status': 'failed', 'resize-reason': 's3-error',
                                    'resize-detail': 'S3 kept failing_ SlowDown'},
                                 **self.attempt(3, 3, 50))
        self.assertEqual(self.status(key), {'key': key, 'state': 'failed', 'reason': 's3-error',
                                            'detail': 'S3 kept failing_ SlowDown'})
        bare = self.upload_tagged(**{'resize-status': 'failed'})
        self.assertEqual(self.status(bare)['detail'],
                         'the resize function gave up after its last attempt')

    def test_a_last_attempt_past_its_deadline_is_failed(self):
        """Out of memory, a timeout or a crash leave no outcome: only the deadline tells."""
        for attempt in (self.attempt(3, 3, -10), self.attempt(1, 1, -10),
                        self.attempt(4, 3, -10)):  # an S3 event delivered twice
            with self.subTest(attempt):
                status = self.status(self.upload_tagged(**attempt))
                self.assertEqual((status['state'], status['reason']),
                                 ('failed', 'function-stopped'))
                self.assertEqual(status['detail'], 'the resize function stopped without '
                                 'finishing on its last attempt (out of memory, timeout or crash)')

    def test_attempts_running_or_still_to_come_are_pending(self):
        for attempt in (self.attempt(3, 3, 30),   # the last one, still running
                        self.attempt(3, 3, -1),   # just past its deadline: within the grace
                        self.attempt(1, 3, -10),  # over, but Lambda will retry it
                        self.attempt(2, 3, -10)):
            with self.subTest(attempt):
                self.assertEqual(self.status(self.upload_tagged(**attempt)), {
                    'key': mock.ANY, 'state': 'pending',
                    'attempt': attempt['resize-attempt'], 'attempts': 3})

    def test_a_resized_copy_wins_over_failure_tags(self):
        key = self.upload_tagged(**self.attempt(3, 3, -10))
        self.s3.put_object(Bucket=RESIZED, Key=key, Body=b'x')
        self.assertEqual(self.status(key)['state'], 'resized')

    def test_garbage_attempt_tags_mean_pending(self):
        """The tags are anyone's with write access to the bucket: no garbage is a 500."""
        past = int(time.time()) - 100
        garbage = ['', 'x', '-1', '0', '3.0', '1e3', '\u0663', '+3', 'NaN', 'inf', '9' * 13,
                   '0x10']
        for name in ('resize-attempt', 'resize-attempts', 'resize-deadline'):
            for value in garbage:
                if name == 'resize-deadline' and value == '0':
                    continue  # 1970: a deadline long past, not garbage
                tags = {'resize-attempt': 3, 'resize-attempts': 3, 'resize-deadline': past,
                        name: value}
                with self.subTest(tag=name, value=value):
                    self.assertEqual(self.status(self.upload_tagged(**tags)),
                                     {'key': mock.ANY, 'state': 'pending'})
            # moto trims spaces around tag values, so padded ones go straight in.
            with self.subTest(tag=name, value=' 3 '):
                self.assertIsNone(handler.Attempt.from_tags(
                    {'resize-attempt': '3', 'resize-attempts': '3', 'resize-deadline': str(past),
                     name: ' 3 '}))
        for tags in ({'resize-attempt': 3}, {'resize-status': 'unheard-of', 'resize-attempt': 1},
                     {'resize-attempts': 3, 'resize-deadline': past}):
            with self.subTest(tags):
                self.assertEqual(self.status(self.upload_tagged(**tags))['state'], 'pending')

    def test_status_refuses_keys_outside_the_uploads(self):
        for query in ('', 'key=', 'key=secrets/passwords.txt'):
            with self.subTest(query):
                status, body = self.get_json('/status', query)
                self.assertEqual(status, 400)
                self.assertIn('uploads/', body['error'])


class ErrorTest(GalleryTestCase):
    def test_s3_failure_gives_a_short_error_page_not_a_traceback(self):
        self.s3.delete_bucket(Bucket=RESIZED)
        response = self.get()
        self.assertEqual(response['statusCode'], 502)
        self.assertEqual(response['headers']['Content-Type'], 'text/html; charset=utf-8')
        self.assertIn('did not answer as expected', response['body'])
        self.assertNotIn('Traceback', response['body'])
        self.assertNotIn('NoSuchBucket', response['body'])

    def test_s3_failure_on_json_routes_is_json(self):
        self.s3.delete_bucket(Bucket=RESIZED)
        status, body = self.get_json('/status', 'key=uploads/x')
        self.assertEqual(status, 502)
        self.assertIn('error', body)

    def test_missing_configuration(self):
        with mock.patch.dict('os.environ', {'UPLOAD_BUCKET': ''}):
            response = self.get()
        self.assertEqual(response['statusCode'], 500)
        self.assertIn('UPLOAD_BUCKET not set', response['body'])

    def test_only_get_and_head(self):
        response = self.get(method='POST')
        self.assertEqual(response['statusCode'], 405)
        self.assertEqual(response['headers']['Allow'], 'GET, HEAD')

    def test_unknown_path(self):
        self.assertEqual(self.get('/favicon.ico')['statusCode'], 404)


class RoutingTest(GalleryTestCase):
    """Routes are whole paths: /anything/presign is not /presign."""

    def test_only_whole_paths_are_routed(self):
        for path in ('/anything/presign', '/x/status', '/a/b/', '/presign/', '/status/x',
                     '//presign', '/gallery', '/prod/presign'):
            with self.subTest(path):
                self.assertEqual(self.get(path, 'key=uploads/x')['statusCode'], 404)
        self.assertEqual(self.get('/presign')['statusCode'], 200)
        self.assertEqual(self.get('/status', 'key=uploads/x')['statusCode'], 200)

    def test_an_unknown_path_is_answered_in_the_kind_the_client_wants(self):
        page = self.get('/anything/presign', accept='text/html,application/xhtml+xml,*/*;q=0.8')
        self.assertEqual(page['headers']['Content-Type'], 'text/html; charset=utf-8')
        self.assertIn('No page at /anything/presign', page['body'])
        for accept in ('application/json', None):
            with self.subTest(accept=accept):
                answer = self.get('/anything/status', accept=accept)
                self.assertEqual(answer['statusCode'], 404)
                expected = 'application/json' if accept else 'text/html; charset=utf-8'
                self.assertEqual(answer['headers']['Content-Type'], expected)
        self.assertEqual(json.loads(self.get('/nope', accept='application/json')['body']),
                         {'error': 'No page at /nope'})

    def test_an_unknown_path_is_404_whatever_the_method(self):
        self.assertEqual(self.get('/anything/presign', method='POST')['statusCode'], 404)
        self.assertEqual(self.get('/presign', method='POST')['statusCode'], 405)

    def test_a_named_stage_is_served_under_its_own_segment(self):
        """HTTP APIs keep a named stage in rawPath (/prod/presign); $default has none."""
        self.assertEqual(self.get('/prod/presign', stage='prod')['statusCode'], 200)
        self.assertEqual(self.get('/prod/', stage='prod')['statusCode'], 200)
        self.assertEqual(self.get('/prod/status', 'key=uploads/x', stage='prod')['statusCode'],
                         200)
        self.assertEqual(self.get('/prod/prod/presign', stage='prod')['statusCode'], 404)
        self.assertEqual(self.get('/production/presign', stage='prod')['statusCode'], 404)
        # A custom domain mapped to the stage sends the path without it.
        self.assertEqual(self.get('/presign', stage='prod')['statusCode'], 200)

    def test_a_stage_root_without_its_slash_is_redirected(self):
        """The page's links are relative: at /prod they would resolve outside the stage."""
        response = self.get('/prod', 'after=uploads/1', stage='prod')
        self.assertEqual(response['statusCode'], 308)
        self.assertEqual(response['headers']['Location'], '/prod/?after=uploads/1')
        self.assertEqual(self.get('/prod', stage='prod')['headers']['Location'], '/prod/')

    def test_forged_page_cursor(self):
        response = self.get(query='after=../../etc')
        self.assertEqual(response['statusCode'], 400)
        self.assertIn('not valid', response['body'])
