"""Lambda's error answers, in the body AWS sends.

AWS answers a Lambda API error with its type in x-amzn-ErrorType and a body of
{"Type": "User", "Message": ...} or {"Type": "User", "message": ...}: the case of the message
key is the error shape's in Lambda's service model (ResourceNotFoundException has "Message",
InvalidParameterValueException "message"), and an SDK reads only the member its model names.
moto answers every Lambda error as {"__type": ..., "message": ...}, so a ResourceNotFoundException
reached boto3 without its Message and Type members (LocalStack's recordings of AWS,
test_lambda_api.snapshot.json: every not_found_exception). A type the model does not declare
has a bare message: {"message": ...} for ValidationException, from the request validation in
front of Lambda, and {"Message": ...} for RequestEntityTooLargeException, from the front end that
refuses an oversized request before Lambda sees it.
"""
import json
from functools import lru_cache

import botocore.session
from moto.awslambda import exceptions as moto_lambda_exceptions
from werkzeug.wrappers import Response

# Errors of the front end before Lambda, outside Lambda's model, with their recorded body.
FRONT_END_KEYS = {'ValidationException': 'message', 'RequestEntityTooLargeException': 'Message'}


@lru_cache(maxsize=None)
def _members():
    """{error type: its members} from botocore's model of Lambda."""
    model = botocore.session.get_session().get_service_model('lambda')
    return {shape.name: set(shape.members) for shape in model.error_shapes}


def document(error_type, message):
    """The body AWS answers for an error of this type: Type is "User" but for Lambda's own
    failure (ServiceException)."""
    members = _members().get(error_type)
    if error_type in FRONT_END_KEYS:
        return {FRONT_END_KEYS[error_type]: message}
    if members is None:  # neither the model nor a recording shows it: both, as SDKs read either
        return {'Type': 'User', 'Message': message, 'message': message}
    key = 'Message' if 'Message' in members else 'message'
    return {'Type': 'Service' if error_type == 'ServiceException' else 'User', key: message}


def response(status, error_type, message, **members):
    """A Lambda error answer as a werkzeug Response; members are the error's other fields
    (TooManyRequestsException's Reason)."""
    return Response(json.dumps({**document(error_type, message), **members}),
                    status=status,
                    headers={'x-amzn-ErrorType': error_type}, content_type='application/json')


def install():
    """Once per process: moto's Lambda errors answer in AWS's body (moto answers an error's
    `description`)."""
    for error_class in (moto_lambda_exceptions.LambdaClientError,
                        moto_lambda_exceptions.PreconditionFailedException):
        if not getattr(error_class.__init__, 'aws_body', False):
            error_class.__init__ = _with_aws_body(error_class.__init__)


def _with_aws_body(original_init):
    def __init__(error, *args, **kwargs):
        original_init(error, *args, **kwargs)
        error.description = json.dumps(document(error.error_type, error.message))

    __init__.aws_body = True
    return __init__
