"""What a function's runtime writes, as the CloudWatch events Lambda makes of it.

awslambdaric (AWS's runtime client) writes its log records (the logging module's, an error's
"[ERROR] Type: message" record with its traceback) as frames to the descriptor named by
_LAMBDA_TELEMETRY_LOG_FD, one CloudWatch event each, as it does on Lambda; print's output is
lines, one event each with its newline, an empty line none (test_lambda_runtimes.snapshot.json,
test_multi_line_prints; test_lambda.snapshot.json, test_invocation_type_event_error). Here both
go to the same pipe, in order: a frame starts with 0xa55a00XX.
"""

TELEMETRY_FD = '1'  # the runtime's stdout: frames and lines in one pipe, in their order
FRAME_MAGIC = b'\xa5\x5a\x00'
FRAME_HEADER_BYTES = 16  # type (4), length (4), timestamp (8)
MAX_EVENT_BYTES = 256 * 1024  # CloudWatch's event size: a longer line is cut there


class LogEvents:
    """The runtime's output as CloudWatch events: a frame is one event as written; a line of
    text is one event with its newline, an empty line none (as Lambda files print's output)."""

    def __init__(self):
        self.buffer = b''
        self.events = []

    def feed(self, data):
        """File what the pipe gave; what is not a whole line or frame yet waits for more."""
        buffer, position = self.buffer + data, 0
        while position < len(buffer):
            if buffer.startswith(FRAME_MAGIC, position):
                end = _frame_end(buffer, position)
                if end is None:
                    break
                message = buffer[position + FRAME_HEADER_BYTES:end][:MAX_EVENT_BYTES]
                self.events.append(message.decode(errors='replace'))
                position = end
                continue
            newline = buffer.find(b'\n', position)
            frame = buffer.find(FRAME_MAGIC, position,
                                len(buffer) if newline == -1 else newline)
            end = frame if frame != -1 else newline if newline != -1 else None
            if end is None or end - position > MAX_EVENT_BYTES:
                if len(buffer) - position < MAX_EVENT_BYTES:
                    break  # the line goes on in the next read
                end = resume = position + MAX_EVENT_BYTES
            else:  # a newline ends the line; a frame ends text left unfinished before it
                resume = end + 1 if buffer[end:end + 1] == b'\n' else end
            self._add_line(buffer[position:end])
            position = resume
        self.buffer = buffer[position:]

    def flush(self):
        """At the end of an invocation or of the output: unfinished text is an event too, and
        so is an unfinished frame. The runtime writes a frame whole before it answers, so one
        unfinished then is output that only looks like a frame (it would swallow the rest)."""
        lines, self.buffer = self.buffer.split(b'\n'), b''
        for line in lines:
            self._add_line(line)

    def take(self):
        events, self.events = self.events, []
        return events

    def _add_line(self, line):
        if line:
            self.events.append(line.decode(errors='replace') + '\n')


def _frame_end(buffer, start):
    """Where the frame that starts there ends; None while it is not all there."""
    if len(buffer) - start < FRAME_HEADER_BYTES:
        return None
    end = start + FRAME_HEADER_BYTES + int.from_bytes(buffer[start + 4:start + 8], 'big')
    return end if len(buffer) >= end else None
