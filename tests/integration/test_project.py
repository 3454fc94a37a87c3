"""The top level as a new user meets it, without AWS: which folders are functions, what make
help shows a function of their own, and how fast a target fails when nothing answers."""
import os
import socket
import time

from tests.workspace import ProjectCopyTestCase, make


class ProjectTest(ProjectCopyTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        make(cls.root, 'new', 'NAME=thumbnails', 'KIND=s3')

    def functions(self, *arguments, env=None):
        """The folders `make build` would build (make -n prints its loop)."""
        result = make(self.root, '-n', 'build', *arguments, env=env)
        [loop] = [line for line in result.stdout.splitlines() if line.startswith('for function')]
        return loop.split(' in ', 1)[1].split(';', 1)[0].split()

    def test_every_function_folder_is_found_and_the_list_can_be_set(self):
        self.assertEqual(sorted(self.functions()), ['image_list', 'image_resize', 'image_sweeper',
                                                  'thumbnails'])
        self.assertEqual(self.functions('FUNCTIONS=thumbnails'), ['thumbnails'])
        environment = dict(os.environ, FUNCTIONS='image_list')
        self.assertEqual(self.functions(env=environment), ['image_list'])
        config = self.path('config.mk')
        with open(config, 'w') as handle:
            handle.write('FUNCTIONS = image_resize thumbnails\n')
        self.addCleanup(os.remove, config)
        self.assertEqual(self.functions(), ['image_resize', 'thumbnails'])

    def test_a_users_function_help_is_its_own(self):
        text = make(self.path('thumbnails'), 'help').stdout
        for name in ('FUNCTION_NAME', 'MEMORY_SIZE', 'STAGE', 'build', 'deploy', 'plan',
                     'watch', 'DESCRIPTION'):
            self.assertIn(name, text)
        for name in ('UPLOAD_BUCKET', 'RESIZED_BUCKET', 'RESIZE_ROLE', 'GALLERY_FRONT'):
            self.assertNotIn(name, text, "the sample service's settings are not its own")
        self.assertNotIn('$(call', text)
        top = make(self.root, 'help').stdout
        self.assertIn('plan create update deploy', top, 'rules with several targets')
        self.assertIn('UPLOAD_BUCKET', top, "the top level drives the sample service too")

    def test_a_name_function_json_uses_must_be_a_make_variable(self):
        declaration = self.path('thumbnails', 'function.json')
        with open(declaration) as handle:
            original = handle.read()
        self.addCleanup(lambda: open(declaration, 'w').write(original))
        with open(declaration, 'w') as handle:
            handle.write(original.replace('${STAGE}', '${STAGEE}', 1))
        environment = {name: value for name, value in os.environ.items()
                       if not name.startswith('AWS_')}
        environment.update(AWS_ENDPOINT_URL='http://127.0.0.1:9', AWS_ACCESS_KEY_ID='x',
                           AWS_SECRET_ACCESS_KEY='x', AWS_DEFAULT_REGION='us-east-1')
        result = make(self.path('thumbnails'), 'plan', env=environment, check=False)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn('names ${STAGEE}, which make does not set', result.stderr)

    def test_nothing_answering_is_said_at_once(self):
        with socket.socket() as probe:
            probe.bind(('127.0.0.1', 0))
            port = probe.getsockname()[1]
        environment = {name: value for name, value in os.environ.items()
                       if not name.startswith('AWS_')}
        environment.update(AWS_ENDPOINT_URL=f'http://127.0.0.1:{port}', AWS_ACCESS_KEY_ID='x',
                           AWS_SECRET_ACCESS_KEY='x', AWS_DEFAULT_REGION='us-east-1')
        for target in ('create', 'invoke'):
            with self.subTest(target):
                started = time.monotonic()
                result = make(self.path('thumbnails'), target, env=environment, check=False)
                self.assertNotEqual(result.returncode, 0)
                self.assertIn(f'nothing answers at http://127.0.0.1:{port}', result.stderr)
                self.assertIn('make up', result.stderr)
                self.assertNotIn('credentials', result.stderr)
                self.assertLess(time.monotonic() - started, 20, 'no minute of retries')
