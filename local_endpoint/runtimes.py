"""Which Python runs a function, and the runtime folder it imports boto3 from.

Lambda's python3.12 runtime runs Python 3.12 and provides boto3 and its runtime client. Here a
function runs on the matching interpreter when one is installed (on PATH, or under pyenv),
and otherwise on the endpoint's own Python, with a warning in the function's log: compiled
wheels built for the runtime's version then fall back or fail as they would on a mismatch.
The runtime folder is pip-installed once per Python version, with the versions pinned in
requirements.txt and the runtime client's compiled wheel for that version, then byte-compiled
by that Python, as Lambda's own runtime ships it. Environments see the folder read-only, so
without .pyc files every cold start would compile boto3 and the runtime client again (60 ms
of an empty function's Init, 100 ms of a function importing boto3). The function's zip is
left as it is: Lambda does not compile it either.
"""
import os
import platform
import re
import shutil
import subprocess
import sys
import threading

from deploy import bytecode
from deploy.functions import ROOT

# What Lambda's Python runtime provides: the SDK and the runtime interface client.
PROVIDED = ('boto3', 'botocore', 's3transfer', 'jmespath', 'python-dateutil', 'six', 'urllib3',
            'awslambdaric', 'simplejson', 'snapshot-restore-py')


COMPILED = '.compiled'  # written once the folder is byte-compiled
MACHINE = 'aarch64' if platform.machine() in ('aarch64', 'arm64') else 'x86_64'


def pinned(names=PROVIDED, requirements=os.path.join(ROOT, 'requirements.txt')):
    pins = {}
    with open(requirements) as handle:
        for line in handle:
            match = re.match(r'([A-Za-z0-9_.-]+)==(\S+)', line.strip())
            if match:
                pins[match[1].lower()] = f'{match[1]}=={match[2]}'
    missing = [name for name in names if name.lower() not in pins]
    if missing:
        raise RuntimeError(f'requirements.txt does not pin {", ".join(missing)}')
    return [pins[name.lower()] for name in names]


class Runtimes:
    def __init__(self, state_dir):
        self.state_dir = state_dir
        self.lock = threading.Lock()
        self.interpreters = {}
        self.folders = {}  # runtime -> its folder
        self.warnings = {}

    def interpreter(self, runtime):
        """The Python for a runtime such as python3.12, found once."""
        with self.lock:
            if runtime not in self.interpreters:
                self.interpreters[runtime] = self._find(runtime)
            return self.interpreters[runtime]

    def _find(self, runtime):
        interpreter = bytecode.interpreter_for(runtime)
        if interpreter:
            return interpreter
        version = runtime.replace('python', '')
        self.warnings[runtime] = (
            f'No Python {version} found for {runtime}: running on Python '
            f'{sys.version_info.major}.{sys.version_info.minor} instead.')
        # By its real path: a virtualenv's link may be under /tmp, hidden in the environment.
        return os.path.realpath(sys.executable)

    def runtime_dir(self, runtime):
        """The runtime folder, installed once; found once per runtime, as each cold start asks."""
        interpreter = self.interpreter(runtime)
        with self.lock:
            folder = self.folders.get(runtime)
            if folder is None or not os.path.isdir(folder):
                folder = self.folders[runtime] = self._install(interpreter)
            return folder

    def _install(self, interpreter):
        version = bytecode.version_of(interpreter)
        folder = os.path.join(self.state_dir, 'runtime', f'python{version}')
        if not os.path.isdir(folder):
            staging = folder + '.partial'
            shutil.rmtree(staging, ignore_errors=True)
            subprocess.run(
                [sys.executable, '-m', 'pip', 'install', '--quiet', '--disable-pip-version-check',
                 '--no-deps', '--no-compile', '--target', staging, '--only-binary=:all:',
                 '--implementation', 'cp', '--python-version', version,
                 '--platform', f'manylinux2014_{MACHINE}', '--platform', f'manylinux_2_28_{MACHINE}',
                 *pinned()], check=True)
            compile_folder(interpreter, staging)
            os.rename(staging, folder)
        elif not os.path.exists(os.path.join(folder, COMPILED)):  # made by an older endpoint
            compile_folder(interpreter, folder)
        return folder


def compile_folder(interpreter, folder):
    """Byte-compile with the interpreter that will import it (a .pyc is per Python version)."""
    subprocess.run([interpreter, '-m', 'compileall', '-q', '-j', '0', folder], check=True,
                   stdout=subprocess.DEVNULL)
    with open(os.path.join(folder, COMPILED), 'w'):
        pass
