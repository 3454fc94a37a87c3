"""Which Python runs a runtime, and compiled modules built for another Python: read from their
names and their wheels' tags, refused only where their import failed."""
import io
import os
import sys
import tempfile
import unittest
import zipfile
from unittest import mock

from deploy import bytecode
from local_endpoint import python_abi
from local_endpoint.environment import FunctionSpec
from local_endpoint.runtimes import OWN_VERSION, Runtimes

SO_312 = 'native.cpython-312-x86_64-linux-gnu.so'
NO_MODULE = ('{"errorMessage": "Unable to import module \'handler\': No module named '
             '\'native\'", "errorType": "Runtime.ImportModuleError"}')


def zip_of(files):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w') as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def spec(code, layers=(), runtime='python3.12'):
    return FunctionSpec(name='fn', arn='arn', version='$LATEST', handler='handler.handler',
                        runtime=runtime, timeout=3, memory_size=128, environment=(),
                        code_sha='', layer_arns=(), role='', account='', region='',
                        code=zip_of(code), layers=tuple(zip_of(layer) for layer in layers))


def wheel(folder, tag, files):
    """A wheel's files as pip installs them in `folder` ('' or a layer's site-packages)."""
    record = ''.join(f'{name},,\n' for name in files)
    return {**{folder + name: b'\x7fELF' for name in files},
            f'{folder}lib-1.0.dist-info/WHEEL': f'Wheel-Version: 1.0\nTag: {tag}\n',
            f'{folder}lib-1.0.dist-info/RECORD': record}


class ForeignModulesTest(unittest.TestCase):
    def foreign(self, code, running, layers=(), runtime='python3.12'):
        function = spec(code, layers, runtime)
        return [(extension.module, str(extension.build)) for extension in python_abi.foreign(
            function.code, function.layers, runtime, running)]

    def test_a_module_tagged_for_another_python_is_foreign(self):
        self.assertEqual(self.foreign({SO_312: b'', 'pkg/_speed.cpython-312-x86_64-linux-gnu.so':
                                       b''}, (3, 11)),
                         [('native', 'Python 3.12'), ('pkg._speed', 'Python 3.12')])
        self.assertEqual(self.foreign({SO_312: b''}, (3, 12)), [])

    def test_a_free_threaded_module_loads_only_in_a_free_threaded_python(self):
        self.assertEqual(self.foreign({'m.cpython-313t-x86_64-linux-gnu.so': b''}, (3, 13)),
                         [('m', 'free-threaded Python 3.13')])

    def test_stable_abi_loads_on_its_minimum_and_later_and_pure_python_anywhere(self):
        code = wheel('', 'cp311-abi3-manylinux_2_17_x86_64', ['fast/_core.abi3.so'])
        self.assertEqual(self.foreign(code, (3, 12)), [])
        self.assertEqual(self.foreign(code, (3, 11)), [])
        self.assertEqual(self.foreign(code, (3, 10)),
                         [('fast._core', 'Python 3.11 and later (stable ABI)')])
        self.assertEqual(self.foreign({**wheel('', 'py3-none-any', ['x/helper.so']),
                                       'x/__init__.py': b''}, (3, 9)), [])

    def test_a_module_whose_name_says_nothing_is_judged_by_its_wheels_tag(self):
        self.assertEqual(self.foreign(wheel('', 'cp312-cp312-manylinux_2_17_x86_64',
                                            ['lib/_native.so']), (3, 11)),
                         [('lib._native', 'Python 3.12')])

    def test_layers_count_where_the_runtime_imports_them_from(self):
        site = 'python/lib/python3.12/site-packages/'
        layer = {**wheel(site, 'cp312-cp312-manylinux_2_17_x86_64', ['deep/_c.so']),
                 'python/top.cpython-312-x86_64-linux-gnu.so': b'',
                 'python/lib/python3.11/site-packages/other.cpython-311-x86_64-linux-gnu.so': b'',
                 'lib/libMagickCore.so': b''}
        self.assertEqual(self.foreign({}, (3, 11), layers=[layer]),
                         [('deep._c', 'Python 3.12'), ('top', 'Python 3.12')])

    def test_a_zip_that_lies_is_read_no_further_than_it_should(self):
        """Hostile input: a RECORD larger than any wheel's, a WHEEL that does not inflate, a
        code zip that is not a zip: what they would say is not read, and nothing raises."""
        big = wheel('', 'cp312-cp312-manylinux_2_17_x86_64', ['lib/_native.so'])
        big['lib-1.0.dist-info/RECORD'] += 'x' * (python_abi.METADATA_MAX_BYTES + 1)
        self.assertEqual(self.foreign(big, (3, 11)), [])
        broken = bytearray(zip_of(wheel('', 'cp312-cp312-linux_x86_64', ['lib/_native.so'])))
        start = broken.index(b'Wheel-Version')
        broken[start:start + 13] = b'\xff' * 13  # stored, so its CRC no longer matches
        with zipfile.ZipFile(io.BytesIO(bytes(broken))) as archive:
            self.assertEqual(python_abi.extensions(archive), [])
        self.assertEqual(python_abi.foreign(b'not a zip', (), 'python3.12', (3, 11)), [])


class RefusalTest(unittest.TestCase):
    def test_an_import_of_a_module_built_for_the_missing_python_is_refused_with_what_to_do(self):
        message = python_abi.refusal(spec({SO_312: b'', 'handler.py': 'import native'}),
                                     '3.11', NO_MODULE)
        self.assertEqual(message, (
            f'Function fn could not import native ({SO_312}): it is compiled for Python 3.12, '
            f'and its runtime python3.12 runs on Python 3.11 here, as no Python 3.12 was found '
            f'on this machine (on PATH or under pyenv). The local endpoint does not run code '
            f'built for another Python: install Python 3.12 (e.g. pyenv install 3.12) and '
            f'restart the endpoint (make down up), or build and deploy the function for the '
            f'Python here (RUNTIME=python3.11). (Local only: AWS runs python3.12 on Python '
            f'3.12.)'))

    def test_code_built_for_another_python_than_its_runtime_fails_on_aws_too(self):
        message = python_abi.refusal(
            spec({'native.cpython-311-x86_64-linux-gnu.so': b''}), '3.12', NO_MODULE)
        self.assertIn('it is compiled for Python 3.11, and its runtime python3.12 runs on Python '
                      '3.12, here as on AWS, where it fails to import too', message)
        self.assertIn('set RUNTIME to the runtime they were built for', message)

    def test_from_package_import_is_recognised(self):
        code = {'markupsafe/_speedups.cpython-312-x86_64-linux-gnu.so': b''}
        error = ("cannot import name '_speedups' from 'markupsafe' "
                 "(/var/task/markupsafe/__init__.py)")
        self.assertIn('could not import markupsafe._speedups', python_abi.refusal(
            spec(code), '3.11', error))

    def test_a_module_with_a_fallback_or_another_failure_is_not_refused(self):
        """MarkupSafe falls back to its pure-Python twin: nothing failed, nothing is refused.
        Neither is a failure that names no module built for another Python."""
        code = {'markupsafe/_speedups.cpython-312-x86_64-linux-gnu.so': b'', SO_312: b''}
        with mock.patch.object(python_abi, 'foreign') as foreign:  # not even read
            self.assertIsNone(python_abi.refusal(
                spec(code), '3.11', '{"errorMessage": "boom", "errorType": "ValueError"}'))
        foreign.assert_not_called()
        self.assertIsNone(python_abi.refusal(
            spec(code), '3.11', "No module named 'requests'"))
        self.assertIsNone(python_abi.refusal(spec(code), '3.12', NO_MODULE))


class MachineWithoutTheRuntimesPythonTest(unittest.TestCase):
    """A machine without Python 3.12: PATH without it, pyenv's versions elsewhere."""

    def setUp(self):
        self.bin = tempfile.mkdtemp()
        self.pyenv = tempfile.mkdtemp()
        patch = mock.patch.dict(os.environ, {'PATH': self.bin, 'PYENV_ROOT': self.pyenv})
        patch.start()
        self.addCleanup(patch.stop)

    def link(self, path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        os.symlink(os.path.realpath(sys.executable), path)

    def test_the_runtime_runs_on_the_endpoints_python_and_the_note_says_so_once(self):
        self.link(os.path.join(self.bin, f'python{OWN_VERSION}'))
        runtimes = Runtimes(tempfile.mkdtemp())
        note = runtimes.note(('python3.12', f'python{OWN_VERSION}'))
        self.assertEqual(note, (
            f'python runtimes: python{OWN_VERSION} on {self.bin}/python{OWN_VERSION}; no Python '
            f'3.12 on this machine (on PATH or under pyenv): python3.12 functions run on the '
            f"endpoint's Python {OWN_VERSION}, and one that fails to import a module compiled "
            f'for its own version is refused (install the ones you use, e.g. pyenv install 3.12 '
            f'for python3.12, then make down up)'))
        self.assertEqual(runtimes.python_version('python3.12'), OWN_VERSION)
        self.assertEqual(runtimes.summary(), {f'python{OWN_VERSION}': OWN_VERSION,
                                              'python3.12': OWN_VERSION})

    def test_pyenvs_newest_release_is_found_and_its_shim_passed_over(self):
        """pyenv's shim for a version `pyenv global` does not name fails (and costs 0.2 s):
        the version's own interpreter is run instead, the newest release of it first."""
        shims = os.path.join(self.pyenv, 'shims')
        os.makedirs(shims)
        with open(os.path.join(shims, f'python{OWN_VERSION}'), 'w') as shim:
            shim.write('#!/bin/sh\necho "pyenv: command not found" >&2; exit 127\n')
        os.chmod(shim.name, 0o755)
        os.environ['PATH'] = shims
        for release in ('9', '10', '10rc1'):
            self.link(os.path.join(self.pyenv, 'versions', f'{OWN_VERSION}.{release}', 'bin',
                                   f'python{OWN_VERSION}'))
        self.assertEqual(bytecode.interpreter_for(f'python{OWN_VERSION}'), os.path.join(
            self.pyenv, 'versions', f'{OWN_VERSION}.10', 'bin', f'python{OWN_VERSION}'))
        self.assertEqual(Runtimes(tempfile.mkdtemp()).python_version(f'python{OWN_VERSION}'),
                         OWN_VERSION)


if __name__ == '__main__':
    unittest.main()
