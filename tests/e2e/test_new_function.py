"""What a new user does with the packager, on the local endpoint: `make new` three functions
(one with a package published only as an sdist and a compiled one, one with no
requirements.txt, one served over HTTP), deploy them with the top-level `make deploy`, invoke,
update, delete; and build one for arm64, which the endpoint refuses to run on this x86_64
machine with a message saying what to do."""
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest
import urllib.request

from tests.e2e.endpoint import free_port, local_client, local_environment
from tests.workspace import ProjectCopyTestCase, make

WITH_DEPS = textwrap.dedent('''\
    """with_deps: a pure-Python package from an sdist, and a compiled one."""
    import markupsafe
    import markupsafe._speedups
    import tinysdist


    def handler(event, context):
        return {'escaped': str(markupsafe.escape('<b>')), 'sdist': tinysdist.VALUE,
                'compiled': markupsafe._speedups.__file__.rsplit('.', 1)[-1], 'version': 1}
    ''')


def build_sdist(folder):
    """A package published only as an sdist (like docopt), in a folder pip can find it in."""
    source = tempfile.mkdtemp()
    with open(os.path.join(source, 'setup.py'), 'w') as handle:
        handle.write('from setuptools import setup\n'
                     "setup(name='tinysdist', version='1.0', py_modules=['tinysdist'])\n")
    with open(os.path.join(source, 'tinysdist.py'), 'w') as handle:
        handle.write("VALUE = 'built from its sdist'\n")
    subprocess.run([sys.executable, 'setup.py', '-q', 'sdist', '--formats=gztar', '-d', folder],
                   cwd=source, check=True, capture_output=True)
    shutil.rmtree(source)


class NewFunctionTest(ProjectCopyTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        shutil.rmtree(os.path.join(cls.root, 'image_resize'))  # the user's own project
        cls.links = tempfile.mkdtemp()
        build_sdist(cls.links)
        cls.port = free_port()
        cls.settings = [f'LOCAL_PORT={cls.port}', f'PIP_FIND_LINKS={cls.links}']
        cls.url = f'http://127.0.0.1:{cls.port}'
        make(cls.root, 'up', *cls.settings)
        cls.environment = local_environment(cls.url)

    @classmethod
    def tearDownClass(cls):
        make(cls.root, 'down', *cls.settings, check=False)
        shutil.rmtree(cls.links, ignore_errors=True)
        super().tearDownClass()

    def make(self, *arguments, directory='', check=True):
        return make(os.path.join(self.root, directory), *arguments, *self.settings,
                    env=self.environment, check=check)

    def invoke(self, function):
        result = self.make('invoke', directory=function)
        return json.loads(result.stdout.split('result:\n', 1)[1].split('\nLog tail:')[0])

    def test_new_functions_deploy_invoke_update_and_delete(self):
        for name, kind in (('with_deps', 'plain'), ('no_requirements', 'plain'),
                           ('greeter', 'http')):
            self.make('new', f'NAME={name}', f'KIND={kind}')
        os.remove(self.path('no_requirements', 'requirements.txt'))
        with open(self.path('with_deps', 'requirements.txt'), 'a') as handle:
            handle.write('tinysdist==1.0\nMarkupSafe==3.0.4\n')
        with open(self.path('with_deps', 'handler.py'), 'w') as handle:
            handle.write(WITH_DEPS)

        plan = self.make('plan')
        planned = ('with_deps-dev', 'no_requirements-dev', 'greeter-dev', 'ListImage-dev')
        for name in planned:
            self.assertIn(f'aws lambda create-function --function-name {name} ', plan.stdout)
        existing = {function['FunctionName'] for function in
                    local_client(self.url, 'lambda').list_functions()['Functions']}
        self.assertFalse(existing & set(planned), 'make plan runs nothing')

        self.make('deploy')
        self.assertEqual(self.invoke('with_deps'), {
            'escaped': '&lt;b&gt;', 'sdist': 'built from its sdist',
            'compiled': 'so', 'version': 1})
        self.assertEqual(self.invoke('no_requirements')['function'], 'no_requirements-dev')
        url = self.make('url').stdout.split()
        [greeter] = [address for address in url if address.startswith(self.url)
                     and self.greeter_answers(address)]
        role = local_client(self.url, 'iam').get_role_policy(
            RoleName='image-service-greeter-dev', PolicyName='image-service-greeter-dev')
        self.assertEqual([statement['Sid'] for statement in role['PolicyDocument']['Statement']],
                         ['OwnLogGroup'], 'a function that declares nothing may only log')

        with open(self.path('with_deps', 'handler.py'), 'w') as handle:
            handle.write(WITH_DEPS.replace("'version': 1", "'version': 2"))
        update = self.make('update')
        self.assertIn('with_deps-dev: publishing new code', update.stdout)
        for name in ('no_requirements-dev', 'greeter-dev', 'ListImage-dev'):
            self.assertIn(f'{name}: nothing to do', update.stdout)
        self.assertEqual(self.invoke('with_deps')['version'], 2)
        self.assertTrue(self.greeter_answers(greeter))

        self.make('delete', directory='no_requirements')
        names = [function['FunctionName'] for function in
                 local_client(self.url, 'lambda').list_functions()['Functions']]
        self.assertNotIn('no_requirements-dev', names)
        self.assertIn('with_deps-dev', names)

    @staticmethod
    def greeter_answers(address):
        try:
            with urllib.request.urlopen(f'{address}hello', timeout=60) as response:
                return json.load(response).get('function') == 'greeter-dev'
        except (OSError, ValueError):
            return False

    @unittest.skipUnless(platform.machine() == 'x86_64', 'arm64 is refused on x86_64 machines')
    def test_arm64_is_built_and_refused_locally_with_what_to_do(self):
        self.make('new', 'NAME=on_arm', 'KIND=plain')
        with open(self.path('on_arm', 'requirements.txt'), 'a') as handle:
            handle.write('MarkupSafe==3.0.4\n')
        self.make('deploy', 'ARCH=arm64', directory='on_arm')
        lambdas = local_client(self.url, 'lambda')
        self.assertEqual(lambdas.get_function_configuration(
            FunctionName='on_arm-dev')['Architectures'], ['arm64'])
        speedups = [name for name in os.listdir(self.path('on_arm', '.build', 'site-packages',
                                                          'markupsafe'))
                    if name.startswith('_speedups') and name.endswith('.so')]
        self.assertTrue(speedups and 'aarch64' in speedups[0], speedups)

        refused = self.make('invoke', directory='on_arm', check=False)
        self.assertNotEqual(refused.returncode, 0)
        self.assertIn('built for arm64', refused.stderr)
        self.assertIn('ARCH=x86_64', refused.stderr)
        again = self.make('update', 'ARCH=arm64', directory='on_arm')
        self.assertIn('on_arm-dev: nothing to do', again.stdout, 'no republish')


if __name__ == '__main__':
    unittest.main()
