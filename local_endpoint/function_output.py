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
        self.buffer += data
        while self.buffer:
            if self.buffer.startswith(FRAME_MAGIC):
                if not self._take_frame():
                    return
                continue
            newline = self.buffer.find(b'\n')
            frame = self.buffer.find(FRAME_MAGIC)
            if frame != -1 and (newline == -1 or frame < newline):
                self._take_text(frame, frame)  # text left unfinished before a frame
            elif newline != -1:
                self._take_text(newline, newline + 1)
            elif len(self.buffer) >= MAX_EVENT_BYTES:
                self._take_text(MAX_EVENT_BYTES, MAX_EVENT_BYTES)
            else:
                return

    def flush(self):
        """At the end of an invocation or of the output: unfinished text is an event too, and
        so is an unfinished frame. The runtime writes a frame whole before it answers, so one
        unfinished then is output that only looks like a frame (it would swallow the rest)."""
        lines, self.buffer = self.buffer.split(b'\n'), b''
        self.events += [line.decode(errors='replace') + '\n' for line in lines if line]

    def take(self):
        events, self.events = self.events, []
        return events

    def _take_frame(self):
        if len(self.buffer) < FRAME_HEADER_BYTES:
            return False
        length = int.from_bytes(self.buffer[4:8], 'big')
        end = FRAME_HEADER_BYTES + length
        if len(self.buffer) < end:
            return False
        message = self.buffer[FRAME_HEADER_BYTES:end]
        self.buffer = self.buffer[end:]
        self.events.append(message[:MAX_EVENT_BYTES].decode(errors='replace'))
        return True

    def _take_text(self, stop, resume):
        line, self.buffer = self.buffer[:stop], self.buffer[resume:]
        if line:
            self.events.append(line.decode(errors='replace') + '\n')
