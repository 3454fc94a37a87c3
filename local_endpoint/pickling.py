"""How the endpoint's state is pickled: moto's objects as they are, with what cannot or should
not go into a pickle handled here (local_endpoint.state decides what to save and when).

- Large bytes and text (object bodies, zips and their base64) go to blob files, written once
  and named from the pickle; an S3 object's body is named once per object, a zip by its hash,
  hashed again only when it is another object than the last save's.
- A bucket's objects can be left out (each is a record of its own), AWS managed IAM policies
  are named, not copied (every IAM backend makes them afresh), locks are made anew, moto's
  weak indexes and `lambda: {}` defaultdicts are rebuilt, and a log group keeps its newest
  events only.
The functions pickles name (restore_key, restore_plain_key) keep their names and arguments:
stored state names them (local_endpoint.state re-exports them for state written before this
module existed).
"""
import copyreg
import hashlib
import os
import pickle
import threading
import uuid
import weakref
from collections import defaultdict

from moto.iam.models import AWSManagedPolicy, iam_backends
from moto.logs.models import LogGroup, LogStream
from moto.s3.models import FakeKey
from moto.s3.utils import _VersionedKeyStore

BLOB_MIN_BYTES = 64 * 1024  # smaller values stay inside their pickle
KEPT_LOG_EVENTS = 1000  # the newest events of each log group are kept
LOCKS = (type(threading.Lock()), type(threading.RLock()))


class Blobs:
    """Large bytes by name, each written once. A FakeKey's body never changes, so it is named
    once and remembered by the object; other bytes (zips) are named by their hash."""

    def __init__(self, folder):
        self.folder = folder
        os.makedirs(folder, exist_ok=True)
        self.key_names = weakref.WeakKeyDictionary()  # FakeKey -> its body's blob
        # service -> {id(bytes or str): (it, blob)} as that service's last save found them:
        # moto keeps a zip's bytes (and its base64) as they are, so a save hashes only new
        # ones; holding what the last save saw, and only that, keeps their ids theirs.
        self.named = {}
        self.used = set()  # names loaded or written since start: the rest is garbage
        self.recording = None  # while loading one record: the blobs it names

    def path(self, name):
        return os.path.join(self.folder, name)

    def write(self, name, data):
        path = self.path(name)
        if not os.path.exists(path):
            write_whole(path, data)
        self.used.add(name)
        return name

    def of_value(self, value, known, seen):
        """The blob of large bytes or text (a zip, its base64), hashed only when `known` (the
        last save's) does not hold this very object; `seen` collects this save's."""
        entry = known.get(id(value))
        if entry is None or entry[0] is not value:
            data = value.encode() if isinstance(value, str) else bytes(value)
            entry = (value, self.write(hashlib.sha256(data).hexdigest(), data))
        seen[id(value)] = entry
        return entry[1]

    def of_key(self, key):
        name = self.key_names.get(key)
        if name is None:
            # Its own name: no record but the one of this object ever names it. Written from
            # moto's buffer as it is, not from a copy.
            name = self.write(f'object-{uuid.uuid4().hex}', _body_of(key))
            self.key_names[key] = name
        self.used.add(name)
        return name

    def remove(self, names):
        """Bodies no record names any more (an object overwritten or deleted)."""
        for name in names:
            try:
                os.remove(self.path(name))
            except FileNotFoundError:
                pass
            self.used.discard(name)

    def read(self, name):
        with open(self.path(name), 'rb') as handle:
            data = handle.read()
        self.used.add(name)
        if self.recording is not None:
            self.recording.add(name)
        return data

    def collect_garbage(self):
        """Remove blobs nothing loaded refers to (an object overwritten, a version deleted);
        run once, after loading, when nothing else writes."""
        removed = 0
        for name in os.listdir(self.folder):
            if name not in self.used:
                os.remove(self.path(name))
                removed += 1
        return removed


def _body_of(key):
    """A FakeKey's bytes without copying them out of moto's in-memory buffer."""
    buffer = key._value_buffer
    if not getattr(buffer, '_rolled', True):  # a SpooledTemporaryFile still in memory
        return buffer._file.getbuffer()
    return key.value


def restore_key(state, blob, value=None):
    """A FakeKey from its attributes and its body: in the pickle when small, else in a blob.
    (Its attributes pickled apart, as bytes, since 2026-11-22: restore_plain_key.)"""
    key = FakeKey.__new__(FakeKey)
    key.__setstate__({**state, 'value': value if blob is None else _loading.blobs.read(blob)})
    if blob is not None:
        _loading.blobs.key_names[key] = blob
    return key


def restore_plain_key(attributes, blob, value=None):
    """A FakeKey whose attributes were pickled apart, by the C pickler alone (an upload's
    record is written at every upload: no Python call for each of its attributes)."""
    return restore_key(pickle.loads(attributes), blob, value)


class _Loading(threading.local):
    blobs = None


_loading = _Loading()


class StatePickler(pickle.Pickler):
    """moto's objects as they are, except: an S3 object's body and other large bytes go to
    blobs; a bucket's objects are kept as records of their own; AWS managed IAM policies,
    which every IAM backend makes afresh, are named, not copied."""

    def __init__(self, file, blobs, known=None, keep_objects=True):
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.blobs = blobs
        self.known = known or {}  # what the last save of the same thing named (Blobs.named)
        self.seen = {}
        self.referenced = set()  # every blob this pickle names
        self.keep_objects = keep_objects

    def persistent_id(self, obj):
        if isinstance(obj, (bytes, bytearray, str)) and len(obj) >= BLOB_MIN_BYTES:
            name = self.blobs.of_value(obj, self.known, self.seen)
            self.referenced.add(name)
            return ('text' if isinstance(obj, str) else 'blob', name)
        if isinstance(obj, _VersionedKeyStore) and not self.keep_objects:
            return ('objects',)
        if isinstance(obj, AWSManagedPolicy):
            return ('aws-managed-policy', obj.arn)
        return None

    def reducer_override(self, obj):
        if isinstance(obj, FakeKey):
            # Its attributes as FakeKey.__getstate__ gives them, without reading the body
            # again once it is a blob.
            state = {name: value for name, value in obj.__dict__.items()
                     if name not in ('_value_buffer', 'lock')}
            small = obj.contentsize < BLOB_MIN_BYTES
            name = None if small else self.blobs.of_key(obj)
            if name is not None:
                self.referenced.add(name)
            value = obj.value if small else None
            if obj.multipart is None:  # nothing in it for persistent_id: parts, large bytes
                try:
                    return restore_plain_key, (pickle.dumps(state, pickle.HIGHEST_PROTOCOL),
                                               name, value)
                except (TypeError, AttributeError, pickle.PicklingError):
                    pass  # something moto added that needs this pickler's reductions
            return restore_key, (state, name, value)
        if isinstance(obj, LogGroup) and sum(map(len, (stream.events for stream in
                                                      obj.streams.values()))) > KEPT_LOG_EVENTS:
            return copyreg.__newobj__, (LogGroup,), _newest_events(obj)
        if isinstance(obj, LOCKS):  # held by no one once stored
            return (threading.RLock if isinstance(obj, LOCKS[1]) else threading.Lock), ()
        if isinstance(obj, (weakref.WeakValueDictionary, weakref.WeakKeyDictionary)):
            # Its entries are held elsewhere in the same pickle (moto's index of ARNs).
            return type(obj), (dict(obj.items()),)
        if isinstance(obj, defaultdict) and getattr(obj.default_factory, '__name__',
                                                    '') == '<lambda>':
            empty = obj.default_factory()  # moto's `lambda: {}`, which pickle cannot name
            if type(empty) in (dict, list, set) and not empty:
                return defaultdict, (type(empty), dict(obj))
        return NotImplemented


class StateUnpickler(pickle.Unpickler):
    def __init__(self, file, blobs, endpoint_url, account):
        super().__init__(file)
        self.blobs = blobs
        self.endpoint_url = endpoint_url
        self.account = account

    def load(self):
        _loading.blobs = self.blobs  # restore_key, which pickle calls, reads bodies from them
        try:
            return super().load()
        finally:
            _loading.blobs = None

    def persistent_load(self, pid):
        kind = pid[0]
        if kind == 'blob':
            return self.blobs.read(pid[1])
        if kind == 'text':
            return self.blobs.read(pid[1]).decode()
        if kind == 'endpoint-url':  # how format 1 kept function URLs, until 2026-11-22
            return self.endpoint_url + pid[1]
        if kind == 'objects':
            return _VersionedKeyStore()
        if kind == 'aws-managed-policy':  # made afresh by the IAM backend of its partition
            return iam_backends[self.account][pid[1].split(':')[1]].managed_policies[pid[1]]
        raise pickle.UnpicklingError(f'unknown stored reference {pid!r}')


def _newest_events(group):
    """A log group's attributes with its newest KEPT_LOG_EVENTS events only: each save
    pickles the whole group, holding the interpreter while it does, so what is kept is
    bounded (the streams stay, the oldest events go)."""
    attributes = dict(group.__dict__)
    streams, budget = {}, KEPT_LOG_EVENTS
    newest_first = sorted(group.streams.items(), reverse=True, key=lambda item: (
        item[1].events[-1].timestamp if item[1].events else 0))
    for name, stream in newest_first:
        copy = LogStream.__new__(LogStream)
        copy.__dict__.update(stream.__dict__)
        copy.events = stream.events[-budget:] if budget > 0 else []
        budget -= len(copy.events)
        streams[name] = copy
    attributes['streams'] = dict(sorted(streams.items()))
    return attributes


def write_whole(path, data):
    """Write a file whole or not at all: a crash leaves the copy before, or this one (and a
    staging file the next start removes)."""
    staging = f'{path}.{os.getpid()}-{threading.get_ident()}.partial'
    descriptor = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(descriptor, view):]
    finally:
        os.close(descriptor)
    os.replace(staging, path)
