"""The zipper on its own (the planner's tests are in test_planner)."""
import os
import shutil
import stat
import tempfile
import unittest
import zipfile
from unittest import mock

from deploy import zipper


class ZipperTest(unittest.TestCase):
    def setUp(self):
        self.directory = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.directory)
        self.source = os.path.join(self.directory, 'function')
        self.deps = os.path.join(self.directory, 'function', '.build', 'site-packages')
        for name, text in {'handler.py': 'x = 1\n', 'page.html': '<p>\n', 'Makefile': 'all:\n',
                           'requirements.txt': 'a\n', 'events/e.json': '{}',
                           '__pycache__/handler.cpython-311.pyc': 'cache',
                           'tests/test_x.py': '', '.hidden': '', 'old.zip': 'zip',
                           '.build/site-packages/lib/__init__.py': 'y = 2\n',
                           '.build/site-packages/lib-1.0.dist-info/METADATA': 'Name: lib\n',
                           '.build/site-packages/boto3/__init__.py': '',
                           '.build/site-packages/botocore/__init__.py': '',
                           '.build/site-packages/s3transfer/__init__.py': '',
                           '.build/site-packages/boto3-1.0.dist-info/METADATA': '',
                           '.build/site-packages/bin/tool': '#!/bin/sh\n'}.items():
            path = os.path.join(self.source, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, 'w') as handle:
                handle.write(text)
        os.chmod(os.path.join(self.source, 'handler.py'), 0o600)

    def build(self, output='out.zip'):
        path = os.path.join(self.directory, output)
        zipper.build(path, self.source, self.deps, ['Makefile', 'requirements.txt', 'events'])
        return path

    def test_contents_code_at_the_root_plus_dependencies(self):
        with zipfile.ZipFile(self.build()) as archive:
            self.assertEqual(archive.namelist(), ['handler.py', 'lib-1.0.dist-info/METADATA',
                                                  'lib/__init__.py', 'page.html'])

    def test_same_inputs_same_bytes_whatever_the_file_times(self):
        first = open(self.build('a.zip'), 'rb').read()
        os.utime(os.path.join(self.source, 'handler.py'), (1e9, 1e9))
        second = open(self.build('b.zip'), 'rb').read()
        self.assertEqual(first, second)

    def test_timestamps_and_permissions_are_normalised(self):
        with zipfile.ZipFile(self.build()) as archive:
            for info in archive.infolist():
                self.assertEqual(info.date_time, zipper.FIXED_TIME)
                self.assertEqual(stat.S_IMODE(info.external_attr >> 16), 0o644, info.filename)

    def test_sha256_is_what_lambda_reports(self):
        path = self.build()
        import base64
        import hashlib
        expected = base64.b64encode(hashlib.sha256(open(path, 'rb').read()).digest()).decode()
        self.assertEqual(zipper.code_sha256(path), expected)

    def test_limits_name_themselves_and_leave_no_zip(self):
        path = os.path.join(self.directory, 'big.zip')
        with mock.patch.object(zipper, 'UNZIPPED_LIMIT', 10):
            with self.assertRaises(zipper.PackageTooLarge) as caught:
                zipper.build(path, self.source, self.deps)
        self.assertIn('250 MB', str(caught.exception))
        with mock.patch.object(zipper, 'DIRECT_UPLOAD_LIMIT', 10):
            with self.assertRaises(zipper.PackageTooLarge) as caught:
                zipper.build(path, self.source, self.deps)
        self.assertIn('50 MB', str(caught.exception))
        self.assertIn('--zip-file', str(caught.exception))
        self.assertEqual([name for name in os.listdir(self.directory) if 'zip' in name], [])
