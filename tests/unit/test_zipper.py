"""The zipper's dependency cache: a rebuild reuses the dependencies' deflated members, and its zip
is byte for byte the one a clean build writes."""
import io
import os
import shutil
import stat
import tempfile
import time
import unittest
import zipfile
from contextlib import redirect_stdout
from unittest import mock

from deploy import zipper

EXCLUDE = ['Makefile', 'requirements.txt', 'events']
SETTLED = time.time() - 3600  # an hour ago: long enough unchanged for the cache to trust a stat


def write(path, content, mode=0o644, mtime=SETTLED):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as handle:
        handle.write(content)
    os.chmod(path, mode)
    os.utime(path, (mtime, mtime))


def zipfile_build(output, source, deps, exclude):
    """The zip as this module wrote it with zipfile before it had a cache."""
    entries = dict(zipper.collect(source, zipper.ALWAYS_EXCLUDED + tuple(exclude)))
    entries.update(zipper.collect(deps, zipper.ALWAYS_EXCLUDED + zipper.RUNTIME_PROVIDED))
    with zipfile.ZipFile(output, 'w', zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, zipper.FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            executable = os.stat(entries[name]).st_mode & 0o111
            info.external_attr = (0o100755 if executable else 0o100644) << 16
            with open(entries[name], 'rb') as data:
                archive.writestr(info, data.read(), compresslevel=9)


class ZipperCacheTest(unittest.TestCase):
    def setUp(self):
        self.directory = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.directory)
        self.source = os.path.join(self.directory, 'function')
        self.deps = os.path.join(self.source, '.build', 'site-packages')
        self.cache = zipper.default_cache(self.deps)
        files = {'handler.py': b'import lib\n', 'page.html': b'<p>caf\xc3\xa9</p>\n' * 50,
                 'café.txt': b'utf-8 name\n', 'Makefile': b'all:\n',
                 'requirements.txt': b'lib\n', 'events/e.json': b'{}',
                 '__pycache__/handler.cpython-312.pyc': b'cache', 'tests/test_x.py': b'',
                 '.hidden': b'', 'old.zip': b'zip',
                 '.build/site-packages/lib/__init__.py': b'from .core import *\n',
                 '.build/site-packages/lib/core.py': b'def f():\n    return 1\n' * 200,
                 '.build/site-packages/lib/empty.py': b'',
                 '.build/site-packages/lib/data.bin': os.urandom(5000),
                 '.build/site-packages/lib-1.0.dist-info/METADATA': b'Name: lib\n',
                 '.build/site-packages/zlast/__init__.py': b'z = 26\n',
                 '.build/site-packages/boto3/__init__.py': b'',
                 '.build/site-packages/botocore/__init__.py': b'',
                 '.build/site-packages/boto3-1.0.dist-info/METADATA': b'',
                 '.build/site-packages/bin/tool': b'#!/bin/sh\n'}
        for name, content in files.items():
            write(self.path(name), content)
        os.chmod(self.path('.build/site-packages/lib/core.py'), 0o755)

    def path(self, name):
        return os.path.join(self.source, *name.split('/'))

    def build(self, output='out.zip', cache='default'):
        path = os.path.join(self.directory, output)
        zipper.build(path, self.source, self.deps, EXCLUDE,
                     self.cache if cache == 'default' else cache)
        return path

    def clean_build(self):
        """The same inputs built with no cache at all."""
        return self.build('clean.zip', cache=None)

    def deflated_on_rebuild(self):
        """Names deflated by a build with the cache, which must give the clean build's bytes."""
        with mock.patch.object(zipper, '_deflate', wraps=zipper._deflate) as deflate:
            path = self.build()
        self.assertEqual(open(path, 'rb').read(), open(self.clean_build(), 'rb').read())
        self.assertEqual(zipper.code_sha256(path), zipper.code_sha256(self.clean_build()))
        return sorted(call.args[0] for call in deflate.call_args_list)

    def test_the_bytes_are_those_zipfile_wrote_before_the_cache(self):
        expected = os.path.join(self.directory, 'zipfile.zip')
        zipfile_build(expected, self.source, self.deps, EXCLUDE)
        self.assertEqual(open(self.build(), 'rb').read(), open(expected, 'rb').read())
        self.assertEqual(open(self.build(), 'rb').read(), open(expected, 'rb').read(),
                         'from the cache too')
        with zipfile.ZipFile(self.build()) as archive:
            self.assertIsNone(archive.testzip())
            self.assertEqual(stat.S_IMODE(archive.getinfo('lib/core.py').external_attr >> 16),
                             0o755)

    def test_an_edit_deflates_only_the_source_files(self):
        self.build()
        write(self.path('handler.py'), b'import lib  # edited\n')
        self.assertEqual(self.deflated_on_rebuild(), ['café.txt', 'handler.py', 'page.html'])
        with zipfile.ZipFile(self.build()) as archive:
            self.assertEqual(archive.read('handler.py'), b'import lib  # edited\n')

    def test_the_cache_is_written_where_the_cli_says(self):
        output = os.path.join(self.directory, 'cli.zip')
        with redirect_stdout(io.StringIO()) as printed:
            zipper.main(['build', output, self.source, '--deps', self.deps + '/',
                         '--exclude', 'Makefile', '--exclude', 'requirements.txt',
                         '--exclude', 'events'])
        self.assertTrue(os.path.isfile(os.path.join(self.source, '.build',
                                                    'site-packages.zipcache')))
        self.assertIn('CodeSha256 ' + zipper.code_sha256(output), printed.getvalue())
        self.assertEqual(open(output, 'rb').read(), open(self.clean_build(), 'rb').read())

    def test_a_changed_dependency_file_is_deflated_again(self):
        self.build()
        write(self.path('.build/site-packages/lib/core.py'), b'def f():\n    return 2\n' * 200,
              mode=0o755, mtime=SETTLED + 1)
        self.assertEqual(self.deflated_on_rebuild(),
                         ['café.txt', 'handler.py', 'lib/core.py', 'page.html'])

    def test_a_file_replaced_with_the_same_size_and_mtime_is_deflated_again(self):
        self.build()
        target = self.path('.build/site-packages/lib/__init__.py')
        write(target + '.new', b'from .core import f\n')  # as cp -p or rsync -t would
        os.replace(target + '.new', target)
        self.assertIn('lib/__init__.py', self.deflated_on_rebuild())

    def test_a_changed_mode_is_seen(self):
        self.build()
        os.chmod(self.path('.build/site-packages/lib/core.py'), 0o644)
        self.deflated_on_rebuild()
        with zipfile.ZipFile(self.build()) as archive:
            self.assertEqual(stat.S_IMODE(archive.getinfo('lib/core.py').external_attr >> 16),
                             0o644)

    def test_an_added_dependency_file_is_zipped(self):
        self.build()
        write(self.path('.build/site-packages/lib/extra.py'), b'extra = True\n')
        self.assertIn('lib/extra.py', self.deflated_on_rebuild())
        with zipfile.ZipFile(self.build()) as archive:
            self.assertEqual(archive.read('lib/extra.py'), b'extra = True\n')

    def test_a_removed_dependency_file_leaves_the_zip(self):
        self.build()
        os.unlink(self.path('.build/site-packages/lib/data.bin'))
        os.unlink(self.path('.build/site-packages/zlast/__init__.py'))
        self.assertEqual(self.deflated_on_rebuild(), ['café.txt', 'handler.py', 'page.html'])
        with zipfile.ZipFile(self.build()) as archive:
            self.assertNotIn('lib/data.bin', archive.namelist())
            self.assertNotIn('zlast/__init__.py', archive.namelist())

    def test_a_file_changed_in_the_last_seconds_is_not_trusted_yet(self):
        write(self.path('.build/site-packages/lib/fresh.py'), b'fresh = 1\n', mtime=time.time())
        self.build()
        self.assertIn('lib/fresh.py', self.deflated_on_rebuild())
        os.utime(self.path('.build/site-packages/lib/fresh.py'), (SETTLED, SETTLED))
        self.assertIn('lib/fresh.py', self.deflated_on_rebuild())
        self.assertNotIn('lib/fresh.py', self.deflated_on_rebuild(), 'settled: reused')

    def test_a_file_deflated_while_fresh_is_confirmed_by_its_crc_once_settled(self):
        write(self.path('.build/site-packages/lib/fresh.py'), b'fresh = 1\n', mtime=time.time())
        self.build()  # as just after pip install: deflated, its stat not yet trusted
        later = time.time_ns() + 3 * 10 ** 9
        with mock.patch.object(zipper.time, 'time_ns', return_value=later):
            self.assertNotIn('lib/fresh.py', self.deflated_on_rebuild(), 'unchanged: reused')
            write(self.path('.build/site-packages/lib/fresh.py'), b'fresh = 2\n',
                  mtime=time.time())
            self.assertIn('lib/fresh.py', self.deflated_on_rebuild(), 'changed: deflated')

    def test_a_damaged_cache_is_rebuilt(self):
        self.build()
        intact = open(self.cache, 'rb').read()
        damages = {'empty': b'', 'garbage': os.urandom(3000), 'truncated': intact[:-9],
                   'cut in the records': intact[:len(intact) // 2],
                   'longer': intact + b'\0',
                   'another format': intact.replace(b'cache 1,', b'cache 0,', 1),
                   'a huge index length': intact[:-12] + b'\xff' * 8 + intact[-4:],
                   'an index that is not UTF-8': intact.replace(b'lib/core.py', b'lib/\xffore.py')}
        for damage, content in damages.items():
            with self.subTest(damage):
                with open(self.cache, 'wb') as handle:
                    handle.write(content)
                deflated = self.deflated_on_rebuild()
                self.assertIn('lib/core.py', deflated)
                self.assertEqual(open(self.cache, 'rb').read(), intact, 'rewritten whole')
                self.assertEqual(self.deflated_on_rebuild(),
                                 ['café.txt', 'handler.py', 'page.html'])

    def test_a_cache_of_another_folder_is_not_used(self):
        other = os.path.join(self.directory, 'other-deps')
        write(os.path.join(other, 'lib', '__init__.py'), b'x = 1\n')
        self.build()
        zipper.build(os.path.join(self.directory, 'other.zip'), self.source, other, EXCLUDE,
                     self.cache)
        with zipfile.ZipFile(os.path.join(self.directory, 'other.zip')) as archive:
            self.assertEqual(archive.read('lib/__init__.py'), b'x = 1\n')
            self.assertNotIn('lib/core.py', archive.namelist())

    def test_a_cache_replaced_meanwhile_by_another_build_is_not_mixed_in(self):
        other = os.path.join(self.directory, 'other-deps')
        write(os.path.join(other, 'lib', '__init__.py'), b'x = 1\n')
        self.build()
        build_zip = zipper._build

        def another_build_first(*arguments):
            with mock.patch.object(zipper, '_build', build_zip):
                zipper.build(os.path.join(self.directory, 'other.zip'), self.source, other,
                             EXCLUDE, self.cache)
            return build_zip(*arguments)

        for edit in ('the source', 'a dependency'):
            with self.subTest(edit):
                self.build()
                if edit == 'a dependency':
                    write(self.path('.build/site-packages/lib/core.py'), b'changed\n')
                with mock.patch.object(zipper, '_build', another_build_first):
                    path = self.build()
                self.assertEqual(open(path, 'rb').read(), open(self.clean_build(), 'rb').read())

    def test_excluded_names_stay_out_of_clean_and_cached_builds(self):
        expected = ['café.txt', 'handler.py', 'lib-1.0.dist-info/METADATA', 'lib/__init__.py',
                    'lib/core.py', 'lib/data.bin', 'lib/empty.py', 'page.html',
                    'zlast/__init__.py']
        with zipfile.ZipFile(self.build()) as archive:
            self.assertEqual(archive.namelist(), expected)
        write(self.path('.build/site-packages/lib/__pycache__/core.cpython-312.pyc'), b'pyc')
        write(self.path('.build/site-packages/lib/tests/test_core.py'), b'')
        write(self.path('.build/site-packages/s3transfer/__init__.py'), b'')
        write(self.path('.build/site-packages/.lock'), b'')
        with zipfile.ZipFile(self.build()) as archive:
            self.assertEqual(archive.namelist(), expected)

    def test_a_name_in_both_the_source_and_the_dependencies_is_refused(self):
        write(self.path('.build/site-packages/handler.py'), b'')
        with self.assertRaises(ValueError):
            self.build()

    def test_no_dependencies_no_cache(self):
        shutil.rmtree(self.deps)
        with zipfile.ZipFile(self.build()) as archive:
            self.assertEqual(archive.namelist(), ['café.txt', 'handler.py', 'page.html'])
        self.assertFalse(os.path.exists(self.cache))

    def test_without_a_cache_nothing_is_left_beside_the_zip(self):
        self.clean_build()
        self.assertEqual(sorted(os.listdir(self.directory)), ['clean.zip', 'function'])
        self.assertFalse(os.path.exists(self.cache))

    def test_more_members_than_the_end_record_counts_take_the_zip64_records(self):
        with mock.patch.object(zipper, 'MEMBER_LIMIT', 4):
            path = self.build()
        with zipfile.ZipFile(path) as archive:
            self.assertEqual(len(archive.namelist()), 9)
            self.assertIsNone(archive.testzip())

    def test_too_large_a_zip_leaves_neither_zip_nor_temporary_file(self):
        self.build()
        with mock.patch.object(zipper, 'DIRECT_UPLOAD_LIMIT', 100):
            with self.assertRaises(zipper.PackageTooLarge):
                self.build('big.zip')
        self.assertEqual(sorted(os.listdir(self.directory)), ['function', 'out.zip'])
        self.assertEqual(sorted(os.listdir(os.path.dirname(self.deps))),
                         ['site-packages', 'site-packages.zipcache'])


if __name__ == '__main__':
    unittest.main()
