"""A zip uploaded in the request is held to Lambda's 50 MB, before anything else is checked
(LocalStack's recordings of AWS: test_lambda_api.snapshot.json,
TestLambdaSizeLimits::test_oversized_zipped_create_lambda, invalid_param_exc)."""
import base64
import unittest

from local_endpoint import code_limits
from tests.unit.test_unpack import MotoLambda

ROLE = 'arn:aws:iam::123456789012:role/test'


class ZippedSizeTest(MotoLambda, unittest.TestCase):
    def create(self, code):
        with self.assertRaises(self.lambdas.exceptions.ClientError) as caught:
            self.lambdas.create_function(FunctionName='Big', Runtime='python3.12', Role=ROLE,
                                         Handler='handler.handler', Code={'ZipFile': code})
        answer = caught.exception.response
        return answer['ResponseMetadata']['HTTPStatusCode'], answer['Error']

    def test_50_mb_uploaded_is_too_large_whatever_it_holds(self):
        self.assertEqual(self.create(bytes(code_limits.ZIPPED_LIMIT)), (413, {
            'Code': 'RequestEntityTooLargeException',
            'Message': 'Zipped size must be smaller than 52428800 bytes'}))

    def test_a_byte_less_is_read_as_a_zip(self):
        status, error = self.create(bytes(code_limits.ZIPPED_LIMIT - 1))
        self.assertEqual((status, error['Code']), (400, 'InvalidParameterValueException'))

    def test_the_size_is_read_from_the_base64_text(self):
        for size in range(7):
            self.assertEqual(code_limits.base64_length(base64.b64encode(bytes(size)).decode()),
                             size)
