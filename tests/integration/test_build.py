"""`make build` in each function folder: deterministic zips for Lambda's platform.

pip installs for Lambda's platform here, from the package index (its cache makes reruns fast).
"""
import os
import zipfile

from tests.workspace import ProjectCopyTestCase, make

ELF_MACHINES = {62: 'x86_64', 183: 'aarch64'}


def compiled_modules(path):
    """{name: ELF machine} of the shared objects in a zip."""
    found = {}
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if name.endswith('.so'):
                header = archive.read(name)[:20]
                found[name] = ELF_MACHINES.get(int.from_bytes(header[18:20], 'little'))
    return found


class BuildTest(ProjectCopyTestCase):
    def build(self, function, *arguments):
        return make(os.path.join(self.root, function), 'build', *arguments)

    def zip_path(self, function):
        return self.path(function, f'{function}.zip')

    def test_two_clean_builds_are_byte_identical(self):
        self.build('image_list')
        first = open(self.zip_path('image_list'), 'rb').read()
        make(self.path('image_list'), 'clean')
        self.assertFalse(os.path.exists(self.zip_path('image_list')))
        self.build('image_list')
        self.assertEqual(open(self.zip_path('image_list'), 'rb').read(), first)

    def test_a_no_op_build_leaves_the_zip_untouched(self):
        self.build('image_resize')
        before = os.stat(self.zip_path('image_resize'))
        result = self.build('image_resize')
        self.assertIn('Nothing to be done', result.stdout)
        after = os.stat(self.zip_path('image_resize'))
        self.assertEqual((before.st_mtime_ns, before.st_size), (after.st_mtime_ns, after.st_size))

    def test_touching_the_handler_rebuilds(self):
        self.build('image_resize')
        before = os.stat(self.zip_path('image_resize')).st_mtime_ns
        os.utime(self.path('image_resize', 'handler.py'))
        result = self.build('image_resize')
        self.assertIn('built image_resize.zip', result.stdout)
        self.assertNotIn('installing requirements', result.stdout, 'dependencies are kept')
        self.assertGreaterEqual(os.stat(self.zip_path('image_resize')).st_mtime_ns, before)

    def test_zip_contents(self):
        self.build('image_resize')
        self.build('image_list')
        for function, code in (('image_resize', {'handler.py', 'resize.py'}),
                               ('image_list', {'handler.py', 'list.html'})):
            with zipfile.ZipFile(self.zip_path(function)) as archive:
                names = archive.namelist()
            top = {name.split('/')[0] for name in names}
            with self.subTest(function):
                self.assertTrue(code <= top, 'code at the zip root')
                self.assertFalse({'boto3', 'botocore', 's3transfer', 'Makefile',
                                  'requirements.txt', 'events', 'tests', '.build'} & top)
                self.assertFalse([name for name in names if name.endswith('.zip') or (
                    name.endswith('.pyc') and not name.endswith('.cpython-312.pyc'))])
                self.assertFalse([name for name in names if name.startswith('__pycache__/')],
                                 "the function's own code ships no cache")
        with zipfile.ZipFile(self.zip_path('image_resize')) as archive:
            self.assertIn('wand/image.py', archive.namelist())
        with zipfile.ZipFile(self.zip_path('image_list')) as archive:
            self.assertIn('jinja2/environment.py', archive.namelist())

    def test_wheels_are_for_lambdas_platform_not_the_host(self):
        self.build('image_list')
        self.assertEqual(compiled_modules(self.zip_path('image_list')),
                         {'markupsafe/_speedups.cpython-312-x86_64-linux-gnu.so': 'x86_64'})
        self.build('image_list', 'ARCH=arm64')
        self.assertEqual(compiled_modules(self.zip_path('image_list')),
                         {'markupsafe/_speedups.cpython-312-aarch64-linux-gnu.so': 'aarch64'})
        result = self.build('image_list', 'ARCH=arm64', 'RUNTIME=python3.13')
        self.assertIn('installing requirements.txt for python3.13 on arm64', result.stdout)
        self.assertEqual(list(compiled_modules(self.zip_path('image_list'))),
                         ['markupsafe/_speedups.cpython-313-aarch64-linux-gnu.so'])

    def test_config_mk_sets_variables_and_the_command_line_wins(self):
        config = self.path('config.mk')
        self.addCleanup(os.unlink, config)
        with open(config, 'w') as handle:
            handle.write('ARCH = arm64\nZIPFILE_NAME = from-config.zip\n')
        self.build('image_list')
        self.assertEqual(list(compiled_modules(self.path('image_list', 'from-config.zip')).values()),
                         ['aarch64'])
        self.build('image_list', 'ARCH=x86_64')
        self.assertEqual(list(compiled_modules(self.path('image_list', 'from-config.zip')).values()),
                         ['x86_64'])

    def test_bad_platform_settings_are_refused(self):
        result = make(self.path('image_list'), 'build', 'ARCH=sparc', check=False)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn('ARCH must be x86_64 or arm64', result.stderr)
        result = make(self.path('image_list'), 'build', 'RUNTIME=python2.7', check=False)
        self.assertIn('python2.7 can no longer be deployed', result.stderr)

    def test_size_limits_fail_with_a_clear_message(self):
        big = self.path('image_list', 'big.bin')
        self.addCleanup(lambda: os.path.exists(big) and os.unlink(big))
        with open(big, 'wb') as handle:
            handle.write(os.urandom(51 * 1024 * 1024))  # incompressible: the zip is over 50 MB
        result = make(self.path('image_list'), 'build', check=False)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("over Lambda's limit of 52,428,800 bytes (50 MB) for a direct upload",
                      result.stderr)
        self.assertFalse(os.path.exists(self.zip_path('image_list')))
        with open(big, 'wb') as handle:
            handle.truncate(263 * 1024 * 1024)  # sparse zeros: small zipped, too big unzipped
        result = make(self.path('image_list'), 'build', check=False)
        self.assertIn("over Lambda's limit of 262,144,000 bytes (250 MB", result.stderr)
        self.assertFalse(os.path.exists(self.zip_path('image_list')))

    def test_size_reports_against_the_limits(self):
        result = make(self.path('image_list'), 'size')
        self.assertIn('of the 50 MB direct-upload limit', result.stdout)
