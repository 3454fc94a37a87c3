"""On a machine without Python 3.12 (PATH without it, pyenv's versions elsewhere), `make up`
and a deploy say once that python3.12 functions run on the endpoint's Python, and an
invocation that fails to import a module compiled for 3.12 is refused with what to do."""
import io
import json
import os
import sys
import tempfile
import unittest
import zipfile

from deploy import bytecode, local_runtimes
from deploy.functions import ROOT
from tests.e2e.endpoint import free_port
from tests.e2e.fidelity import ROLE, TRUST, FidelityTestCase
from tests.workspace import make

OWN_VERSION = '%d.%d' % sys.version_info[:2]  # the endpoint's Python: the tests' own
SO_312 = 'native.cpython-312-x86_64-linux-gnu.so'
IMPORTS_NATIVE = 'import native\n\n\ndef handler(event, context):\n    return native.VALUE\n'
FALLS_BACK = ('try:\n    import native\nexcept ImportError:\n    native = None\n\n\n'
              'def handler(event, context):\n    return {"native": native is not None}\n')


def zip_with_312_module(source):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w') as archive:
        archive.writestr('handler.py', source)
        archive.writestr(SO_312, b'\x7fELF compiled for CPython 3.12')
    return buffer.getvalue()


class WithoutPython312Test(FidelityTestCase):
    @classmethod
    def setUpClass(cls):
        cls.state = tempfile.mkdtemp(prefix='right-python-')
        cls.port = free_port()
        cls.url = f'http://127.0.0.1:{cls.port}'
        cls.settings = [f'LOCAL_PORT={cls.port}', f'LOCAL_STATE={cls.state}', 'LOCAL_IAM=off']
        environment = {**os.environ, 'PYENV_ROOT': tempfile.mkdtemp(),
                       'PATH': '/usr/local/bin:/usr/bin:/bin'}
        cls.up = make(ROOT, 'up', *cls.settings, env=environment)
        cls._clients = {}
        try:
            cls.role_arn = cls.client('iam').create_role(
                RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(TRUST))['Role']['Arn']
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        make(ROOT, 'down', *cls.settings)

    def test_make_up_says_once_which_python_runs_python312(self):
        lines = [line for line in self.up.stdout.splitlines()
                 if line.startswith('python runtimes: ')]
        self.assertEqual(len(lines), 1, self.up.stdout)
        found, lacking = lines[0].split('; no Python ')
        self.assertIn(f'python{OWN_VERSION} on ', found)
        self.assertNotIn('python3.12', found)
        self.assertRegex(lacking, r'^[\d., ]*3\.12[\d., ]* on this machine \(on PATH or under '
                                  r'pyenv\): [\w., ]*python3\.12[\w., ]* functions run on the '
                                  rf"endpoint's Python {OWN_VERSION}, ")

    def test_a_deploy_to_the_endpoint_says_it_in_one_line(self):
        versions = local_runtimes.python_versions(self.url)
        self.assertEqual(versions['python3.12'], OWN_VERSION)
        self.assertEqual(local_runtimes.note({'python3.12'}, versions), (
            f'note: the local endpoint has no Python 3.12: python3.12 functions run there on '
            f'Python {OWN_VERSION}, and an invocation that fails to import a module compiled '
            f'for 3.12 is refused. Install it (pyenv install 3.12) and restart the endpoint '
            f'(make down up), or set RUNTIME=python{OWN_VERSION}.'))

    def test_an_import_of_a_module_built_for_312_is_refused_with_what_to_do(self):
        lambdas = self.client('lambda')
        lambdas.create_function(FunctionName='wrong-python', Runtime='python3.12',
                                Role=self.role_arn, Handler='handler.handler',
                                Code={'ZipFile': zip_with_312_module(IMPORTS_NATIVE)})
        lambdas.get_waiter('function_active_v2').wait(FunctionName='wrong-python')
        with self.assertRaises(lambdas.exceptions.InvalidRuntimeException) as refused:
            lambdas.invoke(FunctionName='wrong-python')
        message = (f'Function wrong-python could not import native ({SO_312}): it is compiled '
                   f'for Python 3.12, and its runtime python3.12 runs on Python {OWN_VERSION} '
                   f'here, as no Python 3.12 was found on this machine (on PATH or under '
                   f'pyenv). The local endpoint does not run code built for another Python: '
                   f'install Python 3.12 (e.g. pyenv install 3.12) and restart the endpoint '
                   f'(make down up), or build and deploy the function for the Python here '
                   f'(RUNTIME=python{OWN_VERSION}). (Local only: AWS runs python3.12 on Python '
                   f'3.12.)')
        answer = refused.exception.response
        self.assertEqual((answer['ResponseMetadata']['HTTPStatusCode'], answer['Error']['Message']),
                         (400, message))
        events = self.client('logs').filter_log_events(
            logGroupName='/aws/lambda/wrong-python', logStreamNames=['local-endpoint/refused'])
        self.assertEqual([event['message'] for event in events['events']],
                         [f'[local endpoint] {message}'])

    def test_a_module_with_a_fallback_runs(self):
        """As MarkupSafe's speed-ups: its import fails, the function goes on without it."""
        lambdas = self.client('lambda')
        lambdas.create_function(FunctionName='falls-back', Runtime='python3.12',
                                Role=self.role_arn, Handler='handler.handler',
                                Code={'ZipFile': zip_with_312_module(FALLS_BACK)})
        lambdas.get_waiter('function_active_v2').wait(FunctionName='falls-back')
        answer = lambdas.invoke(FunctionName='falls-back')
        self.assertEqual((answer.get('FunctionError'), json.load(answer['Payload'])),
                         (None, {'native': False}))


@unittest.skipIf(bytecode.interpreter_for('python3.12') is None,
                 'no Python 3.12 on this machine (on PATH or under pyenv)')
class WithPython312Test(FidelityTestCase):
    """Where the machine has Python 3.12 (here under pyenv, as 3.12.1), python3.12 runs on it."""

    def test_a_python312_function_runs_on_python312_and_the_endpoint_says_so(self):
        self.create_function('on-312', 'import sys\n\n\ndef handler(event, context):\n'
                                       '    return "%d.%d" % sys.version_info[:2]\n')
        answer = self.client('lambda').invoke(FunctionName='on-312')
        self.assertEqual(json.load(answer['Payload']), '3.12')
        self.assertEqual(local_runtimes.python_versions(self.url)['python3.12'], '3.12')
        with open(os.path.join(self.state, 'endpoint.log')) as log:
            note = next(line for line in log if line.startswith('python runtimes: '))
        self.assertIn(f'python3.12 on {bytecode.interpreter_for("python3.12")}', note)
