"""python -m deploy.dependencies install, run on temporary folders with sdists and wheels made
here: one pure-Python sdist, one with a C extension, a name that exists nowhere.

pip looks only in the test's folder (--no-index --find-links), so no test package name is ever
asked of the index. The one thing taken from the index, once, is setuptools: pip's isolated
build environment installs it to build the sdists.
"""
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import unittest
import zipfile

from deploy.functions import ROOT

C_EXTENSION = '''#include <Python.h>
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "lmk_compiled_sample"};
PyMODINIT_FUNC PyInit_lmk_compiled_sample(void) { return PyModule_Create(&module); }
'''


def toml_list(names):
    return '[' + ', '.join(f'"{name}"' for name in names) + ']'


def pyproject(name, dependencies=(), modules=()):
    return (f'[build-system]\nrequires = ["setuptools>=70.1"]\n'
            f'build-backend = "setuptools.build_meta"\n'
            f'[project]\nname = "{name}"\nversion = "1.0"\n'
            f'dependencies = {toml_list(dependencies)}\n'
            f'[tool.setuptools]\npy-modules = {toml_list(modules)}\n')


def write_sdist(folder, name, files):
    """An sdist as setuptools would publish it: name-1.0.tar.gz holding name-1.0/."""
    base = f'{name.replace("-", "_")}-1.0'
    files = {'PKG-INFO': f'Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n', **files}
    with tarfile.open(os.path.join(folder, f'{base}.tar.gz'), 'w:gz') as archive:
        for relative, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f'{base}/{relative}')
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


def write_wheel(folder, name, tag, files):
    """A wheel as a build backend writes it: files, then its .dist-info and RECORD."""
    dist = f'{name.replace("-", "_")}-1.0'
    files = {**files, f'{dist}.dist-info/METADATA':
             f'Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n',
             f'{dist}.dist-info/WHEEL':
             f'Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: {tag}\n'}
    files[f'{dist}.dist-info/RECORD'] = ''.join(f'{name},,\n' for name in files) + \
        f'{dist}.dist-info/RECORD,,\n'
    path = os.path.join(folder, f'{dist}-{tag}.whl')
    with zipfile.ZipFile(path, 'w') as archive:
        for relative, text in files.items():
            archive.writestr(relative, text)
    return path


def tree(folder):
    """{relative path: bytes} of every file under folder."""
    found = {}
    for directory, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(directory, name)
            with open(path, 'rb') as handle:
                found[os.path.relpath(path, folder)] = handle.read()
    return found


class InstallTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.links = tempfile.mkdtemp(prefix='dependencies-links-')
        subprocess.run([sys.executable, '-m', 'pip', 'download', '--quiet', '--no-deps',
                        '--only-binary=:all:', '--dest', cls.links, 'setuptools>=70.1'],
                       check=True, timeout=300)
        write_sdist(cls.links, 'lmk-pure-sample', {
            'pyproject.toml': pyproject('lmk-pure-sample', ['lmk-platform-dependency'],
                                        ['lmk_pure_sample']),
            'lmk_pure_sample.py': 'GREETING = "hello"\n'})
        for machine in ('x86_64', 'aarch64'):
            write_wheel(cls.links, 'lmk-platform-dependency',
                        f'cp312-cp312-manylinux2014_{machine}',
                        {'lmk_platform_dependency.py': f'MACHINE = "{machine}"\n'})
        write_sdist(cls.links, 'lmk-compiled-sample', {
            'pyproject.toml': pyproject('lmk-compiled-sample'),
            'setup.py': 'from setuptools import Extension, setup\n'
                        'setup(ext_modules=[Extension("lmk_compiled_sample", '
                        '["lmk_compiled_sample.c"])])\n',
            'lmk_compiled_sample.c': C_EXTENSION})

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.links, ignore_errors=True)

    def setUp(self):
        self.folder = tempfile.mkdtemp(prefix='dependencies-function-')
        self.addCleanup(shutil.rmtree, self.folder)
        self.target = os.path.join(self.folder, '.build', 'site-packages')

    def requirements(self, text):
        with open(os.path.join(self.folder, 'requirements.txt'), 'w') as handle:
            handle.write(text)

    def install(self, arch='x86_64', folder=None, check=True):
        folder = folder or self.folder
        result = subprocess.run(
            [sys.executable, '-m', 'deploy.dependencies', 'install', '--requirements',
             'requirements.txt', '--target', '.build/site-packages', '--runtime', 'python3.12',
             '--arch', arch, '--find-links', self.links, '--no-index',
             '--name', 'lmk_function'],
            cwd=folder, env={**os.environ, 'PYTHONPATH': ROOT}, capture_output=True, text=True,
            timeout=600)
        if check and result.returncode != 0:
            raise AssertionError(f'install failed ({result.returncode}):\n{result.stdout}\n'
                                 f'{result.stderr}')
        return result

    def test_no_requirements_install_nothing_and_succeed(self):
        for requirements in (None, '# nothing yet\n\n'):
            with self.subTest(requirements=requirements):
                if requirements is not None:
                    self.requirements(requirements)
                result = self.install()
                self.assertEqual(os.listdir(self.target), [])
                self.assertEqual(result.stdout, '')

    def test_a_pure_python_sdist_is_built_and_its_dependencies_resolved_for_lambda(self):
        """Its dependency has wheels for Lambda's Python only (cp312, never this machine's):
        they come from resolving for the target, arm64 here."""
        self.requirements('lmk-pure-sample\n')
        result = self.install(arch='arm64')
        self.assertIn('lmk_function: installing requirements.txt for python3.12 on arm64 '
                      '(manylinux2014_aarch64 manylinux_2_28_aarch64 manylinux_2_34_aarch64)',
                      result.stdout)
        self.assertIn('lmk_function: lmk-pure-sample: no wheel for cp312 on manylinux aarch64 '
                      'is published; built lmk_pure_sample-1.0-py3-none-any.whl from its '
                      'source distribution (pure Python)', result.stdout)
        files = tree(self.target)
        self.assertEqual(files['lmk_pure_sample.py'], b'GREETING = "hello"\n')
        self.assertEqual(files['lmk_platform_dependency.py'], b'MACHINE = "aarch64"\n')

    def test_an_sdist_with_a_c_extension_is_refused_and_the_target_kept(self):
        os.makedirs(self.target)
        with open(os.path.join(self.target, 'previous.py'), 'w') as handle:
            handle.write('')
        self.requirements('lmk-compiled-sample\n')
        result = self.install(check=False)
        self.assertEqual(result.returncode, 1)
        self.assertIn('error: lmk_function: lmk-compiled-sample: no wheel for cp312 on '
                      'manylinux x86_64 is published, and its source distribution compiles '
                      'native code (lmk_compiled_sample.cpython-', result.stderr)
        self.assertIn('Pin a version of lmk-compiled-sample that publishes a wheel for cp312 '
                      'on manylinux x86_64, or move it to a layer built for Lambda, or build '
                      'the dependencies in an Amazon Linux container', result.stderr)
        self.assertEqual(os.listdir(self.target), ['previous.py'])
        self.assertEqual([name for name in os.listdir(os.path.dirname(self.target))
                          if name != 'site-packages'], [], 'no staging folder left behind')

    def test_a_name_that_exists_nowhere_says_so(self):
        self.requirements('lmk-no-such-package==1.0\n')
        result = self.install(check=False)
        self.assertEqual(result.returncode, 1)
        self.assertIn('error: lmk_function: lmk-no-such-package==1.0: no package named '
                      'lmk-no-such-package on the package index (neither a wheel nor a source '
                      'distribution): check its name in requirements.txt.', result.stderr)
        self.assertNotIn('from versions', result.stderr)

    def test_a_local_wheel_leaves_no_builders_path_and_two_builders_get_the_same_files(self):
        other_builder = tempfile.mkdtemp(prefix='dependencies-other-builder-')
        self.addCleanup(shutil.rmtree, other_builder)
        targets = []
        for folder in (self.folder, other_builder):
            write_wheel(folder, 'lmk-local', 'py3-none-any', {'lmk_local.py': 'LOCAL = 1\n'})
            with open(os.path.join(folder, 'requirements.txt'), 'w') as handle:
                handle.write('./lmk_local-1.0-py3-none-any.whl\n')
            self.install(folder=folder)
            files = tree(os.path.join(folder, '.build', 'site-packages'))
            self.assertIn('lmk_local.py', files)
            self.assertNotIn('lmk_local-1.0.dist-info/direct_url.json', files)
            self.assertEqual([name for name, data in files.items()
                              if folder.encode() in data or b'direct_url' in data], [])
            targets.append(files)
        self.assertEqual(targets[0], targets[1])


if __name__ == '__main__':
    unittest.main()
