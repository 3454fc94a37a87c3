"""The Lambda API answers JSON as JSON: Content-Type application/json, as AWS's answers say.

moto leaves its Lambda answers to werkzeug's default, text/html; charset=utf-8, which a client
reading the type (or a browser) takes for a page.
"""
from moto.awslambda.responses import LambdaResponse

JSON = 'application/json'


def install():
    """Once per process: every Lambda answer moto builds carries the JSON type."""
    if getattr(LambdaResponse.setup_class, 'json_content', False):
        return
    original = LambdaResponse.setup_class

    def setup_class(response, *arguments, **keywords):
        answer = original(response, *arguments, **keywords)
        response.response_headers['Content-Type'] = JSON
        return answer

    setup_class.json_content = True
    LambdaResponse.setup_class = setup_class
