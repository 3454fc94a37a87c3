"""The gallery in a real browser: headless Chromium (Debian's) driven by Playwright, against
the local endpoint, as a person uses it. Installing Chromium is part of this test's setup;
when that cannot be done the test is skipped, and says why."""
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

from deploy.functions import ROOT
from tests import images
from tests.e2e.endpoint import RESIZED_BUCKET, UPLOAD_BUCKET, EndpointTestCase

CHROMIUM = '/usr/bin/chromium'
ARTIFACTS = os.path.join(ROOT, '.local', 'artifacts')
# Chromium's flags for a closed network: no background calls home, no first-run work.
FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync']
STOPPED = ('the resize function stopped without finishing on its last attempt '
           '(out of memory, timeout or crash)')


def is_status(url):
    return '/status?' in url


def ensure_chromium():
    """Chromium from Debian's packages; None when ready, or why it cannot be had."""
    if os.access(CHROMIUM, os.X_OK):
        return None
    if os.geteuid() != 0 or not shutil.which('apt-get'):
        return 'Chromium is not installed: sudo apt-get install -y chromium'
    for command in (['apt-get', 'update', '-qq'],
                    ['apt-get', 'install', '-y', '-qq', '--no-install-recommends', 'chromium']):
        result = subprocess.run(command, capture_output=True, text=True, timeout=900,
                                env=dict(os.environ, DEBIAN_FRONTEND='noninteractive'))
        if result.returncode != 0:
            return f'Chromium could not be installed: {result.stderr.strip()[-300:]}'
    return None


class GalleryInABrowserTest(EndpointTestCase):
    @classmethod
    def setUpClass(cls):
        reason = ensure_chromium()
        if reason:
            print(f'\nSKIPPED browser test: {reason}', file=sys.stderr)
            raise unittest.SkipTest(reason)
        super().setUpClass()
        cls.s3 = cls.client('s3')
        cls.files = tempfile.mkdtemp()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.files, ignore_errors=True)
        super().tearDownClass()

    def file(self, name, data):
        path = os.path.join(self.files, name)
        with open(path, 'wb') as handle:
            handle.write(data)
        return path

    def test_a_person_uploads_and_browses(self):
        from playwright.sync_api import sync_playwright
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            try:
                self.scenario(browser.new_page(viewport={'width': 1100, 'height': 800}))
            finally:
                browser.close()

    def scenario(self, page):
        console, requests, dialogs = [], [], []
        page.on('console', lambda message: console.append(message))
        page.on('request', lambda request: requests.append(request.url))
        page.on('dialog', lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        refused_loads = 0

        # 1. The empty state.
        page.goto(self.gallery)
        self.assertIn('No images yet', page.inner_text('body'))

        # 2. A JPEG: progress, then the resized image without a reload.
        page.set_input_files('#file', self.file('photo.jpg', images.photo_jpeg(1600, 1200)))
        page.wait_for_selector('#uploads progress')
        page.wait_for_selector('#uploads .done', timeout=60000)
        # Functions, not expression strings: the page's CSP rightly forbids eval.
        page.wait_for_function("() => document.querySelector('#gallery img')?.naturalWidth === 400")
        os.makedirs(ARTIFACTS, exist_ok=True)
        screenshot = os.path.join(ARTIFACTS, 'gallery.png')
        page.screenshot(path=screenshot)
        print(f'\nscreenshot of the gallery: {screenshot}', file=sys.stderr)

        # 3. A text file named .jpg: refused by the resize, said so, original kept and tagged.
        page.set_input_files('#file', self.file('notes.jpg', b'just text\n'))
        rejected = page.wait_for_selector('#uploads .rejected', timeout=60000)
        self.assertIn('not an accepted image', rejected.inner_text())
        originals = self.s3.list_objects_v2(Bucket=UPLOAD_BUCKET)['Contents']
        self.assertEqual(len(originals), 1)
        tags = self.s3.get_object_tagging(Bucket=UPLOAD_BUCKET, Key=originals[0]['Key'])
        self.assertIn({'Key': 'resize-status', 'Value': 'rejected'}, tags['TagSet'])

        # 4. Over MAX_UPLOAD_BYTES: S3 refuses it, and the page says so.
        big = self.file('big.jpg', b'\xff\xd8\xff' + bytes(21 * 1024 * 1024))
        page.set_input_files('#file', big)
        refused = page.wait_for_selector('#uploads .refused', timeout=60000)
        self.assertIn('EntityTooLarge', refused.inner_text())
        refused_loads += 1

        # 5. 60 more images: 50 on the first page, newest first; the rest on the next.
        paths = [self.file(f'p{index:02}.jpg', images.jpeg(200 + index, 150))
                 for index in range(60)]
        page.set_input_files('#file', paths)
        try:
            page.wait_for_function(
                "() => document.querySelectorAll('#uploads .done').length === 61",
                timeout=120000)
        except Exception:
            states = page.eval_on_selector_all('#uploads li', 'rows => rows.map(r => r.innerText)')
            self.fail(f'not every upload finished: {states[:8]} ... ({len(states)} rows)')
        page.reload()
        first = page.eval_on_selector_all('#gallery img', 'images => images.map(i => i.alt)')
        self.assertEqual(len(first), 50)
        self.assertEqual(first, sorted(first), 'reverse-timestamp keys: newest first')
        page.click('a[rel=next]')
        second = page.eval_on_selector_all('#gallery img', 'images => images.map(i => i.alt)')
        self.assertEqual(len(second), 11)
        self.assertLess(first[-1], second[0])

        # 6. A key made to break out of the page is shown as text; no dialog opens.
        hostile = 'uploads/0"><script>alert(1)</script><img src=x onerror=alert(2)>'
        self.s3.put_object(Bucket=RESIZED_BUCKET, Key=hostile, Body=images.jpeg(40, 30))
        page.goto(self.gallery)
        self.assertIn(hostile, page.eval_on_selector_all('#gallery img',
                                                         'images => images.map(i => i.alt)'))
        page.wait_for_timeout(500)
        self.assertEqual(dialogs, [])

        # 7. /status throttled (Lambda's 429 in a burst, with Retry-After), then failing (503)
        #    and unreachable: the page waits as told, keeps asking, and the image arrives.
        asked = []

        def flaky(route):
            asked.append(time.monotonic())
            if len(asked) == 1:
                route.fulfill(status=429, headers={'Retry-After': '2'},
                              json={'message': 'Too Many Requests'})
            elif len(asked) == 2:
                route.fulfill(status=503, json={'message': 'Service Unavailable'})
            elif len(asked) == 3:
                route.abort()
            else:
                route.fallback()

        page.route(is_status, flaky)
        page.set_input_files('#file', self.file('throttled.jpg', images.jpeg(300, 200)))
        page.wait_for_selector('#uploads .done', timeout=30000)
        page.unroute(is_status, flaky)
        self.assertGreaterEqual(len(asked), 4)
        self.assertGreaterEqual(asked[1] - asked[0], 1.9, 'Retry-After: 2 was honoured')

        # 8. A resize that died on its last attempt: the page says so and stops asking.
        doomed = []

        def failed(route):
            doomed.append(route.request.url)
            route.fulfill(json={'key': 'uploads/x', 'state': 'failed',
                                'reason': 'function-stopped', 'detail': STOPPED})

        page.route(is_status, failed)
        page.set_input_files('#file', self.file('doomed.jpg', images.jpeg(300, 200)))
        failure = page.wait_for_selector('#uploads .failed', timeout=30000)
        self.assertEqual(failure.inner_text(), f'Failed: {STOPPED}')
        page.wait_for_timeout(2000)
        self.assertEqual(len(doomed), 1, 'no more polling after a definitive answer')
        page.unroute(is_status, failed)

        # 9. Still pending at the overall deadline (the page's clock run forward): the page
        #    stops asking and says the upload may still be processed.
        page.clock.install()
        page.goto(self.gallery)
        page.route(is_status, lambda route: route.fulfill(json={'state': 'pending'}))
        with page.expect_request(lambda request: is_status(request.url), timeout=30000):
            page.set_input_files('#file', self.file('slow.jpg', images.jpeg(300, 200)))
        page.clock.fast_forward('20:00')
        slow = page.wait_for_selector('#uploads .unfinished', timeout=10000)
        self.assertIn('may still be processed', slow.inner_text())

        # 10. No console errors but the ones asked for; nothing left 127.0.0.1.
        errors = [message.text for message in console if message.type == 'error']
        refusals = [text for text in errors if 'status of 400' in text]
        self.assertEqual(len(refusals), refused_loads)
        provoked = [text for text in errors if 'status of 429' in text
                    or 'status of 503' in text or 'net::ERR_FAILED' in text]
        self.assertEqual(len(provoked), 3, 'the 429, the 503 and the dropped connection')
        self.assertEqual([text for text in errors if text not in refusals + provoked], [])
        self.assertEqual({url.split('/')[2] for url in requests if '://' in url},
                         {f'127.0.0.1:{self.port}'})
