"""Asynchronous events on disk from the moment they are accepted until they are done.

An upload answered 204 has an S3 event that must reach its function even if the endpoint
stops or is killed before the function ran: Lambda's queue keeps accepted events, and
delivers each at least once. So the journal gets a line when an event is accepted (before the
caller is answered), when a failed attempt is queued again, and when the event is done
(delivered, or recorded as failed for good). At start the events without a last line are
delivered again, with their request id, attempt count and age, and the journal is rewritten
with only those.

Lines are flushed to the operating system before the caller is answered, which a crash of
this process cannot lose; a crash mid-line leaves a last line that is skipped.
"""
import base64
import json
import os
import threading

# Rewritten with only the pending events once it has this many lines or bytes.
COMPACT_LINES = 10000
COMPACT_BYTES = 64 * 1024 * 1024
FIELDS = ('request_id', 'account', 'region', 'function', 'payload', 'attempt', 'shortened',
          'accepted_at')


class EventJournal:
    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()
        self.pending = {}  # request id -> its accepted entry, as the journal holds it
        self.lines = 0
        self.size = 0
        self.handle = None

    def load(self):
        """The events accepted and not done, as the last line said them (dicts with
        request_id, account, region, function, payload, attempt, shortened, accepted_at);
        the journal is then rewritten to hold only these."""
        events = {}
        if os.path.exists(self.path):
            with open(self.path, 'rb') as handle:
                for line in handle:
                    entry = _entry(line)
                    if entry is None:  # a line a crash cut short, or not one of ours
                        continue
                    if 'accepted' in entry:
                        events[entry['accepted']['request_id']] = entry['accepted']
                    elif 'retry' in entry and entry['retry'] in events:
                        events[entry['retry']].update(attempt=entry['attempt'],
                                                      shortened=entry['shortened'])
                    elif 'done' in entry:
                        events.pop(entry['done'], None)
        self.pending = events
        self._rewrite()
        return [dict(event, payload=base64.b64decode(event['payload']))
                for event in events.values()]

    def _rewrite(self):
        """The journal holds the pending events only, in one line each."""
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        staging = self.path + '.partial'
        with open(staging, 'w') as handle:
            for event in self.pending.values():
                handle.write(json.dumps({'accepted': event}) + '\n')
        os.replace(staging, self.path)
        if self.handle is not None:
            self.handle.close()
        self.handle = open(self.path, 'a')
        self.lines, self.size = len(self.pending), os.path.getsize(self.path)

    def accepted(self, request_id, account, region, function, payload, attempt, shortened,
                 accepted_at):
        event = {'request_id': request_id, 'account': account, 'region': region,
                 'function': function, 'payload': base64.b64encode(payload).decode(),
                 'attempt': attempt, 'shortened': shortened, 'accepted_at': accepted_at}
        self._write({'accepted': event}, lambda: self.pending.__setitem__(request_id, event))

    def retried(self, request_id, attempt, shortened):
        def update():
            if request_id in self.pending:
                self.pending[request_id] = dict(self.pending[request_id], attempt=attempt,
                                                shortened=shortened)
        self._write({'retry': request_id, 'attempt': attempt, 'shortened': shortened}, update)

    def done(self, request_id):
        self._write({'done': request_id}, lambda: self.pending.pop(request_id, None))

    def _write(self, entry, change):
        line = json.dumps(entry) + '\n'
        with self.lock:
            if self.handle is None:  # closed: what is not done is delivered after the restart
                return
            change()
            if self.lines >= COMPACT_LINES or self.size >= COMPACT_BYTES:
                self._rewrite()  # this line's change is in the pending events it writes
                return
            self.handle.write(line)
            self.handle.flush()
            self.lines += 1
            self.size += len(line)

    def close(self):
        with self.lock:
            if self.handle is not None:
                self.handle.close()
                self.handle = None


def _entry(line):
    """A journal line as written, or None."""
    try:
        entry = json.loads(line)
        if 'accepted' in entry:
            event = entry['accepted']
            if not all(name in event for name in FIELDS):
                return None
            base64.b64decode(event['payload'], validate=True)
        elif 'retry' in entry:
            int(entry['attempt']), float(entry['shortened'])
        elif 'done' not in entry:
            return None
    except (ValueError, TypeError, KeyError):  # binascii.Error is a ValueError
        return None
    return entry
