"""Which Python runs a function, and the runtime folder it imports boto3 from.

Lambda's python3.12 runtime runs Python 3.12 and provides boto3 and its runtime client. Here a
function runs on the matching interpreter when one is installed (on PATH, or under pyenv),
and otherwise on the endpoint's own Python. The endpoint looks for each of Lambda's Python
runtimes once, when it starts, and says in one line (`make up` shows it) which Python runs
each; /_local/health answers the same, so a deploy to the endpoint can say it too, and each
cold start on the wrong Python says it in the function's log. Compiled modules built for the
runtime's version then fall back to their pure-Python twins, or fail to import, and that
invocation is refused with why (local_endpoint.python_abi).
The runtime folder is pip-installed once per Python version, with the versions pinned in
requirements.txt and the runtime client's compiled wheel for that version, then byte-compiled
by that Python, as Lambda's own runtime ships it. Environments see the folder read-only, so
without .pyc files every cold start would compile boto3 and the runtime client again (60 ms
of an empty function's Init, 100 ms of a function importing boto3). The function's zip is
left as it is: Lambda does not compile it either.

Installing a runtime folder takes seconds (pip, then compileall). With LOCAL_RUNTIME_SEED set
to a folder, an endpoint hard-links a folder installed there before instead, and leaves its
own there for the next (the test suite starts dozens of endpoints, each with a state folder
of its own).
"""
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

from deploy import bytecode
from deploy.functions import ROOT

# What Lambda's Python runtime provides: the SDK and the runtime interface client.
PROVIDED = ('boto3', 'botocore', 's3transfer', 'jmespath', 'python-dateutil', 'six', 'urllib3',
            'awslambdaric', 'simplejson', 'snapshot-restore-py')


COMPILED = '.compiled'  # written once the folder is byte-compiled
# Lambda's Python runtimes that functions can still be created or updated with.
PYTHON_RUNTIMES = ('python3.9', 'python3.10', 'python3.11', 'python3.12', 'python3.13',
                   'python3.14')
NOTE_PREFIX = 'python runtimes: '
OWN_VERSION = f'{sys.version_info.major}.{sys.version_info.minor}'
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
        self.warnings = {}  # runtime -> what its function's log says on a cold start
        self.versions = {}  # runtime -> the X.Y of the Python that runs it

    def interpreter(self, runtime):
        """The Python for a runtime such as python3.12, found once (two callers at once may
        both look: they find the same)."""
        with self.lock:
            if runtime in self.interpreters:
                return self.interpreters[runtime]
        interpreter, version, warning = self._find(runtime)
        with self.lock:
            if runtime not in self.interpreters:
                self.versions[runtime] = version
                if warning:
                    self.warnings[runtime] = warning
                self.interpreters[runtime] = interpreter
            return self.interpreters[runtime]

    def python_version(self, runtime):
        """'3.12' when python3.12 runs on Python 3.12, the endpoint's own X.Y when it has none."""
        self.interpreter(runtime)
        return self.versions[runtime]

    @staticmethod
    def _find(runtime):
        """(interpreter, its X.Y, the warning when it is not the runtime's)."""
        interpreter = bytecode.interpreter_for(runtime)
        version = runtime.replace('python', '')
        if interpreter:
            return interpreter, version, None
        # By its real path: a virtualenv's link may be under /tmp, hidden in the environment.
        return os.path.realpath(sys.executable), OWN_VERSION, (
            f'No Python {version} found for {runtime}: running on Python {OWN_VERSION} '
            f'instead; modules compiled for {version} do not load there (install it: pyenv '
            f'install {version}, then make down up).')

    def note(self, runtimes=PYTHON_RUNTIMES):
        """One line saying which Python runs each runtime, and which the machine lacks;
        each is looked for at once (a lookup starts a Python), so this takes one lookup's
        time, not six."""
        with ThreadPoolExecutor(len(runtimes)) as pool:
            interpreters = dict(zip(runtimes, pool.map(self.interpreter, runtimes)))
        found = [f'{runtime} on {interpreters[runtime]}' for runtime in runtimes
                 if runtime not in self.warnings]
        lacking = [runtime for runtime in runtimes if runtime in self.warnings]
        note = NOTE_PREFIX + (', '.join(found) or 'none has its own Python here')
        if lacking:
            versions = ', '.join(runtime.replace('python', '') for runtime in lacking)
            note += (f'; no Python {versions} on this machine (on PATH or under pyenv): '
                     f'{", ".join(lacking)} functions run on the endpoint\'s Python '
                     f'{OWN_VERSION}, and one that fails to import a module compiled for its '
                     f'own version is refused (install the ones you use, e.g. pyenv install '
                     f'3.12 for python3.12, then make down up)')
        return note

    def summary(self):
        """Each runtime looked for so far, with the X.Y of the Python that runs it (what a
        deploy to this endpoint asks /_local/health)."""
        with self.lock:
            return dict(sorted(self.versions.items(), key=lambda item: tuple(
                int(part) for part in re.findall(r'\d+', item[0]))))

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
        seed = os.environ.get('LOCAL_RUNTIME_SEED')
        seeded = os.path.join(seed, f'python{version}') if seed else None
        if not os.path.isdir(folder) and seeded and os.path.exists(
                os.path.join(seeded, COMPILED)):
            _linked_copy(seeded, folder)
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
            if seeded and not os.path.exists(seeded):
                _linked_copy(folder, seeded)
        elif not os.path.exists(os.path.join(folder, COMPILED)):  # made by an older endpoint
            compile_folder(interpreter, folder)
        return folder


def _linked_copy(source, target):
    """Hard links where the file system allows, copies where not; whole or not at all."""
    def link(source_file, target_file):
        try:
            os.link(source_file, target_file)
        except OSError:  # another file system
            shutil.copy2(source_file, target_file)

    staging = f'{target}.partial-{os.getpid()}'
    shutil.rmtree(staging, ignore_errors=True)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    shutil.copytree(source, staging, copy_function=link)
    try:
        os.rename(staging, target)
    except OSError:  # another endpoint left it there first
        shutil.rmtree(staging, ignore_errors=True)


def compile_folder(interpreter, folder):
    """Byte-compile with the interpreter that will import it (a .pyc is per Python version)."""
    subprocess.run([interpreter, '-m', 'compileall', '-q', '-j', '0', folder], check=True,
                   stdout=subprocess.DEVNULL)
    with open(os.path.join(folder, COMPILED), 'w'):
        pass
