"""Each execution environment's whole process tree, contained: its lifetime and its memory.

On Lambda an environment is a microVM: every process a handler starts, even one that leaves
its session with setsid, ends with the environment, and together they get MemorySize. Here a
control group per environment does the same, made under the endpoint's own group wherever the
machine lets the endpoint write one (as root, cgroup v2 or v1 mounted read-write):

- memory: a hard limit of MemorySize for the whole tree, swap included (memory.swap.max 0 on
  v2, memory.memsw.limit_in_bytes on v1), so the kernel stops the tree where Lambda would. An
  OOM kill in the group (oom_kill in memory.events or memory.oom_control) ends the environment
  as Runtime.OutOfMemory, and Max Memory Used is the group's peak (memory.peak,
  memory.max_usage_in_bytes), children included.
- lifetime: ending an environment kills every process in its group (cgroup.kill; on v1 the
  group is frozen, killed process by process, thawed), wherever they moved in the process
  tree. Processes and threads are capped at Lambda's 1024 (pids.max).
- CPU: Lambda gives an environment CPU in proportion to MemorySize, one vCPU at 1,769 MB,
  once its init is over (init runs with burst CPU). Here the group gets that share of one CPU
  as a CFS quota per 100 ms (cpu.max on v2, cpu.cfs_quota_us on v1) from the runtime's first
  request for work on, wherever the cpu controller is there to write;
  without it, memory and lifetime are contained all the same and CPU is not limited, so a
  Duration measured here is what a function takes with whole cores.
- what an endpoint killed with SIGKILL left is ended by the next one (local_endpoint.cgroups).

Without a writable hierarchy (not root, read-only, no memory controller) the tree is found in
/proc, children of children; its memory is the sum of their resident sets, checked while an
invocation runs; a process that leaves the tree (a daemon whose parent exited) escapes; and
CPU is not limited. Each kind's `note` says what it enforces.
"""
import os
import re
import signal
from dataclasses import dataclass

from local_endpoint.cgroups import MB_PER_CPU, PROCESS_LIMIT, CgroupV1, CgroupV2, Unavailable

MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """What one environment is given; `cpu_share` is in CPUs (0.5: half of one)."""
    memory_bytes: int
    cpu_share: float
    processes: int = PROCESS_LIMIT

    @classmethod
    def for_function(cls, memory_mb):
        """Lambda's: MemorySize, and CPU in proportion to it."""
        return cls(memory_mb * MB, cpu_share=memory_mb / MB_PER_CPU)


def _proc(path):
    with open(path) as handle:
        return handle.read()


def detect(owner):
    """The strongest containment this machine allows, trying cgroup v2, then v1."""
    if os.geteuid() != 0:
        return ProcessTree('not root')
    reasons = []
    for kind in (CgroupV2, CgroupV1):
        try:
            return kind.under_own_group(owner)
        except Unavailable as reason:
            reasons.append(str(reason))
        except OSError as error:
            reasons.append(f'{kind.label}: {error.strerror} ({error.filename})')
    return ProcessTree('; '.join(reasons))


class ProcessTreeGroup:
    """An environment's processes as the tree below its first one, read from /proc."""

    PAGE_BYTES = os.sysconf('SC_PAGE_SIZE')

    def __init__(self, limits):
        self.limits = limits
        self.pid = None
        self._peak = 0
        self._out_of_memory = False
        self._closed = False

    def argv(self, command):
        return command

    def started(self, pid):
        self.pid = pid

    def members(self):
        found, queue = [], [self.pid]
        while queue:
            pid = queue.pop()
            found.append(pid)
            try:
                tasks = os.listdir(f'/proc/{pid}/task')
            except OSError:
                continue
            for task in tasks:
                try:
                    queue += [int(child) for child in
                              _proc(f'/proc/{pid}/task/{task}/children').split()]
                except OSError:
                    continue
        return found

    def _resident_bytes(self):
        total = 0
        for pid in self.members():
            try:
                total += int(_proc(f'/proc/{pid}/statm').split()[1]) * self.PAGE_BYTES
            except (OSError, IndexError):
                continue
        return total

    def limit(self, limits):
        self.limits = limits

    def share_cpu(self):
        """Without a control group there is no CPU share to give."""

    def out_of_memory(self):
        if not self._out_of_memory:
            self._out_of_memory = self.peak_bytes() > self.limits.memory_bytes
        return self._out_of_memory

    def peak_bytes(self):
        """The largest sum seen, or the first process's own high-water mark if larger."""
        if self.pid is None or self._closed:
            return self._peak
        try:
            status = _proc(f'/proc/{self.pid}/status')
            high_water = int(re.search(r'^VmHWM:\s+(\d+) kB', status, re.M)[1]) * 1024
        except (OSError, TypeError):
            high_water = 0
        self._peak = max(self._peak, high_water, self._resident_bytes())
        return self._peak

    def kill(self):
        if self.pid is None or self._closed:
            return
        members = self.members()
        for sig in (signal.SIGSTOP, signal.SIGKILL):  # stopped first, so none forks meanwhile
            for pid in members:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            members = self.members()
        try:
            os.killpg(self.pid, signal.SIGKILL)  # what left the tree but not the session
        except (ProcessLookupError, PermissionError):
            pass

    def close(self):
        self.peak_bytes()
        self.kill()
        self._closed = True


class ProcessTree:
    label = 'process tree'

    def __init__(self, reason):
        self.note = (f'NOT contained ({reason}): an environment\'s memory is the sum of its '
                     f'processes\' resident sets, checked while it runs; a process that leaves '
                     f'the tree (setsid, then its parent exits) outlives its environment; '
                     f'CPU not limited (no cgroup)')

    def group(self, name, limits):
        return ProcessTreeGroup(limits)

    def close(self):
        """Each environment killed its own tree."""
