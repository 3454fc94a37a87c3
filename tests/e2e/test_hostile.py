"""The service under hostile use, through the local endpoint: what the internet would upload,
a burst of uploads, and S3 failing under the function."""
import re
import sys
import time

from wand.image import Image

from tests import images
from tests.e2e.endpoint import (RESIZED_BUCKET, UPLOAD_BUCKET, EndpointTestCase, control,
                                post_form)

# name -> (bytes, content type the browser would claim, expected outcome)
VALID = {
    'rotated.jpg': (lambda: images.jpeg(800, 600, orientation=6), 'image/jpeg'),
    'gps.jpg': (lambda: images.jpeg(800, 600, gps=True), 'image/jpeg'),
    'cmyk.jpg': (lambda: images.cmyk_jpeg(600, 400), 'image/jpeg'),
    'deep.png': (lambda: images.png(800, 600, depth=16), 'image/png'),
    'alpha.webp': (lambda: images.webp(800, 600, alpha=True), 'image/webp'),
    'animated.gif': (lambda: images.animated_gif(500, 400, frames=5), 'image/gif'),
    'tiny.png': (lambda: images.png(30, 20), 'image/png'),
}
INVALID = {
    'vector.jpg': (lambda: images.SVG, 'image/jpeg', 'unsupported-format'),
    'drawing.png': (lambda: images.MVG, 'image/png', 'unsupported-format'),
    'script.jpg': (lambda: images.MSL, 'image/jpeg', 'unsupported-format'),
    'document.jpg': (lambda: images.PDF, 'image/jpeg', 'unsupported-format'),
    'page.png': (lambda: images.HTML, 'image/png', 'unsupported-format'),
    'cut.jpg': (lambda: images.truncated(images.jpeg(1200, 900)), 'image/jpeg', 'corrupt'),
    'header-bomb.png': (lambda: images.png_header_bomb(60000, 60000), 'image/png',
                        'too-many-pixels'),
    'deflate-bomb.png': (lambda: images.png_deflate_bomb(20000), 'image/png', 'too-many-pixels'),
}


class HostileCorpusTests:
    """The corpus, for any EndpointTestCase: with the host's ImageMagick here, with the
    ImageMagick layer in tests/e2e/test_layer.py."""

    def upload(self, data, content_type):
        form = self.upload_form()
        status, body = post_form(form, data, content_type)
        return form['key'], status, body

    def starts(self):
        return sum(line.startswith('START') for line in self.log_messages('ResizeImage-dev'))

    def failed_attempts(self):
        """Every attempt that ended in an error: its log lines, START to REPORT."""
        attempts, current = [], []
        for line in self.log_messages('ResizeImage-dev'):
            current = [line] if line.startswith('START') else current + [line]
            if line.startswith('REPORT') and 'Status: error' in line:
                attempts.append('\n'.join(current))
        return attempts

    def test_the_hostile_corpus(self):
        starts_before = self.starts()
        uploaded = {}
        for name, (make_data, content_type, *_) in {**VALID, **INVALID}.items():
            key, status, body = self.upload(make_data(), content_type)
            self.assertEqual(status, 204, f'{name}: {body}')
            uploaded[name] = key
        # Zero bytes never reach the bucket: the form's content-length-range starts at 1.
        key, status, body = self.upload(b'', 'image/jpeg')
        self.assertEqual((status, b'EntityTooSmall' in body), (400, True))
        self.assertIsNone(self.exists(UPLOAD_BUCKET, key))

        def pending():
            return [name for name in VALID if not self.exists(RESIZED_BUCKET, uploaded[name])] + [
                name for name in INVALID if 'resize-status' not in self.tags(uploaded[name])]

        try:
            self.wait_for(lambda: not pending(), seconds=120,
                          what='every upload resized or rejected')
        except AssertionError as timeout:
            self.fail(f'{timeout}; still pending: {pending()}; failed attempts: '
                      f'{self.failed_attempts()}')

        for name in VALID:
            with self.subTest(name):
                key = uploaded[name]
                data = self.client('s3').get_object(Bucket=RESIZED_BUCKET, Key=key)['Body'].read()
                self.assertIsNone(self.exists(UPLOAD_BUCKET, key), 'original removed')
                self.assertNotIn(b'Exif', data)
                with Image(blob=data) as image:
                    self.assertLessEqual(max(image.size), 400)
                    self.assertEqual(image.colorspace, 'srgb')
                    self.assertFalse([meta for meta in image.metadata if meta.startswith('exif:')])
                    if name == 'rotated.jpg':
                        self.assertEqual(image.size, (300, 400))
                    if name == 'alpha.webp':
                        self.assertEqual(round(image[100, 50].alpha * 255), 0)
                    if name == 'animated.gif':
                        self.assertEqual(len(image.sequence), 1)
                    if name == 'tiny.png':
                        self.assertEqual(image.size, (30, 20), 'never enlarged')
                    if name == 'deep.png':
                        self.assertEqual(image.depth, 8)
        for name, (_, _, reason) in INVALID.items():
            with self.subTest(name):
                key = uploaded[name]
                self.assertEqual(self.tags(key)['resize-reason'], reason)
                self.assertIsNone(self.exists(RESIZED_BUCKET, key))
                logged = [line for line in self.log_messages('ResizeImage-dev')
                          if key in line and '"rejected"' in line]
                self.assertEqual(len(logged), 1, 'one log line saying why')
        # No retry storm: one invocation per upload, refused ones included.
        time.sleep(2)
        self.assertEqual(self.starts() - starts_before, len(VALID) + len(INVALID),
                         f'failed attempts: {self.failed_attempts()}')

        # The service keeps working afterwards.
        key, status, _ = self.upload(images.jpeg(1200, 900), 'image/jpeg')
        self.wait_for(lambda: self.exists(RESIZED_BUCKET, key), what='a resize after the corpus')

    def tags(self, key):
        tag_set = self.client('s3').get_object_tagging(Bucket=UPLOAD_BUCKET, Key=key)['TagSet']
        return {tag['Key']: tag['Value'] for tag in tag_set}


class HostileUseTest(HostileCorpusTests, EndpointTestCase):
    def test_two_hundred_uploads_sixteen_in_flight(self):
        seconds = self.upload_concurrently(200, in_flight=16, seconds=240)
        print(f'\n200 uploads, 16 in flight: {200 / seconds:.1f} uploads/s ({seconds:.1f} s)',
              file=sys.stderr)

    def test_a_failing_resized_bucket_write_is_retried_and_nothing_is_lost(self):
        # The function's S3 client tries each call 3 times (botocore's standard mode), so 6
        # failures fail the event's first two attempts; the third succeeds.
        self.assertEqual(control(self.url, '/_local/faults', {
            'bucket': RESIZED_BUCKET, 'count': 6, 'status': 503, 'code': 'SlowDown'})[0], 201)
        key, status, _ = self.upload(images.jpeg(1200, 900), 'image/jpeg')
        self.assertEqual(status, 204)
        failures = lambda: [line for line in self.log_messages('ResizeImage-dev')
                            if key in line and '"failed"' in line]
        self.wait_for(failures, what='the first failed attempt')
        self.assertTrue(self.exists(UPLOAD_BUCKET, key), 'the original outlives a failed attempt')
        self.wait_for(lambda: self.exists(RESIZED_BUCKET, key), seconds=60,
                      what='the retry to succeed')
        self.wait_for(lambda: not self.exists(UPLOAD_BUCKET, key), what='the original deleted')
        self.assertEqual(len(failures()), 2)
        resized = [line for line in self.log_messages('ResizeImage-dev')
                   if key in line and '"resized"' in line]
        self.assertEqual(len(resized), 1)
        listing = self.client('s3').list_objects_v2(Bucket=RESIZED_BUCKET, Prefix=key)
        self.assertEqual(listing['KeyCount'], 1)
        self.assertTrue(re.search(r'SlowDown', ' '.join(failures())))
