"""Where get-function and get-layer-version say the code can be downloaded: here.

Lambda answers `Code.Location` (and a layer version's `Content.Location`) with a presigned
URL, valid for 10 minutes, to the zip it stores. moto answers an address on AWS's own S3
(`https://awslambda-<region>-tasks.s3...amazonaws.com/...`), which a tool following it would
send to real AWS, and `s3://` for layers. Here the URL is this endpoint's, and like AWS's it
is a capability: the function (or layer) and version it names, and until when, signed with a
key this process draws at start, so it needs no Authorization header and cannot be forged or
stretched. A web page can make a browser request it, but cannot read the answer (no CORS).
"""
import base64
import hashlib
import hmac
import json
import os
import time

from moto.awslambda.exceptions import LambdaClientError
from moto.awslambda.models import LambdaFunction, LayerVersion, lambda_backends
from werkzeug.wrappers import Response

from local_endpoint.s3_errors import S3Error

PREFIX = '/_lambda-code/'  # no bucket name starts with _: S3's paths are never this
VALID_SECONDS = 600
_KEY = os.urandom(32)


def install(endpoint_url):
    """Code.Location and Content.Location point at `endpoint_url`."""
    original_code = LambdaFunction.get_code
    original_layer = LayerVersion.get_layer_version
    if getattr(original_code, '_local_download', False):
        original_code, original_layer = original_code._original, original_layer._original

    def get_code(function):
        answer = original_code(function)
        if 'Location' in answer.get('Code', {}):
            answer['Code']['Location'] = location(endpoint_url, {
                'kind': 'function', 'account': function.account_id,
                'region': function.region, 'name': function.function_name,
                'version': str(function.version)})
        return answer

    def get_layer_version(layer_version):
        answer = original_layer(layer_version)
        answer['Content']['Location'] = location(endpoint_url, {
            'kind': 'layer', 'account': layer_version.account_id,
            'region': layer_version.region, 'name': layer_version.name,
            'version': str(layer_version.version)})
        return answer

    for patched, original in ((get_code, original_code), (get_layer_version, original_layer)):
        patched._local_download, patched._original = True, original
    LambdaFunction.get_code = get_code
    LayerVersion.get_layer_version = get_layer_version


def location(endpoint_url, names, now=None):
    document = dict(names, expires=int((now or time.time()) + VALID_SECONDS))
    payload = base64.urlsafe_b64encode(json.dumps(document, sort_keys=True).encode()).decode()
    return f'{endpoint_url}{PREFIX}{payload}.{_signature(payload)}'


def _signature(payload):
    return hmac.new(_KEY, payload.encode(), hashlib.sha256).hexdigest()


def handles(path):
    return path.startswith(PREFIX)


def download(path, now=None):
    """The zip a Location names, or S3's refusal of a presigned URL that is not valid."""
    payload, _, signature = path[len(PREFIX):].partition('.')
    if not hmac.compare_digest(signature, _signature(payload)):
        raise S3Error(403, 'SignatureDoesNotMatch', 'The request signature we calculated does '
                                                    'not match the signature you provided.')
    names = json.loads(base64.urlsafe_b64decode(payload))
    if (now or time.time()) > names['expires']:
        raise S3Error(403, 'AccessDenied', 'Request has expired')
    backend = lambda_backends[names['account']][names['region']]
    try:
        if names['kind'] == 'layer':
            code = backend.get_layer_version(names['name'], names['version']).code_bytes
        else:
            version = None if names['version'] == '$LATEST' else names['version']
            code = backend.get_function(names['name'], version).code_bytes
    except LambdaClientError as error:  # deleted since: gone, as its zip would be on AWS
        raise S3Error(404, 'NoSuchKey', 'The specified key does not exist.') from error
    return Response(code, content_type='application/zip')
