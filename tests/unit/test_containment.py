"""Each environment's process tree contained: with cgroups where this machine allows them (as
root), from /proc otherwise; its /tmp private and sized; what a killed endpoint left, cleared."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest

from local_endpoint import cgroups, containment, execution_host, filesystem
from local_endpoint.cgroups import CgroupV2
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
        group = self.host.group(f'test-{time.monotonic_ns()}', Limits(megabytes * MB))
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


class ProcessTreeTest(Contained, unittest.TestCase):
    """Without cgroups: memory summed over the tree from /proc, the tree killed."""

    def setUp(self):
        self.host = containment.ProcessTree('forced by the test')


class CgroupV2PlacementTest(unittest.TestCase):
    """cgroup v2's rule (a group hands memory down only without processes of its own), on
    a folder laid out as the kernel lays one out."""

    def setUp(self):
        self.point = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.point)
        self.group_folder('', handed_down='memory pids')  # the root

    def group_folder(self, path, controllers='memory pids', handed_down='', processes=()):
        folder = os.path.join(self.point, path)
        os.makedirs(folder, exist_ok=True)
        for name, value in (('cgroup.controllers', controllers),
                            ('cgroup.subtree_control', handed_down),
                            ('cgroup.procs', '\n'.join(map(str, processes)))):
            with open(os.path.join(folder, name), 'w') as handle:
                handle.write(value)
        return folder

    def test_a_group_handing_memory_down_holds_the_environments(self):
        own = self.group_folder('service', handed_down='memory pids')
        host = CgroupV2(OWNER, CgroupV2.parent_for_groups(OWNER, own, self.point))
        group = host.group('env', Limits(128 * MB))
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
            import subprocess, sys
            from local_endpoint import execution_host
            from local_endpoint.containment import Limits
            host = execution_host.Host({state!r})
            group = host.containment.group('env', Limits(128 << 20))
            daemon = subprocess.Popen(group.argv(['sleep', '300']), start_new_session=True)
            group.started(daemon.pid)
            host.filesystem.prepare('env', 512)
            print(daemon.pid, host.run_dir, flush=True)
            sys.stdin.read()
        ''')
        endpoint = subprocess.Popen([sys.executable, '-c', script], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, text=True,
                                    cwd=os.path.dirname(os.path.dirname(os.path.dirname(
                                        os.path.abspath(__file__)))))
        daemon, run_dir = endpoint.stdout.readline().split()
        os.kill(endpoint.pid, signal.SIGKILL)
        endpoint.wait()
        self.assertFalse(gone(daemon, seconds=0.2), 'still running after the kill -9')
        host = execution_host.Host(state)
        self.addCleanup(host.close)
        self.assertTrue(gone(daemon), 'killed by the next start')
        self.assertFalse(os.path.exists(run_dir))
        self.assertEqual(os.listdir(os.path.join(state, 'run')), [host.owner])
