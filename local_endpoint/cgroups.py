"""Control groups, v2 and v1, holding each execution environment's processes (see
local_endpoint.containment for what they enforce).

Groups are made under the endpoint's own group in each hierarchy and named after the endpoint
(local-endpoint-<pid>-<start time>.<hex>), so an endpoint started after one was killed with
SIGKILL finds the dead one's groups, kills their processes and removes them. A process joins
its groups before it runs anything (`argv`), so nothing it starts is ever outside them.
"""
import math
import os
import re
import signal
import time
import uuid

PROCESS_LIMIT = 1024  # Lambda's processes and threads per execution environment
MB_PER_CPU = 1769  # Lambda's CPU share: 1,769 MB of MemorySize is one vCPU
CPU_PERIOD_US = 100_000  # the CFS period each quota is a share of: 100 ms, the kernel's default
GROUP_PREFIX = 'local-endpoint-'
OWNER = re.compile(r'^\d+-\d+$')  # an endpoint's pid and start time
# local-endpoint-<owner>.<hex>: one containment's groups; .endpoint: the endpoint itself
OWNED_GROUP = re.compile(r'^local-endpoint-(\d+-\d+)\.(endpoint|[0-9a-f]+)$')
WAIT_SECONDS = 5
# Run as the environment's first process: join the groups, then become the runtime.
ENTER = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"'


class Unavailable(Exception):
    """Why this machine does not let the endpoint contain environments that way."""


def process_identity(pid):
    """'<pid>-<start time>': names one process for as long as the machine runs, even once
    its pid is reused; None when there is no such process."""
    try:
        with open(f'/proc/{pid}/stat') as stat:
            fields = stat.read().rsplit(')', 1)[1].split()
    except (OSError, IndexError):
        return None
    return f'{pid}-{fields[19]}'  # field 22 of stat, counted after the command name


def is_running(identity):
    return process_identity(int(identity.split('-', 1)[0])) == identity


def cgroup_mounts(mountinfo='/proc/self/mountinfo'):
    """(type, root, mount point, options) of each cgroup hierarchy mounted."""
    with open(mountinfo) as lines:
        for line in lines:
            mount, _, source = line.rstrip('\n').partition(' - ')
            fields, (fstype, _, options) = mount.split(), source.split()[:3]
            if fstype in ('cgroup', 'cgroup2'):
                point = re.sub(r'\\([0-7]{3})', lambda match: chr(int(match[1], 8)), fields[4])
                yield fstype, fields[3], point, set(options.split(','))


def own_groups(cgroup='/proc/self/cgroup'):
    """{controller: path} of this process's groups; '' is the cgroup v2 one."""
    groups = {}
    with open(cgroup) as lines:
        for line in lines:
            _, controllers, path = line.rstrip('\n').split(':', 2)
            for controller in controllers.split(',') if controllers else ['']:
                groups[controller] = path
    return groups


def _folder_of(root, point, path):
    """The folder of group `path` in a hierarchy mounted at `point` from `root`."""
    relative = os.path.relpath(path, root)
    if relative.split('/')[0] == '..':
        raise Unavailable(f'our group {path} is outside the mounted part {root}')
    return point if relative == '.' else os.path.join(point, relative)


def _base_name(owner):
    return f'{GROUP_PREFIX}{owner}.{uuid.uuid4().hex[:8]}'


def _read(path):
    with open(path) as handle:
        return handle.read()


def _write(path, value):
    with open(path, 'w') as handle:
        handle.write(str(value))


def _counter(path, name):
    """A 'name value' line of a flat keyed file such as memory.events."""
    for line in _read(path).splitlines():
        key, _, value = line.partition(' ')
        if key == name:
            return int(value)
    return 0


def cpu_quota_us(share):
    """The CFS quota per CPU_PERIOD_US that gives `share` of one CPU."""
    return round(CPU_PERIOD_US * share)


def cpu_capacity(folder, quota_of):
    """The most CPU a group made under `folder` can use: the machine's CPUs, or less where a
    group above has a smaller quota. A share no smaller is left unlimited: cgroup v1 refuses
    a quota above a parent's, and more than the machine has would change nothing.
    `quota_of(folder)` is a group's quota in CPUs, None above the hierarchy's top."""
    capacity = len(os.sched_getaffinity(0))
    while folder != os.path.dirname(folder):
        quota = quota_of(folder)
        if quota is None:
            break
        capacity = min(capacity, quota)
        folder = os.path.dirname(folder)
    return capacity


def _cpu_max(folder):
    """cgroup v2: 'max 100000' or '<quota> <period>' (the root has no cpu.max)."""
    try:
        quota, period = _read(os.path.join(folder, 'cpu.max')).split()
    except FileNotFoundError:
        return None
    return math.inf if quota == 'max' else int(quota) / int(period)


def _cfs_quota(folder):
    """cgroup v1: cpu.cfs_quota_us, -1 for none, per cpu.cfs_period_us."""
    try:
        quota = int(_read(os.path.join(folder, 'cpu.cfs_quota_us')))
    except FileNotFoundError:
        return None
    return math.inf if quota < 0 else quota / int(_read(os.path.join(folder,
                                                                      'cpu.cfs_period_us')))


def _pids(folder):
    return [int(pid) for pid in _read(os.path.join(folder, 'cgroup.procs')).split()]


def _kill_members(folder):
    """SIGKILL every process in the group until none is left, for up to WAIT_SECONDS (a
    process stuck in the kernel outlives it; removing the group then fails)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        try:
            pids = _pids(folder)
        except FileNotFoundError:
            return
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.002)


def destroy(folder):
    """Kill every process in a group and its subgroups, and remove them."""
    for entry in os.scandir(folder):
        if entry.is_dir(follow_symlinks=False):
            destroy(entry.path)
    _kill_members(folder)
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        try:
            os.rmdir(folder)
            return
        except FileNotFoundError:
            return
        except OSError:  # EBUSY while the last processes exit
            if time.monotonic() > deadline:
                raise
            time.sleep(0.005)


def sweep_orphans(mounts=None, groups=None):
    """Destroy the groups, next to ours in every hierarchy, of endpoints no longer running."""
    mounts = list(cgroup_mounts()) if mounts is None else mounts
    groups = own_groups() if groups is None else groups
    for fstype, root, point, options in mounts:
        controllers = [''] if fstype == 'cgroup2' else [name for name in options if name in groups]
        if not controllers or controllers[0] not in groups:
            continue
        try:
            folder = _folder_of(root, point, groups[controllers[0]])
        except Unavailable:
            continue
        # cgroup v2 may have put them next to our group, higher up (CgroupV2.parent_for_groups)
        parents = [folder] + ([] if fstype == 'cgroup' else _ancestors(folder, point))
        for parent in parents:
            _destroy_orphans(parent)


def _ancestors(folder, point):
    found = []
    while folder != point:
        folder = os.path.dirname(folder)
        found.append(folder)
    return found


def _destroy_orphans(parent):
    try:
        names = os.listdir(parent)
    except OSError:
        return
    for name in names:
        match = OWNED_GROUP.match(name)
        if match and not is_running(match[1]):
            try:
                destroy(os.path.join(parent, name))
            except OSError:  # not ours to remove (not root): nothing can be done
                continue


class CgroupGroup:
    """One environment's group, in one or more hierarchies; its figures outlive it."""

    def __init__(self, folders, limits):
        self.folders = folders  # the memory hierarchy's first
        self.limits = limits
        self._peak = 0
        self._out_of_memory = False
        self._closed = False
        self.cpu_settings = []  # (file, value): the CPU share, written once init is over

    def argv(self, command):
        """The command, started inside the group: nothing it starts is ever outside."""
        return ['/bin/sh', '-c', ENTER, 'enter',
                *[os.path.join(folder, 'cgroup.procs') for folder in self.folders], '--',
                *command]

    def started(self, pid):
        """Joining happens in `argv`'s first process."""

    def share_cpu(self):
        """From the end of init on, the group gets its share of a core. Init runs unthrottled,
        as on Lambda, whose managed runtimes initialise with burst CPU (up to 10 s): a 128 MB
        function importing boto3 would otherwise spend 4 s of its 10 s init limit on it."""
        if not self._closed:
            for path, value in self.cpu_settings:
                _write(path, value)

    def out_of_memory(self):
        if not self._closed and self._oom_kills() > 0:
            self._out_of_memory = True
        return self._out_of_memory

    def peak_bytes(self):
        if not self._closed:
            self._peak = max(self._peak, self._read_peak())
        return self._peak

    def close(self):
        """Kill every process and remove the group, keeping its figures."""
        if self._closed:
            return
        self.kill()
        self.out_of_memory()
        self.peak_bytes()
        self._closed = True
        for folder in self.folders:
            destroy(folder)


class CgroupV2Group(CgroupGroup):
    def __init__(self, folder, limits, controllers, cpu_capacity):
        super().__init__([folder], limits)
        self.folder = folder
        self.controllers, self.cpu_capacity = controllers, cpu_capacity
        os.mkdir(folder)
        _write(os.path.join(folder, 'memory.oom.group'), 1)  # one OOM kill ends all, as Lambda
        swap = os.path.join(folder, 'memory.swap.max')  # with swap accounting
        if os.path.exists(swap):
            _write(swap, 0)
        if 'pids' in controllers:
            _write(os.path.join(folder, 'pids.max'), limits.processes)
        self.limit(limits)

    def limit(self, limits):
        """MemorySize now, its CPU share once init is over (share_cpu)."""
        self.limits = limits
        _write(os.path.join(self.folder, 'memory.max'), limits.memory_bytes)
        self.cpu_settings = []
        if 'cpu' in self.controllers and limits.cpu_share < self.cpu_capacity:
            self.cpu_settings = [(os.path.join(self.folder, 'cpu.max'),
                                  f'{cpu_quota_us(limits.cpu_share)} {CPU_PERIOD_US}')]

    def _oom_kills(self):
        return _counter(os.path.join(self.folder, 'memory.events'), 'oom_kill')

    def _read_peak(self):
        peak = os.path.join(self.folder, 'memory.peak')  # Linux 5.19 and later
        if os.path.exists(peak):
            return int(_read(peak))
        return int(_read(os.path.join(self.folder, 'memory.current')))

    def kill(self):
        if os.path.exists(os.path.join(self.folder, 'cgroup.kill')):  # Linux 5.14 and later
            _write(os.path.join(self.folder, 'cgroup.kill'), 1)
        else:
            _write(os.path.join(self.folder, 'cgroup.freeze'), 1)
            _kill_members(self.folder)
            _write(os.path.join(self.folder, 'cgroup.freeze'), 0)
        _kill_members(self.folder)


class CgroupV1Group(CgroupGroup):
    def __init__(self, folders, limits, cpu_capacity):
        super().__init__(list(folders.values()), limits)
        self.by_controller = folders
        self.cpu_capacity = cpu_capacity
        for folder in folders.values():
            os.mkdir(folder)
        if 'pids' in folders:
            _write(os.path.join(folders['pids'], 'pids.max'), limits.processes)
        self.limit(limits)

    def limit(self, limits):
        """MemorySize now, its CPU share once init is over (share_cpu). With swap accounting
        the memory-and-swap limit may never be below the memory one: the order of the two
        writes follows the direction of the change."""
        self.limits = limits
        memory = self.by_controller['memory']
        files = [os.path.join(memory, 'memory.limit_in_bytes')]
        swap = os.path.join(memory, 'memory.memsw.limit_in_bytes')
        if os.path.exists(swap):
            files.append(swap)
            if limits.memory_bytes > int(_read(files[0])):
                files.reverse()
        for path in files:
            _write(path, limits.memory_bytes)
        cpu = self.by_controller.get('cpu')
        self.cpu_settings = []
        if cpu and limits.cpu_share < self.cpu_capacity:
            self.cpu_settings = [
                (os.path.join(cpu, 'cpu.cfs_period_us'), CPU_PERIOD_US),
                (os.path.join(cpu, 'cpu.cfs_quota_us'), cpu_quota_us(limits.cpu_share))]

    def _oom_kills(self):
        return _counter(os.path.join(self.by_controller['memory'], 'memory.oom_control'),
                        'oom_kill')

    def _read_peak(self):
        memory = self.by_controller['memory']
        swap = os.path.join(memory, 'memory.memsw.max_usage_in_bytes')
        return int(_read(swap if os.path.exists(swap) else
                         os.path.join(memory, 'memory.max_usage_in_bytes')))

    def kill(self):
        freezer = self.by_controller.get('freezer')
        if freezer:  # frozen, nothing forks while the group is emptied
            state = os.path.join(freezer, 'freezer.state')
            _write(state, 'FROZEN')
            deadline = time.monotonic() + WAIT_SECONDS
            while _read(state).strip() != 'FROZEN' and time.monotonic() < deadline:
                time.sleep(0.001)
            for pid in _pids(freezer):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            _write(state, 'THAWED')  # a frozen process dies once thawed
        _kill_members(self.by_controller['memory'])


def _cpu_clause(setting, unlimited_because):
    """The note's words on CPU: its share and where it is set, or why it is not limited."""
    if unlimited_because:
        return f'CPU not limited ({unlimited_because})'
    return f'CPU: MemorySize/{MB_PER_CPU} of a core after init ({setting})'


class CgroupV2:
    label = 'cgroup v2'
    # memory is required; pids caps processes, cpu holds each environment's CPU share.
    CONTROLLERS = ('memory', 'pids', 'cpu')

    def __init__(self, owner, parent):
        self.owner = owner
        self.parent = parent
        self.base = os.path.join(parent, _base_name(owner))
        os.mkdir(self.base)
        # What a group may use is what its parent hands down.
        available = _read(os.path.join(parent, 'cgroup.subtree_control')).split()
        self.controllers = [name for name in self.CONTROLLERS if name in available]
        _write(os.path.join(self.base, 'cgroup.subtree_control'),
               ' '.join(f'+{name}' for name in self.controllers))
        self.cpu_capacity = cpu_capacity(parent, _cpu_max) if 'cpu' in available else None
        cpu = _cpu_clause('cpu.max', None if 'cpu' in available else
                          f'no cpu controller handed down to {parent}')
        self.note = (f'cgroup v2 under {parent}: memory.max = MemorySize for each environment\'s '
                     f'processes together, no swap, pids.max {PROCESS_LIMIT}, every process '
                     f'killed when its environment ends; {cpu}')

    @classmethod
    def under_own_group(cls, owner, mounts=None, groups=None):
        mounts = list(cgroup_mounts()) if mounts is None else mounts
        groups = own_groups() if groups is None else groups
        unified = [mount for mount in mounts if mount[0] == 'cgroup2']
        if not unified or '' not in groups:
            raise Unavailable('cgroup v2: not mounted')
        _, root, point, _ = unified[0]
        own = _folder_of(root, point, groups[''])
        if 'memory' not in _read(os.path.join(own, 'cgroup.controllers')).split():
            raise Unavailable(f'cgroup v2: no memory controller in {own}')
        return cls(owner, cls.parent_for_groups(owner, own, point))

    @staticmethod
    def parent_for_groups(owner, own, point):
        """Where groups with a memory limit can be made, nearest the endpoint's own group.

        A group can hand memory down only when it holds no process itself (unless it is the
        root). The endpoint's own group holds the endpoint: when nothing else, the endpoint
        moves into a leaf of it (as a delegated systemd scope expects); otherwise the groups go
        next to it, under the nearest group above that hands memory down."""
        if 'memory' in _read(os.path.join(own, 'cgroup.subtree_control')).split():
            return own
        if _pids(own) == [os.getpid()]:
            leaf = os.path.join(own, f'{GROUP_PREFIX}{owner}.endpoint')
            os.mkdir(leaf)
            _write(os.path.join(leaf, 'cgroup.procs'), os.getpid())
            available = _read(os.path.join(own, 'cgroup.controllers')).split()
            control = os.path.join(own, 'cgroup.subtree_control')
            _write(control, ' '.join(f'+{name}' for name in ('memory', 'pids')
                                     if name in available))
            if 'cpu' in available:
                try:
                    _write(control, '+cpu')
                except OSError:  # refused (a realtime process in the tree): memory all the same
                    pass
            return own
        folder = own
        while folder != point:
            folder = os.path.dirname(folder)
            if 'memory' in _read(os.path.join(folder, 'cgroup.subtree_control')).split():
                return folder
        raise Unavailable(f'cgroup v2: no group above {own} hands memory down')

    def group(self, name, limits):
        return CgroupV2Group(os.path.join(self.base, name), limits, self.controllers,
                             self.cpu_capacity)

    def close(self):
        destroy(self.base)


class CgroupV1:
    label = 'cgroup v1'
    # memory is required; pids caps processes, freezer stops forks while a group is killed,
    # cpu holds each environment's CPU share.
    CONTROLLERS = ('memory', 'pids', 'freezer', 'cpu')

    def __init__(self, owner, parents):
        self.owner = owner
        self.bases = {}
        self.cpu_capacity = None
        name = _base_name(owner)
        for controller, parent in parents.items():
            if controller != 'cpu':
                self.bases[controller] = os.path.join(parent, name)
                os.mkdir(self.bases[controller])
        cpu = _cpu_clause('cfs quota', self._hold_cpu(parents.get('cpu'), name))
        memory = self.bases['memory']
        swap = ' and swap' if os.path.exists(os.path.join(memory,
                                                          'memory.memsw.limit_in_bytes')) else ''
        self.note = (f'cgroup v1 ({", ".join(self.bases)}) under {os.path.dirname(memory)}: '
                     f'MemorySize for each environment\'s processes together (memory{swap}), '
                     + (f'pids.max {PROCESS_LIMIT}, ' if 'pids' in parents else '')
                     + f'every process killed when its environment ends; {cpu}')

    def _hold_cpu(self, parent, name):
        """Make the base group in the cpu hierarchy, where a quota can be set there; where it
        cannot, memory is contained all the same. Returns why CPU is not limited, or None."""
        if parent is None:
            return 'no cpu hierarchy mounted'
        if _cfs_quota(parent) is None:
            return f'no cpu.cfs_quota_us in {parent}'
        base = os.path.join(parent, name)
        try:
            os.mkdir(base)
        except OSError as error:  # read-only, or not ours to write
            return f'{error.strerror}: {base}'
        self.bases['cpu'] = base
        self.cpu_capacity = cpu_capacity(parent, _cfs_quota)
        return None

    @classmethod
    def under_own_group(cls, owner, mounts=None, groups=None):
        mounts = list(cgroup_mounts()) if mounts is None else mounts
        groups = own_groups() if groups is None else groups
        parents = {}
        for controller in cls.CONTROLLERS:
            for fstype, root, point, options in mounts:
                if fstype == 'cgroup' and controller in options and controller in groups:
                    parents[controller] = _folder_of(root, point, groups[controller])
                    break
        if 'memory' not in parents:
            raise Unavailable('cgroup v1: no memory hierarchy mounted')
        return cls(owner, parents)

    def group(self, name, limits):
        return CgroupV1Group({controller: os.path.join(base, name)
                              for controller, base in self.bases.items()}, limits,
                             self.cpu_capacity)

    def close(self):
        for base in self.bases.values():
            destroy(base)
