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

COMPACT_LINES = 10000  # rewritten empty once this many lines hold no pending event


class EventJournal:
    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()
        self.pending_ids = set()
        self.lines = 0
        self.handle = None

    def load(self):
        """The events accepted and not done, as the last line said them (dicts with
        request_id, account, region, function, payload, attempt, shortened, accepted_at);
        the journal is then rewritten to hold only these."""
        events = {}
        if os.path.exists(self.path):
            with open(self.path, 'rb') as handle:
                for line in handle:
                    try:
                        entry = json.loads(line)
                    except ValueError:  # the line a crash cut short
                        continue
                    if 'accepted' in entry:
                        event = entry['accepted']
                        events[event['request_id']] = event
                    elif 'retry' in entry and entry['retry'] in events:
                        events[entry['retry']].update(attempt=entry['attempt'],
                                                      shortened=entry['shortened'])
                    elif 'done' in entry:
                        events.pop(entry['done'], None)
        staging = self.path + '.partial'
        with open(staging, 'w') as handle:
            for event in events.values():
                handle.write(json.dumps({'accepted': event}) + '\n')
        os.replace(staging, self.path)
        self.handle = open(self.path, 'a')
        self.lines = len(events)
        self.pending_ids = set(events)
        return [dict(event, payload=base64.b64decode(event['payload']))
                for event in events.values()]

    def accepted(self, request_id, account, region, function, payload, attempt, shortened,
                 accepted_at):
        self._write({'accepted': {
            'request_id': request_id, 'account': account, 'region': region,
            'function': function, 'payload': base64.b64encode(payload).decode(),
            'attempt': attempt, 'shortened': shortened, 'accepted_at': accepted_at}},
            add=request_id)

    def retried(self, request_id, attempt, shortened):
        self._write({'retry': request_id, 'attempt': attempt, 'shortened': shortened})

    def done(self, request_id):
        self._write({'done': request_id}, remove=request_id)

    def _write(self, entry, add=None, remove=None):
        line = json.dumps(entry) + '\n'
        with self.lock:
            if self.handle is None:  # closed: what is not done is delivered after the restart
                return
            if add:
                self.pending_ids.add(add)
            if remove:
                self.pending_ids.discard(remove)
            if not self.pending_ids and self.lines >= COMPACT_LINES:
                self.handle.truncate(0)
                self.lines = 0
                if remove:
                    return
            self.handle.write(line)
            self.handle.flush()
            self.lines += 1

    def close(self):
        with self.lock:
            if self.handle is not None:
                self.handle.close()
                self.handle = None
