"""Each execution environment contained as on Lambda, on the endpoint `make up` starts: its
processes end with it (setsid or not), its children's memory counts against MemorySize, its CPU
is a share of a core proportional to MemorySize, its /tmp is its own and EphemeralStorage in
size, zips keep their symlinks, and code is unpacked by content, so a layer republished under
the same ARN after a restart runs its new content."""
import base64
import io
import json
import os
import re
import stat
import struct
import tempfile
import time
import zipfile

from tests.e2e.endpoint import EndpointTestCase, local_environment
from tests.workspace import make

DAEMON = '''import json, subprocess, time
def handler(event, context):
    daemon = subprocess.Popen(["sleep", "300"], start_new_session=True)
    if event.get("hang"):
        time.sleep(30)
    return daemon.pid
'''
# The CPU it gets in a spin of 300 ms of wall time during init, and in each of three in its
# handler, as a fraction of one core.
SPIN = '''import time
def spin():
    started, used = time.monotonic(), time.process_time()
    while time.monotonic() - started < 0.3:
        pass
    return (time.process_time() - used) / (time.monotonic() - started)
AT_INIT = spin()
def handler(event, context):
    return {"init": AT_INIT, "handler": [spin() for _ in range(3)]}
'''
LAYERED = '''import layer_content
def handler(event, context):
    return layer_content.VALUE
'''


def zip_of(*entries):
    """(name, content) files and (name, target, 'link') symlinks."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w') as archive:
        for name, content, *link in entries:
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = ((stat.S_IFLNK | 0o777) if link else (stat.S_IFREG | 0o644)) << 16
            archive.writestr(info, content)
    return buffer.getvalue()


def running(pid, seconds=5):
    """Whether pid is still running after up to `seconds` of waiting for it to end."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with open(f'/proc/{pid}/stat') as process:
                if process.read().rsplit(')', 1)[1].split()[0] == 'Z':
                    return False
        except FileNotFoundError:
            return False
        if time.monotonic() > deadline:
            return True
        time.sleep(0.02)


class ContainmentTest(EndpointTestCase):
    @classmethod
    def deploy(cls):
        """No service: tiny functions, made by each test, under a role of their own."""
        cls.environment = local_environment(cls.url)
        cls.role = cls.client('iam').create_role(
            RoleName='containment', AssumeRolePolicyDocument=json.dumps({
                'Version': '2012-10-17', 'Statement': [{
                    'Effect': 'Allow', 'Principal': {'Service': 'lambda.amazonaws.com'},
                    'Action': 'sts:AssumeRole'}]}))['Role']['Arn']

    def function(self, name, code, **settings):
        lambdas = self.client('lambda')
        if isinstance(code, str):
            code = zip_of(('handler.py', code))
        lambdas.create_function(FunctionName=name, Runtime='python3.12', Role=self.role,
                                Handler='handler.handler', Code={'ZipFile': code}, **settings)
        self.addCleanup(self.delete, name)
        return lambdas

    def delete(self, name):
        """Gone already when the endpoint restarted since."""
        lambdas = self.client('lambda')
        try:
            lambdas.delete_function(FunctionName=name)
        except lambdas.exceptions.ResourceNotFoundException:
            pass

    def invoke(self, name, event=None):
        """(error type or None, result, REPORT line)."""
        response = self.client('lambda').invoke(FunctionName=name, LogType='Tail',
                                                Payload=json.dumps(event or {}))
        result = json.loads(response['Payload'].read())
        tail = base64.b64decode(response['LogResult']).decode().splitlines()
        report = [line for line in tail if line.startswith('REPORT')][-1]
        return (result['errorType'] if 'FunctionError' in response else None), result, report

    def test_a_childs_memory_counts_and_its_oom_ends_the_environment(self):
        self.function('Hog', 'import subprocess, sys\n'
                             'def handler(event, context):\n'
                             '    child = [sys.executable, "-c", "block = b\'x\' * (600 << 20)"]\n'
                             '    return subprocess.run(child).returncode\n', MemorySize=128)
        error, result, report = self.invoke('Hog')
        self.assertEqual(error, 'Runtime.OutOfMemory', result)
        self.assertIn('Error: Runtime exited with error: signal: killed', result['errorMessage'])
        self.assertIn('Memory Size: 128 MB\tMax Memory Used: 128 MB\t', report)
        self.assertIn('Error Type: Runtime.OutOfMemory', report)

    def test_cpu_is_a_share_of_a_core_proportional_to_memory_size_after_init(self):
        """128 MB gets 128/1769 of a core (0.07), 1769 MB a whole one (1.0 on an idle machine).
        Other work on the machine takes from the second (0.4 at a load of 6 on 2 cores) long
        before the first, far below a fair share: so the bounds are a loose ceiling for the
        first and three times the first for the second; the best of three spins counts."""
        with open(os.path.join(self.state, f'endpoint-{self.port}.log')) as log:
            note = next(line for line in log if line.startswith('execution environments: '))
        unlimited = re.search(r'CPU not limited \(.*?\)', note)
        if unlimited:
            self.skipTest(f'the endpoint says {unlimited[0]}')
        for memory_mb in (128, 1769):
            self.function(f'Spin{memory_mb}', SPIN, MemorySize=memory_mb)
        error, small, _ = self.invoke('Spin128')
        self.assertIsNone(error, small)
        self.assertLess(max(small['handler']), 0.25, small)
        # Init runs with burst CPU, as on Lambda: not held to the share.
        self.assertGreater(small['init'], 3 * max(small['handler']), small)
        error, whole, _ = self.invoke('Spin1769')
        self.assertIsNone(error, whole)
        self.assertGreater(max(whole['handler']), 3 * max(small['handler']), (whole, small))

    def test_tmp_is_the_environments_own_and_ephemeral_storage_in_size(self):
        self.function('Scratch', (
            'import errno, os, tempfile\n'
            'def handler(event, context):\n'
            '    tempdir = tempfile.gettempdir()\n'
            '    with open("/tmp/" + event["name"], "wb") as data:\n'
            '        for _ in range(300):  # more than MemorySize, which /tmp is not part of\n'
            '            data.write(bytes(1 << 20))\n'
            '    try:\n'
            '        with open("/tmp/more", "wb") as more:\n'
            '            os.posix_fallocate(more.fileno(), 0, 300 << 20)\n'
            '        full = None\n'
            '    except OSError as error:\n'
            '        full = errno.errorcode[error.errno]\n'
            '    disk = os.statvfs("/tmp")\n'
            '    return {"total_mb": disk.f_blocks * disk.f_frsize >> 20, "full": full,\n'
            '            "tempdir": tempdir,\n'
            '            "sees_host_file": os.path.exists(event["host_file"])}\n'),
            MemorySize=128, Timeout=30)  # 300 MB written on 7 % of a core
        self.function('Larger', 'import os\ndef handler(event, context):\n'
                                '    disk = os.statvfs("/tmp")\n'
                                '    return disk.f_bavail * disk.f_frsize >> 20\n',
                      EphemeralStorage={'Size': 1024})
        name = f'written-by-the-function-{time.time_ns()}'
        with tempfile.NamedTemporaryFile(dir='/tmp') as host_file:
            error, result, _ = self.invoke('Scratch', {'name': name, 'host_file': host_file.name})
        self.assertIsNone(error, result)
        self.assertEqual((result['full'], result['tempdir'], result['sees_host_file']),
                         ('ENOSPC', '/tmp', False))
        self.assertTrue(512 <= result['total_mb'] < 540, result)
        self.assertFalse(os.path.exists(f'/tmp/{name}'))
        error, free_mb, _ = self.invoke('Larger')
        self.assertEqual(free_mb, 1024)

    def test_zips_keep_symlinks_and_bad_ones_are_refused_at_create(self):
        self.function('Linked', zip_of(
            ('handler.py', 'import os\ndef handler(event, context):\n'
                           '    path = os.path.join(os.environ["LAMBDA_TASK_ROOT"], "current")\n'
                           '    return [os.readlink(path), open(path).read()]\n'),
            ('v1.txt', 'version one'), ('current', 'v1.txt', 'link')))
        self.assertEqual(self.invoke('Linked')[1], ['v1.txt', 'version one'])
        lambdas = self.client('lambda')
        too_big = bytearray(zip_of(('handler.py', 'x')))
        struct.pack_into('<I', too_big, too_big.index(b'PK\x01\x02') + 24, 262144000)
        for code, message in (
                (zip_of(('lib', '/tmp', 'link'), ('lib/planted', 'x')),
                 'Could not unzip uploaded file. Please check your file, then try to upload '
                 'again.'),
                (bytes(too_big), 'Unzipped size must be smaller than 262144000 bytes')):
            with self.subTest(message), \
                    self.assertRaises(lambdas.exceptions.InvalidParameterValueException) as caught:
                self.function('Refused', code)
            self.assertEqual(caught.exception.response['Error']['Message'], message)
        self.assertFalse(os.path.exists('/tmp/planted'))

    def test_every_process_ends_with_its_environment_and_layers_are_unpacked_by_content(self):
        self.function('Daemon', DAEMON, Timeout=1)
        first = self.invoke('Daemon')[1]
        self.assertTrue(running(first, seconds=0), 'alive while its environment is')
        error, result, _ = self.invoke('Daemon', {'hang': True})
        self.assertEqual(error, 'Sandbox.Timedout', result)
        self.assertFalse(running(first), 'ended with its environment, on the timeout')
        second = self.invoke('Daemon')[1]
        self.publish_layer_and_run('old')
        with open(os.path.join(self.state, f'endpoint-{self.port}.pid')) as pid_file:
            endpoint = pid_file.read().strip()

        make(self.root, 'down', *self.settings)
        self.assertFalse(running(second), 'ended by make down')
        self.assertEqual([name for name in os.listdir(os.path.join(self.state, 'run'))
                          if name.startswith(f'{endpoint}-')], [], 'its /tmp images are gone')

        # An endpoint started clean knows nothing: the same role and layer ARNs again, the
        # layer with other content.
        make(self.root, 'reset', *self.settings)
        make(self.root, 'up', *self.settings)
        self.deploy()
        self.publish_layer_and_run('new')

    def publish_layer_and_run(self, value):
        lambdas = self.client('lambda')
        arn = lambdas.publish_layer_version(
            LayerName='content', Content={'ZipFile': zip_of(
                ('python/layer_content.py', f'VALUE = {value!r}\n'))})['LayerVersionArn']
        self.assertTrue(arn.endswith(':layer:content:1'))
        self.function(f'Layered-{value}', LAYERED, Layers=[arn])
        self.assertEqual(self.invoke(f'Layered-{value}')[1], value)
