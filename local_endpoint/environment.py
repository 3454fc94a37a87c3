"""One execution environment: a process running the deployed zip through awslambdaric.

As on Lambda: the task root is the unpacked zip (the bytes create-function or
update-function-code stored, not the working tree), layers are merged into one folder that
stands for /opt, and the import path is the task root, the layers and a runtime folder with
boto3 and the runtime client. Never the project's .venv (`python -S` keeps site-packages out),
so a dependency missing from the zip fails here as it would on AWS.

What it runs in is the host's (local_endpoint.execution_host): where the machine allows, a
control group holding every process it starts, limited to MemorySize together (and, after
init, to its CPU share), and a mount namespace with its own /tmp of EphemeralStorage MB, made
ahead of the cold start when a spare is ready (local_endpoint.spares). Whatever way it ends
(reaped, replaced, timed out, out of memory, the endpoint stopping), all its processes end and
its /tmp goes.
"""
import fcntl
import json
import logging
import os
import select
import signal
import struct
import subprocess
import termios
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

from local_endpoint import execution_host, function_output, unpack
from local_endpoint.containment import Limits
from local_endpoint.runtime_api import PendingInvocation, RuntimeAPI

logger = logging.getLogger(__name__)
INIT_TIMEOUT_SECONDS = 10  # Lambda's own limit for the init phase
MB = 1024 * 1024
# The runtime's first process, once the environment around it is set up: it says so on the
# pipe it was given as stdin, then becomes the runtime with stdin from /dev/null. Init Duration
# starts there, as Lambda's starts once the microVM is up. The shells that set the sandbox up
# (its mounts) change folder on the way: OLDPWD, which Lambda does not set, goes.
RUNTIME_STARTS = 'echo >&0; unset OLDPWD; exec "$@" </dev/null'
# Lambda names the signal that ended a runtime as Go does: "signal: killed".
SIGNAL_NAMES = {signal.SIGKILL: 'killed', signal.SIGSEGV: 'segmentation fault',
                signal.SIGABRT: 'aborted', signal.SIGTERM: 'terminated',
                signal.SIGBUS: 'bus error'}
# The runtime's entry: its import path comes as an argument, so that the function sees
# PYTHONPATH as Lambda sets it (the runtime folder alone) and sys.path as Lambda orders it.
# It has Lambda's 1,024 file descriptors (test_lambda.snapshot.json, test_runtime_ulimits:
# RLIMIT_NOFILE [1024, 1024]), or the machine's fewer.
BOOTSTRAP = '\n'.join([
    'import resource, runpy, sys',
    'hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]',
    'files = 1024 if hard == resource.RLIM_INFINITY else min(1024, hard)',
    'resource.setrlimit(resource.RLIMIT_NOFILE, (files, files))',
    'sys.path[:1] = sys.argv.pop(1).split(":")',
    'runpy.run_module("awslambdaric", run_name="__main__", alter_sys=True)'])
# Where Lambda's X-Ray daemon listens (169.254.100.1:2000 on AWS). No daemon listens here: what
# an X-Ray SDK sends there is a UDP datagram to this machine, lost.
XRAY_DAEMON = ('127.0.0.1', '2000')
TIMED_OUT = 'Sandbox.Timedout'


def lambda_variables(spec, interpreter, task_root, runtime_dir, opt):
    """The variables Lambda sets, in the form AWS gives them (test_lambda_common's
    introspection recording), with each AWS path mapped to its local folder: /var/task to the
    task root, /var/runtime to the runtime folder, /var/lang to the interpreter's prefix and
    /opt to the layers (no /opt entries without layers)."""
    lang = os.path.dirname(os.path.dirname(interpreter))
    opt_bin = [os.path.join(opt, 'bin')] if opt else []
    opt_lib = [os.path.join(opt, 'lib')] if opt else []
    host, port = XRAY_DAEMON
    return {
        'PATH': os.pathsep.join([os.path.join(lang, 'bin'), '/usr/local/bin', '/usr/bin/',
                                 '/bin', *opt_bin]),
        'LD_LIBRARY_PATH': os.pathsep.join([
            os.path.join(lang, 'lib'), '/lib64', '/usr/lib64', runtime_dir,
            os.path.join(runtime_dir, 'lib'), task_root, os.path.join(task_root, 'lib'),
            *opt_lib]),
        'PYTHONPATH': runtime_dir,
        'LANG': 'en_US.UTF-8',
        'TZ': ':UTC', 'PWD': task_root, 'SHLVL': '0',
        '_HANDLER': spec.handler, 'AWS_REGION': spec.region, 'AWS_DEFAULT_REGION': spec.region,
        'AWS_EXECUTION_ENV': f'AWS_Lambda_{spec.runtime}',
        'AWS_LAMBDA_FUNCTION_NAME': spec.name,
        'AWS_LAMBDA_FUNCTION_MEMORY_SIZE': str(spec.memory_size),
        'AWS_LAMBDA_FUNCTION_VERSION': spec.version,
        'AWS_LAMBDA_LOG_GROUP_NAME': f'/aws/lambda/{spec.name}',
        'AWS_LAMBDA_INITIALIZATION_TYPE': 'on-demand',
        'AWS_XRAY_CONTEXT_MISSING': 'LOG_ERROR', 'AWS_XRAY_DAEMON_ADDRESS': f'{host}:{port}',
        '_AWS_XRAY_DAEMON_ADDRESS': host, '_AWS_XRAY_DAEMON_PORT': port,
        'LAMBDA_TASK_ROOT': task_root, 'LAMBDA_RUNTIME_DIR': runtime_dir,
        # awslambdaric takes it out of os.environ before the function loads, as on Lambda.
        '_LAMBDA_TELEMETRY_LOG_FD': function_output.TELEMETRY_FD,
        # Python sets it on Amazon Linux 2023, where en_US.UTF-8 is not installed (PEP 538),
        # so python3.12 and later have it and earlier runtimes (Amazon Linux 2) not; here
        # too, whatever locales this machine has.
        **({'LC_CTYPE': 'C.UTF-8'} if on_amazon_linux_2023(spec.runtime) else {}),
    }


def on_amazon_linux_2023(runtime):
    """python3.12 and later run on Amazon Linux 2023, earlier ones on Amazon Linux 2."""
    major, minor = (int(part) for part in runtime.replace('python', '').split('.')[:2])
    return (major, minor) >= (3, 12)


def local_path(value, task_root, opt):
    """A path as the function names it on AWS (/var/task/..., /opt/...), where it is here;
    any other value as it is."""
    for prefix, folder in (('/var/task', task_root), ('/opt', opt)):
        if folder and (value == prefix or value.startswith(prefix + '/')):
            return folder + value[len(prefix):]
    return value


def import_path(runtime, task_root, runtime_dir, opt):
    """sys.path's first entries as Lambda's Python runtime orders them: the task root, the
    layers' site-packages and python folders, the runtime folder."""
    layers = [os.path.join(opt, 'python', 'lib', runtime, 'site-packages'),
              os.path.join(opt, 'python')] if opt else []
    return [task_root, *layers, runtime_dir]


def platform_record(request_id, outcome):
    """What Lambda logs when it ends an invocation itself: a timeout as
    "<time> <request id> Task timed out after 1.00 seconds", anything else as its message and
    error type."""
    message = json.loads(outcome.payload)['errorMessage']
    if outcome.error_type == TIMED_OUT:
        now = datetime.now(timezone.utc)
        stamp = now.strftime('%Y-%m-%dT%H:%M:%S.') + f'{now.microsecond // 1000:03d}Z'
        return f'{stamp} {request_id} {message.split(" Error: ", 1)[1]}\n'
    return f'{message}\n{outcome.error_type}\n'


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
    ephemeral_storage: int = 512  # MB of /tmp
    architecture: str = 'x86_64'  # Lambda's name for the CPU its code is built for
    # The ARN the caller named (`F`, `F:3`, `F:live`): one version's environments serve all.
    invoked_arn: str = field(default=None, compare=False)


@dataclass
class Outcome:
    ok: bool
    payload: bytes
    error_type: str = None
    duration_ms: float = 0.0
    max_memory_mb: int = 0
    init_duration_ms: float = None
    log_lines: list = field(default_factory=list)  # CloudWatch events, newlines included
    environment_usable: bool = True
    # REPORT's Status when Lambda itself ended the invocation ('timeout', 'error'); None when
    # the function answered, an error of its own included.
    status: str = None
    cold: bool = False  # the environment's first invocation: its log starts with INIT_START


class ExecutionEnvironment:
    def __init__(self, spec, state_dir, interpreter, runtime_dir, endpoint_url, credentials):
        self.spec = spec
        self.host = execution_host.start(state_dir)
        self.created = time.monotonic()
        self.last_used = self.created
        self.invocations = 0
        self.log_stream = (datetime.now(timezone.utc).strftime('%Y/%m/%d/')
                           + f'[{spec.version}]{uuid.uuid4().hex}')
        task_root = unpack.unpacked([spec.code], os.path.join(state_dir, 'code'),
                                    self.host.run_dir)
        self.opt = unpack.unpacked(spec.layers, os.path.join(state_dir, 'opt'),
                                   self.host.run_dir) if spec.layers else None
        self._events = function_output.LogEvents()
        self._lines_lock = threading.Lock()
        self._killed_for = None
        self._ended = False
        self._end_lock = threading.Lock()
        self.group = self.filesystem = self.process = None
        self.api = RuntimeAPI()
        environment = lambda_variables(spec, interpreter, task_root, runtime_dir, self.opt)
        environment.update({
            'AWS_LAMBDA_LOG_STREAM_NAME': self.log_stream,
            'AWS_LAMBDA_RUNTIME_API': self.api.address,
            **credentials, 'AWS_ENDPOINT_URL': endpoint_url,
        })
        # The function's own variables, a path in /var/task or /opt mapped to its folder here.
        for name, value in spec.environment:
            environment[name] = local_path(value, task_root, self.opt)
        command = [interpreter, '-S', '-c', BOOTSTRAP,
                   os.pathsep.join(import_path(spec.runtime, task_root, runtime_dir, self.opt)),
                   spec.handler]
        if environment.get('AWS_LAMBDA_EXEC_WRAPPER'):
            # Lambda's runtime wrapper (runtimes-modify guide): the script runs with the
            # runtime's command as its arguments. Started by a shell, as Lambda's bootstrap
            # starts it: one that is not there fails with the shell's exit status 127.
            command = ['/bin/sh', '-c', 'exec "$@"', 'wrapper',
                       environment['AWS_LAMBDA_EXEC_WRAPPER'], *command]
        limits = Limits.for_function(spec.memory_size)
        spare = self.host.spares.take(spec.ephemeral_storage) if self.host.spares else None
        if spare is not None:  # a sandbox made ahead: the runtime starts in it now
            self.group, self.filesystem, self.process = spare.group, spare.filesystem, spare.process
            self.started = time.monotonic()
            try:
                spare.launch(command, environment, task_root, limits)
            except BaseException:
                self.kill('failed to start')
                raise
        else:
            self._start(spec, command, environment, task_root, limits)
        threading.Thread(target=self._read_output, daemon=True,
                         name=f'output-{spec.name}-{self.process.pid}').start()
        self.init_duration_ms = None

    def _start(self, spec, command, environment, task_root, limits):
        """Make the sandbox, then start the runtime in it."""
        label = f'{spec.name}-{uuid.uuid4().hex[:12]}'  # its group's and its /tmp's name
        runtime_start = None
        try:
            self.group = self.host.containment.group(label, limits)
            self.filesystem = self.host.filesystem.prepare(label, spec.ephemeral_storage)
            environment.update(self.filesystem.variables)
            self.started = time.monotonic()  # until the runtime says it starts
            runtime_start, runtime_starting = os.pipe()
            try:
                self.process = subprocess.Popen(
                    self.group.argv(self.filesystem.argv(
                        ['/bin/sh', '-c', RUNTIME_STARTS, 'start', *command])),
                    cwd=task_root, env=environment, stdin=runtime_starting,
                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
            finally:
                os.close(runtime_starting)
            self.group.started(self.process.pid)
        except BaseException:
            if runtime_start is not None:
                os.close(runtime_start)
            self.kill('failed to start')
            raise
        threading.Thread(target=self._await_runtime_start, args=(runtime_start,), daemon=True,
                         name=f'start-{spec.name}-{self.process.pid}').start()

    def _await_runtime_start(self, descriptor):
        """Init Duration's start: when the runtime's process starts, not when the endpoint
        began making its environment (its group, its /tmp, its namespace)."""
        try:
            if os.read(descriptor, 1):
                self.started = time.monotonic()
        finally:
            os.close(descriptor)

    def _read_output(self):
        """File the process's output as log events. Bytes leave the pipe only under the lock
        that take_lines holds, so "the pipe is empty" there means "everything is filed"."""
        descriptor = self.process.stdout.fileno()
        while True:
            try:
                select.select([descriptor], [], [])  # wait, leaving the bytes in the pipe
                with self._lines_lock:
                    data = os.read(descriptor, 1 << 16)
                    if not data:
                        self._events.flush()
                        return
                    self._events.feed(data)
            except (OSError, ValueError):  # closed: nothing more will come
                return

    def take_lines(self, limit_ms=200):
        """The output since the last call.

        What the handler printed was written to the pipe before its result was posted, so it
        is all filed once the pipe holds no unread bytes (checked under the reader's lock).
        """
        deadline = time.monotonic() + limit_ms / 1000
        while True:
            with self._lines_lock:
                if self._unread() == 0 or time.monotonic() > deadline:
                    self._events.flush()
                    return self._events.take()
            time.sleep(0.001)

    def _unread(self):
        try:
            return struct.unpack('i', fcntl.ioctl(self.process.stdout.fileno(), termios.FIONREAD,
                                                  b'\0\0\0\0'))[0]
        except (OSError, ValueError):  # closed: nothing more will come
            return 0

    def alive(self):
        return self.process.poll() is None

    def wait_until_ready(self):
        """Cold start: until the runtime client asks for its first invocation."""
        deadline = time.monotonic() + INIT_TIMEOUT_SECONDS
        while time.monotonic() < deadline and not self.api.first_poll.is_set():
            if not self.alive() or self.api.init_error is not None:
                return False
            time.sleep(0.002)
        if self.api.first_poll.is_set():
            self.init_duration_ms = (self.api.first_poll_at - self.started) * 1000
            self.group.share_cpu()
            return True
        return False

    def invoke(self, request_id, payload, trace_id, invoked_arn=None):
        spec = self.spec
        cold = self.invocations == 0
        self.invocations += 1
        if cold and not self.wait_until_ready():
            return self._init_failure(request_id)
        started = time.monotonic()  # Duration excludes init, which REPORT gives apart
        pending = PendingInvocation(request_id, payload,
                                    int(time.time() * 1000) + spec.timeout * 1000,
                                    invoked_arn or spec.arn, trace_id)
        self.api.submit(pending)
        deadline = started + spec.timeout
        while not pending.wait(0.005):
            if self.group.out_of_memory():
                self.kill('memory')
                break
            if not self.alive():
                break
            if time.monotonic() > deadline:
                self.kill('timeout')
                break
        duration = (time.monotonic() - started) * 1000
        if self._killed_for is None and self.group.out_of_memory():
            # A process of the environment was killed over the limit, or went over it between
            # two checks: Lambda ends the environment.
            self.kill('memory')
            pending.kind = None
        outcome = Outcome(ok=pending.kind == 'response', payload=pending.body,
                          error_type=pending.error_type, duration_ms=duration,
                          max_memory_mb=-(-self.group.peak_bytes() // MB),
                          init_duration_ms=self.init_duration_ms if cold else None,
                          cold=cold)
        if pending.kind is None:  # the process died or was stopped mid-invocation
            outcome.environment_usable = False
            outcome.error_type, outcome.payload = self._death(request_id)
            outcome.status = 'timeout' if outcome.error_type == TIMED_OUT else 'error'
        outcome.log_lines = self.take_lines()
        if outcome.status is not None:
            outcome.log_lines.append(platform_record(request_id, outcome))
        if not outcome.ok and outcome.error_type is None:
            outcome.error_type = 'Unhandled'
        outcome.environment_usable = outcome.environment_usable and self.alive()
        self.last_used = time.monotonic()
        return outcome

    def _death(self, request_id):
        if self._killed_for == 'timeout':
            message = f'RequestId: {request_id} Error: Task timed out after {self.spec.timeout:.2f} seconds'
            return TIMED_OUT, json.dumps({'errorType': TIMED_OUT,
                                          'errorMessage': message}).encode()
        if self._killed_for == 'memory' or self.group.out_of_memory():
            message = f'RequestId: {request_id} Error: Runtime exited with error: signal: killed'
            return 'Runtime.OutOfMemory', json.dumps({'errorType': 'Runtime.OutOfMemory',
                                                      'errorMessage': message}).encode()
        code = self.process.wait(timeout=5)
        if code == 0:  # as AWS words a runtime that exits cleanly mid-invocation
            reason = 'Runtime exited without providing a reason'
        elif code < 0:
            reason = f'Runtime exited with error: signal: {SIGNAL_NAMES.get(-code, -code)}'
        else:
            reason = f'Runtime exited with error: exit status {code}'
        message = f'RequestId: {request_id} Error: {reason}'
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
        # REPORT's Duration and memory are the failed init's: the invocation ran nothing else.
        return Outcome(ok=False, payload=body, error_type=error_type, environment_usable=False,
                       duration_ms=(time.monotonic() - self.started) * 1000,
                       max_memory_mb=-(-self.group.peak_bytes() // MB),
                       log_lines=self.take_lines(), status='error', cold=True)

    def kill(self, reason='shutdown'):
        """End the environment: every process it started, its group, its /tmp. Once."""
        self._killed_for = self._killed_for or reason
        with self._end_lock:
            if self._ended:
                return
            self._ended = True
            if self.group is not None:
                try:
                    self.group.close()
                except OSError:  # a process the kernel would not let go of in 5 s
                    logger.exception('%s: its group could not be removed; it will be when the '
                                     'endpoint stops', self.spec.name)
            if self.process is not None:
                try:
                    self.process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
            if self.filesystem is not None:
                self.filesystem.remove()
            self.api.close()
