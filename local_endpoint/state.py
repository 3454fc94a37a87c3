"""What the endpoint keeps across restarts, a crash included: STATE_DIR/state/.

moto keeps every service in memory and forgets it when the process ends. Here each write is on
disk before it is answered, so a `kill -9` loses nothing that was acknowledged:
- a service that a request changed (a bucket's settings, a function, a role, a queue, a rule)
  is pickled whole (local_endpoint.pickling), to services/<service>/<account>/<region>
  (replaced atomically: a crash leaves the old copy or the new one, never half);
- an S3 object is its own record, objects/<bucket>/<hash of the key>, so an upload writes one
  small file and its bytes, not the whole bucket;
- bytes that can be large (object bodies, function and layer zips) are written once to
  blobs/ and named from the pickles, so a function's zip is not written again when only its
  alias moves.
Writes the endpoint makes itself, outside any request, are saved in the background: function
logs (their newest events, at most every 5 s), and a destination's message before its async
event is marked done (local_endpoint.events). A save that fails is said in /_local/health
and tried again each second.

Restoring puts moto's objects back as they were; nothing is replayed, so no S3 notification,
schedule or invocation fires again; function URLs and API endpoints follow the endpoint's new
port. A format file says which layout, moto and endpoint wrote the state; a later project
version loads an earlier layout (tests/fixtures/state-v1 is one, checked by the tests) or says
why it cannot, and a damaged object record costs that object only.
"""
import hashlib
import io
import json
import logging
import os
import pickle
import re
import shutil
import threading
import time
import uuid
import weakref
from importlib.metadata import version

from moto.apigatewayv2.models import apigatewayv2_backends
from moto.awslambda.models import lambda_backends
from moto.backends import get_backend
from moto.logs.models import LogsBackend
from moto.s3.models import s3_backends
from moto.sqs.models import SQSBackend

from local_endpoint.pickling import (Blobs, StatePickler, StateUnpickler, restore_key,
                                     restore_plain_key, write_whole)

FORMAT = 1
# Services whose requests change nothing worth keeping: moto's own controls, STS's answers.
NOT_KEPT = frozenset({'moto_api', 'instance_metadata', 'sts'})
READ_ACTIONS = re.compile(r'(Get|List|Describe|Head|Filter|Lookup|Search|Scan|Query|BatchGet|'
                          r'Test|Simulate|Check|Validate|Estimate)[A-Z]')
SAVE_ATTEMPTS = 5  # a pickle taken while another request changes the same service is retried
FLUSH_SECONDS = 1.0
COSTLY = frozenset({'logs'})  # saved in the background no more often than LOG_SAVE_SHARE allows
LOG_SAVE_SHARE = 0.1
LOG_SAVE_MIN_SECONDS = 5.0  # and no more often than this
# Writes that lose nothing a user did if a crash undoes them: a message received and not
# deleted is visible again, as when its visibility timeout ends.
BACKGROUND_ACTIONS = frozenset({('sqs', 'ReceiveMessage'), ('sqs', 'ChangeMessageVisibility'),
                                ('sqs', 'ChangeMessageVisibilityBatch')})

# What pickles written before local_endpoint.pickling existed name: they load from here.
RESTORED_BY_NAME = (restore_key, restore_plain_key)

logger = logging.getLogger(__name__)


class StateError(Exception):
    """Stored state this endpoint cannot load: the message says what and what to do."""


def is_read(method, action):
    return method in ('GET', 'HEAD', 'OPTIONS') or bool(action and READ_ACTIONS.match(action))


class Store:
    """The state folder: load() once at start, then saved()/object_saved() after writes."""

    def __init__(self, state_dir, endpoint_url):
        self.endpoint_url = endpoint_url
        self.folder = os.path.join(state_dir, 'state')
        self.blobs = Blobs(os.path.join(self.folder, 'blobs'))
        self.locks = {}  # service -> lock: one pickle of a service at a time
        self.locks_lock = threading.Lock()
        self.dirty = set()  # services changed outside a request, saved by flush()
        self.dirty_lock = threading.Lock()
        self.failures = {}  # service -> why its last save failed
        self.failed_buckets = set()  # (account, bucket) whose objects a save failed to write
        self.unkeepable = {}  # service -> why pickle cannot keep it
        self.next_save = {}  # COSTLY service -> when flush() may save it again
        self.extras = {}  # service -> {name: (get, set)}: this endpoint's own state kept with it
        self.kept = {}  # bucket -> {key: (_signature of its record's versions, their blobs)}
        self.objects_lock = threading.Lock()
        self.folders_made = set()  # object folders known to exist
        self.closed = threading.Event()
        self.flusher = None

    # -- loading -----------------------------------------------------------------------------

    def load(self):
        """Put every stored service and object back; returns what was loaded, in words."""
        started = time.monotonic()
        stored_endpoint = self._check_format()
        self._remove_partial_writes()
        services = 0
        root = os.path.join(self.folder, 'services')
        for service in sorted(os.listdir(root)) if os.path.isdir(root) else ():
            for account in os.listdir(os.path.join(root, service)):
                for region in os.listdir(os.path.join(root, service, account)):
                    self._load_service(service, account, region)
                    services += 1
        objects, skipped = self._load_objects()
        if stored_endpoint and stored_endpoint != self.endpoint_url:
            rebase_urls(stored_endpoint, self.endpoint_url)
        removed = self.blobs.collect_garbage()
        self._write_format()
        seconds = time.monotonic() - started
        if not services and not objects and not skipped:
            return f'state: nothing stored yet; what this endpoint is asked to keep goes to ' \
                   f'{self.folder} (make reset forgets it)'
        return (f'state: {services} service backends and {objects} S3 objects loaded from '
                f'{self.folder} in {seconds:.2f} s'
                + (f' ({removed} unused blobs removed)' if removed else '')
                + (f'; {len(skipped)} damaged object records skipped and moved to '
                   f'{os.path.join(self.folder, "damaged")}: {", ".join(skipped[:3])}'
                   if skipped else ''))

    def _remove_partial_writes(self):
        """A write a crash interrupted leaves its staging file: the copy before it stands."""
        for folder, _, names in os.walk(self.folder):
            for name in names:
                if name.endswith('.partial'):
                    os.remove(os.path.join(folder, name))

    def _check_format(self):
        """The endpoint URL the state was written by (None when it did not say)."""
        path = os.path.join(self.folder, 'format.json')
        if not os.path.exists(path):
            return None
        try:
            with open(path) as handle:
                stored = json.load(handle)
            stored['format']
        except (ValueError, TypeError, KeyError) as error:
            raise StateError(f'{path} is damaged ({error}): start clean with make reset') \
                from error
        if stored['format'] > FORMAT:
            raise StateError(f'{self.folder} was written by a newer version of this project '
                             f'(state format {stored["format"]}, this one reads up to {FORMAT}): '
                             f'update the project, or start clean with make reset')
        return stored.get('endpoint')

    def _write_format(self):
        os.makedirs(self.folder, exist_ok=True)
        write_whole(os.path.join(self.folder, 'format.json'), json.dumps(
            {'format': FORMAT, 'moto': version('moto'), 'endpoint': self.endpoint_url}).encode())

    def _load_service(self, service, account, region):
        path = os.path.join(self.folder, 'services', service, account, region)
        backends = get_backend(service)
        with open(path, 'rb') as handle:
            try:
                stored = StateUnpickler(handle, self.blobs, self.endpoint_url, account).load()
            except (pickle.UnpicklingError, AttributeError, ImportError, EOFError, KeyError,
                    FileNotFoundError) as error:
                raise StateError(f'{path} cannot be loaded ({type(error).__name__}: {error}): '
                                 f'start clean with make reset') from error
        dict.__setitem__(backends[account], region, stored['backend'])
        for name, value in stored.get('extras', {}).items():
            if name in self.extras.get(service, {}):
                self.extras[service][name][1](value)

    def _load_objects(self):
        """(objects loaded, the records skipped): a damaged record costs its object only,
        and is moved aside, not deleted."""
        root = os.path.join(self.folder, 'objects')
        count, skipped = 0, []
        for bucket_folder in os.listdir(root) if os.path.isdir(root) else ():
            for name in os.listdir(os.path.join(root, bucket_folder)):
                path = os.path.join(root, bucket_folder, name)
                self.blobs.recording = set()
                try:
                    with open(path, 'rb') as handle:
                        record = StateUnpickler(handle, self.blobs, self.endpoint_url,
                                                None).load()
                    backend = s3_backends[record['account']]['aws']
                    bucket = backend.buckets.get(record['bucket'])
                except (pickle.UnpicklingError, AttributeError, ImportError, EOFError,
                        KeyError, TypeError, FileNotFoundError) as error:
                    logger.warning('skipping the damaged object record %s: %s: %s', path,
                                   type(error).__name__, error)
                    self._move_aside(path)
                    skipped.append(f'{bucket_folder}/{name}')
                    continue
                finally:
                    referenced, self.blobs.recording = self.blobs.recording, None
                if bucket is None:  # its bucket was deleted before the crash took its records
                    os.remove(path)
                    continue
                bucket.keys.setlist(record['key'], record['versions'])
                self.kept.setdefault(record['bucket'], {})[record['key']] = (
                    _signature(record['versions']), tuple(referenced))
                for arn, tags in record['tags'].items():
                    backend.tagger.tags[arn] = tags
                count += 1
        return count, skipped

    def _move_aside(self, path):
        damaged = os.path.join(self.folder, 'damaged')
        os.makedirs(damaged, exist_ok=True)
        os.replace(path, os.path.join(damaged, f'{uuid.uuid4().hex[:8]}-'
                                               f'{os.path.basename(path)}'))

    # -- saving ------------------------------------------------------------------------------

    def keep(self, service, name, get, set_):
        """Keep this endpoint's own state `name` with `service`'s (get() -> picklable)."""
        self.extras.setdefault(service, {})[name] = (get, set_)

    def saved(self, service):
        """Write `service` (every account and region it has) as it is now."""
        if service in NOT_KEPT or service in self.unkeepable:
            return
        with self._lock_of(service):
            backends = get_backend(service)
            for account in list(backends.keys()):
                for region, backend in list(dict.items(backends[account])):
                    self._save_backend(service, account, region, backend)
        with self.dirty_lock:
            self.failures.pop(service, None)

    def _save_backend(self, service, account, region, backend):
        extras = {name: get() for name, (get, _) in self.extras.get(service, {}).items()}
        known = self.blobs.named.get((service, account, region), {})
        for attempt in range(SAVE_ATTEMPTS):
            buffer = io.BytesIO()
            pickler = StatePickler(buffer, self.blobs, known, keep_objects=service != 's3')
            try:
                pickler.dump({'backend': backend, 'extras': extras})
                break
            except RuntimeError:  # "changed size during iteration": another request's write
                if attempt == SAVE_ATTEMPTS - 1:
                    raise
            except (TypeError, AttributeError, pickle.PicklingError) as error:
                # moto keeps something of this service that pickle cannot (SSM's lambdas,
                # KMS's private keys): said once, in the log and in health, and not tried
                # again; what the README lists is tested to be kept.
                logger.error('%s cannot be kept across restarts: %s: %s', service,
                             type(error).__name__, error)
                with self.dirty_lock:
                    self.unkeepable[service] = f'{type(error).__name__}: {error}'
                return
        self.blobs.named[service, account, region] = pickler.seen
        folder = os.path.join(self.folder, 'services', service, account)
        os.makedirs(folder, exist_ok=True)
        write_whole(os.path.join(folder, region), buffer.getvalue())

    def object_saved(self, account, bucket_name, key_name):
        """Write one S3 object's record (every version, and its tags), or remove it; says
        whether the object exists. The bodies the record no longer names are removed at once:
        an overwritten upload's bytes leave the disk (and the dirty page cache) with it."""
        backend = s3_backends[account]['aws']
        with self.objects_lock:  # the record written last holds the latest versions
            bucket = backend.buckets.get(bucket_name)
            path = self._object_path(bucket_name, key_name)
            versions = bucket.keys.getlist(key_name) if bucket is not None else None
            kept = self.kept.setdefault(bucket_name, {})
            before = kept.get(key_name)
            if not versions:
                if before is not None:
                    os.remove(path)
                    del kept[key_name]
                    self.blobs.remove(before[1])
                return False
            versions = list(versions)
            arns = [getattr(version, 'arn', None) for version in versions]  # not a marker's
            tags = {arn: dict(backend.tagger.tags[arn]) for arn in arns
                    if arn in backend.tagger.tags}
            buffer = io.BytesIO()
            pickler = StatePickler(buffer, self.blobs)
            pickler.dump({'account': account, 'bucket': bucket_name, 'key': key_name,
                          'versions': versions, 'tags': tags})
            folder = os.path.dirname(path)
            if folder not in self.folders_made:
                os.makedirs(folder, exist_ok=True)
                self.folders_made.add(folder)
            write_whole(path, buffer.getbuffer())
            # Every blob the record names: its versions' bodies, the parts a multipart
            # upload kept, the version a delete marker hides.
            kept[key_name] = (_signature(versions), tuple(pickler.referenced))
            if before is not None:
                self.blobs.remove(set(before[1]) - pickler.referenced)
            return True

    def bucket_saved(self, account, bucket_name):
        """Write every object of a bucket that differs from its record (after a request that
        may change several, or whose key is not in its path: a form upload, a multi-object
        delete, a bucket deleted)."""
        bucket = s3_backends[account]['aws'].buckets.get(bucket_name)
        if bucket is None:
            with self.objects_lock:
                gone = self.kept.pop(bucket_name, None)
                if gone is not None:
                    folder = os.path.dirname(self._object_path(bucket_name, ''))
                    shutil.rmtree(folder, ignore_errors=True)
                    self.folders_made.discard(folder)
                    self.blobs.remove([name for _, names in gone.values() for name in names])
            return
        kept = self.kept.get(bucket_name, {})
        present = dict.copy(bucket.keys)
        for name in [name for name in kept if name not in present]:
            self.object_saved(account, bucket_name, name)
        for name, versions in present.items():
            if name not in kept or kept[name][0] != _signature(versions):
                self.object_saved(account, bucket_name, name)

    def _object_path(self, bucket_name, key_name):
        return os.path.join(self.folder, 'objects', bucket_name,
                            hashlib.sha1(key_name.encode()).hexdigest())

    def watch_internal_writes(self):
        """The writes this endpoint makes itself, with no request to save after: function
        logs, and messages sent to queues (destinations, failure queues)."""
        for backend_class, service, methods in (
                (LogsBackend, 'logs', ('put_log_events', 'create_log_stream')),
                (SQSBackend, 'sqs', ('send_message',))):
            for name in methods:
                original = getattr(backend_class, name)
                if getattr(original, '_marks', None) is None:
                    setattr(backend_class, name, _marking(original, service))
                getattr(backend_class, name)._marks[0] = self

    def failed(self, service, error, bucket=None):
        """A save that failed: tried again by the flusher (a bucket's objects included),
        and said by problems() until a save succeeds."""
        with self.dirty_lock:
            self.dirty.add(service)
            if bucket is not None:
                self.failed_buckets.add(bucket)
            self.failures[service] = f'{type(error).__name__}: {error}'

    def problems(self):
        with self.dirty_lock:
            return ([f'{service} could not be saved ({error}); see the endpoint log'
                     for service, error in self.failures.items()]
                    + [f'{service} is not kept across restarts ({error})'
                       for service, error in self.unkeepable.items()])

    def forget(self):
        """What moto's own reset (POST /moto-api/reset) leaves: nothing to load next time.
        The events already accepted stay in their journal: they were answered."""
        with self.objects_lock, self.dirty_lock:
            for name in ('services', 'objects'):
                shutil.rmtree(os.path.join(self.folder, name), ignore_errors=True)
            self.kept.clear()
            self.folders_made.clear()
            self.dirty.clear()

    def mark(self, service):
        """A service changed outside a request: flush() saves it within FLUSH_SECONDS."""
        with self.dirty_lock:
            self.dirty.add(service)

    def flush(self, now=None):
        """Save what changed outside requests. Function logs grow with every invocation and
        are saved whole, so they wait LOG_SAVE_SHARE of the time since their last save took:
        a large log costs the endpoint a tenth of a core at most, not a core."""
        now = time.monotonic() if now is None else now
        with self.dirty_lock:
            due = {service for service in self.dirty
                   if now >= self.next_save.get(service, 0.0)}
            self.dirty -= due
            buckets, self.failed_buckets = self.failed_buckets, set()
        for account, bucket in buckets:
            self.bucket_saved(account, bucket)
        for service in due:
            started = time.monotonic()
            self.saved(service)
            if service in COSTLY:
                self.next_save[service] = now + max(
                    LOG_SAVE_MIN_SECONDS, (time.monotonic() - started) / LOG_SAVE_SHARE)

    def settle(self):
        """Save, now, what an async event's delivery changed outside requests (a message
        to a destination queue), before the event is marked done; logs wait for flush()."""
        with self.dirty_lock:
            due, self.dirty = self.dirty - COSTLY, self.dirty & COSTLY
        for service in due:
            self.saved(service)

    def start_flushing(self):
        def run():
            while not self.closed.wait(FLUSH_SECONDS):
                try:
                    self.flush()
                except (OSError, RuntimeError, pickle.PicklingError):
                    logger.exception('saving the endpoint state failed; retried in %s s',
                                     FLUSH_SECONDS)
        self.flusher = threading.Thread(target=run, daemon=True, name='state-flush')
        self.flusher.start()

    def close(self):
        self.closed.set()
        self.next_save.clear()
        self.flush()

    def _lock_of(self, service):
        with self.locks_lock:
            return self.locks.setdefault(service, threading.Lock())


def _marking(method, service):
    def marked(*args, **kwargs):
        result = method(*args, **kwargs)
        if marked._marks[0] is not None:
            marked._marks[0].mark(service)
        return result
    marked._marks = [None]  # the Store to tell: the latest endpoint's
    return marked


def _signature(versions):
    """What tells a key's versions changed: moto makes a new FakeKey for every write. Weak
    references, not ids: an id is reused once its FakeKey is freed, a dead reference never
    equals a live one."""
    return tuple(weakref.ref(version) for version in versions)


def rebase_urls(old, new):
    """Function URLs and HTTP API endpoints name the endpoint: after a start on another
    port, its new address (only those: user data that names it stays as it was)."""
    for backends in lambda_backends.values():
        for backend in dict.values(backends):
            for entry in backend._lambdas._functions.values():
                for function in [entry['latest'], *entry['versions']]:
                    config = getattr(function, 'url_config', None)
                    if config is not None and config.url.startswith(old):
                        config.url = new + config.url[len(old):]
    for backends in apigatewayv2_backends.values():
        for backend in dict.values(backends):
            for api in backend.apis.values():
                if api.api_endpoint.startswith(old):
                    api.api_endpoint = new + api.api_endpoint[len(old):]
