"""deploy.dependencies: the decisions around pip, on pip's own messages and on wheels written here.

pip itself runs in tests/integration/test_dependencies.py."""
import json
import os
import shutil
import tempfile
import unittest
import zipfile

from deploy import dependencies
from deploy.dependencies import DependencyError, Platform

# pip 23's messages, as printed for requirements.txt lines that have no wheel for Lambda.
NO_VERSIONS = ('ERROR: Could not find a version that satisfies the requirement docopt '
               '(from versions: none)\nERROR: No matching distribution found for docopt\n')
OTHER_VERSIONS = ('ERROR: Could not find a version that satisfies the requirement '
                  'termcolor==1.1.0 (from versions: 2.0.0, 2.0.1, 3.3.0)\n'
                  'ERROR: No matching distribution found for termcolor==1.1.0\n')
FROM_PARENT = ('ERROR: Could not find a version that satisfies the requirement lmk-missing>=2 '
               '(from lmk-top) (from versions: none)\n'
               'ERROR: No matching distribution found for lmk-missing>=2\n')
CONFLICT = ('ERROR: Cannot install a==1 and b==1 because these package versions have '
            'conflicting dependencies.\nERROR: ResolutionImpossible: for help visit '
            'https://pip.pypa.io/en/latest/topics/dependency-resolution/\n')
# pip -vv with --no-binary NAME skips every wheel it sees with these words, NAME's or not.
SKIPPED_OWN_WHEEL = ('  Skipping link: No binaries permitted for pywin32: https://files.'
                     'example/packages/pywin32-306-cp312-cp312-win_amd64.whl#sha256=ab\n')
SKIPPED_OTHER_WHEEL = ('  Skipping link: No binaries permitted for pywin32: '
                       'file:///opt/wheels/torch-2.13.0-cp311-cp311-manylinux_2_28_x86_64.whl\n')


def write_wheel(folder, filename, files):
    path = os.path.join(folder, filename)
    with zipfile.ZipFile(path, 'w') as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return path


class PlatformTest(unittest.TestCase):
    def test_amazon_linux_2023_runtimes_take_newer_manylinux_wheels(self):
        platform = Platform('python3.12', 'arm64')
        self.assertEqual(platform.python_version, '3.12')
        self.assertEqual(platform.platforms, ['manylinux2014_aarch64', 'manylinux_2_28_aarch64',
                                              'manylinux_2_34_aarch64'])
        self.assertEqual(str(platform), 'cp312 on manylinux aarch64')

    def test_amazon_linux_2_runtimes_take_manylinux2014_only(self):
        self.assertEqual(Platform('python3.11', 'x86_64').platforms, ['manylinux2014_x86_64'])

    def test_other_runtimes_and_architectures_are_refused(self):
        for runtime, arch in (('python2.7', 'x86_64'), ('nodejs20.x', 'x86_64'),
                              ('python3.12', 'aarch64')):
            with self.subTest(runtime=runtime, arch=arch), self.assertRaises(DependencyError):
                Platform(runtime, arch)


class RequirementLinesTest(unittest.TestCase):
    def setUp(self):
        self.folder = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.folder)
        self.path = os.path.join(self.folder, 'requirements.txt')

    def test_a_missing_file_asks_for_nothing(self):
        self.assertEqual(dependencies.requirement_lines(self.path), [])

    def test_comments_and_blank_lines_ask_for_nothing(self):
        with open(self.path, 'w') as handle:
            handle.write('# none yet\n\n   # indented comment\n')
        self.assertEqual(dependencies.requirement_lines(self.path), [])

    def test_requirements_keep_their_specifiers_without_comments(self):
        with open(self.path, 'w') as handle:
            handle.write('docopt  # sdist only\ntermcolor==1.1.0\nfoo @ https://x/y#egg=foo\n')
        self.assertEqual(dependencies.requirement_lines(self.path),
                         ['docopt', 'termcolor==1.1.0', 'foo @ https://x/y#egg=foo'])


class UnsatisfiedTest(unittest.TestCase):
    """Which requirement pip found no distribution for, in pip's own words."""

    def test_a_name_with_no_version_at_all(self):
        self.assertEqual(dependencies.unsatisfied(NO_VERSIONS), ('docopt', []))

    def test_a_version_that_has_no_wheel_when_others_have(self):
        self.assertEqual(dependencies.unsatisfied(OTHER_VERSIONS),
                         ('termcolor==1.1.0', ['2.0.0', '2.0.1', '3.3.0']))

    def test_a_dependency_of_another_requirement_loses_its_parent(self):
        self.assertEqual(dependencies.unsatisfied(FROM_PARENT), ('lmk-missing>=2', []))

    def test_other_failures_are_not_taken_for_a_missing_distribution(self):
        self.assertIsNone(dependencies.unsatisfied(CONFLICT))
        self.assertIsNone(dependencies.unsatisfied(''))

    def test_project_names_are_normalised(self):
        self.assertEqual(dependencies.project_name('Foo_Bar.baz[extra]>=1'), 'foo-bar-baz')
        self.assertEqual(dependencies.project_name('termcolor==1.1.0'), 'termcolor')


class DiagnosisTest(unittest.TestCase):
    """Why neither a wheel for Lambda nor a source distribution was found."""
    platform = Platform('python3.12', 'x86_64')

    def test_a_name_the_index_does_not_know(self):
        message = dependencies.diagnosis('no-such-thing', self.platform, [],
                                         NO_VERSIONS.replace('docopt', 'no-such-thing'))
        self.assertIn('no package named no-such-thing on the package index', message)
        self.assertIn('check its name in requirements.txt', message)

    def test_other_projects_wheels_skipped_by_pip_do_not_make_the_name_known(self):
        message = dependencies.diagnosis('pywin32', self.platform, [],
                                         SKIPPED_OTHER_WHEEL + NO_VERSIONS)
        self.assertIn('no package named pywin32', message)

    def test_a_package_with_wheels_for_other_platforms_only(self):
        message = dependencies.diagnosis('pywin32', self.platform, [],
                                         SKIPPED_OWN_WHEEL + NO_VERSIONS)
        self.assertIn('wheels only for other platforms or Pythons, none for cp312 on '
                      'manylinux x86_64, and no source distribution', message)
        self.assertIn('Pin a version of pywin32', message)

    def test_a_version_that_does_not_exist(self):
        message = dependencies.diagnosis('termcolor==9.9', self.platform, ['2.0.0', '3.3.0'],
                                         OTHER_VERSIONS.replace('1.1.0', '9.9'))
        self.assertIn('termcolor==9.9: no version that matches', message)
        self.assertIn('with a wheel for cp312 on manylinux x86_64: 2.0.0, 3.3.0', message)
        self.assertIn('change the version in requirements.txt', message)


class BuiltWheelTest(unittest.TestCase):
    """A wheel built here from an sdist joins the install only if it has no compiled code."""
    platform = Platform('python3.12', 'arm64')

    def setUp(self):
        self.folder = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.folder)

    def test_wheel_tags_expand_compressed_tag_sets(self):
        self.assertEqual(dependencies.wheel_tags('docopt-0.6.2-py2.py3-none-any.whl'),
                         {('py2', 'none', 'any'), ('py3', 'none', 'any')})
        self.assertEqual(dependencies.wheel_tags('x-1-1build-cp311-cp311-linux_x86_64.whl'),
                         {('cp311', 'cp311', 'linux_x86_64')})
        with self.assertRaises(ValueError):
            dependencies.wheel_tags('docopt-0.6.2.tar.gz')

    def test_a_pure_python_wheel_is_accepted(self):
        for filename in ('docopt-0.6.2-py2.py3-none-any.whl', 'termcolor-1.1.0-py3-none-any.whl',
                         'new-1.0-py312-none-any.whl'):
            wheel = write_wheel(self.folder, filename, {'module.py': '', 'data/file.txt': ''})
            with self.subTest(filename):
                dependencies.check_built_wheel('name', wheel, self.platform)

    def test_a_wheel_with_a_c_extension_is_refused_with_the_why_and_what_to_do(self):
        wheel = write_wheel(self.folder, 'fast-1.0-cp311-cp311-linux_x86_64.whl',
                            {'fast/__init__.py': '',
                             'fast/_speedups.cpython-311-x86_64-linux-gnu.so': '\x7fELF'})
        with self.assertRaises(DependencyError) as raised:
            dependencies.check_built_wheel('fast==1.0', wheel, self.platform)
        message = str(raised.exception)
        self.assertIn('fast==1.0: no wheel for cp312 on manylinux aarch64 is published', message)
        self.assertIn('compiles native code (fast/_speedups.cpython-311-x86_64-linux-gnu.so)',
                      message)
        self.assertIn('Pin a version of fast that publishes a wheel', message)
        self.assertIn('a layer', message)
        self.assertIn('Amazon Linux container for arm64', message)

    def test_compiled_code_in_a_wheel_tagged_pure_is_still_refused(self):
        wheel = write_wheel(self.folder, 'sly-1.0-py3-none-any.whl',
                            {'sly/_native.abi3.so': '', 'sly/lib/libz.so.1': ''})
        self.assertEqual(dependencies.compiled_files(wheel),
                         ['sly/_native.abi3.so', 'sly/lib/libz.so.1'])
        with self.assertRaises(DependencyError):
            dependencies.check_built_wheel('sly', wheel, self.platform)

    def test_a_python_2_only_wheel_is_refused(self):
        wheel = write_wheel(self.folder, 'old-1.0-py2-none-any.whl', {'old.py': ''})
        with self.assertRaises(DependencyError) as raised:
            dependencies.check_built_wheel('old', wheel, self.platform)
        self.assertIn("builds a wheel Lambda's python3.12 does not install", str(raised.exception))


class DirectUrlTest(unittest.TestCase):
    """pip records where a wheel installed by path came from: the builder's absolute path."""

    def setUp(self):
        self.folder = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.folder)

    def dist_info(self, name, url):
        folder = os.path.join(self.folder, f'{name}-1.0.dist-info')
        os.makedirs(folder)
        with open(os.path.join(folder, 'direct_url.json'), 'w') as handle:
            json.dump({'url': url, 'archive_info': {}}, handle)
        with open(os.path.join(folder, 'RECORD'), 'w') as handle:
            handle.write(f'{name}.py,sha256=abc,1\n{name}-1.0.dist-info/direct_url.json,'
                         f'sha256=def,90\n{name}-1.0.dist-info/RECORD,,\n')
        return folder

    def test_a_local_path_is_removed_with_its_record_line(self):
        folder = self.dist_info('local', 'file:///home/builder/project/wheels/local.whl')
        dependencies.remove_local_direct_urls(self.folder)
        self.assertFalse(os.path.exists(os.path.join(folder, 'direct_url.json')))
        with open(os.path.join(folder, 'RECORD')) as handle:
            self.assertEqual(handle.read(),
                             'local.py,sha256=abc,1\nlocal-1.0.dist-info/RECORD,,\n')

    def test_a_remote_url_stays(self):
        folder = self.dist_info('remote', 'https://example.org/remote-1.0.tar.gz')
        dependencies.remove_local_direct_urls(self.folder)
        self.assertTrue(os.path.exists(os.path.join(folder, 'direct_url.json')))


if __name__ == '__main__':
    unittest.main()
