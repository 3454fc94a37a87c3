"""Each environment's process tree contained: with cgroups where this machine allows them (as
root), from /proc otherwise; its CPU a share of a core proportional to MemorySize where the
cpu controller allows; its /tmp private and sized; what a killed endpoint left, cleared."""
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest
from unittest import mock

from local_endpoint import cgroups, containment, execution_host, filesystem
from local_endpoint.cgroups import CgroupV1, CgroupV2
from local_endpoint.containment import Limits

MB = 1024 * 1024
HOG = [sys.executable, '-c', 'import time; block = b"x" * (200 << 20); time.sleep(30)']
OWNER = cgroups.process_identity(os.getpid())


def gone(pid, seconds=5):
    """True once pid has exited (a zombie has exited too)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with open(f'/proc/{pid}/stat') as stat:
                if stat.read().rsplit(')', 1)[1].split()[0] == 'Z':
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.01)
    return False


def start(group, command):
    process = subprocess.Popen(group.argv(command), stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, start_new_session=True, text=True)
    group.started(process.pid)
    return process


class Contained:
    """The same checks for each kind of containment; `host` is set by each subclass."""

    def group(self, megabytes):
        group = self.host.group(f'test-{time.monotonic_ns()}', Limits.for_function(megabytes))
        self.addCleanup(group.close)
        return group

    def test_a_child_that_left_its_session_dies_with_the_environment(self):
        group = self.group(128)
        process = start(group, ['sh', '-c', 'setsid sleep 300 </dev/null >/dev/null 2>&1 & '
                                            'echo $!; exec sleep 300'])
        daemon = int(process.stdout.readline())
        group.close()
        process.wait(5)
        self.assertTrue(gone(daemon), 'the setsid child was killed')

    def test_memory_is_counted_for_children_too(self):
        group = self.group(128)
        process = start(group, ['sh', '-c', f'"{HOG[0]}" -c \'{HOG[2]}\'; sleep 30'])
        deadline = time.monotonic() + 10
        while not group.out_of_memory() and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertTrue(group.out_of_memory(), 'a child over the limit is out of memory')
        self.assertGreaterEqual(group.peak_bytes(), 120 * MB)
        group.close()
        process.wait(5)


@unittest.skipUnless(os.geteuid() == 0, 'cgroups need root')
class CgroupTest(Contained, unittest.TestCase):
    def setUp(self):
        self.host = containment.detect(OWNER)
        if isinstance(self.host, containment.ProcessTree):
            self.skipTest(f'no writable cgroup hierarchy: {self.host.note}')
        self.addCleanup(self.host.close)

    def test_the_limit_is_the_kernels_and_the_peak_is_the_groups(self):
        group = self.group(64)
        process = start(group, HOG)
        self.assertEqual(process.wait(10), -signal.SIGKILL, 'killed at 64 MB, not at 200')
        self.assertTrue(group.out_of_memory())
        self.assertEqual(-(-group.peak_bytes() // MB), 64)

    def test_ending_removes_the_group(self):
        group = self.group(128)
        start(group, ['sleep', '300']).stdout.close()
        group.close()
        for folder in group.folders:
            self.assertFalse(os.path.exists(folder))

    def test_the_cpu_share_is_the_kernels(self):
        if 'CPU not limited' in self.host.note:
            self.skipTest(self.host.note)
        group = self.group(128)
        group.share_cpu()
        settings = [os.path.join(folder, name) for folder in group.folders
                    for name in ('cpu.max', 'cpu.cfs_quota_us')
                    if os.path.exists(os.path.join(folder, name))]
        self.assertEqual([open(setting).read().split()[0] for setting in settings], ['7236'])


class ProcessTreeTest(Contained, unittest.TestCase):
    """Without cgroups: memory summed over the tree from /proc, the tree killed."""

    def setUp(self):
        self.host = containment.ProcessTree('forced by the test')


def read(folder, name):
    with open(os.path.join(folder, name)) as handle:
        return handle.read()


class LimitsTest(unittest.TestCase):
    def test_the_cpu_share_is_memory_size_over_1769_mb_of_a_100_ms_period(self):
        for memory_mb, quota_us in ((128, 7236), (256, 14471), (1769, 100000), (10240, 578858)):
            limits = Limits.for_function(memory_mb)
            self.assertEqual((limits.memory_bytes, cgroups.cpu_quota_us(limits.cpu_share)),
                             (memory_mb * MB, quota_us))


class FakeCgroupV2:
    """A cgroup v2 hierarchy in a temporary folder, laid out as the kernel lays one out."""

    def setUp(self):
        self.point = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.point)
        self.group_folder('', handed_down='memory pids')  # the root

    def group_folder(self, path, controllers='memory pids', handed_down='', processes=(),
                     cpu_max=None):
        folder = os.path.join(self.point, path)
        os.makedirs(folder, exist_ok=True)
        for name, value in (('cgroup.controllers', controllers),
                            ('cgroup.subtree_control', handed_down),
                            ('cgroup.procs', '\n'.join(map(str, processes))),
                            ('cpu.max', cpu_max)):
            if value is not None:
                with open(os.path.join(folder, name), 'w') as handle:
                    handle.write(value)
        return folder


class CgroupV2PlacementTest(FakeCgroupV2, unittest.TestCase):
    """cgroup v2's rule (a group hands memory down only without processes of its own)."""

    def test_a_group_handing_memory_down_holds_the_environments(self):
        own = self.group_folder('service', handed_down='memory pids')
        host = CgroupV2(OWNER, CgroupV2.parent_for_groups(OWNER, own, self.point))
        group = host.group('env', Limits.for_function(128))
        with open(os.path.join(host.base, 'cgroup.subtree_control')) as handle:
            self.assertEqual(handle.read(), '+memory +pids')
        settings = {name: open(os.path.join(group.folder, name)).read()
                    for name in ('memory.max', 'memory.oom.group', 'pids.max')}
        self.assertEqual(settings, {'memory.max': str(128 * MB), 'memory.oom.group': '1',
                                    'pids.max': '1024'})
        self.assertIn(os.path.join(group.folder, 'cgroup.procs'), group.argv(['runtime']))

    def test_alone_in_its_group_the_endpoint_moves_into_a_leaf(self):
        own = self.group_folder('scope', processes=[os.getpid()])
        self.assertEqual(CgroupV2.parent_for_groups(OWNER, own, self.point), own)
        with open(os.path.join(own, f'local-endpoint-{OWNER}.endpoint', 'cgroup.procs')) as leaf:
            self.assertEqual(leaf.read(), str(os.getpid()))
        with open(os.path.join(own, 'cgroup.subtree_control')) as handle:
            self.assertEqual(handle.read(), '+memory +pids')

    def test_alone_in_its_group_the_endpoint_hands_cpu_down_too_if_it_can(self):
        """cpu is asked for on its own: a refusal leaves memory and pids handed down."""
        real_write = cgroups._write

        def refusing_cpu(path, value):
            if value == '+cpu':
                raise OSError(errno.EINVAL, 'Invalid argument', path)
            real_write(path, value)

        for write in (real_write, refusing_cpu):
            own = self.group_folder(f'scope-{write.__name__}', controllers='memory pids cpu',
                                    processes=[os.getpid()])
            with self.subTest(write.__name__), \
                    mock.patch.object(cgroups, '_write', side_effect=write) as written:
                self.assertEqual(CgroupV2.parent_for_groups(OWNER, own, self.point), own)
                control = os.path.join(own, 'cgroup.subtree_control')
                self.assertEqual([call.args[1] for call in written.call_args_list
                                  if call.args[0] == control], ['+memory +pids', '+cpu'])

    def test_sharing_its_group_the_endpoint_uses_the_nearest_group_above(self):
        slice_folder = self.group_folder('user.slice', handed_down='memory pids')
        own = self.group_folder('user.slice/session.scope', processes=[1, os.getpid()])
        self.assertEqual(CgroupV2.parent_for_groups(OWNER, own, self.point), slice_folder)
        for folder in ('', 'user.slice'):
            self.group_folder(folder, handed_down='pids')
        with self.assertRaises(cgroups.Unavailable):
            CgroupV2.parent_for_groups(OWNER, own, self.point)

    def test_own_group_from_proc(self):
        mountinfo = os.path.join(self.point, 'mountinfo')
        with open(mountinfo, 'w') as handle:
            handle.write('35 25 0:30 / /sys/fs/cgroup/memory rw,relatime shared:14 - cgroup '
                         'cgroup rw,memory\n'
                         '40 25 0:35 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n'
                         '41 25 0:36 / /proc rw - proc proc rw\n')
        self.assertEqual(list(cgroups.cgroup_mounts(mountinfo)), [
            ('cgroup', '/', '/sys/fs/cgroup/memory', {'rw', 'memory'}),
            ('cgroup2', '/', '/sys/fs/cgroup/unified', {'rw'})])


class CgroupV2CpuTest(FakeCgroupV2, unittest.TestCase):
    """cpu.max: '<quota> <period>', where the parent hands the cpu controller down."""

    def test_each_group_gets_its_share_as_cpu_max(self):
        own = self.group_folder('service', 'memory pids cpu', 'memory pids cpu',
                                cpu_max='max 100000')
        host = CgroupV2(OWNER, own)
        self.assertEqual(read(host.base, 'cgroup.subtree_control'), '+memory +pids +cpu')
        group = host.group('env', Limits.for_function(128))
        self.assertFalse(os.path.exists(os.path.join(group.folder, 'cpu.max')))  # init bursts
        group.share_cpu()
        self.assertEqual((read(group.folder, 'memory.max'), read(group.folder, 'cpu.max')),
                         (str(128 * MB), '7236 100000'))
        self.assertTrue(host.note.endswith('; CPU: MemorySize/1769 of a core after init (cpu.max)'),
                        host.note)

    def test_a_share_no_less_than_a_group_above_allows_is_left_unlimited(self):
        self.group_folder('slice', 'memory pids cpu', 'memory pids cpu', cpu_max='50000 100000')
        own = self.group_folder('slice/service', 'memory pids cpu', 'memory pids cpu',
                                cpu_max='max 100000')
        host = CgroupV2(OWNER, own)
        self.assertEqual(host.cpu_capacity, 0.5)
        small = host.group('small', Limits.for_function(512))
        small.share_cpu()
        self.assertEqual(read(small.folder, 'cpu.max'), '28943 100000')
        large = host.group('large', Limits.for_function(1769))
        large.share_cpu()
        self.assertFalse(os.path.exists(os.path.join(large.folder, 'cpu.max')))

    def test_without_cpu_handed_down_memory_is_contained_and_the_note_says_why(self):
        own = self.group_folder('service', handed_down='memory pids')
        host = CgroupV2(OWNER, own)
        group = host.group('env', Limits.for_function(128))
        self.assertEqual(read(group.folder, 'memory.max'), str(128 * MB))
        self.assertFalse(os.path.exists(os.path.join(group.folder, 'cpu.max')))
        self.assertTrue(host.note.endswith(
            f'; CPU not limited (no cpu controller handed down to {own})'), host.note)


class CgroupV1CpuTest(unittest.TestCase):
    """cpu.cfs_quota_us per cpu.cfs_period_us, in the cpu hierarchy, on folders laid out as
    the kernel lays them out (memory alone, cpu with cpuacct)."""

    def setUp(self):
        self.point = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.point)
        os.mkdir(os.path.join(self.point, 'memory'))
        self.cpu_root = os.path.join(self.point, 'cpu')
        os.mkdir(self.cpu_root)
        self.mounts = [('cgroup', '/', os.path.join(self.point, 'memory'), {'rw', 'memory'}),
                       ('cgroup', '/', self.cpu_root, {'rw', 'cpu', 'cpuacct'})]
        self.groups = {'memory': '/', 'cpu': '/', 'cpuacct': '/'}

    def cpu_folder(self, path, quota_us='-1'):
        folder = os.path.join(self.cpu_root, path)
        os.makedirs(folder, exist_ok=True)
        for name, value in (('cpu.cfs_quota_us', quota_us), ('cpu.cfs_period_us', '100000')):
            with open(os.path.join(folder, name), 'w') as handle:
                handle.write(value)
        return folder

    def test_each_group_gets_its_share_as_a_cfs_quota(self):
        self.cpu_folder('')
        host = CgroupV1.under_own_group(OWNER, self.mounts, self.groups)
        group = host.group('env', Limits.for_function(128))
        cpu = group.by_controller['cpu']
        self.assertFalse(os.path.exists(os.path.join(cpu, 'cpu.cfs_quota_us')))  # init bursts
        group.share_cpu()
        self.assertEqual((read(cpu, 'cpu.cfs_period_us'), read(cpu, 'cpu.cfs_quota_us')),
                         ('100000', '7236'))
        self.assertIn(os.path.join(cpu, 'cgroup.procs'), group.argv(['runtime']))
        self.assertTrue(host.note.endswith('; CPU: MemorySize/1769 of a core after init (cfs quota)'),
                        host.note)

    def test_a_share_no_less_than_a_group_above_allows_is_left_unlimited(self):
        """cgroup v1 refuses a quota above a parent's (EINVAL)."""
        self.cpu_folder('')
        self.cpu_folder('user', quota_us='50000')
        self.cpu_folder('user/service')
        host = CgroupV1.under_own_group(OWNER, self.mounts, dict(self.groups,
                                                                 cpu='/user/service'))
        self.assertEqual(host.cpu_capacity, 0.5)
        small_group = host.group('small', Limits.for_function(512))
        small_group.share_cpu()
        small = small_group.by_controller['cpu']
        self.assertEqual(read(small, 'cpu.cfs_quota_us'), '28943')
        large_group = host.group('large', Limits.for_function(1769))
        large_group.share_cpu()
        large = large_group.by_controller['cpu']
        self.assertFalse(os.path.exists(os.path.join(large, 'cpu.cfs_quota_us')))

    def test_where_cpu_cannot_be_limited_memory_is_contained_and_the_note_says_why(self):
        real_mkdir = os.mkdir

        def read_only_cpu(path, *arguments):
            if path.startswith(self.cpu_root):
                raise OSError(errno.EROFS, 'Read-only file system', path)
            real_mkdir(path, *arguments)

        cases = (('no cpu hierarchy mounted', self.mounts[:1], None),
                 (f'no cpu.cfs_quota_us in {self.cpu_root}', self.mounts, None),
                 ('Read-only file system: ', self.mounts, read_only_cpu))
        for reason, mounts, mkdir in cases:
            with self.subTest(reason), mock.patch.object(cgroups.os, 'mkdir',
                                                         side_effect=mkdir or real_mkdir):
                if mkdir:
                    self.cpu_folder('')
                host = CgroupV1.under_own_group(OWNER, mounts, self.groups)
                group = host.group(f'env-{len(reason)}', Limits.for_function(128))
            self.assertEqual(list(group.by_controller), ['memory'])
            self.assertEqual(read(group.folders[0], 'memory.limit_in_bytes'), str(128 * MB))
            self.assertIn(f'; CPU not limited ({reason}', host.note)

    def test_a_dead_endpoints_groups_are_swept_from_the_cpu_hierarchy_too(self):
        dead = os.path.join(self.cpu_root, 'local-endpoint-4194304-1.0badc0de')
        alive = os.path.join(self.cpu_root, f'local-endpoint-{OWNER}.0badc0de')
        for folder in (dead, alive):
            os.mkdir(folder)
        cgroups.sweep_orphans(self.mounts, self.groups)
        self.assertEqual((os.path.exists(dead), os.path.exists(alive)), (False, True))


@unittest.skipUnless(os.geteuid() == 0, 'a private /tmp needs root')
class PrivateTmpTest(unittest.TestCase):
    def setUp(self):
        self.state = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.state)
        self.run_dir = os.path.join(self.state, 'run')
        os.makedirs(os.path.join(self.state, 'code'))
        self.mounts = filesystem.detect(self.run_dir, self.state)
        if not isinstance(self.mounts, filesystem.PrivateMounts):
            self.skipTest(self.mounts.note)

    def test_tmp_is_private_sized_and_removed(self):
        volume = self.mounts.prepare('env', 512)
        script = ('mkdir /tmp/seen-only-here && fallocate -l 511M /tmp/data '
                  '&& { fallocate -l 2M /tmp/more 2>/dev/null || echo ENOSPC; } '
                  '&& { touch "$LAMBDA_TASK_ROOT/x" 2>/dev/null || echo EROFS; }')
        task_root = os.path.join(self.state, 'code')
        result = subprocess.run(volume.argv(['sh', '-c', script]), cwd=task_root,
                                env={**os.environ, 'LAMBDA_TASK_ROOT': task_root},
                                capture_output=True, text=True, timeout=60)
        self.assertEqual(result.stdout.split(), ['ENOSPC', 'EROFS'], result.stderr)
        self.assertFalse(os.path.exists('/tmp/seen-only-here'))
        volume.remove()
        self.assertEqual([name for name in os.listdir(self.run_dir) if name != 'templates'], [])


class SharedTmpTest(unittest.TestCase):
    def test_without_root_tmpdir_is_the_environments_own(self):
        run_dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, run_dir)
        volume = filesystem.SharedMounts(run_dir, 'forced by the test').prepare('env', 512)
        result = subprocess.run(volume.argv([sys.executable, '-c', 'import tempfile; '
                                             'print(tempfile.gettempdir())']),
                                env={**os.environ, **volume.variables}, capture_output=True,
                                text=True)
        self.assertEqual(result.stdout.strip(), os.path.join(run_dir, 'env'))
        volume.remove()
        self.assertEqual(os.listdir(run_dir), [])


class KilledEndpointTest(unittest.TestCase):
    """An endpoint killed with SIGKILL cannot end its environments: the next one does."""

    def test_the_next_start_kills_what_a_killed_endpoint_left(self):
        probe = containment.detect(OWNER)
        probe.close()
        if isinstance(probe, containment.ProcessTree):
            self.skipTest('without cgroups what left the tree cannot be found again')
        state = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, state, True)
        script = textwrap.dedent(f'''
            import json, subprocess, sys
            from local_endpoint import execution_host
            from local_endpoint.containment import Limits
            host = execution_host.Host({state!r})
            group = host.containment.group('env', Limits.for_function(128))
            daemon = subprocess.Popen(group.argv(['sleep', '300']), start_new_session=True)
            group.started(daemon.pid)
            host.filesystem.prepare('env', 512)
            print(json.dumps([daemon.pid, host.run_dir, host.note, group.folders]), flush=True)
            sys.stdin.read()
        ''')
        endpoint = subprocess.Popen([sys.executable, '-c', script], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, text=True,
                                    cwd=os.path.dirname(os.path.dirname(os.path.dirname(
                                        os.path.abspath(__file__)))))
        daemon, run_dir, note, folders = json.loads(endpoint.stdout.readline())
        cpu_folders = [folder for folder in folders
                       if {'cpu.max', 'cpu.cfs_quota_us'} & set(os.listdir(folder))]
        if 'CPU not limited' not in note:
            self.assertTrue(cpu_folders, f'CPU limited in a group of its own: {folders}')
        os.kill(endpoint.pid, signal.SIGKILL)
        endpoint.wait()
        self.assertFalse(gone(daemon, seconds=0.2), 'still running after the kill -9')
        host = execution_host.Host(state)
        self.addCleanup(host.close)
        self.assertTrue(gone(daemon), 'killed by the next start')
        self.assertFalse(os.path.exists(run_dir))
        self.assertEqual(os.listdir(os.path.join(state, 'run')), [host.owner])
        self.assertEqual([folder for folder in folders if os.path.exists(folder)], [],
                         'its groups, in every hierarchy, removed')
