"""The machine the endpoint runs execution environments on: what it can enforce there, found
once when the endpoint starts and said in one note, and what a dead endpoint left there, cleared.

Each endpoint is named by its pid and start time (its owner name): its control groups and its
run folder (state/run/<owner>: /tmp images, TMPDIR folders, unpacking in progress) carry it.
Whatever a stopped endpoint still holds goes when it exits; what an endpoint killed with
SIGKILL held goes when the next one starts on the same state folder: its processes killed, its
groups and run folder removed. Endpoints running side by side never touch each other's.
"""
import atexit
import os
import shutil
import threading

from local_endpoint import cgroups, containment, filesystem, spares

NOTE_PREFIX = 'execution environments: '

_hosts = {}
_lock = threading.Lock()


class Host:
    def __init__(self, state_dir):
        self.state_dir = state_dir
        self.owner = cgroups.process_identity(os.getpid())
        runs = os.path.join(state_dir, 'run')
        cgroups.sweep_orphans()
        sweep_runs(runs)
        self.run_dir = os.path.join(runs, self.owner)
        os.makedirs(self.run_dir)
        self.containment = containment.detect(self.owner)
        self.filesystem = filesystem.detect(self.run_dir, state_dir)
        self.note = f'{NOTE_PREFIX}{self.containment.note}; {self.filesystem.note}'
        # Sandboxes worth making ahead: a control group and a private /tmp, which must not
        # hide the launcher's Python.
        self.spares = (spares.Spares(self.containment, self.filesystem)
                       if isinstance(self.containment, (cgroups.CgroupV1, cgroups.CgroupV2))
                       and isinstance(self.filesystem, filesystem.PrivateMounts)
                       and filesystem.visible_inside(spares.launcher_interpreter()) else None)

    def close(self):
        if self.spares is not None:
            self.spares.close()
        self.containment.close()
        shutil.rmtree(self.run_dir, ignore_errors=True)


def start(state_dir):
    """The host of this state folder, set up once per process: the note printed (`make up`
    shows it), and everything left cleared when the process exits."""
    state_dir = os.path.abspath(state_dir)
    with _lock:
        if state_dir not in _hosts:
            host = _hosts[state_dir] = Host(state_dir)
            print(host.note, flush=True)
            atexit.register(host.close)
        return _hosts[state_dir]


def sweep_runs(runs):
    """Remove the run folders of endpoints that are no longer running."""
    try:
        names = os.listdir(runs)
    except FileNotFoundError:
        return
    for name in names:
        if cgroups.OWNER.match(name) and not cgroups.is_running(name):
            shutil.rmtree(os.path.join(runs, name), ignore_errors=True)
