"""Sandboxes made ahead of cold starts, as Lambda keeps microVMs ready before it needs them.

Making an environment's sandbox (its control group, a mount namespace with its own /tmp
loop-mounted, the code bound read-only) takes 15-30 ms of processes and kernel work, all of it
before the runtime can start. A spare is that sandbox, made while nothing waits for it, with a
small launcher inside: a Python process that blocks on its stdin. A cold start hands it the
runtime's command, environment and folder, sets the group's limits to the function's, and the
launcher becomes the runtime (execve), inside everything already set up. One spare is kept per
EphemeralStorage size that cold starts have used; another is made in the background, at low
priority, when one is taken.

Spares exist only where both the containment and the mounts are the machine's (root,
cgroups), and where the launcher's Python is outside /tmp, which the sandbox's own /tmp hides
(a checkout under /tmp); elsewhere cold starts make their sandbox as before.
"""
import json
import logging
import os
import subprocess
import sys
import threading
import uuid

from local_endpoint.containment import Limits

logger = logging.getLogger(__name__)
LARGEST_MEMORY_MB = 10240  # a spare's limit until a function's is set
NICE = 10  # making a spare yields to runtimes starting meanwhile
# Reads one length-prefixed JSON document {argv, env, cwd} from stdin, then becomes argv[0]
# with stdin from /dev/null, at normal priority. End of file (the spare discarded): exit.
LAUNCHER = '''import json, os
def read(count):
    data = b""
    while len(data) < count:
        chunk = os.read(0, count - len(data))
        if not chunk:
            raise SystemExit(0)
        data += chunk
    return data
spec = json.loads(read(int.from_bytes(read(8), "big")))
null = os.open(os.devnull, os.O_RDONLY)
os.dup2(null, 0)
os.close(null)
os.setpriority(os.PRIO_PROCESS, 0, 0)
os.chdir(spec["cwd"])
os.execve(spec["argv"][0], spec["argv"], spec["env"])
'''


def launcher_interpreter():
    """The Python that runs the launcher, by its real path: a virtualenv's python is a link,
    and the link may be under /tmp when its target is not."""
    return os.path.realpath(sys.executable)


class Spare:
    def __init__(self, group, filesystem, process):
        self.group = group
        self.filesystem = filesystem
        self.process = process

    def launch(self, command, environment, folder, limits):
        """The runtime, started in this sandbox with the function's limits."""
        self.group.limit(limits)
        document = json.dumps({'argv': command, 'env': environment, 'cwd': folder}).encode()
        try:
            self.process.stdin.write(len(document).to_bytes(8, 'big') + document)
            self.process.stdin.close()
        except BrokenPipeError:  # the launcher died: the environment sees its process dead
            pass

    def discard(self):
        self.group.close()
        self.process.stdin.close()
        self.process.stdout.close()
        self.process.wait()
        self.filesystem.remove()


class Spares:
    def __init__(self, containment, filesystem):
        self.containment = containment
        self.filesystem = filesystem
        self.ready = {}  # EphemeralStorage MB -> Spare
        self.making = set()
        self.lock = threading.Lock()
        self.closed = False

    def take(self, storage_mb):
        """A ready spare of that /tmp size, or None (this cold start makes its own sandbox).
        Either way one is made for the next cold start."""
        with self.lock:
            spare = self.ready.pop(storage_mb, None)
            self._replenish(storage_mb)
        if spare is not None and spare.process.poll() is not None:
            spare.discard()  # killed while it waited
            return None
        return spare

    def _replenish(self, storage_mb):
        if self.closed or storage_mb in self.making or storage_mb in self.ready:
            return
        self.making.add(storage_mb)
        threading.Thread(target=self._make, args=(storage_mb,), daemon=True,
                         name=f'spare-{storage_mb}').start()

    def _make(self, storage_mb):
        spare = None
        try:
            spare = self.make(storage_mb)
        except OSError:
            logger.exception('a spare sandbox could not be made; cold starts make their own')
        with self.lock:
            self.making.discard(storage_mb)
            if spare is not None and not self.closed:
                self.ready[storage_mb] = spare
                spare = None
        if spare is not None:
            spare.discard()

    def make(self, storage_mb):
        label = f'spare-{uuid.uuid4().hex[:12]}'
        group = self.containment.group(label, Limits.for_function(LARGEST_MEMORY_MB))
        filesystem = None
        try:
            filesystem = self.filesystem.prepare(label, storage_mb)
            launcher = [launcher_interpreter(), '-S', '-I', '-c', LAUNCHER]
            process = subprocess.Popen(
                group.argv(['nice', '-n', str(NICE), *filesystem.argv(launcher)]),
                env={'PATH': '/usr/local/bin:/usr/bin:/bin', 'LAMBDA_TASK_ROOT': '/'},
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                start_new_session=True)
        except BaseException:
            group.close()
            if filesystem is not None:
                filesystem.remove()
            raise
        group.started(process.pid)
        return Spare(group, filesystem, process)

    def close(self):
        with self.lock:
            self.closed = True
            ready, self.ready = list(self.ready.values()), {}
        for spare in ready:
            spare.discard()
