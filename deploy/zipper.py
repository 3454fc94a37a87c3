"""Deterministic Lambda deployment zips.

The same inputs always give the same bytes: entries sorted, timestamps fixed, permissions
normalised. So a rebuild of unchanged code has the CodeSha256 Lambda already has, and
`make update` can tell "unchanged" without uploading anything.

    python -m deploy.zipper build OUTPUT.zip SOURCE_DIR [--deps DIR] [--exclude PATTERN ...]
    python -m deploy.zipper report OUTPUT.zip
    python -m deploy.zipper sha256 OUTPUT.zip
"""
import argparse
import base64
import fnmatch
import hashlib
import os
import sys
import tempfile
import zipfile

# Lambda's limits (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).
DIRECT_UPLOAD_LIMIT = 50 * 1024 * 1024  # a zip passed with --zip-file
UNZIPPED_LIMIT = 262_144_000  # code plus layers, unpacked

FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip can record

# Never shipped, wherever they appear: caches, build leftovers and what the runtime provides.
ALWAYS_EXCLUDED = ('__pycache__', '*.pyc', '*.pyo', '.*', '*.zip', 'tests')
RUNTIME_PROVIDED = ('boto3', 'botocore', 's3transfer', 'boto3-*.dist-info',
                    'botocore-*.dist-info', 's3transfer-*.dist-info', 'bin')


class PackageTooLarge(Exception):
    pass


def collect(root, excluded):
    """(archive name, path) for every file under root, skipping excluded names at any depth."""
    found = []
    for directory, subdirectories, files in os.walk(root):
        subdirectories[:] = [name for name in subdirectories if not _matches(name, excluded)]
        for name in files:
            if _matches(name, excluded):
                continue
            path = os.path.join(directory, name)
            found.append((os.path.relpath(path, root).replace(os.sep, '/'), path))
    return found


def _matches(name, patterns):
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def build(output, source, deps=None, exclude=()):
    """Write the zip atomically: a failed or refused build leaves no half-written zip."""
    entries = dict(collect(source, ALWAYS_EXCLUDED + tuple(exclude)))
    if deps and os.path.isdir(deps):
        for name, path in collect(deps, ALWAYS_EXCLUDED + RUNTIME_PROVIDED):
            if name in entries:
                raise ValueError(f'{name} is both a source file and a dependency')
            entries[name] = path
    unzipped = sum(os.path.getsize(path) for path in entries.values())
    if unzipped > UNZIPPED_LIMIT:
        raise PackageTooLarge(
            f'{output}: {unzipped:,} bytes unzipped is over Lambda\'s limit of '
            f'{UNZIPPED_LIMIT:,} bytes (250 MB, code and layers together). '
            f'Move large dependencies to a layer or trim requirements.txt.')

    directory = os.path.dirname(os.path.abspath(output))
    handle, temporary = tempfile.mkstemp(prefix='.zip-', dir=directory)
    os.close(handle)
    try:
        with zipfile.ZipFile(temporary, 'w', zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
            for name in sorted(entries):
                path = entries[name]
                info = zipfile.ZipInfo(name, FIXED_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.create_system = 3  # Unix, so external_attr holds the permissions
                executable = os.stat(path).st_mode & 0o111
                info.external_attr = (0o100755 if executable else 0o100644) << 16
                with open(path, 'rb') as data:
                    archive.writestr(info, data.read(), compresslevel=9)
        zipped = os.path.getsize(temporary)
        if zipped > DIRECT_UPLOAD_LIMIT:
            raise PackageTooLarge(
                f'{output}: {zipped:,} bytes zipped is over Lambda\'s limit of '
                f'{DIRECT_UPLOAD_LIMIT:,} bytes (50 MB) for a direct upload (--zip-file). '
                f'Move large dependencies to a layer or trim requirements.txt.')
        os.chmod(temporary, 0o644)
        os.replace(temporary, output)
    except BaseException:
        os.unlink(temporary)
        raise
    return len(entries), unzipped, zipped


def code_sha256(path):
    """The CodeSha256 Lambda reports for this zip: base64 of its SHA-256."""
    digest = hashlib.sha256()
    with open(path, 'rb') as data:
        for block in iter(lambda: data.read(1 << 20), b''):
            digest.update(block)
    return base64.b64encode(digest.digest()).decode()


def report(path):
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
    build_command.add_argument('--exclude', action='append', default=[],
                               help='file or folder name pattern to leave out (repeatable)')
    commands.add_parser('report', help='sizes against the limits').add_argument('zip')
    commands.add_parser('sha256', help="the zip's CodeSha256").add_argument('zip')
    arguments = parser.parse_args(argv)

    if arguments.command == 'sha256':
        print(code_sha256(arguments.zip))
    elif arguments.command == 'report':
        print(report(arguments.zip))
    else:
        try:
            count, unzipped, zipped = build(arguments.output, arguments.source,
                                            arguments.deps, arguments.exclude)
        except PackageTooLarge as error:
            print(f'error: {error}', file=sys.stderr)
            return 1
        print(f'built {arguments.output}: {count} files, {zipped:,} bytes '
              f'({unzipped:,} unzipped), CodeSha256 {code_sha256(arguments.output)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
