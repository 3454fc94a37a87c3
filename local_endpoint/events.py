"""Asynchronous invocations: InvocationType=Event and S3 event notifications.

As on Lambda, the caller gets its answer (and the request id) before the function runs; a
function error is retried (Lambda waits about 1 and 2 minutes; here RETRY_DELAYS, scaled
down) under the qualifier's event invoke config (local_endpoint.invoke_config): at most
MaximumRetryAttempts more attempts, all with the same request id, and none that would start
past MaximumEventAgeInSeconds. The age is counted in Lambda's time: each retry wait counts
as Lambda's, not as the shortened local one, so a config behaves as it would on AWS (age 60:
one attempt, then EventAgeExceeded; age 90: two).

Accepted events are journalled (local_endpoint.event_journal) until done, so the ones a stop
or a crash interrupts are delivered after the restart, with the same request id.

The result goes where the config says (local_endpoint.destinations: Lambda's record, to an
SQS queue): OnSuccess, or OnFailure once the event fails for good. An event that fails for
good is never dropped silently: without an on-failure destination, or when delivery to it
fails, it is written to failed-events.jsonl in the state folder and noted in the function's
log group.

Delivery must outlive any one event. Whatever an event does (a payload that is not JSON, a
function deleted meanwhile, a bug of this endpoint's own), its worker records it as failed and
takes the next one: a worker that died would leave uploads answered 204 and never resized.
health() says whether delivery keeps up: workers alive, events waiting and for how long,
attempts running past their function's timeout.
"""
import base64
import heapq
import itertools
import json
import logging
import os
import threading
import time
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from urllib.parse import quote_plus, unquote_plus

from moto.logs.exceptions import ResourceNotFoundException
from moto.logs.models import logs_backends

from local_endpoint import invoke_config
from local_endpoint.architectures import ArchitectureMismatch
from local_endpoint.destinations import DeliveryFailed, deliver, record
from local_endpoint.environment import INIT_TIMEOUT_SECONDS
from local_endpoint.event_journal import EventJournal
from local_endpoint.lambda_service import FunctionNotFound, Throttled, UnsupportedRuntime

RETRY_DELAYS = (1.0, 2.0)  # seconds before the 2nd and 3rd attempts (Lambda: ~60 and ~120)
LAMBDA_RETRY_DELAYS = (60.0, 120.0)
WORKERS = 16
# An attempt may outlast its function's timeout by its cold start (at most
# INIT_TIMEOUT_SECONDS) and the seconds it takes to stop the process and file its logs; an
# attempt older than that is held up by the endpoint itself.
OVERRUN_SECONDS = INIT_TIMEOUT_SECONDS + 20
# Events come in bursts (an upload of 200 files) and 16 workers take them; one left due this
# long means the workers are stuck, not busy.
MAX_WAIT_SECONDS = 60

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    account: str
    region: str
    function: str
    payload: bytes
    request_id: str
    accepted: float  # time.monotonic() when accepted
    attempt: int = 1
    shortened: float = 0.0  # seconds the local retry waits were shorter than Lambda's

    def age(self, now):
        """Seconds since accepted, as they would have passed on Lambda."""
        return now - self.accepted + self.shortened


@dataclass
class Attempt:
    function: str
    timeout: int
    started: float = None  # when it got an environment; None while waiting for capacity


class DueEvents:
    """Events by the time they are due: a retry waits here for its delay, not in a worker."""

    def __init__(self):
        self._heap = []
        self._order = itertools.count()
        self._condition = threading.Condition()

    def put(self, event, due):
        with self._condition:
            heapq.heappush(self._heap, (due, next(self._order), event))
            self._condition.notify()

    def take(self, seconds):
        """The next due event, or None if none is due within `seconds`."""
        deadline = time.monotonic() + seconds
        with self._condition:
            while True:
                now = time.monotonic()
                if self._heap and self._heap[0][0] <= now:
                    return heapq.heappop(self._heap)[2]
                if now >= deadline:
                    return None
                wake = min(deadline, self._heap[0][0]) if self._heap else deadline
                self._condition.wait(wake - now)

    def depth(self):
        with self._condition:
            return len(self._heap)

    def longest_wait(self, now):
        """Seconds the longest-due event has been waiting for a worker."""
        with self._condition:
            return max(0.0, now - self._heap[0][0]) if self._heap else 0.0


class AsyncInvoker:
    def __init__(self, lambdas, state_dir, retry_delays=RETRY_DELAYS, workers=WORKERS,
                 overrun_seconds=OVERRUN_SECONDS, max_wait_seconds=MAX_WAIT_SECONDS,
                 settle=lambda: None):
        """`settle()` runs before an event is marked done: whatever its delivery wrote
        outside a request (a destination's message) is saved first."""
        self.lambdas = lambdas
        self.settle = settle
        self.failed_path = os.path.join(state_dir, 'failed-events.jsonl')
        self.journal = EventJournal(os.path.join(state_dir, 'state', 'events.jsonl'))
        self.retry_delays = tuple(retry_delays)
        self.overrun_seconds = overrun_seconds
        self.max_wait_seconds = max_wait_seconds
        self.due = DueEvents()
        self.closed = threading.Event()
        self.lock = threading.Lock()
        self.attempts = {}  # worker thread id -> Attempt
        self.workers = [threading.Thread(target=self._work, daemon=True, name=f'async-{number}')
                        for number in range(workers)]
        self.restored = self.journal.load()  # accepted and not done when it last stopped
        for worker in self.workers:
            worker.start()

    def deliver_restored(self):
        """Queue again what was accepted and not done when the endpoint last stopped: called
        once the endpoint listens, so that the functions can reach it."""
        now, wall = time.monotonic(), time.time()
        for stored in self.restored:
            self.due.put(Event(stored['account'], stored['region'], stored['function'],
                               stored['payload'], stored['request_id'],
                               now - max(0.0, wall - stored['accepted_at']), stored['attempt'],
                               stored['shortened']), now)
        count, self.restored = len(self.restored), []
        return count

    def submit(self, account, region, function, payload):
        """Queue an event for `function` (a name, `F:qualifier` or an ARN); returns its
        request id, the same on every attempt. It is on disk when this returns."""
        request_id = str(uuid.uuid4())
        now = time.monotonic()
        self.journal.accepted(request_id, account, region, function, payload, 1, 0.0,
                              time.time())
        self.due.put(Event(account, region, function, payload, request_id, now), now)
        return request_id

    def _work(self):
        while not self.closed.is_set():
            event = self.due.take(0.5)
            if event is not None:
                self._deliver(event)

    def _deliver(self, event):
        queued_again = False
        try:
            queued_again = self._attempt(event)
        except Exception as error:  # last resort: whatever went wrong, the worker goes on
            logger.exception('delivering an event to %s failed in the endpoint', event.function)
            self._record(event, 'LocalEndpoint.DeliveryError',
                         f'{type(error).__name__}: {error} (traceback in the endpoint log)')
        finally:
            with self.lock:
                self.attempts.pop(threading.get_ident(), None)
        if not queued_again and not self.closed.is_set():
            # Once closing, an attempt may have been cut short: it is delivered again.
            self.settle()
            self.journal.done(event.request_id)

    def _attempt(self, event):
        """One attempt; True when the event is queued for another."""
        try:
            spec, reserved = self.lambdas.spec(event.account, event.region, event.function)
        except (FunctionNotFound, UnsupportedRuntime) as error:  # permanent: no retry
            self._record(event, type(error).__name__, str(error))
            return
        attempt = Attempt(spec.name, spec.timeout)
        with self.lock:
            self.attempts[threading.get_ident()] = attempt
        try:
            _, outcome = self.lambdas.invoke(spec, reserved, event.payload,
                                             wait_for_capacity=True,
                                             on_start=lambda: self._started(attempt),
                                             request_id=event.request_id)
        except Throttled as error:  # reserved concurrency 0: Lambda retries throttled events
            error_type, error_text = 'TooManyRequestsException', str(error)
            response = (429, spec.version, None, _error_payload(error_type, error_text))
        except ArchitectureMismatch as error:  # retried: a redeploy for this machine may come
            error_type, error_text = 'InvalidRuntimeException', str(error)
            response = (502, spec.version, None, _error_payload(error_type, error_text))
        else:
            response = (200, spec.version, None if outcome.ok else 'Unhandled', outcome.payload)
            if outcome.ok:
                self._send_result(event, spec, 'OnSuccess', 'Success', response)
                return
            error_type, error_text = outcome.error_type, outcome.payload.decode(errors='replace')
        config = invoke_config.applying(event.account, event.region, event.function) or {}
        retries = min(config.get('MaximumRetryAttempts', invoke_config.DEFAULT_RETRIES),
                      len(self.retry_delays))
        condition = 'RetriesExhausted'
        if event.attempt <= retries:
            delay = self.retry_delays[event.attempt - 1]
            lambda_delay = LAMBDA_RETRY_DELAYS[event.attempt - 1]
            max_age = config.get('MaximumEventAgeInSeconds',
                                 invoke_config.DEFAULT_MAX_AGE_SECONDS)
            if event.age(time.monotonic()) + lambda_delay <= max_age:
                again = replace(event, attempt=event.attempt + 1,
                                shortened=event.shortened + lambda_delay - delay)
                self.journal.retried(again.request_id, again.attempt, again.shortened)
                self.due.put(again, time.monotonic() + delay)
                return True
            condition = 'EventAgeExceeded'
        undelivered = self._send_result(event, spec, 'OnFailure', condition, response)
        if undelivered is None:
            return
        self._record(event, error_type, error_text)
        self._note_in_log_group(spec, f'FAILED EVENT {event.request_id} after {event.attempt} '
                                      f'attempts ({error_type}, {condition}): recorded in '
                                      f'{self.failed_path}, {undelivered}')

    def _send_result(self, event, spec, kind, condition, response):
        """Send Lambda's record to the config's `kind` destination. None once delivered, else
        why not; a delivery that fails is noted in the function's log group (AWS counts it in
        DestinationDeliveryFailures)."""
        config = invoke_config.applying(event.account, event.region, event.function) or {}
        destination = config.get('DestinationConfig', {}).get(kind, {}).get('Destination')
        if not destination:
            return f'as no {kind} destination is configured'
        function_arn = invoke_config.Target(event.account, event.region, event.function).arn
        document = record(event.request_id, function_arn, condition, event.attempt,
                          event.payload, response)
        try:
            deliver(destination, document, spec.role, event.account, event.region)
        except DeliveryFailed as failure:
            self._note_in_log_group(spec, f'DestinationDeliveryFailures: {kind} record of '
                                          f'{event.request_id} not delivered: {failure}')
            return f'as its {kind} destination was not delivered'
        return None

    def _started(self, attempt):
        with self.lock:
            attempt.started = time.monotonic()

    def _record(self, event, error_type, error):
        record = {'time': datetime.now(timezone.utc).isoformat(timespec='milliseconds'),
                  'function': event.function, 'attempts': event.attempt,
                  'errorType': error_type, 'error': error, **recorded_payload(event.payload)}
        line = json.dumps(record) + '\n'
        try:
            with self.lock, open(self.failed_path, 'a') as handle:
                handle.write(line)
        except OSError:  # the state folder is gone or full: the endpoint's log keeps it
            logger.exception('could not record a failed event in %s: %s', self.failed_path,
                             line)

    @staticmethod
    def _note_in_log_group(spec, message):
        logs = logs_backends[spec.account][spec.region]
        group = f'/aws/lambda/{spec.name}'
        stream = 'local-endpoint/failed-events'
        try:
            if stream not in logs.groups[group].streams:
                logs.create_log_stream(group, stream)
            logs.put_log_events(group, stream, [{'timestamp': int(time.time() * 1000),
                                                 'message': message}])
        except (KeyError, ResourceNotFoundException):  # the log group was deleted
            logger.warning('%s (log group %s is gone)', message, group)

    def health(self):
        """How delivery is doing, and its problems in words (none when it keeps up)."""
        now = time.monotonic()
        alive = sum(worker.is_alive() for worker in self.workers)
        with self.lock:
            attempts = list(self.attempts.values())
        running = [attempt for attempt in attempts if attempt.started is not None]
        overdue = [{'function': attempt.function, 'seconds': round(now - attempt.started, 1),
                    'timeout': attempt.timeout} for attempt in running
                   if now - attempt.started > attempt.timeout + self.overrun_seconds]
        waited = self.due.longest_wait(now)
        problems = []
        if alive < len(self.workers):
            problems.append(f'{len(self.workers) - alive} of {len(self.workers)} delivery '
                            f'workers have stopped')
        if waited > self.max_wait_seconds:
            problems.append(f'an event has waited {waited:.0f} s for a delivery worker')
        if overdue:
            problems.append(f'{len(overdue)} attempt(s) running over {self.overrun_seconds} s '
                            f'past their function\'s timeout')
        return {'workers': {'alive': alive, 'expected': len(self.workers)},
                'queued': self.due.depth(), 'longestWaitSeconds': round(waited, 1),
                'running': len(running), 'waitingForCapacity': len(attempts) - len(running),
                'overdue': overdue, 'problems': problems}

    def close(self):
        self.closed.set()
        self.journal.close()


def _error_payload(error_type, message):
    """The error the service answered, as Lambda would put it in a record."""
    return json.dumps({'errorType': error_type, 'errorMessage': message}).encode()


def recorded_payload(payload):
    """The event as JSON when it is JSON, else its bytes in base64: a record keeps what was
    accepted, whatever it was."""
    try:
        return {'event': json.loads(payload)}
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return {'eventBase64': base64.b64encode(payload).decode()}


def s3_event(event_body, bucket_name, owner):
    """Complete moto's S3 event with the fields S3 sends and moto leaves out. The key is
    encoded as S3 encodes it, as a form would (a space is +) but with its slashes as they are
    (moto writes them %2F)."""
    now = datetime.now(timezone.utc)
    for entry in event_body['Records']:
        key = entry['s3']['object']
        key['key'] = quote_plus(unquote_plus(key['key']), safe='/')
        entry['eventTime'] = now.strftime('%Y-%m-%dT%H:%M:%S.') + f'{now.microsecond // 1000:03d}Z'
        entry['userIdentity'] = {'principalId': owner}
        entry['requestParameters'] = {'sourceIPAddress': '127.0.0.1'}
        entry['responseElements'] = {'x-amz-request-id': uuid.uuid4().hex[:16].upper(),
                                      'x-amz-id-2': uuid.uuid4().hex}
        entry['s3']['bucket']['ownerIdentity'] = {'principalId': owner}
        entry['s3']['object']['sequencer'] = f'{time.time_ns():X}'[:18]
    return event_body
