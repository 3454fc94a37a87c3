"""get-layer-version and delete-layer-version answer as Lambda does.

moto names a missing layer or version "Cannot find layer", takes version 0 or -1 as one that
may exist, and answers a deletion 200 with {}. Lambda (LocalStack's recordings of AWS,
test_lambda_api.snapshot.json, TestLambdaLayer::test_layer_exceptions): a version under 1 is
400 InvalidParameterValueException "Layer Version Cannot be less than 1"; a missing layer or
version is 404 "The resource you requested does not exist."; deleting one that does not exist
succeeds, 204 as every deletion (delete_nonexistent_response, delete_nonexistent_version_response).
"""
import json
from urllib.parse import unquote

from moto.awslambda.exceptions import (GenericResourcNotFound, InvalidParameterValueException,
                                       UnknownLayerException)
from moto.awslambda.responses import LambdaResponse


def version_of(response):
    """(layer name, version number) from the call's path, or Lambda's refusal of the number."""
    parts = response.path.split('?')[0].rstrip('/').split('/')
    try:
        number = int(parts[-1])
    except ValueError:
        raise GenericResourcNotFound() from None
    if number < 1:
        raise InvalidParameterValueException('Layer Version Cannot be less than 1')
    return unquote(parts[-3]), number


def get_layer_version(response):
    name, number = version_of(response)
    try:
        layer_version = response.backend.get_layer_version(name, str(number))
    except UnknownLayerException:
        raise GenericResourcNotFound() from None
    return 200, {}, json.dumps(layer_version.get_layer_version())


def delete_layer_version(response):
    name, number = version_of(response)
    try:
        response.backend.delete_layer_version(name, str(number))
    except UnknownLayerException:
        pass  # already gone: Lambda answers the same
    return 204, {'status': 204}, ''


def install():
    LambdaResponse.get_layer_version = get_layer_version
    LambdaResponse.delete_layer_version = delete_layer_version
