"""Invoke's answer to a payload that is not UTF-8, as Lambda's parser words it (LocalStack's
recordings of AWS: test_lambda.snapshot.json,
TestLambdaErrors::test_lambda_invoke_payload_encoding_error)."""
import unittest

from local_endpoint import payload_encoding
from local_endpoint.lambda_service import InvalidPayload

LOCATION = ('\n at [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled); '
            'line: {}, column: {}]')
CONTROL = ("Unexpected character ((CTRL-CHAR, code {})): expected a valid value (JSON String, "
           "Number, Array, Object or token 'null', 'true' or 'false')")


class PayloadEncodingTest(unittest.TestCase):

    def problem(self, payload):
        with self.assertRaises(InvalidPayload) as caught:
            payload_encoding.check(payload)
        message = str(caught.exception)
        self.assertTrue(message.startswith(payload_encoding.PREFIX), message)
        return message[len(payload_encoding.PREFIX):]

    def test_the_recorded_payloads(self):
        self.assertEqual(self.problem(b'n\x87r\x9e\xe9\xb5\xd7I\xee\x9bmt'),
                         'Invalid UTF-8 start byte 0x87' + LOCATION.format(1, 3))
        self.assertEqual(self.problem(b'\x99\xeb,j\x07\xa1zYh'),
                         CONTROL.format(153) + LOCATION.format(1, 1))

    def test_where_a_value_starts_a_control_byte_is_unexpected(self):
        self.assertEqual(self.problem(b'{"a":\n  \x85}'),
                         CONTROL.format(133) + LOCATION.format(2, 3))
        self.assertEqual(self.problem(b'[1, \x80]'), CONTROL.format(128) + LOCATION.format(1, 5))

    def test_inside_a_string_the_byte_is_decoded(self):
        self.assertEqual(self.problem(b'{"a": "x\x85"}'),
                         'Invalid UTF-8 start byte 0x85' + LOCATION.format(1, 10))
        self.assertEqual(self.problem(b'["[", "\x99"]'),
                         'Invalid UTF-8 start byte 0x99' + LOCATION.format(1, 9))

    def test_utf_8_and_other_problems_are_left_to_the_json_check(self):
        for payload in (b'{"a": "\xc3\xa9"}', b'{"a": 1', b'{"a": "\xe9\xb5"}'):
            with self.subTest(payload=payload):
                self.assertIsNone(payload_encoding.check(payload))
