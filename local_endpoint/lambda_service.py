"""Lambda's data plane, locally: functions stored in moto's Lambda backend really run.

Environments are reused between invocations (warm starts), one invocation at a time each;
concurrent invocations get more environments up to a limit (the function's
ReservedConcurrentExecutions, else MAX_CONCURRENCY); idle ones are reaped. Every invocation
writes Lambda's START / END / REPORT lines, with the function's own output between them, to
the function's log group in moto's CloudWatch Logs.

Invoke's payload limits are Lambda's: 6 MB in and out for a synchronous invocation, 1 MB for an
asynchronous one (256 KB until 2026), and the payload must be JSON.
"""
import hashlib
import json
import math
import re
import threading
import time
import uuid

from moto.awslambda.models import lambda_backends
from moto.logs.models import logs_backends

from local_endpoint import architectures, iam, python_abi, versions
from local_endpoint.environment import ExecutionEnvironment, FunctionSpec
from local_endpoint.runtime_api import RESPONSE_TOO_LARGE

MAX_CONCURRENCY = 10
TRACE_ROOT = re.compile(r'(?:^|;)\s*Root=(1-[0-9a-f]{8}-[0-9a-f]{24})(?:;|$)', re.IGNORECASE)
IDLE_SECONDS = 300
REFUSALS_STREAM = 'local-endpoint/refused'  # invocations the endpoint refused to run
MAX_SYNC_PAYLOAD_BYTES = 6 * 1024 * 1024
MAX_ASYNC_PAYLOAD_BYTES = 1024 * 1024
# Lambda's parser (Jackson) names where a payload stopped being JSON this way.
JSON_LOCATION = ('\n at [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` '
                 'disabled); line: {line}, column: {column}]')


def runtime_version(runtime, region):
    """(label, ARN) of the runtime version a function runs, as INIT_START and
    RuntimeVersionConfig name it: "python:3.12.v1", arn:aws:lambda:REGION::runtime:<64 hex>.
    Lambda numbers its own builds; the local runtime is one build per runtime name."""
    digest = hashlib.sha256(f'local-endpoint:{runtime}'.encode()).hexdigest()
    return (f'{runtime.replace("python", "python:")}.v1',
            f'arn:aws:lambda:{region}::runtime:{digest}')


def new_trace_root():
    """An X-Ray trace id as Lambda starts one: Root=1-<epoch seconds, hex>-<96 random bits>."""
    return f'Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}'


def trace_root_of(header):
    """The trace a caller's X-Amzn-Trace-Id header continues (Root=1-...), which Lambda
    carries into the invocation (test_lambda_integration_xray.py,
    test_xray_trace_propagation); a new one when it names none."""
    match = TRACE_ROOT.search(header or '')
    return f'Root={match[1]}' if match else new_trace_root()


class FunctionNotFound(Exception):
    pass


class Throttled(Exception):
    pass


class InvalidQualifier(Exception):
    """A qualifier in the function's name that differs from Invoke's Qualifier."""


class UnsupportedRuntime(Exception):
    pass


class InvalidPayload(Exception):
    """A payload Lambda refuses with InvalidRequestContentException. The message has Lambda's
    form; the problem in it is named by Python's parser, not Lambda's."""


def check_json_payload(payload):
    """Refuse what Lambda refuses before running anything: a payload that is not JSON.

    Lambda's parser does not accept NaN or Infinity, which Python's would, and stops at a
    nesting depth of 1000 (here, where Python's recursion limit stops it, a little earlier).
    """
    def refuse_constant(name):
        raise ValueError(f"Non-standard token '{name}': enable "
                         f"`JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS` to allow")

    try:
        json.loads(payload, parse_constant=refuse_constant)
    except UnicodeDecodeError as error:
        byte = payload[error.start]
        problem = (f'Invalid UTF-8 start byte 0x{byte:02x}' if error.reason == 'invalid start byte'
                   else f'Invalid UTF-8 byte 0x{byte:02x} ({error.reason})')
        line_start = payload.rfind(b'\n', 0, error.start) + 1
        raise InvalidPayload(_unparsable(problem, payload.count(b'\n', 0, error.start) + 1,
                                         error.start - line_start + 1)) from None
    except json.JSONDecodeError as error:
        raise InvalidPayload(_unparsable(error.msg, error.lineno, error.colno)) from None
    except ValueError as error:  # a non-standard token, or a number too long to convert
        raise InvalidPayload(_unparsable(str(error))) from None
    except RecursionError:
        raise InvalidPayload(_unparsable(
            'Document nesting depth exceeds the maximum allowed (1000, from '
            '`StreamReadConstraints.getMaxNestingDepth()`)')) from None


def _unparsable(problem, line=None, column=None):
    message = ('Could not parse request body into json: Could not parse payload into json: '
               + problem)
    if line is None:
        return message
    return message + JSON_LOCATION.format(line=line, column=column)


class Pool:
    """The environments of one function.

    An environment that is done with (stale, broken, idle too long) leaves the pool at once and
    is ended on a thread of its own: ending one (killing its group, unmounting its /tmp) takes
    tens of milliseconds that no invocation should wait for, as none does on AWS."""

    def __init__(self):
        self.idle = []
        self.members = set()
        self.count = 0
        self.retiring = set()
        self.condition = threading.Condition()

    def acquire(self, spec, limit, create, wait):
        with self.condition:
            while True:
                for stale in [env for env in self.idle if not env.alive() or (
                        env.spec.version == spec.version and env.spec != spec)]:
                    self.idle.remove(stale)  # code or configuration changed, or it died idle
                    self._retire(stale)
                matching = [env for env in self.idle if env.spec == spec]
                if matching:
                    environment = matching[-1]  # the most recently used is the warmest
                    self.idle.remove(environment)
                    return environment
                if self.count >= limit and self.idle:
                    # Idle, but another version's: the least recently used makes room, as
                    # the function's concurrency is shared by all its versions.
                    self._retire(self.idle.pop(0))
                if self.count < limit:
                    self.count += 1
                    break
                if not wait:
                    raise Throttled('Rate Exceeded.')
                self.condition.wait(1)
        try:
            environment = create()
        except BaseException:
            with self.condition:
                self.count -= 1
                self.condition.notify()
            raise
        with self.condition:
            self.members.add(environment)
        return environment

    def release(self, environment, usable):
        with self.condition:
            if usable:
                self.idle.append(environment)
            else:
                self._retire(environment)
            self.condition.notify()

    def reap(self, idle_seconds):
        now = time.monotonic()
        with self.condition:
            for environment in [env for env in self.idle if now - env.last_used > idle_seconds]:
                self.idle.remove(environment)
                self._retire(environment)

    def _retire(self, environment):
        """Out of the pool now (the caller holds the condition), ended in the background."""
        self.members.discard(environment)
        self.count -= 1
        self.retiring.add(environment)
        threading.Thread(target=self._end, args=(environment,), daemon=True,
                         name=f'retire-{environment.spec.name}').start()

    def _end(self, environment):
        environment.kill()
        with self.condition:
            self.retiring.discard(environment)

    def close(self):
        """Every environment ended before this returns, those retiring included (ending one
        twice waits for the first to finish)."""
        with self.condition:
            members = self.members | self.retiring
            self.members, self.idle, self.count = set(), [], 0
        for environment in members:
            environment.kill()


class LambdaService:
    def __init__(self, state_dir, endpoint_url, runtimes, max_concurrency=MAX_CONCURRENCY,
                 idle_seconds=IDLE_SECONDS, machine=architectures.MACHINE):
        self.state_dir = state_dir
        self.machine = machine  # the architecture (Lambda's name) of the CPU functions run on
        self.endpoint_url = endpoint_url
        self.runtimes = runtimes  # local_endpoint.runtimes.Runtimes
        self.max_concurrency = max_concurrency
        self.idle_seconds = idle_seconds
        self.pools = {}
        self.lock = threading.Lock()
        self.closed = threading.Event()
        threading.Thread(target=self._reaper, daemon=True, name='reaper').start()

    def spec(self, account, region, name, qualifier=None):
        """What runs for `name` (plain, `F:qualifier` or an ARN) and Invoke's Qualifier: a
        version's own code and configuration, an alias's version chosen by its weights."""
        try:
            target = versions.resolve(lambda_backends[account][region], name, qualifier)
        except versions.InvalidParameterValueException as error:
            raise InvalidQualifier(error.message) from None
        except Exception as error:  # moto raises its own client errors
            raise FunctionNotFound(str(error)) from None
        function = target.function
        if not (function.run_time or '').startswith('python3'):
            raise UnsupportedRuntime(f'{function.function_name} uses {function.run_time}: the '
                                     f'local runtime runs python3.x functions only')
        backend = lambda_backends[account][region]
        layers = tuple(backend.layers_versions_by_arn(layer['Arn']).code_bytes
                       for layer in function.layers)
        return FunctionSpec(
            name=function.function_name, arn=function.function_arn, version=target.version,
            invoked_arn=target.invoked_arn,
            handler=function.handler, runtime=function.run_time, timeout=function.timeout,
            memory_size=function.memory_size,
            environment=tuple(sorted((function.environment_vars or {}).items())),
            code_sha=function.code_sha_256,
            layer_arns=tuple(layer['Arn'] for layer in function.layers), role=function.role,
            account=account,
            region=region, code=function.code_bytes, layers=layers,
            ephemeral_storage=function.ephemeral_storage,
            architecture=architectures.of(function)), function.reserved_concurrency

    def invoke(self, spec, reserved, payload, wait_for_capacity=False, on_start=None,
               request_id=None, trace_root=None):
        """Run one invocation; returns (request id, Outcome). on_start is called once an
        environment is acquired, so a caller can tell waiting for capacity from running. An
        async event's attempts pass its request id: Lambda keeps one for all of them. A
        function URL passes the trace root its event's x-amzn-trace-id names."""
        limit = self.max_concurrency if reserved is None else int(reserved)
        if limit == 0:
            raise Throttled('Rate Exceeded.')
        refusal = architectures.refusal(spec.name, spec.architecture, self.machine)
        if refusal is not None:  # in the function's log too: an async caller reads it there
            self._put_log_lines(spec, REFUSALS_STREAM, [f'[local endpoint] {refusal}'])
            raise architectures.ArchitectureMismatch(refusal)
        with self.lock:
            pool = self.pools.setdefault((spec.account, spec.region, spec.name), Pool())
        environment = pool.acquire(spec, limit, lambda: ExecutionEnvironment(
            spec, self.state_dir, self.runtimes.interpreter(spec.runtime),
            self.runtimes.runtime_dir(spec.runtime), self.endpoint_url,
            iam.role_credentials(spec.account, spec.region, spec.role, spec.name)),
            wait_for_capacity)
        request_id = request_id or str(uuid.uuid4())
        trace_id = f'{trace_root or new_trace_root()};Parent={uuid.uuid4().hex[:16]};Sampled=0'
        outcome = None
        try:
            if on_start is not None:
                on_start()
            outcome = environment.invoke(request_id, payload, trace_id, spec.invoked_arn)
            self._write_logs(spec, environment, request_id, outcome)
        finally:
            # awslambdaric exits when its response is refused as too large: the next
            # invocation needs a fresh environment, as it gets one on AWS.
            pool.release(environment, outcome is not None and outcome.environment_usable
                         and outcome.error_type != RESPONSE_TOO_LARGE)
        if not outcome.ok:  # an import that failed because the code is for another Python
            refusal = python_abi.refusal(spec, self.runtimes.python_version(spec.runtime),
                                         outcome.payload.decode(errors='replace'))
            if refusal is not None:
                self._put_log_lines(spec, REFUSALS_STREAM, [f'[local endpoint] {refusal}'])
                raise python_abi.PythonMismatch(refusal)
        return request_id, outcome

    def _write_logs(self, spec, environment, request_id, outcome):
        """Lambda's records around the function's own, each a CloudWatch event ending in a
        newline as AWS writes them (test_lambda.snapshot.json, test_invocation_type_event_error;
        test_lambda_runtimes.snapshot.json, test_multi_line_prints)."""
        # Since August 2025 a cold start's init is billed too (AWS Compute Blog, "AWS Lambda
        # standardizes billing for INIT Phase"), as it always was for container images.
        billed = outcome.duration_ms + (outcome.init_duration_ms or 0)
        report = (f'REPORT RequestId: {request_id}\tDuration: {outcome.duration_ms:.2f} ms\t'
                  f'Billed Duration: {math.ceil(billed)} ms\t'
                  f'Memory Size: {spec.memory_size} MB\t'
                  f'Max Memory Used: {outcome.max_memory_mb} MB\t')
        if outcome.init_duration_ms is not None:
            report += f'Init Duration: {outcome.init_duration_ms:.2f} ms\t'
        if outcome.status == 'timeout':
            report += 'Status: timeout\t'
        elif outcome.status == 'error':
            report += f'Status: error\tError Type: {outcome.error_type}\t'
        lines = []
        if outcome.cold:
            label, arn = runtime_version(spec.runtime, spec.region)
            lines.append(f'INIT_START Runtime Version: {label}\tRuntime Version ARN: {arn}\n')
            if spec.runtime in self.runtimes.warnings:
                lines.append(f'[local endpoint] {self.runtimes.warnings[spec.runtime]}\n')
        lines += ([f'START RequestId: {request_id} Version: {spec.version}\n']
                  + outcome.log_lines + [f'END RequestId: {request_id}\n', report + '\n'])
        outcome.log_lines = lines
        self._put_log_lines(spec, environment.log_stream, lines)

    @staticmethod
    def _put_log_lines(spec, stream, lines):
        """Into the function's log group, made on its first invocation as Lambda makes it."""
        logs = logs_backends[spec.account][spec.region]
        group = f'/aws/lambda/{spec.name}'
        if group not in logs.groups:
            try:
                logs.create_log_group(group, {})
            except Exception:  # created meanwhile by another invocation
                pass
        if stream not in logs.groups[group].streams:
            logs.create_log_stream(group, stream)
        now = int(time.time() * 1000)
        logs.put_log_events(group, stream, [{'timestamp': now, 'message': line}
                                            for line in lines])

    def _reaper(self):
        while not self.closed.wait(5):
            with self.lock:
                pools = list(self.pools.values())
            for pool in pools:
                pool.reap(self.idle_seconds)

    def environments(self):
        with self.lock:
            return sum(pool.count for pool in self.pools.values())

    def close(self):
        self.closed.set()
        with self.lock:
            pools = list(self.pools.values())
        for pool in pools:
            pool.close()
