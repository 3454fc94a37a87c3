"""What an execution environment sees of the filesystem: its own /tmp, sized as the function's
EphemeralStorage says, and its code read-only.

On Lambda /tmp is a disk of EphemeralStorage MB (512 by default) that only the environment
sees: writing past its size fails with ENOSPC, and it does not count against MemorySize. The
code, the layers and the runtime are read-only. As root, each environment runs in a mount
namespace of its own (unshare --mount --propagation private) where:

- /tmp is an ext4 image of that size, loop-mounted: a disk, not a tmpfs, whose pages the kernel
  would charge to the writer's memory cgroup. Each image is a sparse copy (about 2 ms) of a
  template made once per size by each endpoint, grown by ext4's own overhead so that
  EphemeralStorage bytes of data fit.
- the endpoint's state folder (unpacked code, layers, runtime) is bound read-only, so no
  function changes what another environment will run.

The mounts live as long as the namespace's processes and go with them. The image is deleted
when the environment ends; an endpoint's images are in its own run folder, removed when it
stops, or by the next endpoint started on the same state folder after a kill -9.

Without root /tmp is the machine's: TMPDIR, which tempfile honours, names a folder of the
environment's own, removed with it and not size-limited.
"""
import os
import re
import shutil
import subprocess
import threading

# Run in the environment's new mount namespace, before the runtime. The state folder is
# reached through the shell's working folder, so it stays reachable when it is under /tmp
# (then it reappears at its path in the new /tmp).
MOUNT = ('cd "$2" && mount -o loop,nosuid,nodev "$1" /tmp && mkdir -p "$2" '
         '&& mount --no-canonicalize --bind -o ro . "$2" && cd "$LAMBDA_TASK_ROOT" && shift 2 '
         '&& exec "$@"')
# Measures a new image, and leaves its root as /tmp's usual one: empty, mode 1777.
PREPARE = ('mount -o loop "$1" /tmp && rmdir /tmp/lost+found && chmod 1777 /tmp '
           '&& stat -f -c "%a %S" /tmp')
UNSHARE = ['unshare', '--mount', '--propagation', 'private']


class MountRefused(Exception):
    """Why this machine does not let the endpoint give an environment its own mounts."""


def visible_inside(path):
    """Whether a path outside the state folder can be seen from an environment's namespace,
    where /tmp is the environment's own."""
    return os.path.commonpath(['/tmp', os.path.realpath(path)]) != '/tmp'


class PrivateMounts:
    note = ('a private /tmp of EphemeralStorage MB per environment (ext4, loop-mounted, not '
            'counted as memory), code and layers read-only')

    def __init__(self, run_dir, state_dir):
        self.run_dir = run_dir
        self.state_dir = state_dir
        self.templates = {}  # EphemeralStorage MB -> image
        self.lock = threading.Lock()

    @classmethod
    def probe(cls, run_dir, state_dir):
        """Mounts as the default environment will, once: MountRefused if the machine refuses."""
        mounts = cls(run_dir, state_dir)
        mounts.template(512)
        return mounts

    def template(self, size_mb):
        with self.lock:
            if size_mb not in self.templates:
                self.templates[size_mb] = self._make_template(size_mb)
            return self.templates[size_mb]

    def _make_template(self, size_mb):
        folder = os.path.join(self.run_dir, 'templates')
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, f'{size_mb}.img')
        wanted = size_mb << 20
        image_bytes = wanted
        for _ in range(3):  # grown each time by the share ext4 keeps for itself
            if os.path.exists(path):
                os.unlink(path)
            with open(path, 'wb') as image:
                image.truncate(image_bytes)
            # No journal (scratch space), no reserved blocks, and the inode tables zeroed now
            # (holes in each copy) rather than later by a kernel thread in every image.
            _run(['mkfs.ext4', '-q', '-F', '-m', '0', '-O', '^has_journal',
                  '-E', 'lazy_itable_init=0,nodiscard', path])
            available_blocks, block_size = map(int, _run(
                [*UNSHARE, 'sh', '-c', PREPARE, 'prepare', path]).split())
            available = available_blocks * block_size
            if available >= wanted:
                break
            image_bytes = -(-image_bytes * wanted // available // 4096) * 4096 + (64 << 10)
        sparse = f'{path}.sparse'
        _run(['cp', '--sparse=always', path, sparse])  # zeroed inode tables become holes
        os.rename(sparse, path)
        return path

    def prepare(self, name, size_mb):
        image = os.path.join(self.run_dir, f'{name}.img')
        _sparse_copy(self.template(size_mb), image)
        return PrivateTmp(image, self.state_dir)


class PrivateTmp:
    def __init__(self, image, state_dir):
        self.image = image
        self.state_dir = state_dir
        self.variables = {}

    def argv(self, command):
        return [*UNSHARE, 'sh', '-c', MOUNT, 'mount', self.image, self.state_dir, *command]

    def remove(self):
        """The mount went with the namespace's processes; the image goes now."""
        try:
            os.unlink(self.image)
        except FileNotFoundError:
            pass


class SharedMounts:
    def __init__(self, run_dir, reason):
        self.run_dir = run_dir
        self.note = (f'/tmp is the machine\'s ({reason}): TMPDIR is a folder of each '
                     f'environment\'s own, not size-limited; code and layers are writable')

    def prepare(self, name, size_mb):
        folder = os.path.join(self.run_dir, name)
        os.makedirs(folder)
        return TmpFolder(folder)


class TmpFolder:
    def __init__(self, folder):
        self.folder = folder
        self.variables = {'TMPDIR': folder}

    def argv(self, command):
        return command

    def remove(self):
        shutil.rmtree(self.folder, ignore_errors=True)


def detect(run_dir, state_dir):
    if os.geteuid() != 0:
        return SharedMounts(run_dir, 'not root')
    missing = [tool for tool in ('unshare', 'mount', 'mkfs.ext4', 'cp') if not shutil.which(tool)]
    if missing:
        return SharedMounts(run_dir, f'{", ".join(missing)} not found')
    try:
        return PrivateMounts.probe(run_dir, state_dir)
    except MountRefused as reason:
        return SharedMounts(run_dir, str(reason))


def _run(command):
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        problem = re.sub(r'\s+', ' ', result.stderr).strip()
        raise MountRefused(f'{command[0]} failed: {problem}')
    return result.stdout


def _sparse_copy(source, target):
    """A copy holding only the source's data, its holes left holes: a few hundred KB for a
    fresh image of any size."""
    with open(source, 'rb') as reader, open(target, 'wb') as writer:
        size = os.fstat(reader.fileno()).st_size
        offset = 0
        while offset < size:
            try:
                data = os.lseek(reader.fileno(), offset, os.SEEK_DATA)
            except OSError:  # ENXIO: only a hole is left
                break
            hole = os.lseek(reader.fileno(), data, os.SEEK_HOLE)
            while data < hole:
                data += os.copy_file_range(reader.fileno(), writer.fileno(), hole - data,
                                           data, data)
            offset = hole
        writer.truncate(size)
