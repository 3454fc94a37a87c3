"""Invoke's LogResult (X-Amz-Log-Type: Tail), as AWS answers it.

The last 4 KB of the invocation's log, each record ending in a newline, without the
environment's INIT_START (test_lambda.snapshot.json, TestLambdaFeatures::
test_invocation_with_logs, logs: a cold start's tail has Init Duration in its REPORT but no
INIT_START line).
"""
import base64

TAIL_BYTES = 4096


def tail(records):
    """The header's value for the invocation's log records (with or without their newline)."""
    kept = [record if record.endswith('\n') else record + '\n' for record in records
            if not record.startswith('INIT_START ')]
    return base64.b64encode(''.join(kept).encode()[-TAIL_BYTES:]).decode()
