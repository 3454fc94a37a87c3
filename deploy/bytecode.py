"""Dependencies shipped with their bytecode, compiled for the runtime's Python.

Lambda unpacks a zip into /var/task, read-only: a module without its .pyc is compiled again
on every cold start (Jinja2: 130 ms of the gallery's Init). So once the dependencies are
installed, the runtime's Python (3.12 for python3.12, found on PATH or under pyenv) compiles
them: hash-based .pyc files that Python never checks against a source's mtime (PEP 552,
unchecked: the sources never change), with /var/task as their path in tracebacks, so the same
sources give the same bytes and the zip stays deterministic. Without that Python, nothing is
compiled, and the zip is as before.

    python -m deploy.bytecode FOLDER --runtime python3.12
"""
import argparse
import glob
import os
import re
import shutil
import subprocess
import sys

TASK_ROOT = '/var/task'  # where Lambda unpacks the zip; the paths tracebacks show


def interpreter_for(runtime):
    """The Python of a runtime such as python3.12 on this machine, or None: on PATH, else
    pyenv's newest X.Y.Z. pyenv's shims are passed over on PATH: a shim runs only the
    versions `pyenv global` names (python3.12 says "command not found" under 3.11) and costs
    a shell and pyenv (0.2 s) to ask, while its versions are looked at directly."""
    version = runtime.replace('python', '')
    pyenv = os.environ.get('PYENV_ROOT', os.path.expanduser('~/.pyenv'))
    shims = os.path.join(pyenv, 'shims')
    path = os.pathsep.join(folder for folder in os.environ.get('PATH', os.defpath).split(os.pathsep)
                           if os.path.abspath(folder) != shims)
    candidates = [shutil.which(f'python{version}', path=path)]
    candidates += sorted(glob.glob(os.path.join(pyenv, 'versions', f'{version}.*', 'bin',
                                                f'python{version}')),
                         key=release_order, reverse=True)
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK) and version_of(candidate) == version:
            return candidate
    return None


def release_order(interpreter):
    """3.12.10 after 3.12.9 (a string sort puts it before); a pre-release such as 3.13.0rc1
    before its release."""
    release = os.path.basename(os.path.dirname(os.path.dirname(interpreter)))
    numbers = re.match(r'[\d.]*\d', release)
    return (tuple(int(part) for part in numbers[0].split('.')) if numbers else (),
            release == (numbers[0] if numbers else ''))


def version_of(interpreter):
    result = subprocess.run(
        [interpreter, '-c', 'import sys; print("%d.%d" % sys.version_info[:2])'],
        capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else None


def compile_for_lambda(folder, interpreter):
    subprocess.run([interpreter, '-m', 'compileall', '-q', '-j', '0', '--invalidation-mode',
                    'unchecked-hash', '-d', TASK_ROOT, folder],
                   check=True, stdout=subprocess.DEVNULL)


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m deploy.bytecode')
    parser.add_argument('folder')
    parser.add_argument('--runtime', required=True)
    arguments = parser.parse_args(argv)
    interpreter = interpreter_for(arguments.runtime)
    if interpreter is None:
        print(f'no {arguments.runtime} interpreter here: dependencies ship without bytecode',
              file=sys.stderr)
        return 0
    compile_for_lambda(arguments.folder, interpreter)
    return 0


if __name__ == '__main__':
    sys.exit(main())
