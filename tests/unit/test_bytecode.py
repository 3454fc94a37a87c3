"""Dependencies ship their bytecode for the runtime's Python, and stay deterministic."""
import os
import shutil
import subprocess
import tempfile
import unittest
import zipfile

from deploy import bytecode, zipper

PYTHON_312 = bytecode.interpreter_for('python3.12')


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as handle:
        handle.write(text)


class BytecodeTest(unittest.TestCase):
    def setUp(self):
        self.directory = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.directory)
        self.source = os.path.join(self.directory, 'fn')
        self.deps = os.path.join(self.source, '.build', 'site-packages')
        write(os.path.join(self.source, 'handler.py'), 'import lib\n')
        write(os.path.join(self.deps, 'lib', '__init__.py'), 'VALUE = "from its bytecode"\n')
        # what a test run on another Python leaves, and the source's own cache: never shipped
        write(os.path.join(self.deps, 'lib', '__pycache__', '__init__.cpython-311.pyc'), 'x')
        write(os.path.join(self.source, '__pycache__', 'handler.cpython-312.pyc'), 'x')

    def names(self, runtime):
        output = os.path.join(self.directory, 'out.zip')
        zipper.build(output, self.source, self.deps, runtime=runtime)
        with zipfile.ZipFile(output) as archive:
            return archive.namelist()

    def test_only_the_runtimes_bytecode_of_the_dependencies_is_shipped(self):
        write(os.path.join(self.deps, 'lib', '__pycache__', '__init__.cpython-312.pyc'), 'x')
        self.assertEqual(self.names('python3.12'), [
            'handler.py', 'lib/__init__.py', 'lib/__pycache__/__init__.cpython-312.pyc'])
        self.assertEqual(self.names(None), ['handler.py', 'lib/__init__.py'],
                         'without a runtime, no bytecode at all, as before')

    @unittest.skipUnless(PYTHON_312, 'needs a Python 3.12 on PATH or under pyenv')
    def test_compiled_bytecode_is_the_same_wherever_it_is_built_and_is_used(self):
        other = os.path.join(self.directory, 'elsewhere')
        shutil.copytree(self.deps, other)
        for folder in (self.deps, other):
            bytecode.compile_for_lambda(folder, PYTHON_312)
        compiled = os.path.join('lib', '__pycache__', '__init__.cpython-312.pyc')
        with open(os.path.join(self.deps, compiled), 'rb') as first, \
                open(os.path.join(other, compiled), 'rb') as second:
            self.assertEqual(first.read(), second.read(), 'deterministic: same zip, same sha')
        # unchecked: the runtime loads the bytecode without looking at the source again
        write(os.path.join(self.deps, 'lib', '__init__.py'), 'VALUE = "from its source"\n')
        result = subprocess.run([PYTHON_312, '-c', 'import lib; print(lib.VALUE)'],
                                cwd=self.deps, capture_output=True, text=True)
        self.assertEqual(result.stdout.strip(), 'from its bytecode', result.stderr)


if __name__ == '__main__':
    unittest.main()
