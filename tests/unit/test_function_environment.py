"""The variables a function's runtime gets, as AWS gives them (test_lambda_common.snapshot.json,
test_introspection_invoke[python3.x], invocation_result_payload), AWS's paths mapped here."""
import unittest
from types import SimpleNamespace

from local_endpoint.environment import lambda_variables, local_path


def spec(runtime):
    return SimpleNamespace(handler='handler.handler', region='us-east-1', runtime=runtime,
                           name='f', memory_size=128, version='$LATEST')


class LambdaVariablesTest(unittest.TestCase):
    def variables(self, runtime='python3.12', opt='/s/opt'):
        return lambda_variables(spec(runtime), '/p/bin/python3.12', '/s/task', '/s/runtime', opt)

    def test_lc_ctype_only_where_python_sets_it_on_amazon_linux_2023(self):
        """Recorded for python3.12, 3.13, 3.14; not for python3.8 to 3.11."""
        for runtime, expected in (('python3.9', None), ('python3.11', None),
                                  ('python3.12', 'C.UTF-8'), ('python3.14', 'C.UTF-8')):
            with self.subTest(runtime):
                self.assertEqual(self.variables(runtime).get('LC_CTYPE'), expected)

    def test_paths_in_aws_order_with_aws_folders_mapped(self):
        variables = self.variables()
        self.assertEqual(variables['PATH'], '/p/bin:/usr/local/bin:/usr/bin/:/bin:/s/opt/bin')
        self.assertEqual(variables['LD_LIBRARY_PATH'],
                         '/p/lib:/lib64:/usr/lib64:/s/runtime:/s/runtime/lib:/s/task:'
                         '/s/task/lib:/s/opt/lib')
        self.assertEqual((variables['PYTHONPATH'], variables['LAMBDA_TASK_ROOT'],
                          variables['LAMBDA_RUNTIME_DIR'], variables['PWD']),
                         ('/s/runtime', '/s/task', '/s/runtime', '/s/task'))

    def test_without_layers_no_opt_folder_is_named(self):
        variables = self.variables(opt=None)
        self.assertNotIn('opt', variables['PATH'] + variables['LD_LIBRARY_PATH'])

    def test_a_functions_own_paths_are_mapped(self):
        self.assertEqual([local_path(value, '/s/task', '/s/opt') for value in (
            '/var/task/wrapper', '/opt/bin/tool', '/opt', '/optional', 'text')],
            ['/s/task/wrapper', '/s/opt/bin/tool', '/s/opt', '/optional', 'text'])
