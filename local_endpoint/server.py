"""One address on 127.0.0.1 that answers as AWS: moto for the control planes, and this
package wherever moto cannot run code (Lambda invocations, S3 notifications).

    python -m local_endpoint [--port 4566] [--state-dir .local]
"""
import argparse
import io
import json
import logging
import os
import pickle
import re
import signal
import sys
import threading

from moto.core import DEFAULT_ACCOUNT_ID
from moto.moto_server.werkzeug_app import (DomainDispatcherApplication, MotoRequestHandler,
                                           create_backend_app)
from moto.s3 import notifications
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from local_endpoint import (aliases, function_names, lambda_api, lambda_errors, log_result,
                            payload_encoding)
from local_endpoint import (architectures, code_download, code_limits, configurations,
                            execution_host, iam, invoke_auth, invoke_config, post_policy,
                            publishing, request_guard, s3_cors, schedules, state, versions)
from local_endpoint.events import AsyncInvoker, s3_event
from local_endpoint.http_front import API_PREFIX, URL_PREFIX, HttpFront
from local_endpoint.lambda_service import (MAX_ASYNC_PAYLOAD_BYTES, MAX_SYNC_PAYLOAD_BYTES,
                                           FunctionNotFound, InvalidPayload,
                                           InvalidQualifier, LambdaService,
                                           Throttled, UnsupportedRuntime, check_json_payload,
                                           trace_root_of)
from local_endpoint.runtimes import Runtimes
from local_endpoint.s3_errors import S3Error
from local_endpoint.unpack import UnpackError

DEFAULT_PORT = 4566
LOOPBACK = '127.0.0.1'
INVOKE_PATH = re.compile(r'^/2015-03-31/functions/(?P<name>[^/]+)/invocations/?$')
MAX_ACTION_BODY_BYTES = 1024 * 1024
UPLOAD_KEY = 'local_endpoint.upload_key'  # in a form upload's environ: the key it writes
FAULT_FIELDS = {'bucket': str, 'count': int, 'status': int, 'code': str, 'message': str}
FAULT_DEFAULTS = {'status': 503, 'code': 'SlowDown', 'message': 'Please reduce your request rate.'}


def region_of(request, default='us-east-1'):
    match = re.search(r'Credential=[^/]+/\d{8}/([^/]+)/', request.headers.get('Authorization', ''))
    return match[1] if match else default


class Endpoint:
    def __init__(self, host, port, state_dir, retry_delays=None, enforce_iam=False):
        self.url = f'http://{host}:{port}'
        if enforce_iam:
            iam.enforce()
        iam.ensure_admin()
        self.state_dir = os.path.abspath(state_dir)
        os.makedirs(self.state_dir, exist_ok=True)
        code_limits.install()
        architectures.install()  # after: Architectures is checked before the zip, as on AWS
        lambda_api.install()  # last: the request's own checks come first, as on AWS
        aliases.install()
        publishing.install()
        invoke_config.install()
        schedules.install()
        code_download.install(self.url)
        self.execution_host = execution_host.start(self.state_dir)
        self.runtimes = Runtimes(self.state_dir)
        print(self.runtimes.note(), flush=True)  # make up shows it
        self.lambdas = LambdaService(self.state_dir, self.url, self.runtimes)
        self.http = HttpFront(self.url, self.lambdas)
        self.store = state.Store(self.state_dir, self.url)
        # The routes of function URLs and HTTP APIs, kept with the service that makes them.
        self.store.keep('awslambda', 'function-urls', lambda: self.http_routes(URL_PREFIX),
                        self.http.functions.update)
        self.store.keep('apigatewayv2', 'http-apis', lambda: self.http_routes(API_PREFIX),
                        self.http.functions.update)
        self.store.keep('awslambda', 'invoke-configs', invoke_config.kept, invoke_config.restore)
        self.loaded = self.store.load()  # before any event is delivered or request answered
        self.store.watch_internal_writes()
        # A read that gives a function its RevisionId (on first sight) changes what is kept.
        configurations.on_new_revision = lambda: self.store.mark('awslambda')
        self.events = AsyncInvoker(self.lambdas, self.state_dir, settle=self.store.settle,
                                   **({'retry_delays': retry_delays} if retry_delays else {}))
        self.schedules = schedules.Scheduler(self.events.submit)  # started by serve()
        self.faults = []  # injected S3 write failures, for failure tests
        self.faults_lock = threading.Lock()
        self.moto = DomainDispatcherApplication(create_backend_app)
        self.moto_services = {}  # id(moto's app) -> its service, learnt as requests come
        # moto calls the function inside the S3 request and swallows its errors; S3 delivers
        # asynchronously, after the upload has been answered.
        notifications._invoke_awslambda = self._deliver_s3_event

    def _deliver_s3_event(self, account_id, event_body, function_arn, region_name):
        bucket = event_body['Records'][0]['s3']['bucket']['name']
        self.events.submit(account_id, region_name, function_arn,
                           json.dumps(s3_event(event_body, bucket, account_id)).encode())

    def __call__(self, environ, start_response):
        refusal = request_guard.refusal(environ, self.url)
        if refusal is not None:
            return refusal(environ, start_response)
        path = environ.get('PATH_INFO', '')
        if code_download.handles(path) and environ.get('REQUEST_METHOD') in ('GET', 'HEAD'):
            try:
                return code_download.download(path)(environ, start_response)
            except S3Error as refusal:
                return refusal.response()(environ, start_response)
        if self.http.handles(path):  # function URLs answer CORS from their own settings
            return self.http(Request(environ))(environ, start_response)
        if environ.get('REQUEST_METHOD') == 'OPTIONS':  # only S3 takes preflights: never moto
            return s3_cors.preflight(environ)(environ, start_response)
        granted = s3_cors.granted_headers(environ)
        if not granted and request_guard.foreign_write(environ, self.url):
            return S3Error(403, 'AccessForbidden', s3_cors.NOT_ALLOWED, Method=environ[
                'REQUEST_METHOD'], ResourceType='OBJECT').response()(environ, start_response)
        start_response = s3_cors.answering(start_response, granted)
        if path == '/_local/health':
            return Response(json.dumps(self.health()),
                            content_type='application/json')(environ, start_response)
        if path == '/_local/faults' and environ.get('REQUEST_METHOD') == 'POST':
            return self.add_fault(Request(environ))(environ, start_response)
        if path.startswith('/_local'):
            return Response(json.dumps({'message': f'No such control: {path}'}), status=404,
                            content_type='application/json')(environ, start_response)
        fault = self.injected_fault(environ)
        if fault is not None:
            return fault.response()(environ, start_response)
        match = INVOKE_PATH.match(path)
        if match and environ.get('REQUEST_METHOD') == 'POST':
            try:
                invoke_auth.check(environ, match['name'], iam.enforcing())
            except invoke_auth.Refusal as refusal:
                return lambda_error(refusal.status, refusal.error_type,
                                    refusal.message)(environ, start_response)
            return self.invoke(Request(environ), match['name'])(environ, start_response)
        try:
            return self.s3_or_moto(environ, start_response)
        except S3Error as refusal:
            return refusal.response()(environ, start_response)

    def s3_or_moto(self, environ, start_response):
        """What is left is S3's (form uploads, presigned URLs, anonymous requests), or moto's,
        signed for any service."""
        enforcing = iam.enforcing()
        if enforcing:
            iam.ensure_admin()
        if post_policy.is_form_upload(environ):
            environ, upload = post_policy.check(environ, iam.secret_of)
            if enforcing:
                iam.S3Authorization(upload.access_key_id, upload.token, 'PutObject',
                                    upload.bucket).permit(upload.bucket, upload.key)
            environ[UPLOAD_KEY] = upload.key  # the object it writes, for local_endpoint.state
            with iam.checked_here():
                return self.moto_app(environ, start_response)
        request_guard.check_authorization_header(environ)
        if enforcing and 'HTTP_AUTHORIZATION' not in environ:
            return self.unsigned_s3_request(environ, start_response)
        if environ['PATH_INFO'].rstrip('/') == '/v2/apis' and environ['REQUEST_METHOD'] == 'POST':
            return self.create_api(environ, start_response)
        return self.moto_app(environ, start_response)

    def moto_app(self, environ, start_response):
        """moto answers; a change it made is on disk before the answer leaves (local_endpoint
        .state)."""
        app = self.moto.get_application(environ)
        service = self.moto_services.get(id(app))
        if service is None:
            service = self.moto_services[id(app)] = next(
                name for name, instance in self.moto.app_instances.items() if instance is app)
        action = state_action(environ)
        if service == 'moto_api' and environ['PATH_INFO'].rstrip('/') == '/moto-api/reset':
            answer = app(environ, start_response)
            self.store.forget()  # moto forgot everything: so does the next start
            return answer
        if service in state.NOT_KEPT or state.is_read(environ['REQUEST_METHOD'], action):
            return app(environ, start_response)
        answered = {}

        def capture(status, headers, exc_info=None):
            answered['status'] = status
            return start_response(status, headers, exc_info)

        answer = app(environ, capture)
        if answered.get('status', '').startswith('2'):
            path = environ.get('PATH_INFO', '').encode('latin-1').decode('utf-8', 'replace')
            bucket, _, key = path.lstrip('/').partition('/')
            try:
                self.keep(service, environ, bucket, key, action)
            except (OSError, RuntimeError, ValueError, pickle.PicklingError) as error:
                # Done, but not kept yet: said in health, and tried again within a second.
                # (ValueError: a concurrent write to the same key closed the body being read.)
                logging.getLogger(__name__).exception('%s changed, but could not be saved',
                                                      service)
                self.store.failed(service, error, bucket=(DEFAULT_ACCOUNT_ID, bucket)
                                  if service == 's3' and bucket else None)
        return answer

    def keep(self, service, environ, bucket, key, action):
        if service in state.COSTLY or (service, action) in state.BACKGROUND_ACTIONS:
            self.store.mark(service)  # saved in the background (state.Store.flush)
            return
        if service != 's3':
            self.store.saved(service)
            return
        if not bucket:
            return
        query = environ.get('QUERY_STRING', '')
        objects_only = environ['REQUEST_METHOD'] == 'POST' and (
            post_policy.is_form_upload(environ) or re.search(r'(^|&)delete(=|&|$)', query))
        if not objects_only and (not key or 'uploadId' in query
                                 or re.search(r'(^|&)uploads(=|&|$)', query)):
            self.store.saved('s3')  # the bucket's own settings, or a multipart upload's parts
        written = key if environ['REQUEST_METHOD'] == 'PUT' else environ.get(UPLOAD_KEY)
        if written and self.store.object_saved(DEFAULT_ACCOUNT_ID, bucket, written):
            return  # one object written, found by the name in its path or its checked form
        if key and not written:
            self.store.object_saved(DEFAULT_ACCOUNT_ID, bucket, key)
        # Objects named in a body (multi-object deletes), deleted, or not found by name: every
        # object of the bucket that differs from its record.
        self.store.bucket_saved(DEFAULT_ACCOUNT_ID, bucket)

    def http_routes(self, prefix):
        return {route: target for route, target in list(self.http.functions.items())
                if route[0] == prefix}

    def unsigned_s3_request(self, environ, start_response):
        """With IAM enforced, a request without an Authorization header is a presigned URL,
        verified and authorized here, or anonymous and refused."""
        if not iam.is_presigned(environ):
            raise S3Error(403, 'AccessDenied', 'Access Denied')
        iam.check_presigned(environ)
        with iam.checked_here():
            return self.moto_app(environ, start_response)

    def add_fault(self, request):
        """POST /_local/faults {"bucket": B, "count": N, "status": 503, "code": "SlowDown"}:
        the next N object writes (PutObject) to bucket B fail with that S3 error."""
        fault = request.get_json(force=True, silent=True)
        fault = {**FAULT_DEFAULTS, **fault} if isinstance(fault, dict) else {}
        if (any(type(fault.get(name)) is not kind for name, kind in FAULT_FIELDS.items())
                or not fault['bucket'] or fault['count'] < 1 or not 400 <= fault['status'] <= 599):
            return Response(json.dumps({'error': 'need "bucket" and "count" >= 1; "status" '
                                                 '(400-599), "code" and "message" if given'}),
                            status=400, content_type='application/json')
        with self.faults_lock:
            self.faults.append({'bucket': fault['bucket'], 'remaining': fault['count'],
                                'status': fault['status'], 'code': fault['code'],
                                'message': fault['message']})
        return Response(json.dumps({'status': 'ok'}), status=201, content_type='application/json')

    def injected_fault(self, environ):
        if not self.faults or environ.get('REQUEST_METHOD') != 'PUT':
            return None
        bucket, _, key = environ.get('PATH_INFO', '').lstrip('/').partition('/')
        if not key or 'uploadId' in environ.get('QUERY_STRING', '') \
                or 'HTTP_X_AMZ_COPY_SOURCE' in environ:
            return None
        with self.faults_lock:
            for fault in self.faults:
                if fault['bucket'] == bucket and fault['remaining'] > 0:
                    fault['remaining'] -= 1
                    return S3Error(fault['status'], fault['code'], fault['message'])
        return None

    def create_api(self, environ, start_response):
        """moto creates the API; a quick create's --target is wired here, as AWS does."""
        body = environ['wsgi.input'].read(int(environ.get('CONTENT_LENGTH') or 0))
        environ = dict(environ, **{'wsgi.input': io.BytesIO(body)})
        captured = {}

        def capture(status, headers, exc_info=None):
            captured.update(status=status, headers=headers)
            return lambda data: None

        answer = b''.join(self.moto_app(environ, capture))
        try:
            target = json.loads(body or b'{}').get('target')
            if target and captured['status'].startswith('2'):
                self.http.quick_create(json.loads(answer)['apiId'], target, DEFAULT_ACCOUNT_ID)
                self.store.saved('apigatewayv2')
        except (ValueError, KeyError):
            pass
        start_response(captured['status'], captured['headers'])
        return [answer]

    def health(self):
        """/_local/health answers 200 while the endpoint serves (make up waits for that);
        "status" says whether it also delivers async events and keeps what it is asked to
        ("state": the folder, and saves that failed); "runtimes" the Python X.Y that runs each
        python3.x runtime (a deploy says which the machine lacks)."""
        delivery = self.events.health()
        kept = {'folder': self.store.folder, 'problems': self.store.problems()}
        return {'status': 'degraded' if delivery['problems'] or kept['problems'] else 'ok',
                'environments': self.lambdas.environments(),
                'iam': 'enforced' if iam.enforcing() else 'off', 'delivery': delivery,
                'state': kept, 'runtimes': self.runtimes.summary()}

    def invoke(self, request, name):
        region = region_of(request)
        invocation_type = request.headers.get('X-Amz-Invocation-Type', 'RequestResponse')
        request.max_content_length = MAX_SYNC_PAYLOAD_BYTES  # refused unread if declared larger
        try:
            payload = request.get_data()
        except RequestEntityTooLarge:
            return lambda_error(413, 'RequestEntityTooLargeException',
                                f'Request must be smaller than {MAX_SYNC_PAYLOAD_BYTES} bytes '
                                f'for the InvokeFunction operation')
        if invocation_type == 'Event' and len(payload) > MAX_ASYNC_PAYLOAD_BYTES:
            return lambda_error(413, 'RequestEntityTooLargeException',
                                f'{len(payload)} byte payload is too large for the Event '
                                f'invocation type (limit {MAX_ASYNC_PAYLOAD_BYTES} bytes)')
        qualifier = request.args.get('Qualifier')
        try:
            function_names.check_parameters('Invoke', name, qualifier, invocation_type)
        except function_names.InvalidParameters as error:
            return lambda_error(400, 'ValidationException', error.message)
        try:
            spec, reserved = self.lambdas.spec(DEFAULT_ACCOUNT_ID, region, name, qualifier)
        except FunctionNotFound as error:
            return lambda_error(404, 'ResourceNotFoundException', str(error))
        except InvalidQualifier as error:
            return lambda_error(400, 'InvalidParameterValueException', str(error))
        except UnsupportedRuntime as error:
            return lambda_error(400, 'InvalidRuntimeException', str(error))
        payload = payload or b'{}'
        try:
            payload_encoding.check(payload)
            check_json_payload(payload)
        except InvalidPayload as error:
            return lambda_error(400, 'InvalidRequestContentException', str(error))
        if invocation_type == 'DryRun':
            return Response(status=204)
        if invocation_type == 'Event':
            # The version is chosen when the event runs, as the alias then routes.
            qualified = name if qualifier is None or versions.split(name)[1] else \
                f'{name}:{qualifier}'
            request_id = self.events.submit(DEFAULT_ACCOUNT_ID, region, qualified, payload)
            return Response(status=202, headers={'x-amzn-RequestId': request_id})
        try:
            request_id, outcome = self.lambdas.invoke(
                spec, reserved, payload,
                trace_root=trace_root_of(request.headers.get('X-Amzn-Trace-Id')))
        except Throttled as error:
            return lambda_error(429, 'TooManyRequestsException', str(error), Reason=(
                'ConcurrentInvocationLimitExceeded' if reserved is None
                else 'ReservedFunctionConcurrentInvocationLimitExceeded'))
        except architectures.ArchitectureMismatch as error:
            # Lambda's type for a runtime it cannot provide, but 400 where AWS answers 502:
            # SDKs retry a 502 (awscli 1.x five times, up to 15 s), and no retry can help.
            return lambda_error(400, 'InvalidRuntimeException', str(error))
        except UnpackError as error:
            return lambda_error(502, 'InvalidZipFileException',
                                f'Lambda could not unzip the deployment package: {error}')
        except Exception as error:  # the endpoint's own failure, reported as Lambda would
            logging.getLogger(__name__).exception('invocation of %s failed', name)
            return lambda_error(500, 'ServiceException', f'{type(error).__name__}: {error}')
        headers = {'X-Amz-Executed-Version': spec.version, 'x-amzn-RequestId': request_id}
        if not outcome.ok:
            headers['X-Amz-Function-Error'] = 'Unhandled'
        if request.headers.get('X-Amz-Log-Type') == 'Tail':
            headers['X-Amz-Log-Result'] = log_result.tail(outcome.log_lines)
        return Response(outcome.payload, status=200, headers=headers,
                        content_type='application/json')

    def close(self):
        self.schedules.close()
        self.events.close()
        self.store.close()
        self.lambdas.close()


def state_action(environ):
    """The action of a JSON or query protocol request (X-Amz-Target, or Action= in a form
    body, read and put back), to tell a read from a write; None for REST APIs."""
    target = environ.get('HTTP_X_AMZ_TARGET')
    if target:
        return target.rpartition('.')[2]
    if not environ.get('CONTENT_TYPE', '').startswith('application/x-www-form-urlencoded'):
        return None
    try:
        length = int(environ.get('CONTENT_LENGTH') or 0)
    except ValueError:
        return None
    if not 0 < length <= MAX_ACTION_BODY_BYTES:  # too large to look into: taken as a write
        return None
    body = environ['wsgi.input'].read(length)
    environ['wsgi.input'] = io.BytesIO(body)
    match = re.search(rb'(?:^|&)Action=([A-Za-z0-9]+)', body)
    return match[1].decode() if match else None


def lambda_error(status, error_type, message, **members):
    """Lambda's error answer, in the body AWS sends (local_endpoint.lambda_errors)."""
    return lambda_errors.response(status, error_type, message, **members)


class RequestHandler(MotoRequestHandler):
    # A connection that sends nothing for this long (an idle keep-alive, a client that stalls
    # mid-request) is closed instead of holding its thread for ever. An invocation running
    # longer keeps its connection: the socket is not read while the function runs.
    timeout = 60


def serve(port, state_dir, retry_delays=None, enforce_iam=False):
    """Listen on 127.0.0.1 only: every address the endpoint answers is its own machine's."""
    endpoint = Endpoint(LOOPBACK, port, state_dir, retry_delays, enforce_iam)
    server = make_server(LOOPBACK, port, endpoint, threaded=True, request_handler=RequestHandler)

    def stop(*_):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    endpoint.schedules.start()
    endpoint.store.start_flushing()
    restored = endpoint.events.deliver_restored()  # the socket listens: functions can call
    print(endpoint.loaded + (f'; {restored} accepted events to deliver again'
                             if restored else ''), flush=True)
    print(f'local AWS endpoint on {endpoint.url} (state in {endpoint.state_dir}; IAM '
          f'{"enforced" if iam.enforcing() else "not enforced"})', flush=True)
    try:
        server.serve_forever()
    finally:
        endpoint.close()
        print('local AWS endpoint stopped', flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m local_endpoint')
    parser.add_argument('--port', type=int, default=int(os.environ.get('LOCAL_PORT', DEFAULT_PORT)))
    parser.add_argument('--state-dir', default='.local')
    parser.add_argument('--retry-delays', default=os.environ.get('LOCAL_RETRY_DELAYS', '1,2'),
                        help='seconds before the 2nd and 3rd attempts of a failed async event')
    parser.add_argument('--enforce-iam', action='store_true',
                        default=os.environ.get('LOCAL_ENFORCE_IAM', '') not in ('', '0'),
                        help="check every request against the caller's IAM policies")
    arguments = parser.parse_args(argv)
    logging.getLogger('werkzeug').setLevel(logging.WARNING)
    delays = tuple(float(value) for value in arguments.retry_delays.split(',') if value)
    try:
        serve(arguments.port, arguments.state_dir, delays, arguments.enforce_iam)
    except state.StateError as error:
        print(f'error: {error}', file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
