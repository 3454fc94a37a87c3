"""A create, update or deploy to the local endpoint says once which of its functions' runtimes
run on another Python there, and asks nothing of AWS or of an endpoint elsewhere."""
import json
import threading
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest import mock

from deploy import cli, local_runtimes

ON_311 = {'python3.11': '3.11', 'python3.12': '3.11', 'python3.13': '3.13'}


def health_server(document):
    """A local endpoint's /_local/health answering `document`, on a free port."""
    class Health(BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps(document).encode()
            self.send_response(200 if self.path == local_runtimes.HEALTH_PATH else 404)
            self.send_header('Content-Length', str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_):
            pass

    server = ThreadingHTTPServer(('127.0.0.1', 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class NoteTest(unittest.TestCase):
    def test_runtimes_on_another_python_are_said_in_one_line(self):
        self.assertEqual(local_runtimes.note({'python3.12', 'python3.13'}, ON_311), (
            'note: the local endpoint has no Python 3.12: python3.12 functions run there on '
            'Python 3.11, and an invocation that fails to import a module compiled for 3.12 is '
            'refused. Install it (pyenv install 3.12) and restart the endpoint (make down up), '
            'or set RUNTIME=python3.11.'))

    def test_nothing_is_said_when_each_runs_on_its_own_python_or_is_unknown(self):
        self.assertIsNone(local_runtimes.note({'python3.13', 'python3.11'}, ON_311))
        self.assertIsNone(local_runtimes.note({'python3.12'}, {}))


class PythonVersionsTest(unittest.TestCase):
    def test_the_local_endpoint_is_asked_its_health(self):
        server = health_server({'status': 'ok', 'runtimes': ON_311})
        self.addCleanup(server.shutdown)
        url = f'http://127.0.0.1:{server.server_address[1]}'
        self.assertEqual(local_runtimes.python_versions(url), ON_311)

    def test_aws_another_host_or_an_endpoint_without_the_field_says_nothing(self):
        with mock.patch.object(local_runtimes.urllib.request, 'urlopen') as urlopen:
            self.assertEqual(local_runtimes.python_versions(None), {})
            self.assertEqual(local_runtimes.python_versions('https://lambda.example.com'), {})
        urlopen.assert_not_called()
        server = health_server({'status': 'ok'})
        self.addCleanup(server.shutdown)
        self.assertEqual(local_runtimes.python_versions(
            f'http://localhost:{server.server_address[1]}'), {})


class ConvergeTest(unittest.TestCase):
    def converge(self, folders, lines):
        functions = [mock.Mock(runtime='python3.12', folder=name, layer=None,
                               triggers_of=mock.Mock(return_value=[])) for name in folders]
        with mock.patch.multiple(cli, function_of=mock.Mock(side_effect=[
                (function, mock.Mock(), {}) for function in functions]),
                applied=mock.DEFAULT, deployed_state=mock.DEFAULT, Planner=mock.DEFAULT,
                Executor=mock.DEFAULT):
            cli.converge(folders, 'deploy', mock.Mock(), echo=lines.append)

    def notes(self, lines):
        return [line for line in lines if str(line).startswith('note: the local endpoint')]

    def test_a_command_over_several_functions_says_it_once_at_its_end(self):
        lines = []
        with mock.patch.object(local_runtimes, 'SAID', set()), \
                mock.patch.object(local_runtimes, 'python_versions', return_value=ON_311):
            self.converge(['image_resize', 'image_list'], lines)
        self.assertEqual(len(self.notes(lines)), 1)
        self.assertEqual(lines[-1], self.notes(lines)[0])

    def test_make_watch_deploying_one_function_after_another_says_it_once(self):
        lines = []
        with mock.patch.object(local_runtimes, 'SAID', set()), \
                mock.patch.object(local_runtimes, 'python_versions', return_value=ON_311):
            for folder in ('image_resize', 'image_list', 'image_resize'):
                self.converge([folder], lines)
        self.assertEqual(len(self.notes(lines)), 1)


if __name__ == '__main__':
    unittest.main()
