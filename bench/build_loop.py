"""The build loop, in a throwaway copy of the project: cold `make build` of both functions, a
no-op build, a rebuild after touching a handler, the zip sizes; and, for contrast, the 2016
tutorial's approach: `pip install -t .` into a copy of the function folder, then `zip -r`.
"""
import os
import shutil
import statistics
import subprocess
import tempfile
import time

from tests.workspace import VENV, copy_project

FUNCTIONS = ('image_resize', 'image_list')


def timed(command, cwd, env=None):
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=True, capture_output=True)
    return (time.perf_counter() - started) * 1000


def run(samples, progress=print):
    root = copy_project()
    make = ['make', '--no-print-directory', f'VENV={VENV}']
    try:
        cold, noop, code_only = [], [], []
        for _ in range(samples):
            timed([*make, 'clean'], root)
            cold.append(timed([*make, 'build'], root))
            noop.append(timed([*make, 'build'], root))
            for function in FUNCTIONS:
                os.utime(os.path.join(root, function, 'handler.py'))
            code_only.append(timed([*make, 'build'], root))
        sizes = {function: os.path.getsize(os.path.join(root, function, f'{function}.zip'))
                 for function in FUNCTIONS}
        tutorial = {function: tutorial_build(root, function) for function in FUNCTIONS}
    finally:
        shutil.rmtree(root, ignore_errors=True)
    figures = {'cold_ms': statistics.median(cold), 'noop_ms': statistics.median(noop),
               'code_only_ms': statistics.median(code_only), 'zip_bytes': sizes,
               'tutorial': tutorial, 'samples': samples}
    progress(f'  build: cold {figures["cold_ms"]:.0f} ms, no-op {figures["noop_ms"]:.0f} ms, '
             f'code-only {figures["code_only_ms"]:.0f} ms')
    return figures


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
