"""One execution environment: a process running the deployed zip through awslambdaric.

As on Lambda: the task root is the unpacked zip (the bytes create-function or
update-function-code stored, not the working tree), layers are merged into one folder that
stands for /opt, and the import path is the task root, the layers and a runtime folder with
boto3 and the runtime client. Never the project's .venv (`python -S` keeps site-packages out),
so a dependency missing from the zip fails here as it would on AWS.
"""
import fcntl
import hashlib
import io
import json
import os
import select
import signal
import struct
import subprocess
import termios
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone

from local_endpoint.runtime_api import PendingInvocation, RuntimeAPI

INIT_TIMEOUT_SECONDS = 10  # Lambda's own limit for the init phase


@dataclass(frozen=True)
class FunctionSpec:
    """What an environment is made from; environments are reused only for the same spec."""
    name: str
    arn: str
    version: str
    handler: str
    runtime: str
    timeout: int
    memory_size: int
    environment: tuple
    code_sha: str
    layer_arns: tuple
    role: str
    account: str
    region: str
    code: bytes = field(compare=False, repr=False)
    layers: tuple = field(compare=False, repr=False)  # zip bytes, in the layers' order


@dataclass
class Outcome:
    ok: bool
    payload: bytes
    error_type: str = None
    duration_ms: float = 0.0
    max_memory_mb: int = 0
    init_duration_ms: float = None
    log_lines: list = field(default_factory=list)
    environment_usable: bool = True


def unpack(zip_bytes, folder):
    """Unpack once per content: folders are named by the zip's hash and never modified."""
    if not os.path.isdir(folder):
        staging = f'{folder}.{uuid.uuid4().hex}'
        with zipfile.ZipFile(io.BytesIO(zip_bytes)) as archive:
            archive.extractall(staging)
        try:
            os.rename(staging, folder)
        except OSError:  # another environment unpacked it first
            subprocess.run(['rm', '-rf', staging], check=False)
    return folder


class ExecutionEnvironment:
    def __init__(self, spec, state_dir, interpreter, runtime_dir, endpoint_url, credentials):
        self.spec = spec
        self.created = time.monotonic()
        self.last_used = self.created
        self.invocations = 0
        self.log_stream = (datetime.now(timezone.utc).strftime('%Y/%m/%d/')
                           + f'[{spec.version}]{uuid.uuid4().hex}')
        task_root = unpack(spec.code, os.path.join(state_dir, 'code', spec.code_sha.replace(
            '/', '_').replace('+', '-')))
        self.opt = self._merge_layers(state_dir)
        self.api = RuntimeAPI()
        self._lines = []
        self._partial = b''
        self._lines_lock = threading.Lock()
        self._killed_for = None
        python_path = [task_root]
        if self.opt:
            version = spec.runtime.replace('python', '')
            python_path += [os.path.join(self.opt, 'python'),
                            os.path.join(self.opt, 'python', 'lib', f'python{version}',
                                         'site-packages')]
        python_path.append(runtime_dir)
        environment = {
            'PATH': '/usr/local/bin:/usr/bin:/bin', 'LANG': 'C.UTF-8', 'TZ': ':UTC',
            'PYTHONUNBUFFERED': '1', 'PYTHONPATH': os.pathsep.join(python_path),
            'LD_LIBRARY_PATH': os.pathsep.join(
                ([os.path.join(self.opt, 'lib')] if self.opt else []) + ['/lib64', '/usr/lib64']),
            '_HANDLER': spec.handler, 'AWS_REGION': spec.region,
            'AWS_DEFAULT_REGION': spec.region, 'AWS_EXECUTION_ENV': f'AWS_Lambda_{spec.runtime}',
            'AWS_LAMBDA_FUNCTION_NAME': spec.name,
            'AWS_LAMBDA_FUNCTION_MEMORY_SIZE': str(spec.memory_size),
            'AWS_LAMBDA_FUNCTION_VERSION': spec.version,
            'AWS_LAMBDA_LOG_GROUP_NAME': f'/aws/lambda/{spec.name}',
            'AWS_LAMBDA_LOG_STREAM_NAME': self.log_stream,
            'AWS_LAMBDA_INITIALIZATION_TYPE': 'on-demand',
            **credentials, 'AWS_ENDPOINT_URL': endpoint_url,
            'AWS_LAMBDA_RUNTIME_API': self.api.address, 'LAMBDA_TASK_ROOT': task_root,
            'LAMBDA_RUNTIME_DIR': runtime_dir,
        }
        # The function's own variables; /opt means where its layers were unpacked.
        for name, value in spec.environment:
            if self.opt and (value == '/opt' or value.startswith('/opt/')):
                value = self.opt + value[4:]
            environment[name] = value
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [interpreter, '-S', '-m', 'awslambdaric', spec.handler], cwd=task_root,
            env=environment, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, start_new_session=True)
        threading.Thread(target=self._read_output, daemon=True,
                         name=f'output-{spec.name}-{self.process.pid}').start()
        self.init_duration_ms = None

    def _merge_layers(self, state_dir):
        if not self.spec.layers:
            return None
        key = hashlib.sha256(''.join(self.spec.layer_arns).encode()).hexdigest()[:16]
        folder = os.path.join(state_dir, 'opt', key)
        if not os.path.isdir(folder):
            staging = f'{folder}.{uuid.uuid4().hex}'
            for layer in self.spec.layers:  # later layers win, as on Lambda
                with zipfile.ZipFile(io.BytesIO(layer)) as archive:
                    archive.extractall(staging)
            os.makedirs(staging, exist_ok=True)
            try:
                os.rename(staging, folder)
            except OSError:
                subprocess.run(['rm', '-rf', staging], check=False)
        return folder

    def _read_output(self):
        """File the process's output as lines. Bytes leave the pipe only under the lock that
        take_lines holds, so "the pipe is empty" there means "everything is filed"."""
        descriptor = self.process.stdout.fileno()
        while True:
            try:
                select.select([descriptor], [], [])  # wait, leaving the bytes in the pipe
                with self._lines_lock:
                    data = os.read(descriptor, 1 << 16)
                    if not data:
                        self._file_partial_line()
                        return
                    *complete, self._partial = (self._partial + data).split(b'\n')
                    self._lines.extend(line.decode(errors='replace') for line in complete)
            except (OSError, ValueError):  # closed: nothing more will come
                return

    def _file_partial_line(self):
        if self._partial:
            self._lines.append(self._partial.decode(errors='replace'))
            self._partial = b''

    def take_lines(self, limit_ms=200):
        """The output since the last call.

        What the handler printed was written to the pipe before its result was posted, so it
        is all filed once the pipe holds no unread bytes (checked under the reader's lock).
        """
        deadline = time.monotonic() + limit_ms / 1000
        while True:
            with self._lines_lock:
                if self._unread() == 0 or time.monotonic() > deadline:
                    self._file_partial_line()
                    lines, self._lines = self._lines, []
                    return lines
            time.sleep(0.001)

    def _unread(self):
        try:
            return struct.unpack('i', fcntl.ioctl(self.process.stdout.fileno(), termios.FIONREAD,
                                                  b'\0\0\0\0'))[0]
        except (OSError, ValueError):  # closed: nothing more will come
            return 0

    def alive(self):
        return self.process.poll() is None

    def memory(self):
        """(resident now, peak) in bytes, from /proc."""
        try:
            with open(f'/proc/{self.process.pid}/status') as status:
                fields = dict(line.split(':', 1) for line in status if ':' in line)
            return (int(fields['VmRSS'].split()[0]) * 1024,
                    int(fields['VmHWM'].split()[0]) * 1024)
        except (OSError, KeyError, ValueError):
            return 0, 0

    def wait_until_ready(self):
        """Cold start: until the runtime client asks for its first invocation."""
        deadline = time.monotonic() + INIT_TIMEOUT_SECONDS
        while time.monotonic() < deadline and not self.api.first_poll.is_set():
            if not self.alive() or self.api.init_error is not None:
                return False
            time.sleep(0.002)
        if self.api.first_poll.is_set():
            self.init_duration_ms = (self.api.first_poll_at - self.started) * 1000
            return True
        return False

    def invoke(self, request_id, payload, trace_id):
        spec = self.spec
        cold = self.invocations == 0
        self.invocations += 1
        limit = spec.memory_size * 1024 * 1024
        if cold and not self.wait_until_ready():
            return self._init_failure(request_id)
        started = time.monotonic()  # Duration excludes init, which REPORT gives apart
        pending = PendingInvocation(request_id, payload,
                                    int(time.time() * 1000) + spec.timeout * 1000,
                                    spec.arn, trace_id)
        self.api.submit(pending)
        deadline = started + spec.timeout
        peak = 0
        while not pending.wait(0.005):
            resident, peak = self.memory()
            if resident > limit:
                self.kill('memory')
                break
            if not self.alive():
                break
            if time.monotonic() > deadline:
                self.kill('timeout')
                break
        duration = (time.monotonic() - started) * 1000
        peak = max(peak, self.memory()[1])
        if peak > limit and self._killed_for is None:
            # Over the limit between two polls: Lambda would have stopped it there.
            self.kill('memory')
            pending.kind = None
        outcome = Outcome(ok=pending.kind == 'response', payload=pending.body,
                          error_type=pending.error_type, duration_ms=duration,
                          max_memory_mb=-(-peak // (1024 * 1024)),
                          init_duration_ms=self.init_duration_ms if cold else None)
        if pending.kind is None:  # the process died or was stopped mid-invocation
            outcome.environment_usable = False
            outcome.error_type, outcome.payload = self._death(request_id)
        outcome.log_lines = self.take_lines()
        if not outcome.ok and outcome.error_type is None:
            outcome.error_type = 'Unhandled'
        outcome.environment_usable = outcome.environment_usable and self.alive()
        self.last_used = time.monotonic()
        return outcome

    def _death(self, request_id):
        if self._killed_for == 'timeout':
            message = f'RequestId: {request_id} Error: Task timed out after {self.spec.timeout:.2f} seconds'
            return 'Sandbox.Timedout', json.dumps({'errorType': 'Sandbox.Timedout',
                                                   'errorMessage': message}).encode()
        if self._killed_for == 'memory':
            message = (f'RequestId: {request_id} Error: Runtime exited with error: signal: killed '
                       f'(memory above {self.spec.memory_size} MB)')
            return 'Runtime.OutOfMemory', json.dumps({'errorType': 'Runtime.OutOfMemory',
                                                      'errorMessage': message}).encode()
        code = self.process.wait(timeout=5)
        message = f'RequestId: {request_id} Error: Runtime exited with error: exit status {code}'
        return 'Runtime.ExitError', json.dumps({'errorType': 'Runtime.ExitError',
                                                'errorMessage': message}).encode()

    def _init_failure(self, request_id):
        if self.api.init_error is not None:
            body = self.api.init_error
            try:
                error_type = json.loads(body).get('errorType', 'Runtime.InitError')
            except ValueError:
                error_type = 'Runtime.InitError'
        elif self.alive():
            self.kill('timeout')
            error_type = 'Runtime.InitError'
            body = json.dumps({'errorType': error_type, 'errorMessage':
                               f'RequestId: {request_id} Error: init did not finish in '
                               f'{INIT_TIMEOUT_SECONDS} seconds'}).encode()
        else:
            error_type, body = self._death(request_id)
        return Outcome(ok=False, payload=body, error_type=error_type, environment_usable=False,
                       log_lines=self.take_lines())

    def kill(self, reason='shutdown'):
        self._killed_for = self._killed_for or reason
        if self.alive():
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self.api.close()
