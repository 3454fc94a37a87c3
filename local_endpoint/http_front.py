"""Function URLs, served: each request becomes a payload 2.0 event, each result a response.

moto stores function URL configurations but serves nothing; here every URL it creates is
``http://127.0.0.1:<port>/lambda-url/<id>/``, stable for the endpoint's life, and requests to
it run the function as Lambda's front end does.
"""
import base64
import json
import time
import uuid
from datetime import datetime, timezone
from urllib.parse import parse_qsl

from moto.awslambda import models as lambda_models
from werkzeug.wrappers import Response

from local_endpoint.lambda_service import FunctionNotFound, Throttled

PREFIX = '/lambda-url/'
TEXT_TYPES = ('text/', 'application/json', 'application/xml', 'application/javascript',
              'application/x-www-form-urlencoded')


class FunctionUrls:
    def __init__(self, endpoint_url, lambdas):
        self.endpoint_url = endpoint_url
        self.lambdas = lambdas
        self.index = {}  # url id -> (account, region, function name)
        original = lambda_models.FunctionUrlConfig.__init__
        urls = self

        def local_url(url_config, function, config):  # moto passes function=, config=
            original(url_config, function, config)
            url_id = url_config.url.split('//', 1)[1].split('.', 1)[0]
            url_config.url = f'{urls.endpoint_url}{PREFIX}{url_id}/'
            urls.index[url_id] = (function.account_id, function.region, function.function_name)

        lambda_models.FunctionUrlConfig.__init__ = local_url

    def handles(self, path):
        return path.startswith(PREFIX)

    def __call__(self, request):
        url_id, _, rest = request.path[len(PREFIX):].partition('/')
        if url_id not in self.index:
            return json_response(404, {'Message': 'Not Found'})
        account, region, name = self.index[url_id]
        if not rest and not request.path.endswith('/'):
            # Relative links on the page resolve against the URL's root only with the slash.
            return Response(status=308, headers={'Location': f'{PREFIX}{url_id}/'})
        try:
            spec, reserved = self.lambdas.spec(account, region, name)
        except FunctionNotFound:
            return json_response(404, {'Message': 'Not Found'})
        event = payload_v2(request, url_id, '/' + rest, account)
        try:
            _, outcome = self.lambdas.invoke(spec, reserved, json.dumps(event).encode())
        except Throttled:
            return json_response(429, {'Message': 'Too Many Requests'})
        if not outcome.ok:
            return json_response(502, {'Message': 'Internal Server Error'})
        return response_from(outcome.payload)


def payload_v2(request, url_id, path, account):
    """The event Lambda builds for a function URL (payload format 2.0)."""
    now = datetime.now(timezone.utc)
    headers = {}
    for name, value in request.headers.items():
        name = name.lower()
        headers[name] = f'{headers[name]},{value}' if name in headers else value
    query = {}
    for name, value in parse_qsl(request.query_string.decode(), keep_blank_values=True):
        query[name] = f'{query[name]},{value}' if name in query else value
    body = request.get_data()
    content_type = request.headers.get('Content-Type', '')
    textual = not body or content_type.startswith(TEXT_TYPES)
    event = {
        'version': '2.0', 'routeKey': '$default', 'rawPath': path,
        'rawQueryString': request.query_string.decode(), 'headers': headers,
        'requestContext': {
            'accountId': 'anonymous', 'apiId': url_id,
            'domainName': request.host, 'domainPrefix': url_id,
            'http': {'method': request.method, 'path': path, 'protocol': 'HTTP/1.1',
                     'sourceIp': request.remote_addr or '127.0.0.1',
                     'userAgent': request.headers.get('User-Agent', '')},
            'requestId': str(uuid.uuid4()), 'routeKey': '$default', 'stage': '$default',
            'time': now.strftime('%d/%b/%Y:%H:%M:%S +0000'),
            'timeEpoch': int(time.time() * 1000)},
        'isBase64Encoded': not textual,
    }
    if query:
        event['queryStringParameters'] = query
    if request.cookies:
        event['cookies'] = [f'{name}={value}' for name, value in request.cookies.items(multi=True)]
    if body:
        event['body'] = body.decode() if textual else base64.b64encode(body).decode()
    return event


def response_from(payload):
    """Lambda's mapping: a dict with statusCode is a response; anything else is JSON."""
    try:
        result = json.loads(payload or b'null')
    except ValueError:
        result = None
    if not isinstance(result, dict) or 'statusCode' not in result:
        return Response(payload, status=200, content_type='application/json')
    body = result.get('body', '')
    if result.get('isBase64Encoded'):
        body = base64.b64decode(body)
    response = Response(body, status=int(result['statusCode']))
    response.headers.remove('Content-Type')
    for name, value in (result.get('headers') or {}).items():
        response.headers[name] = str(value)
    for cookie in result.get('cookies') or []:
        response.headers.add('Set-Cookie', cookie)
    if 'Content-Type' not in response.headers:
        response.headers['Content-Type'] = 'application/json'
    return response


def json_response(status, document):
    return Response(json.dumps(document), status=status, content_type='application/json')
