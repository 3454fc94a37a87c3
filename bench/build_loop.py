"""The build loop, side by side with AWS SAM on the same function folders: `make build` against
`sam build --cached`, cold, with nothing to do and after a handler edit, and what each would
upload; and, for contrast, the 2016 tutorial's `pip install -t . && zip -r`.

Three functions: the project's two and one with heavy dependencies (pydantic, whose core is a
compiled library of several MB, and orjson), made by `make new`'s scaffold, because the goal is a
rebuild after a source edit that does not grow with what the dependencies weigh.

SAM builds in a second copy of the same folders, one make never built in: SAM copies a function
folder whole into its artifact but a few names (.git, __pycache__, *.so...), so .build/ and the
zip would inflate its figures. Its template.yaml gives each function the Handler, Runtime and
Architecture make settles for the folder. aws-sam-cli is installed for the bench only, pinned, in
a virtualenv of its own under .local/bench/ (it pins its own boto3 and click); it runs with
telemetry off and its settings there rather than in ~/.aws-sam, so it asks nothing of AWS or
PyPI but the packages it installs. It builds python3.12 functions with the python3.12 on PATH.
"""
import glob
import json
import os
import shlex
import shutil
import statistics
import subprocess
import tempfile
import time
import zipfile

from deploy.declaration import read_settings
from deploy.functions import ROOT
from deploy.zipper import SETTLING_NS
from tests.workspace import VENV, copy_project

HEAVY = 'bench_models'
HEAVY_REQUIREMENTS = ('pydantic==2.14.3', 'orjson==3.13.0')
FUNCTIONS = ('image_list', 'image_resize', HEAVY)
SAM_VERSION = '1.170.0'
SAM_VENV = os.path.join(ROOT, '.local', 'bench', 'sam-venv')
SAM_SETTINGS = os.path.join(ROOT, '.local', 'bench', 'sam-settings')
# A SAM that is offline or broken must not stall the bench for long.
SAM_TIMEOUT = 900


class SamUnavailable(Exception):
    """SAM cannot run here; the message says why, for the bench's table."""


def timed(command, cwd, env=None):
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=True, capture_output=True)
    return (time.perf_counter() - started) * 1000


def python312():
    """The real path of a python3.12: on PATH (through a pyenv shim too), else pyenv's own."""
    candidates = [shutil.which('python3.12')]
    try:
        pyenv_root = subprocess.run(['pyenv', 'root'], capture_output=True, text=True,
                                    check=True).stdout.strip()
    except (FileNotFoundError, subprocess.CalledProcessError):
        pyenv_root = os.path.expanduser('~/.pyenv')
    candidates += sorted(glob.glob(os.path.join(pyenv_root, 'versions', '3.12*', 'bin',
                                                'python3.12')), reverse=True)
    for candidate in filter(None, candidates):
        found = subprocess.run([candidate, '-c', 'import sys; print(sys.executable)'],
                               capture_output=True, text=True)
        if found.returncode == 0:
            return found.stdout.strip()
    return None


class Sam:
    """aws-sam-cli SAM_VERSION in SAM_VENV, installed on first use, building one project."""

    def __init__(self, project, progress=print):
        python = python312()
        if python is None:
            raise SamUnavailable('no python3.12 on PATH nor under pyenv (SAM builds python3.12 '
                                 'functions with it)')
        self.project = project
        self.executable = os.path.join(SAM_VENV, 'bin', 'sam')
        if self.version() != SAM_VERSION:
            self.install(python, progress)
        os.makedirs(SAM_SETTINGS, exist_ok=True)
        # A version check done now: SAM asks PyPI for a newer release once a week otherwise.
        with open(os.path.join(SAM_SETTINGS, 'metadata.json'), 'w') as handle:
            json.dump({'telemetryEnabled': False, 'lastVersionCheck': time.time()}, handle)
        self.env = dict(os.environ, SAM_CLI_TELEMETRY='0', __SAM_CLI_APP_DIR=SAM_SETTINGS,
                        PATH=os.path.dirname(python) + os.pathsep + os.environ.get('PATH', ''))

    def version(self):
        try:
            answer = subprocess.run([self.executable, '--version'], capture_output=True,
                                    text=True, timeout=60)
        except FileNotFoundError:
            return None
        return answer.stdout.strip().rpartition(' ')[2] if answer.returncode == 0 else None

    def install(self, python, progress):
        progress(f'  installing aws-sam-cli {SAM_VERSION} into {os.path.relpath(SAM_VENV, ROOT)} '
                 f'for the bench (once: a few minutes)')
        shutil.rmtree(SAM_VENV, ignore_errors=True)
        pip = os.path.join(SAM_VENV, 'bin', 'pip')
        for command in ([python, '-m', 'venv', SAM_VENV],
                        [pip, 'install', '--quiet', '--disable-pip-version-check',
                         f'aws-sam-cli=={SAM_VERSION}']):
            result = subprocess.run(command, capture_output=True, text=True, timeout=SAM_TIMEOUT)
            if result.returncode != 0:
                errors = [line for line in result.stderr.splitlines()
                          if line.startswith('ERROR')] or result.stderr.splitlines()[-1:]
                raise SamUnavailable(f'{shlex.join(command)} failed: {" ".join(errors)}')

    def build(self, *arguments):
        """Milliseconds `sam build ARGUMENTS` took in the project."""
        command = [self.executable, 'build', *arguments]
        started = time.perf_counter()
        result = subprocess.run(command, cwd=self.project, env=self.env, capture_output=True,
                                text=True, timeout=SAM_TIMEOUT)
        if result.returncode != 0:
            lines = (result.stderr or result.stdout).strip().splitlines()
            raise SamUnavailable(f'{shlex.join(["sam", "build", *arguments])} failed: '
                                 + ' '.join(lines[-3:]))
        return (time.perf_counter() - started) * 1000

    def artifact(self, function):
        return os.path.join(self.project, '.aws-sam', 'build', logical_id(function))


def logical_id(folder):
    return ''.join(part.capitalize() for part in folder.split('_'))


def add_heavy_function(root):
    """HEAVY, as `make new NAME=bench_models` writes it, with its dependencies pinned."""
    subprocess.run([os.path.join(VENV, 'bin', 'python'), '-m', 'deploy.scaffold', HEAVY,
                    '--kind', 'plain', '--root', root], cwd=root, check=True, capture_output=True,
                   env=dict(os.environ, PYTHONPATH=root))
    with open(os.path.join(root, HEAVY, 'requirements.txt'), 'a') as handle:
        handle.write(''.join(f'{line}\n' for line in HEAVY_REQUIREMENTS))


def write_template(project, settings):
    lines = ["AWSTemplateFormatVersion: '2010-09-09'", 'Transform: AWS::Serverless-2016-10-31',
             'Resources:']
    for folder, values in settings.items():
        lines += [f'  {logical_id(folder)}:', '    Type: AWS::Serverless::Function',
                  '    Properties:', f'      CodeUri: {folder}/',
                  f'      Handler: {values["HANDLER"]}', f'      Runtime: {values["RUNTIME"]}',
                  f'      Architectures: [{values["ARCH"]}]']
    with open(os.path.join(project, 'template.yaml'), 'w') as handle:
        handle.write('\n'.join(lines) + '\n')


def edit(projects, folder, count):
    """A real change to the handler, as a save in an editor makes: SAM hashes content."""
    for project in projects:
        with open(os.path.join(project, folder, 'handler.py'), 'a') as handle:
            handle.write(f'# bench edit {count}\n')


def run(samples, edited=FUNCTIONS, progress=print):
    root = copy_project()
    sam_root = tempfile.mkdtemp(prefix='image-service-sam-')
    make = ['make', '--no-print-directory', f'VENV={VENV}']
    make_ms, sam_ms, one_ms = {}, {}, {folder: [] for folder in edited}
    sam, sam_problem = None, None
    try:
        add_heavy_function(root)
        settings = {folder: read_settings(os.path.join(root, folder)) for folder in FUNCTIONS}
        for folder in FUNCTIONS:
            shutil.copytree(os.path.join(root, folder), os.path.join(sam_root, folder))
        write_template(sam_root, settings)
        try:
            sam = Sam(sam_root, progress)
        except (SamUnavailable, subprocess.TimeoutExpired) as error:
            sam_problem = str(error)
            progress(f'  SAM not run: {sam_problem}')

        def measure(key, round_number):
            nonlocal sam, sam_problem
            for tool in ('make', 'sam') if round_number % 2 == 0 else ('sam', 'make'):
                if tool == 'make':
                    make_ms.setdefault(key, []).append(timed([*make, 'build'], root))
                elif sam is not None:
                    try:
                        sam_ms.setdefault(key, []).append(sam.build('--cached'))
                    except (SamUnavailable, subprocess.TimeoutExpired) as error:
                        sam, sam_problem = None, str(error)
                        progress(f'  SAM stopped: {sam_problem}')

        edits = 0
        for round_number in range(samples):
            timed([*make, 'clean'], root)
            shutil.rmtree(os.path.join(sam_root, '.aws-sam'), ignore_errors=True)
            measure('cold', round_number)
            built = time.monotonic()
            measure('no-op', round_number)
            # deploy.zipper's cache vouches only for dependency files older than this: the next
            # build deflates the new ones once more, then edits find them settled, as they are
            # by the time one edits a handler.
            time.sleep(max(0.0, built + SETTLING_NS / 1e9 - time.monotonic()))
            edits += 1
            for folder in FUNCTIONS:
                edit([root, sam_root], folder, edits)
            measure('first edit', round_number)
            for folder in edited:
                edits += 1
                edit([root, sam_root], folder, edits)
                measure(f'edit {folder}', round_number)
                edits += 1
                edit([root], folder, edits)
                one_ms[folder].append(timed([*make, '-C', folder, 'build'], root))
        sizes = {folder: {'zip': os.path.getsize(os.path.join(root, folder, f'{folder}.zip'))}
                 for folder in FUNCTIONS}
        if sam is not None:
            for folder in FUNCTIONS:
                sizes[folder].update(sam_sizes(sam.artifact(folder)))
        tutorial = {folder: tutorial_build(root, folder) for folder in FUNCTIONS}
    finally:
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(sam_root, ignore_errors=True)
    figures = {'samples': samples, 'functions': list(FUNCTIONS), 'heavy': HEAVY,
               'heavy_requirements': list(HEAVY_REQUIREMENTS),
               'make_ms': {key: statistics.median(values) for key, values in make_ms.items()},
               'one_function_ms': {folder: statistics.median(values)
                                   for folder, values in one_ms.items()},
               'sam_version': SAM_VERSION, 'sam_problem': sam_problem,
               'sam_ms': {key: statistics.median(values) for key, values in sam_ms.items()
                          if len(values) == samples},
               'sizes': sizes, 'tutorial': tutorial}
    made = figures['make_ms']
    progress(f'  make build: cold {made["cold"]:.0f} ms, no-op {made["no-op"]:.0f} ms, first '
             f'edit {made["first edit"]:.0f} ms; ' + ', '.join(
                 f'make -C {folder} build after an edit {ms:.0f} ms'
                 for folder, ms in figures['one_function_ms'].items()))
    if figures['sam_ms']:
        progress('  sam build --cached: ' + ', '.join(
            f'{key} {ms:.0f} ms' for key, ms in figures['sam_ms'].items()))
    return figures


def sam_sizes(folder):
    """SAM's artifact folder, and that folder zipped as `sam deploy` zips it (zipfile's
    default deflate, every file)."""
    unzipped = 0
    work = tempfile.mkdtemp()
    try:
        archive = os.path.join(work, 'artifact.zip')
        with zipfile.ZipFile(archive, 'w', zipfile.ZIP_DEFLATED) as out:
            for directory, _, files in os.walk(folder, followlinks=True):
                for name in files:
                    path = os.path.join(directory, name)
                    unzipped += os.path.getsize(path)
                    out.write(path, os.path.relpath(path, folder))
        return {'sam_unzipped': unzipped, 'sam_zip': os.path.getsize(archive)}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def tutorial_build(root, function):
    """The tutorial's Makefile: pip install the requirements into the folder, zip it all."""
    work = tempfile.mkdtemp()
    try:
        folder = os.path.join(work, function)
        shutil.copytree(os.path.join(root, function), folder,
                        ignore=shutil.ignore_patterns('.build', '*.zip'))
        pip = os.path.join(VENV, 'bin', 'pip')
        milliseconds = timed([pip, 'install', '--quiet', '--disable-pip-version-check',
                              '-t', '.', '-r', 'requirements.txt'], folder)
        started = time.perf_counter()  # `zip -r`, which a fresh machine may not have
        archive = shutil.make_archive(os.path.join(work, 'tutorial'), 'zip', folder)
        milliseconds += (time.perf_counter() - started) * 1000
        return {'ms': milliseconds, 'bytes': os.path.getsize(archive)}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def table(figures):
    """The report's lines: each figure beside SAM's and its goal, then what each uploads."""
    made, sam = figures['make_ms'], figures['sam_ms']
    heavy = f'{figures["heavy"]}: {", ".join(figures["heavy_requirements"])}'
    rounds = figures['samples']
    lines = [f'   {rounds} interleaved round{"s, medians" if rounds > 1 else ""}; functions '
             f'{", ".join(figures["functions"][:-1])} and {heavy}']
    if figures['sam_problem']:
        lines.append(f'   SAM: {figures["sam_problem"]}')
    lines.append(f'   {"":44}{"make build":>12}{"sam build --cached" if sam else "":>20}'
                 f'{"SAM/make" if sam else "":>10}')
    rows = [('cold (after make clean; no .aws-sam)', 'cold'), ('no-op', 'no-op'),
            ('first edit after it, every handler', 'first edit')]
    rows += [(f'edit {key[5:]}/handler.py', key) for key in made if key.startswith('edit ')]
    for label, key in rows:
        line = f'   {label:44}{made[key]:>9,.0f} ms'
        if key in sam:
            line += f'{sam[key]:>17,.0f} ms{sam[key] / made[key]:>9.1f}x'
        lines.append(line)
    lines.append('   make -C FOLDER build after an edit (goal: < 100 ms whatever the dependencies '
                 'weigh): ' + ', '.join(f'{folder} {ms:.0f} ms'
                                        for folder, ms in figures['one_function_ms'].items()))
    lines.append("   what each uploads: make's zip"
                 + ("; SAM's artifact folder, and zipped as sam deploy zips it"
                    if any('sam_zip' in row for row in figures['sizes'].values()) else ''))
    for folder, row in figures['sizes'].items():
        line = f'     {folder:14}{row["zip"]:>12,} B'
        if 'sam_zip' in row:
            line += (f'; {row["sam_unzipped"]:>12,} B, zipped {row["sam_zip"]:>12,} B '
                     f'({row["sam_zip"] / row["zip"]:.2f}x)')
        lines.append(line)
    tutorial = figures['tutorial']
    tutorial_ms = sum(row['ms'] for row in tutorial.values())
    lines.append(f'   tutorial (pip install -t . && zip -r), the three: {tutorial_ms:,.0f} ms '
                 f'(cold make build / tutorial {made["cold"] / tutorial_ms:.2f}x), zips '
                 + ', '.join(f'{name} {row["bytes"]:,} B' for name, row in tutorial.items()))
    return lines
