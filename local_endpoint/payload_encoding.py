"""Invoke's answer to a payload that is not UTF-8, in the words of Lambda's parser (Jackson).

The common case is AWS CLI v2's: `--payload '{"a": 1}'` without
`--cli-binary-format raw-in-base64-out` sends the base64 decoding of the text, bytes that are not
UTF-8. Python's JSON parser decodes the whole payload first and names the first bad byte where
it starts; Jackson reads byte by byte, so what it says depends on where the byte is (LocalStack's
recordings of AWS, test_lambda.snapshot.json,
TestLambdaErrors::test_lambda_invoke_payload_encoding_error):
- where a value starts (the payload's start, after `[`, `,` or `:`), a byte 0x80-0x9F is read
  as a control character: "Unexpected character ((CTRL-CHAR, code 153)): expected a valid value
  (JSON String, Number, Array, Object or token 'null', 'true' or 'false')", at its own column;
- elsewhere (inside a token or a string) it is decoded: "Invalid UTF-8 start byte 0x87", at the
  column after it.
Any other problem is named by local_endpoint.lambda_service.check_json_payload.
"""
import re

from local_endpoint.lambda_service import JSON_LOCATION, InvalidPayload

PREFIX = 'Could not parse request body into json: Could not parse payload into json: '
C1_CONTROLS = range(0x80, 0xA0)
VALUE_STARTS = (b'', b'[', b',', b':')
ESCAPED = re.compile(rb'\\.', re.DOTALL)


def check(payload):
    """Raise InvalidPayload with Jackson's words for the first byte that is not UTF-8 where it
    is one of the cases above; return otherwise."""
    try:
        payload.decode('utf-8')
        return
    except UnicodeDecodeError as error:
        index, reason = error.start, error.reason
    byte = payload[index]
    line_start = payload.rfind(b'\n', 0, index) + 1
    line = payload.count(b'\n', 0, index) + 1
    column = index - line_start + 1
    if byte in C1_CONTROLS and _value_starts_at(payload[:index]):
        raise InvalidPayload(
            PREFIX + f"Unexpected character ((CTRL-CHAR, code {byte})): expected a valid value "
                     f"(JSON String, Number, Array, Object or token 'null', 'true' or 'false')"
            + JSON_LOCATION.format(line=line, column=column))
    if reason == 'invalid start byte':
        raise InvalidPayload(PREFIX + f'Invalid UTF-8 start byte 0x{byte:02x}'
                             + JSON_LOCATION.format(line=line, column=column + 1))


def _value_starts_at(prefix):
    """Whether a JSON value starts after `prefix` (valid UTF-8): outside any string, after
    nothing, `[`, `,` or `:`."""
    quotes = ESCAPED.sub(b'', prefix).count(b'"')
    return quotes % 2 == 0 and prefix.rstrip()[-1:] in VALUE_STARTS
