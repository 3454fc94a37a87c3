"""What every request passes before anything answers it. The endpoint runs on the developer's
machine, and any web page open in their browser can send it requests.

- Host: a page can point its own DNS name at 127.0.0.1 (DNS rebinding) and so become
  same-origin with the endpoint, free to read answers and set any header; its requests still
  name the page's host. Only the endpoint's own addresses are answered.
- Control planes (`/moto-api/`, which can switch IAM off or wipe every resource, and
  `/_local/`, which injects faults) need a SigV4 Authorization header by the local admin key.
  The key is no secret (test/test): what matters is the header, which a page cannot send to
  another origin without a CORS preflight, and the endpoint refuses those. The read-only
  `/_local/health` stays open: make up polls it.
- Writes from a page of another origin: the local key is no secret either, and a signature in a
  form or a query string needs no header, so a page can send a signed upload or a `?delete`
  with no preflight. A state-changing request without an Authorization header whose Origin is
  not the endpoint's own is taken only where a bucket's CORS rules allow that origin (function
  URLs, public by design, answer before this). curl, awscli and boto3 send no Origin.
- An Authorization header moto cannot take apart makes its dispatcher fail with a 500; such a
  header gets S3's 400 instead.
"""
import json
import re
from urllib.parse import urlsplit

from botocore.credentials import Credentials
from werkzeug.wrappers import Response

from local_endpoint import iam, sigv4
from local_endpoint.s3_errors import S3Error

LOOPBACK_NAMES = ('127.0.0.1', 'localhost', '[::1]')
HEALTH_PATH = '/_local/health'
SAFE_METHODS = ('GET', 'HEAD', 'OPTIONS')
CONTROL_PREFIXES = ('/moto-api', '/_local')  # moto serves every path starting /moto-api
MAX_CONTROL_BODY_BYTES = 1024 * 1024
SIGV2_HEADER = re.compile(r'^AWS \S+:\S+$')
HOW_TO_SIGN = ("sign it with the local key: botocore's SigV4Auth with test/test, or "
               "curl --aws-sigv4 'aws:amz:us-east-1:s3' --user test:test")


def refusal(environ, endpoint_url):
    """The answer to a request the endpoint at `endpoint_url` does not serve, or None."""
    port = urlsplit(endpoint_url).port
    host = environ.get('HTTP_HOST', '')
    if host.lower() not in {f'{name}:{port}' for name in LOOPBACK_NAMES}:
        return Response(f'{host or "(no Host header)"} is not this endpoint: it answers at '
                        f'http://127.0.0.1:{port} (or localhost:{port}, [::1]:{port}) only.\n',
                        status=400, content_type='text/plain; charset=utf-8')
    path = environ.get('PATH_INFO', '')
    if path.startswith(CONTROL_PREFIXES) and path != HEALTH_PATH:
        return control_plane_refusal(environ)
    return None


def foreign_write(environ, endpoint_url):
    """Whether a page of another origin sent this state-changing request without a header
    signature (browsers add Origin to every cross-origin request but GET and HEAD)."""
    if environ.get('REQUEST_METHOD') in SAFE_METHODS or 'HTTP_AUTHORIZATION' in environ:
        return False
    origin = environ.get('HTTP_ORIGIN')
    if origin is None:
        return environ.get('HTTP_SEC_FETCH_SITE') in ('cross-site', 'same-site')
    port = urlsplit(endpoint_url).port
    return origin.lower() not in {f'http://{name}:{port}' for name in LOOPBACK_NAMES}


def control_plane_refusal(environ):
    """None when the request is signed by the local admin key; otherwise why not, as JSON."""
    try:
        authorization = sigv4.authorization_of(environ)
    except sigv4.Malformed as error:
        return _forbidden(f'{error} The control plane needs a SigV4 signature: {HOW_TO_SIGN}.')
    if authorization is None:
        return _forbidden(f'{environ.get("PATH_INFO")} is the local endpoint\'s control plane: '
                          f'{HOW_TO_SIGN}.')
    if authorization.access_key != iam.ADMIN_ACCESS_KEY:
        return _forbidden(f'The control plane takes the local admin key '
                          f'{iam.ADMIN_ACCESS_KEY} only, not {authorization.access_key}.')
    try:
        body = sigv4.read_body(environ, MAX_CONTROL_BODY_BYTES)
    except sigv4.BodyTooLarge:
        return Response(json.dumps({'message': f'A control-plane request takes at most '
                                               f'{MAX_CONTROL_BODY_BYTES} bytes.'}),
                        status=413, content_type='application/json')
    admin = Credentials(iam.ADMIN_ACCESS_KEY, iam.ADMIN_SECRET_KEY)
    if not sigv4.matches(environ, body, authorization, admin):
        return _forbidden('The request signature we calculated does not match the signature '
                          f'you provided: {HOW_TO_SIGN}.')
    return None


def check_authorization_header(environ):
    """Raise S3's error for an Authorization header that is neither SigV4 nor SigV2."""
    header = environ.get('HTTP_AUTHORIZATION')
    if header is None or SIGV2_HEADER.match(header):
        return
    try:
        sigv4.Authorization(header)
    except sigv4.Malformed as error:
        if header.startswith(sigv4.SCHEME):
            raise S3Error(400, 'AuthorizationHeaderMalformed', str(error)) from None
        raise S3Error(400, 'InvalidArgument', str(error), ArgumentName='Authorization',
                      ArgumentValue=header) from None


def _forbidden(message):
    return Response(json.dumps({'message': message}), status=403,
                    content_type='application/json')
