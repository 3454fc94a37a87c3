"""Function and layer zips, unpacked as Lambda unpacks them, and nowhere else.

Lambda keeps what a zip says about each entry: a symlink stays a symlink (the Unix mode in the
entry's external attributes is S_IFLNK, its content is the target) and files keep their
permission bits. A zip is untrusted input, so every entry is placed in a model of the folder
before anything is written: no absolute path, no `..`, nothing written through a symlink (the
zip's own or an earlier layer's), no file where a folder is needed. The bytes written are
counted against the sizes the central directory declared, so a zip that lies about them (a
zip bomb) stops there, and the declared total is held to Lambda's limit.

Folders are unpacked once per content: named by the sha256 of the zips' bytes, in order, so a
layer republished under the same ARN after a restart is unpacked again, and an unchanged one
never is. Each is written in a staging folder and renamed into place when complete: a failure
leaves nothing behind, and a reader never sees half a folder.
"""
import contextlib
import hashlib
import io
import lzma
import os
import shutil
import stat
import uuid
import zipfile
import zlib
from dataclasses import dataclass

# Lambda's limit for a function and its layers, unzipped.
UNZIPPED_LIMIT = 262144000
CHUNK_BYTES = 1 << 20
LINK_TARGET_MAX = 4095  # PATH_MAX, less its terminating NUL


class UnpackError(ValueError):
    """Why a zip cannot be unpacked; the message names the entry."""


@dataclass(frozen=True)
class Entry:
    info: zipfile.ZipInfo
    parts: tuple  # the path, folder by folder
    kind: str  # 'file', 'folder' or 'link'
    mode: int  # permission bits


def open_zip(zip_bytes):
    try:
        return zipfile.ZipFile(io.BytesIO(zip_bytes))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, ValueError,
            EOFError) as error:
        raise UnpackError(f'not a readable zip file ({error})') from None


def entries(archive):
    """The zip's entries, each checked on its own: a safe relative path, a kind Lambda
    unpacks."""
    found = []
    for info in archive.infolist():
        name = info.filename
        if name.startswith('/'):
            raise UnpackError(f'{name!r} is an absolute path')
        parts = tuple(part for part in name.split('/') if part not in ('', '.'))
        if '..' in parts:
            raise UnpackError(f'{name!r} leads out of the folder (..)')
        if info.flag_bits & 0x1:
            raise UnpackError(f'{name!r} is encrypted')
        unix_mode = info.external_attr >> 16 if info.create_system == 3 else 0
        file_type = stat.S_IFMT(unix_mode)
        if stat.S_ISLNK(unix_mode):
            kind = 'link'
            if not 0 < info.file_size <= LINK_TARGET_MAX:
                raise UnpackError(f'{name!r} is a symlink with a target of {info.file_size} bytes')
        elif stat.S_ISDIR(unix_mode) or name.endswith('/'):
            kind = 'folder'
        elif file_type in (0, stat.S_IFREG):
            kind = 'file'
        else:
            raise UnpackError(f'{name!r} is neither a file, a folder nor a symlink')
        if not parts:
            if kind == 'folder':
                continue  # the folder itself
            raise UnpackError(f'{name!r} names no file')
        found.append(Entry(info, parts, kind, stat.S_IMODE(unix_mode) & 0o777))
    return found


class Layout:
    """What the folder holds so far, by path: where each entry may go is decided here, before
    anything is written."""

    def __init__(self):
        self.kinds = {}

    def place(self, entry):
        for depth in range(1, len(entry.parts)):
            prefix = entry.parts[:depth]
            kind = self.kinds.setdefault(prefix, 'folder')
            if kind == 'link':
                raise UnpackError(f'{entry.info.filename!r} would be written through the symlink '
                                  f'{"/".join(prefix)!r}')
            if kind == 'file':
                raise UnpackError(f'{entry.info.filename!r} needs {"/".join(prefix)!r} as a '
                                  f'folder, but it is a file')
        existing = self.kinds.get(entry.parts)
        if existing == 'folder' and entry.kind != 'folder':
            raise UnpackError(f'{entry.info.filename!r} would replace a folder')
        if existing in ('file', 'link') and entry.kind == 'folder':
            raise UnpackError(f'{entry.info.filename!r} is a folder where a '
                              f'{existing} already is')
        self.kinds[entry.parts] = entry.kind


def check(zip_bytes):
    """The zip's declared unzipped size, once every entry is known to unpack; UnpackError
    otherwise. Reads the central directory and the symlinks' targets only."""
    with open_zip(zip_bytes) as archive:
        layout = Layout()
        found = entries(archive)
        for entry in found:
            layout.place(entry)
            if entry.kind == 'link':
                _link_target(archive, entry)
        return sum(entry.info.file_size for entry in found)


def content_key(zips):
    """sha256 of the zips' bytes, in order."""
    digest = hashlib.sha256()
    for zip_bytes in zips:
        digest.update(hashlib.sha256(zip_bytes).digest())
    return digest.hexdigest()


def unpacked(zips, cache_dir, staging_dir, budget=UNZIPPED_LIMIT):
    """The folder holding these zips unpacked in order (later entries win, as when Lambda
    extracts layers into /opt), made once per content."""
    folder = os.path.join(cache_dir, content_key(zips))
    if os.path.isdir(folder):
        return folder
    os.makedirs(cache_dir, exist_ok=True)
    os.makedirs(staging_dir, exist_ok=True)
    staging = os.path.join(staging_dir, f'unpack-{uuid.uuid4().hex}')
    try:
        unpack(zips, staging, budget)
        try:
            os.rename(staging, folder)
        except OSError:
            if not os.path.isdir(folder):
                raise
            shutil.rmtree(staging)  # another environment unpacked the same content first
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return folder


def unpack(zips, folder, budget=UNZIPPED_LIMIT):
    """Unpack into a new folder, refusing more than `budget` bytes declared in all."""
    archives = [open_zip(zip_bytes) for zip_bytes in zips]
    try:
        plans = [entries(archive) for archive in archives]
        declared = sum(entry.info.file_size for plan in plans for entry in plan)
        if declared >= budget:
            raise UnpackError(f'unzipped size {declared} bytes is not smaller than {budget} bytes')
        os.mkdir(folder, 0o755)
        root = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:
            layout = Layout()
            for archive, plan in zip(archives, plans):
                for entry in plan:
                    layout.place(entry)
                    _write(archive, entry, root)
        finally:
            os.close(root)
    finally:
        for archive in archives:
            archive.close()


def _write(archive, entry, root):
    """One entry, through file descriptors that never follow a symlink."""
    parent = _folder(root, entry.parts[:-1])
    name = entry.parts[-1]
    try:
        if entry.kind == 'folder':
            if not _exists(name, parent):
                os.mkdir(name, 0o755, dir_fd=parent)
            return
        if _exists(name, parent):
            os.unlink(name, dir_fd=parent)  # a later layer's file or link replaces it
        if entry.kind == 'link':
            os.symlink(_link_target(archive, entry), name, dir_fd=parent)
        else:
            _copy(archive, entry, name, parent)
    finally:
        os.close(parent)


def _folder(root, parts):
    descriptor = os.dup(root)
    for part in parts:
        if not _exists(part, descriptor):
            os.mkdir(part, 0o755, dir_fd=descriptor)
        child = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=descriptor)
        os.close(descriptor)
        descriptor = child
    return descriptor


def _exists(name, parent):
    try:
        os.stat(name, dir_fd=parent, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True


def _copy(archive, entry, name, parent):
    mode = entry.mode or 0o644
    descriptor = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode,
                         dir_fd=parent)
    written = 0
    with os.fdopen(descriptor, 'wb') as target, _reading(entry):
        with archive.open(entry.info) as source:
            while chunk := source.read(CHUNK_BYTES):
                written += len(chunk)
                if written > entry.info.file_size:
                    raise UnpackError(f'{entry.info.filename!r} holds more bytes than its '
                                      f'declared {entry.info.file_size}')
                target.write(chunk)
        os.fchmod(descriptor, mode)  # the umask narrowed it at creation


@contextlib.contextmanager
def _reading(entry):
    """Errors of the zip's data, named as such (decompressors raise their own)."""
    try:
        yield
    except (zipfile.BadZipFile, EOFError, NotImplementedError, ValueError, zlib.error,
            lzma.LZMAError) as error:  # ValueError: a bad offset or name encoding
        raise UnpackError(f'{entry.info.filename!r} cannot be read: {error}') from None


def _link_target(archive, entry):
    with _reading(entry):
        target = archive.read(entry.info)
    if b'\0' in target:
        raise UnpackError(f'{entry.info.filename!r} is a symlink to a name holding a NUL byte')
    return os.fsdecode(target)
