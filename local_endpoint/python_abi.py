"""Compiled modules built for another Python than the one a function runs on, and the
invocation that fails to import one answered with why, instead of the import error.

A CPython extension module loads only in the Python it was built for. Its file name says which
(`_speedups.cpython-312-x86_64-linux-gnu.so`, PEP 3149), or, when the name carries no tag, the
WHEEL file of the package it came with does (`Tag: cp312-cp312-manylinux_2_17_x86_64`). Python
looks only for its own suffixes, so on 3.11 that file is not there at all and the import fails
with `No module named 'markupsafe._speedups'`. A stable-ABI module (`.abi3.so`, a wheel tagged
`cp38-abi3`) loads on its minimum version and every later 3.x.

When no Python of the function's runtime is installed, the endpoint runs it on its own, and
its packages, built for the runtime, hold such modules. Many carry one only as a speed-up with
a pure-Python fallback (MarkupSafe, Jinja2's dependency; PyYAML, simplejson), which runs on any
Python, so holding one is not refused: the gallery still runs on a machine without 3.12. What
is refused is the invocation whose import of one failed: its answer and the function's log say
what was built for which Python, which Python runs it, and what to do, as
local_endpoint.architectures says it for another CPU.
"""
import csv
import io
import re
import zipfile
import zlib
from dataclasses import dataclass

from local_endpoint.architectures import ArchitectureMismatch
from local_endpoint.unpack import UnpackError, open_zip

# PEP 3149's tag in an extension module's name: cpython-312 (free-threaded: cpython-313t).
NAME_TAG = re.compile(r'\.cpython-(?P<major>\d)(?P<minor>\d+)(?P<threading>t?)-[^/.]*\.so$')
# A wheel's tag: interpreter, ABI, platform (cp312-cp312-manylinux..., cp38-abi3-...).
WHEEL_TAG = re.compile(r'^cp(?P<major>\d)(?P<minor>\d+)-(?P<abi>cp\d+t?|abi3)-', re.ASCII)
# What Python's failed imports say: a module not there, a name not there, a library refused.
IMPORT_FAILURES = ('No module named', 'cannot import name', '.so')
# A WHEEL is a few lines, a RECORD a line per file (botocore's: 400 KB): a larger one is not
# read, as a zip is untrusted input.
METADATA_MAX_BYTES = 4 << 20


class PythonMismatch(ArchitectureMismatch):
    """Code compiled for another Python than the one running it: refused wherever code built
    for another CPU is (Invoke's InvalidRuntimeException, a function URL's 502, an async
    event's retries), with what to do."""


@dataclass(frozen=True)
class Build:
    """Which Pythons an extension module loads in: exactly `version`, or (stable ABI) that
    version and later."""
    version: tuple  # (3, 12)
    free_threaded: bool = False
    stable_abi: bool = False

    def loads_in(self, version):
        if self.stable_abi:
            return version >= self.version
        return version == self.version and not self.free_threaded

    def __str__(self):
        built = f'{self.version[0]}.{self.version[1]}'
        if self.stable_abi:
            return f'Python {built} and later (stable ABI)'
        return f'free-threaded Python {built}' if self.free_threaded else f'Python {built}'


@dataclass(frozen=True)
class Extension:
    module: str  # dotted, as imported: markupsafe._speedups
    file: str  # its path in the zip
    build: Build


def parse_version(text):
    """(3, 12) from '3.12'."""
    major, minor = text.split('.')[:2]
    return int(major), int(minor)


def import_roots(runtime):
    """Where a layer's modules are importable from, as the environment puts them on the path
    (Lambda's /opt/python and /opt/python/lib/pythonX.Y/site-packages)."""
    version = runtime.replace('python', '')
    return (f'python/lib/python{version}/site-packages/', 'python/')


def extensions(archive, roots=('',)):
    """The extension modules of one zip that are importable from one of `roots`, with the
    Python each was built for, where its name or its wheel says."""
    names = archive.namelist()
    wheel_builds = _wheel_builds(archive, names)
    found = []
    for name in names:
        if not name.endswith('.so'):
            continue
        root = next((root for root in roots if name.startswith(root)), None)
        if root is None:
            continue
        build = _build_of(name) or wheel_builds.get(name)
        if build is not None:
            found.append(Extension(_module_of(name[len(root):]), name, build))
    return found


def _build_of(name):
    """The build a module's name says; a stable-ABI name (.abi3.so) does not say its minimum:
    its wheel's tag does."""
    tagged = NAME_TAG.search(name)
    if tagged:
        return Build((int(tagged['major']), int(tagged['minor'])), bool(tagged['threading']))
    return None


def _module_of(path):
    module = path.split('/')
    module[-1] = module[-1].split('.')[0]
    return '.'.join(module)


def _wheel_builds(archive, names):
    """The build of each file a wheel installed, from its .dist-info's WHEEL tags and
    RECORD, for the modules whose names say nothing."""
    builds = {}
    for name in names:
        if not name.endswith('.dist-info/WHEEL'):
            continue
        build = _wheel_build(_text(archive, name))
        if build is None:
            continue
        folder = name[:-len('/WHEEL')].rpartition('/')[0]  # RECORD's paths start there
        prefix = folder + '/' if folder else ''
        rows = csv.reader(io.StringIO(_text(archive, name[:-len('WHEEL')] + 'RECORD')))
        for row in rows:
            if row and row[0].endswith('.so'):
                builds[prefix + row[0]] = build
    return builds


def _text(archive, name):
    """A small metadata file's text; '' when it is missing, too large or unreadable."""
    try:
        if archive.getinfo(name).file_size > METADATA_MAX_BYTES:
            return ''
        return archive.read(name).decode('utf-8', 'replace')
    except (KeyError, zipfile.BadZipFile, NotImplementedError, zlib.error, EOFError):
        return ''


def _wheel_build(text):
    """The build a wheel's tags name, or None for pure Python and ABI-free (none) wheels."""
    for line in text.splitlines():
        key, _, value = line.partition(':')
        tag = WHEEL_TAG.match(value.strip()) if key.strip() == 'Tag' else None
        if tag:
            return Build((int(tag['major']), int(tag['minor'])),
                         free_threaded=tag['abi'].endswith('t'), stable_abi=tag['abi'] == 'abi3')
    return None


def foreign(code, layers, runtime, running):
    """The extension modules in a function's code and layers that do not load in Python
    `running` ((3, 11))."""
    found = []
    for zip_bytes, roots in [(code, ('',))] + [(layer, import_roots(runtime)) for layer in layers]:
        try:
            archive = open_zip(zip_bytes)
        except UnpackError:  # refused when unpacked, with its own answer
            continue
        with archive:
            found += [extension for extension in extensions(archive, roots)
                      if not extension.build.loads_in(running)]
    return found


def named_in(extension, error_text):
    """Whether an import error names this module: `No module named 'a.b'`, or `cannot import
    name 'b' from 'a'` (from a import b)."""
    parent, _, last = extension.module.rpartition('.')
    return (f"'{extension.module}'" in error_text
            or bool(parent) and f"cannot import name '{last}' from '{parent}'" in error_text
            or extension.file.rsplit('/', 1)[-1] in error_text)


def refusal(spec, running, error_text):
    """Why an invocation that failed with `error_text` is answered with a refusal, or None
    when its failure is not an import of a module built for another Python than `running`
    ('3.11'), the Python its runtime runs on here."""
    if not any(marker in error_text for marker in IMPORT_FAILURES):
        return None  # most failures: the zips are not read
    version = parse_version(running)
    failed = [extension for extension in foreign(spec.code, spec.layers, spec.runtime, version)
              if named_in(extension, error_text)]
    if not failed:
        return None
    extension = failed[0]
    runtime_version = spec.runtime.replace('python', '')
    what = (f'Function {spec.name} could not import {extension.module} ({extension.file}): it '
            f'is compiled for {extension.build}, and its runtime {spec.runtime} runs on Python '
            f'{running}')
    if parse_version(runtime_version) != version:
        return (f'{what} here, as no Python {runtime_version} was found on this machine (on '
                f'PATH or under pyenv). The local endpoint does not run code built for another '
                f'Python: install Python {runtime_version} (e.g. pyenv install '
                f'{runtime_version}) and restart the endpoint (make down up), or build and '
                f'deploy the function for the Python here (RUNTIME=python{running}). (Local '
                f'only: AWS runs {spec.runtime} on Python {runtime_version}.)')
    return (f'{what}, here as on AWS, where it fails to import too. Install its packages for '
            f'{spec.runtime} (make build installs them for RUNTIME), or set RUNTIME to the '
            f'runtime they were built for.')
