"""A function URL's CORS settings (`create-function-url-config --cors`), applied as Lambda
applies them: Lambda answers a preflight itself from the settings, without running the
function, and adds the settings' headers to every response to an allowed origin (the
function's own CORS headers are kept too, as Lambda keeps them). A URL without settings gets
no CORS header from the endpoint; its preflights reach the function, as on Lambda.
"""
from werkzeug.wrappers import Response


def settings(url_config):
    """The function URL's Cors settings (moto's FunctionUrlConfig); None when it has none."""
    return url_config.config.get('Cors') or None


def is_preflight(request):
    return request.method == 'OPTIONS' and 'Access-Control-Request-Method' in request.headers


def preflight(cors, request):
    """Lambda's answer to a preflight: 200, with the settings' headers if they allow it."""
    response = Response(status=200)
    response.headers.remove('Content-Type')
    method = request.headers['Access-Control-Request-Method']
    requested = [name.strip() for name in
                 request.headers.get('Access-Control-Request-Headers', '').split(',')
                 if name.strip()]
    allowed_headers = {name.lower() for name in cors.get('AllowHeaders') or []}
    if (not _origin_allowed(cors, request) or not _listed(cors.get('AllowMethods'), method)
            or not all('*' in allowed_headers or name.lower() in allowed_headers
                       for name in requested)):
        return response
    _add_origin(cors, request, response)
    response.headers['Access-Control-Allow-Methods'] = (
        method if '*' in (cors.get('AllowMethods') or []) else ', '.join(cors['AllowMethods']))
    if requested:
        response.headers['Access-Control-Allow-Headers'] = ', '.join(requested)
    if cors.get('MaxAge'):
        response.headers['Access-Control-Max-Age'] = str(cors['MaxAge'])
    return response


def add_headers(cors, request, response):
    """The settings' headers on the function's response, when they allow the origin."""
    if cors and _origin_allowed(cors, request):
        _add_origin(cors, request, response)
        if cors.get('ExposeHeaders'):
            response.headers['Access-Control-Expose-Headers'] = ', '.join(cors['ExposeHeaders'])
    return response


def _origin_allowed(cors, request):
    return bool(request.origin) and _listed(cors.get('AllowOrigins'), request.origin)


def _listed(allowed, value):
    return bool(allowed) and ('*' in allowed or value in allowed)


def _add_origin(cors, request, response):
    credentials = bool(cors.get('AllowCredentials'))
    wildcard = '*' in cors['AllowOrigins'] and not credentials
    response.headers['Access-Control-Allow-Origin'] = '*' if wildcard else request.origin
    if credentials:
        response.headers['Access-Control-Allow-Credentials'] = 'true'
    response.headers.add('Vary', 'Origin')
