"""Function URLs and HTTP APIs, served: each request a payload 2.0 event, each result a response.

moto stores function URL configurations and APIs but serves nothing. Here every function URL
it creates is ``http://127.0.0.1:<port>/lambda-url/<id>/`` and every HTTP API's endpoint
``http://127.0.0.1:<port>/execute-api/<id>/``, stable for the endpoint's life. A request runs
the function, as Lambda's front end or an HTTP API quick create (`create-api --target`, its
$default route and stage) does.
"""
import base64
import json
import re
import threading
import time
import uuid
from datetime import datetime, timezone
from urllib.parse import parse_qsl

from moto.apigatewayv2 import models as apigateway_models
from moto.awslambda import models as lambda_models
from moto.awslambda.exceptions import GenericResourcNotFound, UnknownFunctionException
from moto.awslambda.models import lambda_backends
from moto.awslambda import responses as lambda_responses
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from local_endpoint import iam, url_auth, url_cors
from local_endpoint.architectures import ArchitectureMismatch
from local_endpoint.lambda_service import (MAX_SYNC_PAYLOAD_BYTES, FunctionNotFound, Throttled,
                                           UnsupportedRuntime, trace_root_of)

URL_PREFIX = '/lambda-url/'
API_PREFIX = '/execute-api/'
# Headers of one connection, not of the request: Lambda's front end passes none of them on.
HOP_BY_HOP = frozenset({'connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate',
                        'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade'})
# A response's own length and connection, which the front end sets for what it sends: one the
# function names would leave the client waiting for bytes that never come.
FRAMING = HOP_BY_HOP | {'content-length'}
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110's token
TEXT_TYPES = ('text/', 'application/json', 'application/xml', 'application/javascript',
              'application/x-www-form-urlencoded')


class HttpFront:
    def __init__(self, endpoint_url, lambdas):
        self.endpoint_url = endpoint_url
        self.lambdas = lambdas
        self.functions = {}  # (prefix, id) -> (account, region, function name)
        front = self
        original_url = lambda_models.FunctionUrlConfig.__init__
        creating = threading.local()  # the Qualifier of the create call being answered

        def local_url(url_config, function, config):  # moto passes function=, config=
            original_url(url_config, function, config)
            url_id = url_config.url.split('//', 1)[1].split('.', 1)[0]
            url_config.url = f'{front.endpoint_url}{URL_PREFIX}{url_id}/'
            qualifier = getattr(creating, 'qualifier', None)
            front.functions[URL_PREFIX, url_id] = (
                function.account_id, function.region,
                function.function_name + (f':{qualifier}' if qualifier else ''))

        lambda_models.FunctionUrlConfig.__init__ = local_url
        original_create = lambda_responses.LambdaResponse.create_function_url_config

        def create_on_qualifier(response):
            """A URL made with --qualifier ALIAS serves the alias (moto drops it): its
            address stays when the alias moves to another version."""
            creating.qualifier = (response.querystring.get('Qualifier') or [None])[0]
            try:
                return original_create(response)
            finally:
                creating.qualifier = None

        lambda_responses.LambdaResponse.create_function_url_config = create_on_qualifier
        original_api = apigateway_models.Api.__init__

        def local_api(api, *arguments, **keywords):
            original_api(api, *arguments, **keywords)
            api.api_endpoint = f'{front.endpoint_url}{API_PREFIX}{api.api_id}'

        apigateway_models.Api.__init__ = local_api

    def quick_create(self, api_id, target, account):
        """`create-api --target`: the API's $default route invokes that function."""
        parts = target.split(':')
        if len(parts) >= 7 and parts[5] == 'function':  # F, or F:alias as the deploy targets
            self.functions[API_PREFIX, api_id] = (parts[4] or account, parts[3],
                                                  ':'.join(parts[6:8]))

    def handles(self, path):
        return path.startswith((URL_PREFIX, API_PREFIX))

    def __call__(self, request):
        prefix = URL_PREFIX if request.path.startswith(URL_PREFIX) else API_PREFIX
        front_id, _, rest = request.path[len(prefix):].partition('/')
        if (prefix, front_id) not in self.functions:
            return not_found(prefix)
        account, region, name = self.functions[prefix, front_id]  # name may be F:alias
        if not rest and not request.path.endswith('/'):
            # Relative links on the page resolve against the URL's root only with the slash.
            return Response(status=308, headers={'Location': f'{prefix}{front_id}/'})
        cors = authorizer = None
        if prefix == URL_PREFIX:
            url_config = current_url_config(account, region, name, front_id)
            if url_config is None:  # deleted (delete-function-url-config, or with its alias)
                return forbidden()
            cors = url_cors.settings(url_config)
            if cors and url_cors.is_preflight(request):  # Lambda answers it, before any auth
                return url_cors.preflight(cors, request)
            try:
                authorizer = authorize(request, account, region, name, url_config)
            except url_auth.Forbidden:
                return forbidden()
        try:
            spec, reserved = self.lambdas.spec(account, region, name)
        except FunctionNotFound:  # the URL's function or alias was deleted
            return forbidden() if prefix == URL_PREFIX else not_found(prefix)
        except UnsupportedRuntime as error:
            return json_response(500, {'message': str(error)})
        request.max_content_length = MAX_SYNC_PAYLOAD_BYTES  # refused unread if declared larger
        request_id = str(uuid.uuid4())
        trace = trace_root_of(request.headers.get('X-Amzn-Trace-Id'))
        try:
            event = json.dumps(payload_v2(
                request, front_id, request_id, trace,
                # the API owner's for an HTTP API; for a URL, the function owner's when the
                # caller signed, else "anonymous" (urls-invocation guide)
                account if prefix == API_PREFIX or authorizer else 'anonymous',
                authorizer)).encode()
        except RequestEntityTooLarge:
            return payload_too_large(prefix)
        if len(event) > MAX_SYNC_PAYLOAD_BYTES:  # the body as the event carries it, and more
            return payload_too_large(prefix)
        try:
            _, outcome = self.lambdas.invoke(spec, reserved, event, request_id=request_id,
                                             trace_root=trace)
        except Throttled:
            return json_response(429, {'message': 'Too Many Requests'})
        except ArchitectureMismatch as refusal:  # the endpoint's own: it says why
            return json_response(502, {'message': str(refusal)})
        if not outcome.ok:
            response = bad_gateway(prefix)
        else:
            try:
                response = url_cors.add_headers(cors, request, response_from(outcome.payload))
            except MalformedResponse:
                response = bad_gateway(prefix)
        response.headers['x-amzn-RequestId'] = request_id
        return response


def payload_v2(request, url_id, request_id, trace, account_id, authorizer=None):
    """The event Lambda builds for a function URL (payload format 2.0), as recorded in
    test_lambda.snapshot.json (TestLambdaURL, test_lambda_url_echo_http_fixture_default):
    header names lower-cased, repeated ones joined by commas, hop-by-hop headers left out,
    cookies apart, and the headers Lambda's front end adds (x-amzn-trace-id, x-forwarded-*)."""
    now = datetime.now(timezone.utc)
    raw_path = request.environ.get('RAW_URI', request.full_path).split('?', 1)[0]
    raw_path = '/' + raw_path.split('/', 3)[3] if raw_path.count('/') >= 3 else '/'
    path = '/' + request.path.split('/', 3)[3] if request.path.count('/') >= 3 else '/'
    headers = {}
    for name, value in request.headers.items():
        name = name.lower()
        if name in HOP_BY_HOP or name == 'cookie':
            continue
        headers[name] = f'{headers[name]},{value}' if name in headers else value
    source_ip = request.remote_addr or '127.0.0.1'
    headers['x-amzn-trace-id'] = trace
    headers['x-forwarded-for'] = (f'{headers["x-forwarded-for"]}, {source_ip}'
                                  if 'x-forwarded-for' in headers else source_ip)
    headers['x-forwarded-port'] = str(request.environ.get('SERVER_PORT', ''))
    headers['x-forwarded-proto'] = request.scheme
    query = {}
    for name, value in parse_qsl(request.query_string.decode(), keep_blank_values=True):
        query[name] = f'{query[name]},{value}' if name in query else value
    body = request.get_data()
    text = None
    if request.headers.get('Content-Type', '').startswith(TEXT_TYPES):
        try:
            text = body.decode()
        except UnicodeDecodeError:  # not the text it claims to be: passed on as bytes
            pass
    event = {
        'version': '2.0', 'routeKey': '$default', 'rawPath': raw_path,
        'rawQueryString': request.query_string.decode(), 'headers': headers,
        'requestContext': {
            'accountId': account_id, 'apiId': url_id,
            'domainName': request.host, 'domainPrefix': url_id,
            'http': {'method': request.method, 'path': path, 'protocol': 'HTTP/1.1',
                     'sourceIp': source_ip,
                     'userAgent': request.headers.get('User-Agent', '')},
            'requestId': request_id, 'routeKey': '$default', 'stage': '$default',
            'time': now.strftime('%d/%b/%Y:%H:%M:%S +0000'),
            'timeEpoch': int(time.time() * 1000)},
        'isBase64Encoded': bool(body) and text is None,
    }
    if authorizer:
        event['requestContext']['authorizer'] = authorizer
    cookies = [cookie.strip() for value in request.headers.getlist('Cookie')
               for cookie in value.split(';') if cookie.strip()]
    if cookies:
        event['cookies'] = cookies
    if query:
        event['queryStringParameters'] = query
    if body:
        event['body'] = base64.b64encode(body).decode() if text is None else text
    return event


def not_found(prefix):
    """An address that serves no function: a function URL answers as Lambda's front end does
    for an unknown URL id (test_lambda.snapshot.json, test_lambda_url_non_existing_url); an
    HTTP API as API Gateway does."""
    if prefix == URL_PREFIX:
        return Response('{"Message":null}', status=403, content_type='application/json',
                        headers={'x-amzn-ErrorType': 'AccessDeniedException'})
    return json_response(404, {'message': 'Not Found'})


def bad_gateway(prefix):
    """A function that failed or answered nothing Lambda can send: a function URL answers 502
    "Internal Server Error" (test_lambda_url_invocation_exception), an HTTP API 500."""
    if prefix == URL_PREFIX:
        return Response('Internal Server Error', status=502, content_type='application/json')
    return json_response(500, {'message': 'Internal Server Error'})


def current_url_config(account, region, name, url_id):
    """The function URL configuration that still has this id; None once it is deleted."""
    try:
        url_config = lambda_backends[account][region].get_function_url_config(
            name.split(':')[0])
    except (UnknownFunctionException, GenericResourcNotFound):
        return None
    return url_config if f'{URL_PREFIX}{url_id}/' in url_config.url else None


def authorize(request, account, region, name, url_config):
    """url_auth's check for this URL: its AuthType, its function's ARN (with the alias for an
    alias's URL) and resource policy; the event's authorizer it returns. A function deleted
    meanwhile is refused further on."""
    function_name, _, alias = name.partition(':')
    try:
        function = lambda_backends[account][region].get_function(function_name)
    except UnknownFunctionException:
        return None
    return url_auth.check(request.environ, url_config.config.get('AuthType'),
                   function.function_arn + (f':{alias}' if alias else ''),
                   function.policy.statements if function.policy else [], iam.enforcing(),
                   MAX_SYNC_PAYLOAD_BYTES)


def forbidden():
    """A URL that was made but no longer serves a function, as Lambda's front end answers it
    (test_lambda.snapshot.json, test_lambda_url_persists_after_alias_delete,
    invoke_deleted_alias_url_response_delayed)."""
    return Response(json.dumps({'Message': url_auth.FORBIDDEN}), status=403,
                    content_type='application/json',
                    headers={'x-amzn-ErrorType': 'AccessDeniedException'})


def payload_too_large(prefix):
    """A request over Invoke's limit: a function URL answers as Lambda's front end does; an
    HTTP API as for any failed integration."""
    if prefix == URL_PREFIX:
        response = json_response(413, {'Message': f'Request must be smaller than '
                                                  f'{MAX_SYNC_PAYLOAD_BYTES} bytes for the '
                                                  f'InvokeFunction operation'})
        response.headers['x-amzn-ErrorType'] = 'RequestEntityTooLargeException'
        return response
    return json_response(500, {'message': 'Internal Server Error'})


class MalformedResponse(Exception):
    """A result with a statusCode that Lambda cannot make a response of: the caller gets 502."""


def response_from(payload):
    """Lambda's mapping of a result to an HTTP response (test_lambda.snapshot.json,
    test_lambda_url_invocation[*]): a dict with statusCode is a response, its dict or list
    body serialised; any other result is the body, 200, application/json: a string as it is,
    anything else as compact JSON. Raises MalformedResponse for a statusCode that is not an
    HTTP status, headers or cookies that are not text on one line, a body that is not the
    base64 it says it is."""
    try:
        result = json.loads(payload or b'null')
    except ValueError:
        return Response(payload, status=200, content_type='application/json')
    if not isinstance(result, dict) or 'statusCode' not in result:
        return Response(result if isinstance(result, str) else compact_json(result),
                        status=200, content_type='application/json')
    body = result.get('body')
    if body is None:
        body = ''
    elif not isinstance(body, str):
        body = compact_json(body)
    elif result.get('isBase64Encoded'):
        try:
            body = base64.b64decode(body, validate=True)
        except ValueError:
            raise MalformedResponse('body is not base64') from None
    response = Response(body, status=http_status(result['statusCode']))
    response.headers.remove('Content-Type')
    headers, cookies = result.get('headers') or {}, result.get('cookies') or []
    if not isinstance(headers, dict) or not isinstance(cookies, list):
        raise MalformedResponse('headers must be an object, cookies a list')
    try:
        for name, value in headers.items():
            if not HEADER_NAME.fullmatch(name):
                raise ValueError(f'{name!r} is not a header name')
            if name.lower() in FRAMING:  # the front end frames the body it sends
                continue
            response.headers[name] = value if isinstance(value, str) else compact_json(value)
        for cookie in cookies:
            response.headers.add('Set-Cookie', str(cookie))
    except ValueError as error:  # a header must not become two, or end the headers
        raise MalformedResponse(str(error)) from None
    if 'Content-Type' not in response.headers:
        response.headers['Content-Type'] = 'application/json'
    return response


def http_status(value):
    """statusCode as a number or a string of digits ("418", as recorded), 100-599."""
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if type(value) is not int or not 100 <= value <= 599:
        raise MalformedResponse(f'statusCode {value!r} is not an HTTP status')
    return value


def compact_json(value):
    return json.dumps(value, separators=(',', ':'), ensure_ascii=False)


def json_response(status, document):
    return Response(json.dumps(document), status=status, content_type='application/json')
