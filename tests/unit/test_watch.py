"""make watch's decisions: what counts as an edit, which path it takes, what it runs."""
import os
import shutil
import tempfile
import unittest

from deploy import watch, zipper
from deploy.declaration import Function


class RecordingAws:
    def __init__(self):
        self.ran = []

    def run(self, *argv, read=False, output='json'):
        self.ran.append(list(argv))
        if argv[:2] == ('lambda', 'update-function-code'):
            return {'Version': '7'}
        return None


class WatchTest(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.root)
        self.folder = os.path.join(self.root, 'fn')
        for name, text in {'handler.py': 'def handler(e, c):\n    return 1\n',
                           'Makefile': 'include ../lambda.mk\n', 'function.json': '{}',
                           'requirements.txt': '', 'events/e.json': '{}',
                           '.build/site-packages/lib/__init__.py': 'x = 1\n'}.items():
            path = os.path.join(self.folder, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, 'w') as handle:
                handle.write(text)
        with open(os.path.join(self.root, 'lambda.mk'), 'w') as handle:
            handle.write('# rules\n')

    def touch(self, path, text='\n# edited\n'):
        with open(path, 'a') as handle:
            handle.write(text)
        status = os.stat(path)
        os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns + 1_000_000))

    def test_a_source_edit_is_seen_and_takes_the_short_path(self):
        before = watch.snapshot(self.folder, self.root)
        self.touch(os.path.join(self.folder, 'handler.py'))
        paths = watch.changed_paths(before, watch.snapshot(self.folder, self.root))
        self.assertEqual(paths, [os.path.join(self.folder, 'handler.py')])
        self.assertFalse(watch.needs_full_deploy(paths, self.folder))

    def test_build_outputs_and_events_are_not_edits(self):
        before = watch.snapshot(self.folder, self.root)
        self.touch(os.path.join(self.folder, '.build', 'site-packages', 'lib', '__init__.py'))
        self.touch(os.path.join(self.folder, 'events', 'e.json'))
        with open(os.path.join(self.folder, 'fn.zip'), 'w') as handle:
            handle.write('zip')
        self.assertEqual(watch.changed_paths(before, watch.snapshot(self.folder, self.root)), [])

    def test_settings_and_shared_rules_take_the_long_path(self):
        for path in (os.path.join(self.folder, 'function.json'),
                     os.path.join(self.folder, 'requirements.txt'),
                     os.path.join(self.root, 'lambda.mk')):
            with self.subTest(os.path.basename(path)):
                before = watch.snapshot(self.folder, self.root)
                self.touch(path)
                paths = watch.changed_paths(before, watch.snapshot(self.folder, self.root))
                self.assertEqual(paths, [path])
                self.assertTrue(watch.needs_full_deploy(paths, self.folder))

    def function(self):
        return Function(folder=self.folder, name='fn-dev', handler='handler.handler',
                        runtime='python3.12', architecture='x86_64', timeout=3, memory_size=128,
                        role_name='r', zip_path=os.path.join(self.folder, 'fn.zip'),
                        zip_exclude=['Makefile', 'requirements.txt', 'events', 'function.json'])

    def test_the_short_path_publishes_only_changed_code_moves_the_alias_and_matches_a_clean_build(
            self):
        """Triggers and URLs invoke the alias (issue 14): published code is live once the
        alias points at it."""
        aws = RecordingAws()
        watcher = watch.Watcher([self.folder], aws, self.root, echo=lambda line: None)
        function = watcher.functions[self.folder] = self.function()
        deps = os.path.join(self.folder, '.build', 'site-packages')
        zipper.build(function.zip_path, self.folder, deps, function.zip_exclude)
        self.assertFalse(watcher.update_code(self.folder), 'same code: nothing published')
        self.assertEqual(aws.ran, [])

        self.touch(os.path.join(self.folder, 'handler.py'))
        self.assertTrue(watcher.update_code(self.folder))
        self.assertEqual([argv[:2] for argv in aws.ran],
                         [['lambda', 'update-function-code'], ['lambda', 'wait'],
                          ['lambda', 'update-alias']])
        self.assertIn('--publish', aws.ran[0])
        self.assertEqual(aws.ran[2][aws.ran[2].index('--name') + 1:], [
            'live', '--function-version', '7', '--routing-config', 'AdditionalVersionWeights={}'])
        clean = os.path.join(self.root, 'clean.zip')
        zipper.build(clean, self.folder, deps, function.zip_exclude)
        self.assertEqual(zipper.code_sha256(clean), zipper.code_sha256(function.zip_path))


if __name__ == '__main__':
    unittest.main()
