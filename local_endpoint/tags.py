"""tag-resource, untag-resource and list-tags refuse what Lambda refuses.

moto reads any Resource as a function name (`arn:aws:something` is "Function not found:
...:function:arn:aws:something"), tags a version or alias ARN as a missing function, accepts no
tags at all, and answers an untag without keys with an empty 404. Lambda's answers (LocalStack's
recordings of AWS, test_lambda_api.snapshot.json, TestLambdaTags::test_tag_exceptions,
test_tag_versions, TestLambdaTag::test_tag_exceptions[lambda_function]), in its order: a
Resource that is no Lambda ARN is ValidationException (the pattern as AWS printed it, November
2025); a qualified function ARN is InvalidParameterValueException "Tags on function aliases and
versions are not supported. ..."; no Tags is InvalidParameterValueException.
"""
import json
import re
from urllib.parse import unquote

from moto.awslambda.exceptions import InvalidParameterValueException
from moto.awslambda.responses import LambdaResponse

from local_endpoint import function_names

RESOURCE = (r'arn:(aws[a-zA-Z-]*):lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:'
            r'\d{12}:(function:[a-zA-Z0-9-_]+(:(\$LATEST|[a-zA-Z0-9-_]+))?|layer:([a-zA-Z0-9-_]+)'
            r'|code-signing-config:csc-[a-z0-9]{17}|event-source-mapping:[0-9a-fA-F]{8}-'
            r'[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|capacity-provider:'
            r'[a-zA-Z0-9-_]+)')
QUALIFIED = re.compile(r'.*:function:[^:]+:[^:]+')
TAGGED_VERSION = ('Tags on function aliases and versions are not supported. Please specify a '
                  'function ARN.')


def check_resource(resource):
    if not re.fullmatch(RESOURCE, resource):
        raise function_names.InvalidParameters([
            f"Value '{resource}' at 'resource' failed to satisfy constraint: Member must "
            f"satisfy regular expression pattern: {RESOURCE}"])
    if QUALIFIED.fullmatch(resource):
        raise InvalidParameterValueException(TAGGED_VERSION)


def resource_of(response):
    return unquote(response.path.split('/tags/', 1)[1])


def install():
    """Once per process: moto's three handlers check first."""
    if getattr(LambdaResponse.tag_resource, 'checks_tags', False):
        return
    tag, untag, listing = (LambdaResponse.tag_resource, LambdaResponse.untag_resource,
                           LambdaResponse.list_tags)

    def tag_resource(response):
        check_resource(resource_of(response))
        if not json.loads(response.body or '{}').get('Tags'):
            raise InvalidParameterValueException(
                'An error occurred and the request cannot be processed.')
        return tag(response)

    def untag_resource(response):
        check_resource(resource_of(response))
        return untag(response)

    def list_tags(response):
        check_resource(resource_of(response))
        return listing(response)

    tag_resource.checks_tags = True
    LambdaResponse.tag_resource, LambdaResponse.untag_resource = tag_resource, untag_resource
    LambdaResponse.list_tags = list_tags
