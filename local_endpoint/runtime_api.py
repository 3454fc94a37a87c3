"""The Lambda Runtime API, as one execution environment's runtime client sees it.

awslambdaric (AWS's runtime interface client, the one in AWS's images) long-polls
``GET /2018-06-01/runtime/invocation/next`` and posts each result back. Each environment gets
its own server on a free loopback port, so an invocation can only reach the process it was
given to. A web page in the developer's browser can find such a port and send it simple
requests (GET the next event, POST a forged result as text/plain): the runtime client sends
neither Origin nor Sec-Fetch-* headers and names the address it was given as its Host, so
whatever does otherwise is refused before it is read.

What the runtime posts is bounded as on Lambda: a body over MAX_PAYLOAD_BYTES is refused from
its Content-Length, unread (413, as Lambda's Runtime API answers), and the invocation fails
with Function.ResponseSizeTooLarge, the error Invoke then returns.
"""
import json
import queue
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = '/2018-06-01/runtime'
# Lambda's limit on what a function returns: 6 MB and 100 bytes ("Exceeded maximum allowed
# payload size (6291556 bytes)", recorded from AWS).
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024 + 100
RESPONSE_TOO_LARGE = 'Function.ResponseSizeTooLarge'
TOO_LARGE_FOR_RUNTIME = json.dumps({
    'errorMessage': f'Exceeded maximum allowed payload size ({MAX_PAYLOAD_BYTES} bytes).',
    'errorType': 'RequestEntityTooLarge'})
TOO_LARGE_FOR_CALLER = json.dumps({
    'errorMessage': f'Response payload size exceeded maximum allowed payload size '
                    f'({MAX_PAYLOAD_BYTES} bytes).',
    'errorType': RESPONSE_TOO_LARGE}).encode()


class PendingInvocation:
    """One invocation handed to the runtime client, and its outcome once it posts one."""

    def __init__(self, request_id, payload, deadline_ms, function_arn, trace_id):
        self.request_id = request_id
        self.payload = payload
        self.deadline_ms = deadline_ms
        self.function_arn = function_arn
        self.trace_id = trace_id
        self.kind = None  # 'response' or 'error'
        self.body = b''
        self.error_type = None
        self._done = threading.Event()

    def complete(self, kind, body, error_type=None):
        if not self._done.is_set():
            self.kind, self.body, self.error_type = kind, body, error_type
            self._done.set()

    def wait(self, seconds):
        return self._done.wait(seconds)


class RuntimeServer(ThreadingHTTPServer):
    """Answers go out in two writes (headers, then body). With Nagle's algorithm on, the body
    waits for the client's delayed ACK of the headers: 40 ms on every invocation."""
    daemon_threads = True

    def get_request(self):
        connection, address = super().get_request()
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection, address

    def handle_error(self, request, client_address):
        """A runtime killed while it waited for work (its environment ended) has closed its
        connection: answering it fails, and that is no error of the endpoint's."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class RuntimeAPI:
    def __init__(self):
        self._waiting = queue.Queue()
        self._pending = {}
        self._closed = threading.Event()
        self.first_poll = threading.Event()  # the runtime finished its init and asked for work
        self.first_poll_at = None
        self.init_error = None
        self._server = RuntimeServer(('127.0.0.1', 0), self._handler_class())
        self.address = '127.0.0.1:%d' % self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True,
                         name=f'runtime-api-{self.address}').start()

    def submit(self, invocation):
        self._pending[invocation.request_id] = invocation
        self._waiting.put(invocation)

    def close(self):
        """Stop taking work at once; the server itself stops in the background, since
        serve_forever notices a shutdown only at its next poll (up to half a second), and an
        environment being replaced must not make its successor wait for that."""
        self._closed.set()
        threading.Thread(target=self._stop_server, daemon=True,
                         name=f'runtime-api-stop-{self.address}').start()

    def _stop_server(self):
        self._server.shutdown()
        self._server.server_close()

    def _next(self):
        while not self._closed.is_set():
            try:
                return self._waiting.get(timeout=0.5)
            except queue.Empty:
                continue
        return None

    def _handler_class(self):
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def log_message(self, *arguments):
                pass

            def parse_request(self):
                if not super().parse_request():
                    return False
                if (self.headers.get('Host') != api.address or 'Origin' in self.headers
                        or any(name.lower().startswith('sec-fetch-') for name in self.headers)):
                    self.close_connection = True
                    self._answer(403, {'errorMessage': 'only the runtime client of this '
                                                       'environment may use its Runtime API'})
                    return False
                return True

            def do_GET(self):
                if self.path != f'{PREFIX}/invocation/next':
                    return self._answer(404, {'errorMessage': f'no such path {self.path}'})
                if not api.first_poll.is_set():
                    api.first_poll_at = time.monotonic()
                    api.first_poll.set()
                invocation = api._next()
                if invocation is None:
                    return self._answer(410, {'errorMessage': 'environment shut down'})
                self.send_response(200)
                self.send_header('Lambda-Runtime-Aws-Request-Id', invocation.request_id)
                self.send_header('Lambda-Runtime-Deadline-Ms', str(invocation.deadline_ms))
                self.send_header('Lambda-Runtime-Invoked-Function-Arn', invocation.function_arn)
                # awslambdaric 4.2.2 crashes (SIGSEGV) when this header is missing.
                self.send_header('Lambda-Runtime-Trace-Id', invocation.trace_id)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(invocation.payload)))
                self.end_headers()
                self.wfile.write(invocation.payload)

            def do_POST(self):
                parts = self.path[len(PREFIX):].strip('/').split('/')
                try:
                    length = int(self.headers.get('Content-Length') or 0)
                except ValueError:
                    self.close_connection = True
                    return self._answer(400, {'errorMessage': 'invalid Content-Length'})
                if length > MAX_PAYLOAD_BYTES:
                    return self._refuse_oversized(parts)
                body = self.rfile.read(length)
                if parts == ['init', 'error']:
                    api.init_error = body
                    for invocation in list(api._pending.values()):
                        invocation.complete('error', body, 'Runtime.InitError')
                elif len(parts) == 3 and parts[0] == 'invocation' and parts[2] in (
                        'response', 'error'):
                    invocation = api._pending.pop(parts[1], None)
                    if invocation is None:
                        return self._answer(400, {'errorMessage': 'unknown request id'})
                    invocation.complete(parts[2], body,
                                        self.headers.get('Lambda-Runtime-Function-Error-Type'))
                else:
                    return self._answer(404, {'errorMessage': f'no such path {self.path}'})
                self._answer(202, {'status': 'OK'})

            def _refuse_oversized(self, parts):
                """Answer before the body is read, and close: what follows is never read."""
                self.close_connection = True
                if len(parts) == 3 and parts[0] == 'invocation':
                    invocation = api._pending.pop(parts[1], None)
                    if invocation is not None:
                        invocation.complete('error', TOO_LARGE_FOR_CALLER, RESPONSE_TOO_LARGE)
                self._answer(413, TOO_LARGE_FOR_RUNTIME)

            def _answer(self, status, document):
                """`document` as JSON, or already serialised; a connection to be closed says so."""
                data = (document if isinstance(document, str) else json.dumps(document)).encode()
                self.send_response(status)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(data)))
                if self.close_connection:
                    self.send_header('Connection', 'close')
                self.end_headers()
                self.wfile.write(data)

        return Handler
