"""Asynchronous invocations: InvocationType=Event and S3 event notifications.

As on Lambda, the caller gets its answer before the function runs; a function error is
retried twice (Lambda waits about 1 and 2 minutes; here RETRY_DELAYS, scaled down); an event
that exhausts its retries is never dropped silently: it is written to failed-events.jsonl in
the state folder and logged in the function's log group.
"""
import json
import os
import queue
import threading
import time
import uuid
from datetime import datetime, timezone

from moto.logs.models import logs_backends

from local_endpoint.lambda_service import FunctionNotFound, UnsupportedRuntime

RETRY_DELAYS = (1.0, 2.0)  # seconds before the 2nd and 3rd attempts (Lambda: ~60 and ~120)


class AsyncInvoker:
    def __init__(self, lambdas, state_dir, retry_delays=RETRY_DELAYS, workers=16):
        self.lambdas = lambdas
        self.failed_path = os.path.join(state_dir, 'failed-events.jsonl')
        self.retry_delays = tuple(retry_delays)
        self.queue = queue.Queue()
        self.closed = threading.Event()
        self.in_flight = 0
        self.lock = threading.Lock()
        for number in range(workers):
            threading.Thread(target=self._work, daemon=True, name=f'async-{number}').start()

    def submit(self, account, region, function, payload):
        with self.lock:
            self.in_flight += 1
        self.queue.put((account, region, function, payload, 1, 0.0))

    def idle(self):
        with self.lock:
            return self.in_flight == 0

    def _work(self):
        while not self.closed.is_set():
            try:
                account, region, function, payload, attempt, not_before = self.queue.get(timeout=0.5)
            except queue.Empty:
                continue
            delay = not_before - time.monotonic()
            if delay > 0 and self.closed.wait(delay):
                return
            try:
                self._attempt(account, region, function, payload, attempt)
            finally:
                with self.lock:
                    self.in_flight -= 1

    def _attempt(self, account, region, function, payload, attempt):
        try:
            spec, reserved = self.lambdas.spec(account, region, function)
            request_id, outcome = self.lambdas.invoke(spec, reserved, payload,
                                                      wait_for_capacity=True)
        except (FunctionNotFound, UnsupportedRuntime) as error:  # permanent: no retry
            return self._failed(account, region, function, payload, attempt,
                                type(error).__name__, str(error), None)
        if outcome.ok:
            return
        if attempt <= len(self.retry_delays):
            with self.lock:
                self.in_flight += 1
            self.queue.put((account, region, function, payload, attempt + 1,
                            time.monotonic() + self.retry_delays[attempt - 1]))
            return
        self._failed(account, region, function, payload, attempt, outcome.error_type,
                     outcome.payload.decode(errors='replace'), spec)

    def _failed(self, account, region, function, payload, attempts, error_type, error, spec):
        record = {'time': datetime.now(timezone.utc).isoformat(timespec='milliseconds'),
                  'function': function, 'attempts': attempts, 'errorType': error_type,
                  'error': error, 'event': json.loads(payload)}
        with self.lock, open(self.failed_path, 'a') as handle:
            handle.write(json.dumps(record) + '\n')
        if spec is not None:
            logs = logs_backends[account][region]
            group = f'/aws/lambda/{spec.name}'
            stream = 'local-endpoint/failed-events'
            if stream not in logs.groups[group].streams:
                logs.create_log_stream(group, stream)
            logs.put_log_events(group, stream, [{
                'timestamp': int(time.time() * 1000),
                'message': f'FAILED EVENT after {attempts} attempts ({error_type}): '
                           f'recorded in {self.failed_path}'}])

    def close(self):
        self.closed.set()


def s3_event(event_body, bucket_name, owner):
    """Complete moto's S3 event with the fields S3 sends and moto leaves out."""
    now = datetime.now(timezone.utc)
    for record in event_body['Records']:
        record['eventTime'] = now.strftime('%Y-%m-%dT%H:%M:%S.') + f'{now.microsecond // 1000:03d}Z'
        record['userIdentity'] = {'principalId': owner}
        record['requestParameters'] = {'sourceIPAddress': '127.0.0.1'}
        record['responseElements'] = {'x-amz-request-id': uuid.uuid4().hex[:16].upper(),
                                      'x-amz-id-2': uuid.uuid4().hex}
        record['s3']['bucket']['ownerIdentity'] = {'principalId': owner}
        record['s3']['object']['sequencer'] = f'{time.time_ns():X}'[:18]
    return event_body

