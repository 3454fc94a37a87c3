"""Lambda's checks of a deployment package, which moto does not make.

Lambda refuses a zip uploaded in the request (ZipFile) of 50 MB or more with 413
RequestEntityTooLargeException "Zipped size must be smaller than 52428800 bytes", first; then,
with InvalidParameterValueException (400), before storing anything:
- a zip it cannot unpack: "Could not unzip uploaded file. Please check your file, then try to
  upload again." Here that includes a zip the endpoint would refuse to unpack (an absolute or
  `..` path, a file written through a symlink: local_endpoint.unpack);
- code over 262144000 bytes unzipped: "Unzipped size must be smaller than 262144000 bytes"
  (create-function, update-function-code, publish-layer-version);
- a function and its layers over it together: "Function code combined with layers exceeds the
  maximum allowed size of 262144000 bytes. The actual size is N bytes." (also when
  update-function-configuration changes the layers).
Sizes are the ones the zips' central directories declare, as Lambda's are; the unpacker holds
the real bytes to them. Code from an S3 object that does not exist is refused as AWS refuses it
("Error occurred while GetObject. S3 Error Code: NoSuchKey. ...", test_lambda_api.snapshot.json,
test_lambda_code_location_s3_errors); moto stored a function without code.
"""
from moto.awslambda import models
from moto.awslambda.exceptions import InvalidParameterValueException, LambdaClientError
from moto.utilities.utils import get_partition

from local_endpoint.unpack import UNZIPPED_LIMIT, UnpackError, check

NOT_A_ZIP = 'Could not unzip uploaded file. Please check your file, then try to upload again.'
ZIPPED_LIMIT = 50 * 1024 * 1024
NO_SUCH_KEY = ('Error occurred while GetObject. S3 Error Code: NoSuchKey. S3 Error Message: The '
               'specified key does not exist.')


class ZippedTooLarge(LambdaClientError):
    code = 413

    def __init__(self):
        super().__init__('RequestEntityTooLargeException',
                         f'Zipped size must be smaller than {ZIPPED_LIMIT} bytes')


def install():
    """Check in moto's Lambda backend, before each call that stores code or layers."""
    backend = models.LambdaBackend
    if getattr(backend, '_code_limits', False):
        return
    backend._code_limits = True
    create, update_code = backend.create_function, backend.update_function_code
    update_configuration, publish = (backend.update_function_configuration,
                                     backend.publish_layer_version)

    def create_function(self, spec):
        check_uploaded(spec.get('Code', {}))
        check_function(zip_of(self, spec.get('Code', {})), layers_of(self, spec.get('Layers')))
        return create(self, spec)

    def update_function_code(self, function_name, qualifier, body):
        check_uploaded(body)
        function = self.get_function(function_name, qualifier)
        check_function(zip_of(self, body),
                       layers_of(self, [layer['Arn'] for layer in function.layers]))
        return update_code(self, function_name, qualifier, body)

    def update_function_configuration(self, function_name, qualifier, body):
        if body.get('Layers') is not None:
            function = self.get_function(function_name, qualifier)
            check_function(getattr(function, 'code_bytes', None) or None,
                           layers_of(self, body['Layers']))
        return update_configuration(self, function_name, qualifier, body)

    def publish_layer_version(self, spec):
        check_uploaded(spec.get('Content') or {})
        check_function(zip_of(self, spec.get('Content') or {}), [])
        return publish(self, spec)

    backend.create_function = create_function
    backend.update_function_code = update_function_code
    backend.update_function_configuration = update_function_configuration
    backend.publish_layer_version = publish_layer_version


def check_uploaded(code):
    """A zip uploaded in the request (ZipFile, base64 in the JSON) is at most 50 MB, checked
    first: 413 RequestEntityTooLargeException (test_lambda_api.snapshot.json,
    test_oversized_zipped_create_lambda). From S3 it may be larger."""
    if 'ZipFile' in code and base64_length(code['ZipFile']) >= ZIPPED_LIMIT:
        raise ZippedTooLarge()


def base64_length(encoded):
    """The length of the bytes base64 text decodes to, without decoding it."""
    text = encoded.strip()
    return len(text) * 3 // 4 - len(text) + len(text.rstrip('='))


def check_function(code, layers):
    """Refuse as Lambda does; `code` None is code moto does not hold (an image, or an S3
    object moto will report missing itself)."""
    if code is None:
        return
    size = unzipped_size(code)
    if size >= UNZIPPED_LIMIT:
        raise InvalidParameterValueException(
            f'Unzipped size must be smaller than {UNZIPPED_LIMIT} bytes')
    total = size + sum(unzipped_size(layer) for layer in layers)
    if total > UNZIPPED_LIMIT:
        raise InvalidParameterValueException(
            f'Function code combined with layers exceeds the maximum allowed size of '
            f'{UNZIPPED_LIMIT} bytes. The actual size is {total} bytes.')


def unzipped_size(zip_bytes):
    try:
        return check(zip_bytes)
    except UnpackError:
        raise InvalidParameterValueException(NOT_A_ZIP) from None


def zip_of(backend, code):
    """The zip a Code (or layer Content) parameter names, as moto will read it."""
    if 'ZipFile' in code:
        return models._zipfile_content(code['ZipFile'])[0]
    if 'S3Bucket' in code and 'S3Key' in code:
        key = models._validate_s3_bucket_and_key(  # refuses a missing bucket as Lambda does
            backend.account_id, partition=get_partition(backend.region_name), data=code)
        if key is None:  # moto would store the function with no code at all
            raise InvalidParameterValueException(NO_SUCH_KEY)
        return key.value
    return None


def layers_of(backend, arns):
    """The zips of the layer versions named; those moto does not know it reports itself."""
    versions = [backend.layers_versions_by_arn(arn) for arn in arns or []]
    return [version.code_bytes for version in versions if version is not None
            and version.code_bytes]
