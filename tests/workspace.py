"""A throwaway copy of the project to run make in, so tests never write into the checkout.

The copy holds the files git tracks plus untracked ones it does not ignore (the working tree as
a commit would see it), and uses the checkout's .venv.
"""
import os
import shutil
import subprocess
import tempfile
import unittest

from deploy.functions import ROOT

VENV = os.path.join(ROOT, '.venv')


def project_files():
    listed = subprocess.run(['git', 'ls-files', '-z', '--cached', '--others', '--exclude-standard'],
                            cwd=ROOT, capture_output=True, check=True).stdout
    return [name for name in listed.decode().split('\0') if name and os.path.exists(
        os.path.join(ROOT, name))]


def copy_project():
    target = tempfile.mkdtemp(prefix='image-service-')
    for name in project_files():
        destination = os.path.join(target, name)
        os.makedirs(os.path.dirname(destination), exist_ok=True)
        shutil.copy2(os.path.join(ROOT, name), destination)
    return target


def make(root, *arguments, env=None, check=True, timeout=600):
    """Run make in the copy; on failure the assertion shows everything make printed."""
    result = subprocess.run(['make', '--no-print-directory', '-C', root, f'VENV={VENV}',
                             *arguments], env=env, capture_output=True, text=True,
                            timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f'make {" ".join(arguments)} failed ({result.returncode}):\n'
                             f'{result.stdout}\n{result.stderr}')
    return result


class ProjectCopyTestCase(unittest.TestCase):
    """One copy per test class: builds inside it are cached between its tests."""

    @classmethod
    def setUpClass(cls):
        cls.root = copy_project()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.root, ignore_errors=True)

    def path(self, *parts):
        return os.path.join(self.root, *parts)
