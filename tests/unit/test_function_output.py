"""The runtime's output as CloudWatch events: lines and awslambdaric's frames, as Lambda files
them (test_lambda_runtimes.snapshot.json, test_multi_line_prints; test_lambda.snapshot.json,
test_invocation_type_event_error)."""
import time
import unittest

from local_endpoint.function_output import MAX_EVENT_BYTES, LogEvents


def frame(message):
    """A record as awslambdaric's FramedTelemetryLogSink writes it."""
    data = message.encode()
    return (0xA55A0003.to_bytes(4, 'big') + len(data).to_bytes(4, 'big')
            + int(time.time() * 1e6).to_bytes(8, 'big') + data)


class LogEventsTest(unittest.TestCase):
    def events(self, *chunks):
        output = LogEvents()
        for chunk in chunks:
            output.feed(chunk)
        output.flush()
        return output.take()

    def test_lines_keep_their_newline_and_empty_lines_are_dropped(self):
        self.assertEqual(self.events(b'\nmulti\nline\n', b'string\nanother\rline\n\n'),
                         ['multi\n', 'line\n', 'string\n', 'another\rline\n'])

    def test_a_frame_is_one_event_as_written_even_split_across_reads(self):
        record = ('[ERROR] CustomException: some error occurred\nTraceback (most recent call '
                  'last):\n\u00a0\u00a0File "/var/task/handler.py", line 6, in handler')
        data = b'before\n' + frame(record) + b'after\n'
        self.assertEqual(self.events(data[:10], data[10:30], data[30:]),
                         ['before\n', record, 'after\n'])

    def test_unfinished_text_before_a_frame_is_an_event(self):
        self.assertEqual(self.events(b'no newline' + frame('[INFO]\tx\n')),
                         ['no newline\n', '[INFO]\tx\n'])

    def test_what_only_looks_like_a_frame_is_output_at_the_flush(self):
        output = LogEvents()
        output.feed(b'\xa5\x5a\x00\x03' + (2 ** 31).to_bytes(4, 'big') + b'\0' * 8 + b'x\n')
        output.flush()
        self.assertEqual(len(output.take()), 1)
        output.feed(b'next\n')
        self.assertEqual(output.take(), ['next\n'])

    def test_a_line_longer_than_an_event_is_cut(self):
        events = self.events(b'x' * (MAX_EVENT_BYTES + 10) + b'\n')
        self.assertEqual([len(event) for event in events], [MAX_EVENT_BYTES + 1, 11])
