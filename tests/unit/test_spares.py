"""Sandboxes made ahead of cold starts: the launcher's hand-off, and the pool that keeps one
ready. Run with the kinds of containment any user can make (a process tree, a TMPDIR), so
these tests need no root; the end-to-end tests run them inside cgroups and namespaces."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

from unittest import mock

from local_endpoint import spares as spares_module
from local_endpoint.containment import Limits, ProcessTree
from local_endpoint.filesystem import SharedMounts, visible_inside
from local_endpoint.spares import LAUNCHER, Spares

REPORT = ('import json, os, sys; print(json.dumps({"cwd": os.getcwd(), "env": dict(os.environ), '
          '"stdin": sys.stdin.read(), "argv": sys.argv[1:]}))')


def launcher():
    return subprocess.Popen([sys.executable, '-S', '-I', '-c', LAUNCHER], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def hand(process, document):
    data = json.dumps(document).encode()
    process.stdin.write(len(data).to_bytes(8, 'big') + data)
    process.stdin.close()


class LauncherTest(unittest.TestCase):
    def test_it_becomes_the_command_with_exactly_its_environment_folder_and_no_stdin(self):
        folder = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, folder)
        process = launcher()
        hand(process, {'argv': [sys.executable, '-c', REPORT, 'a b'], 'env': {'ONLY': 'this'},
                       'cwd': folder})
        seen = json.loads(process.stdout.read())
        self.assertEqual(process.wait(5), 0)
        self.assertEqual(seen['cwd'], os.path.realpath(folder))
        self.assertEqual({name: value for name, value in seen['env'].items()
                          if name != 'LC_CTYPE'}, {'ONLY': 'this'})
        self.assertEqual((seen['stdin'], seen['argv']), ('', ['a b']))

    def test_a_spare_closed_unused_exits_quietly(self):
        process = launcher()
        process.stdin.close()
        self.assertEqual((process.wait(5), process.stdout.read()), (0, b''))


class SparesTest(unittest.TestCase):
    def setUp(self):
        self.run_dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.run_dir)
        self.spares = Spares(ProcessTree('test'), SharedMounts(self.run_dir, 'test'))
        self.addCleanup(self.spares.close)

    def ready(self, size):
        deadline = time.monotonic() + 10
        while size not in self.spares.ready and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertIn(size, self.spares.ready)

    def test_one_is_made_ahead_per_size_and_another_when_it_is_taken(self):
        self.assertIsNone(self.spares.take(512))  # the first cold start makes its own
        self.ready(512)
        spare = self.spares.take(512)
        self.assertIsNotNone(spare)
        spare.launch([sys.executable, '-c', REPORT], {'A': '1'}, self.run_dir,
                     Limits.for_function(128))
        self.assertEqual(json.loads(spare.process.stdout.read())['env']['A'], '1')
        self.assertEqual(spare.group.limits, Limits.for_function(128))
        spare.process.wait(5)
        spare.discard()
        self.ready(512)  # the next one
        self.assertNotIn(1024, self.spares.ready)

    def test_closing_ends_the_spares_waiting(self):
        self.spares.take(512)
        self.ready(512)
        waiting = self.spares.ready[512].process
        self.spares.close()
        self.assertIsNotNone(waiting.poll())
        self.assertIsNone(self.spares.take(512))
        time.sleep(0.1)
        self.assertEqual(self.spares.ready, {})  # and none is made after

    def test_a_spare_that_died_waiting_is_not_used(self):
        self.spares.take(512)
        self.ready(512)
        self.spares.ready[512].process.kill()
        self.spares.ready[512].process.wait(5)
        self.assertIsNone(self.spares.take(512))


class LauncherPathTest(unittest.TestCase):
    """The sandbox's /tmp is its own: a launcher whose Python lies under the machine's /tmp
    (a checkout there, its .venv a link) would not be found inside."""

    def test_what_lies_under_tmp_is_hidden_inside(self):
        self.assertEqual([visible_inside(path) for path in ('/tmp/x/.venv/bin/python', '/tmp',
                                                            '/tmpfs/python', '/usr/bin/env')],
                         [False, False, True, True])

    def test_the_launcher_runs_the_python_a_virtualenv_links_to(self):
        folder = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, folder)
        link = os.path.join(folder, 'python')
        os.symlink('/usr/bin/env', link)
        with mock.patch.object(spares_module.sys, 'executable', link):
            self.assertEqual(spares_module.launcher_interpreter(), '/usr/bin/env')
        self.assertTrue(visible_inside(link))  # under /tmp, but what it runs is not
