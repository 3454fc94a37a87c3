"""Will these shared libraries load on Lambda? Read from the ELF files, not guessed.

Lambda's python3.12+ runtimes run on Amazon Linux 2023: glibc 2.34, and GCC 11's libgcc_s and
libstdc++. A library built on a newer system asks the dynamic linker for symbol versions
those lack (GLIBC_2.35 for bookworm's libMagickCore), and fails at dlopen with "version
`GLIBC_2.35' not found". So a layer passes only if, for every ELF file in it:
- each GLIBC_, GLIBCXX_, CXXABI_ and GCC_ version it needs is one Amazon Linux 2023 has;
- each library it needs (DT_NEEDED) is in the layer, or is one the runtime provides;
- it is built for the function's architecture.

    python -m deploy.elf check imagemagick-layer.zip [--arch x86_64|arm64]
"""
import argparse
import io
import re
import sys
import zipfile

from elftools.common.exceptions import ELFError
from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerNeedSection

# What Amazon Linux 2023's Lambda base provides: glibc's own libraries, libgcc_s, libstdc++.
RUNTIME_LIBRARIES = frozenset({
    'ld-linux-x86-64.so.2', 'ld-linux-aarch64.so.1', 'libc.so.6', 'libm.so.6',
    'libpthread.so.0', 'libdl.so.2', 'librt.so.1', 'libutil.so.1', 'libresolv.so.2',
    'libanl.so.1', 'libgcc_s.so.1', 'libstdc++.so.6',
})
# The highest symbol version of each family there: glibc 2.34, GCC 11.
HIGHEST_VERSIONS = {'GLIBC': (2, 34), 'GLIBCXX': (3, 4, 29), 'CXXABI': (1, 3, 13),
                    'GCC': (7, 0, 0)}
MACHINES = {'x86_64': 'EM_X86_64', 'arm64': 'EM_AARCH64'}  # Lambda architecture -> e_machine
VERSION_NAME = re.compile(r'^(GLIBC|GLIBCXX|CXXABI|GCC)_(\d+(?:\.\d+)*)$')


class ElfInfo:
    """What the dynamic linker will ask for when it loads one file."""

    def __init__(self, name, machine, soname, needed, versions):
        self.name, self.machine, self.soname = name, machine, soname
        self.needed, self.versions = needed, versions


def read(name, data):
    """ElfInfo for an ELF file's bytes; None if they are not ELF."""
    if not data.startswith(b'\x7fELF'):
        return None
    try:
        elf = ELFFile(io.BytesIO(data))
        soname, needed, versions = None, [], set()
        for section in elf.iter_sections():
            if isinstance(section, DynamicSection):
                for tag in section.iter_tags():
                    if tag.entry.d_tag == 'DT_NEEDED':
                        needed.append(tag.needed)
                    elif tag.entry.d_tag == 'DT_SONAME':
                        soname = tag.soname
            elif isinstance(section, GNUVerNeedSection):
                for _, auxiliaries in section.iter_versions():
                    versions.update(auxiliary.name for auxiliary in auxiliaries)
    except ELFError as error:
        raise ValueError(f'{name}: not a readable ELF file ({error})') from None
    return ElfInfo(name, elf['e_machine'], soname, needed, versions)


def version_key(text):
    return tuple(int(part) for part in text.split('.'))


def highest(versions, family):
    found = [version_key(match[2]) for match in map(VERSION_NAME.match, versions)
             if match and match[1] == family]
    return max(found) if found else None


def problems(files, arch=None, runtime_libraries=RUNTIME_LIBRARIES,
             highest_versions=HIGHEST_VERSIONS):
    """Every reason the files would not load on the runtime: (file name, problem) pairs.

    `files` maps names to bytes. A needed library is found by file name, as the dynamic
    linker finds it on LD_LIBRARY_PATH (/opt/lib for a layer).
    """
    infos = [info for info in (read(name, data) for name, data in files.items()) if info]
    present = {name.rsplit('/', 1)[-1] for name in files}
    found = []
    for info in infos:
        if arch and info.machine != MACHINES[arch]:
            found.append((info.name, f'is built for {info.machine}, not {arch}'))
        for version in sorted(info.versions):
            match = VERSION_NAME.match(version)
            if match and version_key(match[2]) > highest_versions[match[1]]:
                limit = '.'.join(map(str, highest_versions[match[1]]))
                found.append((info.name, f'needs {version}; Amazon Linux 2023 has '
                                         f'{match[1]}_{limit} at most'))
        for library in info.needed:
            if library not in present and library not in runtime_libraries:
                found.append((info.name, f'needs {library}, which is neither in the layer nor '
                                         f'provided by the runtime'))
    return found


def zip_files(path):
    with zipfile.ZipFile(path) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()
                if not info.is_dir()}


def summary(files):
    """The highest version of each family any file needs, and how many ELF files there are."""
    infos = [info for info in (read(name, data) for name, data in files.items()) if info]
    versions = set().union(*(info.versions for info in infos)) if infos else set()
    return len(infos), {family: highest(versions, family) for family in HIGHEST_VERSIONS}


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m deploy.elf')
    commands = parser.add_subparsers(dest='command', required=True)
    check = commands.add_parser('check', help="fail if a layer's ELF files would not load on "
                                              'Amazon Linux 2023')
    check.add_argument('zip')
    check.add_argument('--arch', choices=sorted(MACHINES), help="the function's architecture")
    arguments = parser.parse_args(argv)
    files = zip_files(arguments.zip)
    found = problems(files, arguments.arch)
    for name, problem in found:
        print(f'{arguments.zip}: {name}: {problem}', file=sys.stderr)
    if found:
        print(f'error: {len(found)} problem(s): this layer would not load on Lambda',
              file=sys.stderr)
        return 1
    count, versions = summary(files)
    needed = ', '.join(f'{family}_{".".join(map(str, version))}'
                       for family, version in versions.items() if version)
    print(f'{arguments.zip}: {count} ELF files load on Amazon Linux 2023 (highest versions '
          f'needed: {needed or "none"})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
