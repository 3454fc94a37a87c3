"""Deterministic Lambda deployment zips, rebuilt in milliseconds after a source edit.

The same inputs always give the same bytes: entries sorted, timestamps fixed, permissions
normalised. So a rebuild of unchanged code has the CodeSha256 Lambda already has, and
`make update` can tell "unchanged" without uploading anything.

Deflating the dependencies is nearly all of a build's time, and they seldom change. So each
dependency file is deflated once and kept, as the very bytes it has in the zip, in a cache beside
the dependency folder (`.build/site-packages.zipcache`); a build copies those bytes and deflates
only the function's own files. An edit rebuilds as fast whatever the dependencies weigh, and the
zip is byte for byte the one a clean build writes. The zip is written here rather than with
zipfile, which cannot take a member already deflated; the bytes are those zipfile wrote for the
same files (this module used it before), so deployed functions keep their CodeSha256.

    python -m deploy.zipper build OUTPUT.zip SOURCE_DIR [--deps DIR] [--cache FILE]
                                [--exclude PATTERN ...]
    python -m deploy.zipper report OUTPUT.zip
    python -m deploy.zipper sha256 OUTPUT.zip
"""
import argparse
import base64
import fnmatch
import hashlib
import os
import re
import struct
import sys
import time
import zlib

# Lambda's limits (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).
DIRECT_UPLOAD_LIMIT = 50 * 1024 * 1024  # a zip passed with --zip-file
UNZIPPED_LIMIT = 262_144_000  # code plus layers, unpacked

FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip can record

# Never shipped, wherever they appear: caches, build leftovers and what the runtime provides.
ALWAYS_EXCLUDED = ('__pycache__', '*.pyc', '*.pyo', '.*', '*.zip', 'tests')
RUNTIME_PROVIDED = ('boto3', 'botocore', 's3transfer', 'boto3-*.dist-info',
                    'botocore-*.dist-info', 's3transfer-*.dist-info', 'bin')

# The zip format's records (PKWARE's APPNOTE.TXT, 4.3), with the values zipfile writes.
LOCAL_HEADER = struct.Struct('<4s2B4HL2L2H')
CENTRAL_HEADER = struct.Struct('<4s4B4HL2L5H2L')
END_RECORD = struct.Struct('<4s4H2LH')
ZIP64_END_RECORD = struct.Struct('<4sQ2H2L4Q')
ZIP64_END_LOCATOR = struct.Struct('<4sLQL')
DEFLATE_VERSION = 20  # zip 2.0, the version that brought deflate: what a reader needs
ZIP64_VERSION = 45
UNIX = 3  # so external attributes hold the permissions
DEFLATED = 8
UTF8_NAME = 0x800  # the name is UTF-8 rather than code page 437
MEMBER_LIMIT = 0xFFFF  # members the end record can count; more take the zip64 end records
DOS_DATE = (FIXED_TIME[0] - 1980) << 9 | FIXED_TIME[1] << 5 | FIXED_TIME[2]
DOS_TIME = FIXED_TIME[3] << 11 | FIXED_TIME[4] << 5 | FIXED_TIME[5] // 2

# The cache: this line, the dependencies' local records back to back in name order, their index,
# then the index's length and member count. Another zlib may deflate to other bytes, so its
# version is part of the format: a cache it did not write is not used.
CACHE_FORMAT = b'deploy.zipper dependency cache 1, deflate level 9, zlib %s\n' % (
    zlib.ZLIB_RUNTIME_VERSION.encode())
# Per member: the file's size, mtime, ctime, inode, device and mode when it was read; whether
# that stat may vouch for its content; its CRC-32, deflated size, size and name length; the name.
CACHE_ENTRY = struct.Struct('<QqqQQL?LLLH')
CACHE_FOOTER = struct.Struct('<QL')
# A file changed this recently may change again within the same timestamp tick, leaving its
# stat as it was: its deflated bytes are not reused until it has been left alone this long.
SETTLING_NS = 2_000_000_000
COPY_CHUNK = 1 << 20


class PackageTooLarge(Exception):
    pass


class Member:
    """A file as the zip stores it: what its local header and the central directory say."""
    __slots__ = ('encoded_name', 'flags', 'crc', 'compressed_size', 'size', 'attributes')

    def __init__(self, encoded_name, crc, compressed_size, size, mode):
        self.encoded_name = encoded_name
        self.flags = 0 if encoded_name.isascii() else UTF8_NAME
        self.crc = crc
        self.compressed_size = compressed_size
        self.size = size
        self.attributes = (0o100755 if mode & 0o111 else 0o100644) << 16

    @property
    def record_length(self):
        """Bytes of its local record: header, name, deflated data."""
        return LOCAL_HEADER.size + len(self.encoded_name) + self.compressed_size


class Cached:
    """A dependency's member in the cache, and the stat of the file it was deflated from."""
    __slots__ = ('key', 'vouches', 'member', 'offset')

    def __init__(self, key, vouches, member, offset):
        self.key = key
        self.vouches = vouches  # False: the file was changing, its stat cannot vouch for it
        self.member = member
        self.offset = offset

    def reusable_for(self, status):
        return self.vouches and self.key == _stat_key(status)


def collect(root, excluded):
    """(archive name, path) for every file under root, skipping excluded names at any depth."""
    is_excluded = _matcher(excluded)
    found = []
    for directory, subdirectories, files in os.walk(root):
        subdirectories[:] = [name for name in subdirectories if not is_excluded(name)]
        prefix = ('' if directory == root
                  else os.path.relpath(directory, root).replace(os.sep, '/') + '/')
        found.extend((prefix + name, os.path.join(directory, name))
                     for name in files if not is_excluded(name))
    return found


def _matcher(patterns):
    """Whether a name matches any of the patterns (fnmatch's, case-sensitive): one regular
    expression for all, as a big dependency folder has thousands of names."""
    return re.compile('|'.join(map(fnmatch.translate, patterns)) or '(?!)').match


def default_cache(deps):
    """Where the CLI keeps the deflated dependencies: beside their folder, in .build/ for a
    function, so `make clean` removes it with them."""
    return os.path.normpath(deps) + '.zipcache'


def bytecode_tag(runtime):
    """python3.12 -> cpython-312: the tag of the .pyc files that runtime's Python loads."""
    return 'cpython-' + runtime.replace('python', '').replace('.', '') if runtime else None


def _dependency_files(deps, runtime):
    """The dependencies' files, with their bytecode for the runtime's Python only (see
    deploy.bytecode): a .pyc another Python wrote there (a test run) is never shipped."""
    tag = bytecode_tag(runtime)
    excluded = tuple(pattern for pattern in ALWAYS_EXCLUDED
                     if not (tag and pattern in ('__pycache__', '*.pyc')))
    for name, path in collect(deps, excluded + RUNTIME_PROVIDED):
        if name.endswith('.pyc') and not (name.endswith(f'.{tag}.pyc')
                                          and '__pycache__/' in name):
            continue
        yield name, path


def build(output, source, deps=None, exclude=(), cache=None, runtime=None):
    """Write the zip atomically: a failed or refused build leaves no half-written zip.

    With a cache file, the dependencies' deflated members are reused from it and it is brought
    up to date. Without one they are all deflated, into a temporary cache removed afterwards.
    With a runtime (python3.12), the dependencies' bytecode for its Python goes in too."""
    sources = {name: path for name, path in collect(source, ALWAYS_EXCLUDED + tuple(exclude))}
    dependencies = {}
    if deps and os.path.isdir(deps):
        for name, path in _dependency_files(deps, runtime):
            if name in sources:
                raise ValueError(f'{name} is both a source file and a dependency')
            dependencies[name] = (path, os.stat(path))
    unzipped = (sum(os.path.getsize(path) for path in sources.values())
                + sum(status.st_size for _, status in dependencies.values()))
    if unzipped > UNZIPPED_LIMIT:
        raise PackageTooLarge(
            f'{output}: {unzipped:,} bytes unzipped is over Lambda\'s limit of '
            f'{UNZIPPED_LIMIT:,} bytes (250 MB, code and layers together). '
            f'Move large dependencies to a layer or trim requirements.txt.')

    if not dependencies:
        return _build(output, sources, {}, None)
    if cache is not None:
        return _build(output, sources, *_refresh_cache(cache, dependencies))
    cache = _temporary_path(output) + 'cache'
    try:
        return _build(output, sources, *_refresh_cache(cache, dependencies))
    finally:
        if os.path.exists(cache):
            os.unlink(cache)


def _build(output, sources, cached, records):
    """The zip from the source files, deflated as they are written, and the cached members,
    copied from records: the cache file open for reading (closed here)."""
    names = sorted([*sources, *cached])

    def write(out):
        directory = _write_members(out, names, sources, cached, records)
        _write_directory(out, directory)
        zipped = out.tell()
        if zipped > DIRECT_UPLOAD_LIMIT:
            raise PackageTooLarge(
                f'{output}: {zipped:,} bytes zipped is over Lambda\'s limit of '
                f'{DIRECT_UPLOAD_LIMIT:,} bytes (50 MB) for a direct upload (--zip-file). '
                f'Move large dependencies to a layer or trim requirements.txt.')
        return len(names), sum(member.size for member, _ in directory), zipped

    try:
        return _write_atomically(output, write)
    finally:
        if records is not None:
            records.close()


def _deflate(name, data, mode):
    """(Member, local record) for a file's content, deflated as zipfile does at level 9."""
    compressed = zlib.compress(data, 9, -15)  # -15: raw deflate, no zlib header
    member = Member(name.encode('utf-8'), zlib.crc32(data), len(compressed), len(data), mode)
    header = LOCAL_HEADER.pack(b'PK\x03\x04', DEFLATE_VERSION, 0, member.flags, DEFLATED,
                               DOS_TIME, DOS_DATE, member.crc, member.compressed_size,
                               member.size, len(member.encoded_name), 0)
    return member, header + member.encoded_name + compressed


def _stat_key(status):
    """What changes when a file's content may have: git's index compares the same."""
    return (status.st_size, status.st_mtime_ns, status.st_ctime_ns, status.st_ino,
            status.st_dev, status.st_mode)


def _read_cache(handle):
    """{name: Cached} from the open cache file, or {} when it is from another format or zlib,
    or damaged: it is then rebuilt whole."""
    size = os.fstat(handle.fileno()).st_size
    if (size < len(CACHE_FORMAT) + CACHE_FOOTER.size
            or handle.read(len(CACHE_FORMAT)) != CACHE_FORMAT):
        return {}
    handle.seek(size - CACHE_FOOTER.size)
    index_length, count = CACHE_FOOTER.unpack(handle.read(CACHE_FOOTER.size))
    index_start = size - CACHE_FOOTER.size - index_length
    if index_start < len(CACHE_FORMAT):
        return {}
    handle.seek(index_start)
    index = handle.read(index_length)
    found = {}
    position, offset = 0, len(CACHE_FORMAT)
    try:
        for _ in range(count):
            *key, vouches, crc, compressed_size, file_size, name_length = (
                CACHE_ENTRY.unpack_from(index, position))
            position += CACHE_ENTRY.size
            encoded = index[position:position + name_length]
            position += name_length
            member = Member(encoded, crc, compressed_size, file_size, key[5])
            found[encoded.decode('utf-8')] = Cached(tuple(key), vouches, member, offset)
            offset += member.record_length
    except (struct.error, UnicodeDecodeError):
        return {}
    if position != index_length or offset != index_start or len(found) != count:
        return {}
    return found


def _refresh_cache(path, dependencies):
    """({name: Cached} for the dependencies ({name: (path, stat)}), the cache file open for
    reading), rewriting the file unless it holds exactly them, each unchanged since it was
    deflated. The offsets are into the open file, even if another build replaces the path."""
    try:
        old = open(path, 'rb')
    except FileNotFoundError:
        old, cached = None, {}
    else:
        cached = _read_cache(old)
    if cached.keys() == dependencies.keys() and all(
            cached[name].reusable_for(status) for name, (_, status) in dependencies.items()):
        return cached, old

    settled_before = time.time_ns() - SETTLING_NS
    refreshed = {}

    def write(out):
        out.write(CACHE_FORMAT)
        for name in sorted(dependencies):
            file_path, status = dependencies[name]
            entry = cached.get(name)
            if entry is not None and entry.reusable_for(status):
                refreshed[name] = Cached(entry.key, True, entry.member, out.tell())
                _copy(old, entry.offset, entry.member.record_length, out)
                continue
            with open(file_path, 'rb') as handle:
                data = handle.read()
                key = _stat_key(os.fstat(handle.fileno()))
            if (entry is not None and entry.key == key == _stat_key(status)
                    and status.st_mtime_ns < settled_before and len(data) == entry.member.size
                    and zlib.crc32(data) == entry.member.crc):
                # Deflated while too fresh to trust its stat (just after pip installed it),
                # unchanged since: its CRC confirms the member, a CRC costs far less than
                # deflating again.
                refreshed[name] = Cached(key, True, entry.member, out.tell())
                _copy(old, entry.offset, entry.member.record_length, out)
                continue
            member, record = _deflate(name, data, key[5])
            # Not if it changed while being read, or so recently it could change unseen.
            vouches = (key == _stat_key(status) and len(data) == status.st_size
                       and status.st_mtime_ns < settled_before)
            refreshed[name] = Cached(key, vouches, member, out.tell())
            out.write(record)
        index = b''.join(
            CACHE_ENTRY.pack(*entry.key, entry.vouches, entry.member.crc,
                             entry.member.compressed_size, entry.member.size,
                             len(entry.member.encoded_name)) + entry.member.encoded_name
            for entry in refreshed.values())
        out.write(index)
        out.write(CACHE_FOOTER.pack(len(index), len(refreshed)))
        out.flush()
        return open(out.name, 'rb')  # before it is moved to path: no other build has it yet

    try:
        return refreshed, _write_atomically(path, write)
    finally:
        if old is not None:
            old.close()


def _copy(source, offset, length, out):
    if not length:
        return
    source.seek(offset)
    while length:
        chunk = source.read(min(length, COPY_CHUNK))
        if not chunk:
            raise EOFError(f'{source.name} ended while being read: was it changed meanwhile?')
        out.write(chunk)
        length -= len(chunk)


def _write_members(out, names, sources, cached, records):
    """Each member's local record, by name; [(Member, offset)] for the central directory.
    Cached members next to each other in the cache and in the zip are copied as one run."""
    directory = []
    position = 0
    run = [0, 0]  # the cache's bytes not yet copied, start and end

    def copy_run():
        _copy(records, run[0], run[1] - run[0], out)
        run[0] = run[1]

    for name in names:
        entry = cached.get(name)
        if entry is None:
            copy_run()
            with open(sources[name], 'rb') as handle:
                member, record = _deflate(name, handle.read(), os.fstat(handle.fileno()).st_mode)
            out.write(record)
        else:
            member = entry.member
            if entry.offset != run[1]:
                copy_run()
                run[:] = [entry.offset, entry.offset]
            run[1] += member.record_length
        directory.append((member, position))
        position += member.record_length
    copy_run()
    return directory


def _write_directory(out, members):
    """The central directory and end records, as zipfile writes them, after the members."""
    start = out.tell()
    directory = b''.join(
        CENTRAL_HEADER.pack(b'PK\x01\x02', DEFLATE_VERSION, UNIX, DEFLATE_VERSION, 0,
                            member.flags, DEFLATED, DOS_TIME, DOS_DATE, member.crc,
                            member.compressed_size, member.size, len(member.encoded_name),
                            0, 0, 0, 0, member.attributes, offset) + member.encoded_name
        for member, offset in members)
    out.write(directory)
    count = len(members)
    if count > MEMBER_LIMIT:
        out.write(ZIP64_END_RECORD.pack(b'PK\x06\x06', 44, ZIP64_VERSION, ZIP64_VERSION, 0, 0,
                                        count, count, len(directory), start))
        out.write(ZIP64_END_LOCATOR.pack(b'PK\x06\x07', 0, start + len(directory), 1))
        count = MEMBER_LIMIT
    out.write(END_RECORD.pack(b'PK\x05\x06', 0, 0, count, count, len(directory), start, 0))


def _temporary_path(path):
    """A name beside path for this process: os.replace then makes the file appear whole."""
    directory, name = os.path.split(os.path.abspath(path))
    return os.path.join(directory, f'.{name}.{os.getpid()}.tmp')


def _write_atomically(path, write):
    """write(file) into a temporary file, then put it at path; nothing is left if it fails."""
    temporary = _temporary_path(path)
    try:
        with open(temporary, 'wb') as out:
            result = write(out)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    return result


def code_sha256(path):
    """The CodeSha256 Lambda reports for this zip: base64 of its SHA-256."""
    digest = hashlib.sha256()
    with open(path, 'rb') as data:
        for block in iter(lambda: data.read(1 << 20), b''):
            digest.update(block)
    return base64.b64encode(digest.digest()).decode()


def report(path):
    # Imported here: zipfile takes longer to import than a rebuild takes, and only this reads zips.
    import zipfile
    with zipfile.ZipFile(path) as archive:
        unzipped = sum(info.file_size for info in archive.infolist())
        count = len(archive.infolist())
    zipped = os.path.getsize(path)
    return (f'{path}: {count} files, {zipped:,} bytes zipped '
            f'({100 * zipped / DIRECT_UPLOAD_LIMIT:.1f}% of the 50 MB direct-upload limit), '
            f'{unzipped:,} bytes unzipped '
            f'({100 * unzipped / UNZIPPED_LIMIT:.1f}% of the 250 MB limit, before layers)')


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m deploy.zipper',
                                     description='Deterministic Lambda deployment zips.')
    commands = parser.add_subparsers(dest='command', required=True)
    build_command = commands.add_parser('build', help='zip a function folder and its deps')
    build_command.add_argument('output')
    build_command.add_argument('source')
    build_command.add_argument('--deps', help='folder pip installed the dependencies into')
    build_command.add_argument('--cache', help="file keeping the dependencies' deflated members "
                               'between builds (default: the --deps folder\'s name + .zipcache)')
    build_command.add_argument('--exclude', action='append', default=[],
                               help='file or folder name pattern to leave out (repeatable)')
    build_command.add_argument('--runtime', help="ship the dependencies' bytecode for this "
                               "runtime's Python (python3.12), if they have it")
    commands.add_parser('report', help='sizes against the limits').add_argument('zip')
    commands.add_parser('sha256', help="the zip's CodeSha256").add_argument('zip')
    arguments = parser.parse_args(argv)

    if arguments.command == 'sha256':
        print(code_sha256(arguments.zip))
    elif arguments.command == 'report':
        print(report(arguments.zip))
    else:
        cache = arguments.cache or (arguments.deps and default_cache(arguments.deps))
        try:
            count, unzipped, zipped = build(arguments.output, arguments.source,
                                            arguments.deps, arguments.exclude, cache,
                                            arguments.runtime)
        except PackageTooLarge as error:
            print(f'error: {error}', file=sys.stderr)
            return 1
        print(f'built {arguments.output}: {count} files, {zipped:,} bytes '
              f'({unzipped:,} unzipped), CodeSha256 {code_sha256(arguments.output)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
