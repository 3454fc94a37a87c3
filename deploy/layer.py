"""ImageMagick as a Lambda layer that Wand loads on python3.12+ runtimes, built without Docker.

Lambda's Amazon Linux 2023 has glibc 2.34 and no ImageMagick. Debian bullseye's packages are
built against glibc 2.31, so its shared libraries load there; they are fetched with apt into
a scratch folder, never installed on this machine. The build is a workflow of named actions:

    Resolve   (make layer-lock) apt resolves libmagickwand's dependencies from scratch, and
              the lock records the packages whose files the layer ships, with versions
    Fetch     `apt-get download` of each locked package=version for ARCH, cached
    Extract   `dpkg-deb -x` of each into a staging root
    Select    MagickWand, MagickCore and the allowlisted coders, then every library they
              need (DT_NEEDED), transitively, except what the runtime provides
    Assemble  lib/ (each library under its SONAME, where the linker and Wand look for it),
              lib/imagemagick/coders/, etc/imagemagick/policy.xml (ours)
    Zip       deterministic, like the function zips
    Check     deploy.elf: no symbol version or library Amazon Linux 2023 lacks

    python -m deploy.layer build --arch x86_64 --lock L --policy P --work DIR --output Z
    python -m deploy.layer lock --lock L --work DIR
"""
import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys

from deploy import elf, zipper

SUITES = ('bullseye', 'bullseye-updates')
SECURITY_SUITE = 'bullseye-security'
KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg'
ROOT_PACKAGE = 'libmagickwand-6.q16-6'
WAND_LIBRARY = 'libMagickWand-6.Q16.so.6'
CODERS = ('jpeg', 'png', 'gif', 'webp')  # resize.py's allowlist, and nothing else
# Lambda architecture -> (Debian architecture, multiarch library folder)
ARCHITECTURES = {'x86_64': ('amd64', 'x86_64-linux-gnu'), 'arm64': ('arm64', 'aarch64-linux-gnu')}
# Where the layer's parts are on Lambda; `create` passes these to the function.
CODER_PATH = 'lib/imagemagick/coders'
CONFIG_PATH = 'etc/imagemagick'


class LayerError(Exception):
    pass


class Apt:
    """apt with its own sources, lists, cache and an empty dpkg status: the host's packages
    and configuration never enter the resolution, and nothing is installed."""

    def __init__(self, folder, architecture, mirror, security_mirror):
        self.folder = folder
        if not os.path.exists(KEYRING):
            raise LayerError(f'{KEYRING} is missing: install debian-archive-keyring')
        for name in ('lists/partial', 'cache/archives/partial'):
            os.makedirs(os.path.join(folder, name), exist_ok=True)
        open(os.path.join(folder, 'status'), 'a').close()
        sources = [f'deb [signed-by={KEYRING}] {mirror} {suite} main' for suite in SUITES]
        sources.append(f'deb [signed-by={KEYRING}] {security_mirror} {SECURITY_SUITE} main')
        self._write('sources.list', '\n'.join(sources) + '\n')
        self.options = [
            '-o', f'Dir::State::Lists={folder}/lists', '-o', f'Dir::State::status={folder}/status',
            '-o', f'Dir::Cache={folder}/cache', '-o', f'Dir::Etc::SourceList={folder}/sources.list',
            '-o', 'Dir::Etc::SourceParts=/dev/null', '-o', 'Dir::Etc::Preferences=/dev/null',
            '-o', 'Dir::Etc::PreferencesParts=/dev/null', '-o', 'Dir::Etc::Parts=/dev/null',
            '-o', f'APT::Architecture={architecture}', '-o', f'APT::Architectures={architecture}',
            # apt drops to its _apt user for downloads, which may not reach this folder
            '-o', 'APT::Sandbox::User=root', '-o', 'Debug::NoLocking=1',
            '-o', 'Acquire::Retries=3', '-q']

    def _write(self, name, text):
        with open(os.path.join(self.folder, name), 'w') as handle:
            handle.write(text)

    def run(self, tool, *arguments, cwd=None):
        command = [tool, *self.options, *arguments]
        result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
        if result.returncode != 0:
            raise LayerError(f'{" ".join([tool, *arguments])} failed:\n'
                             f'{(result.stderr or result.stdout).strip()}')
        return result.stdout

    def update(self):
        self.run('apt-get', 'update')


def resolve(apt):
    """Every package a from-scratch install of MagickWand downloads (Resolve)."""
    archives = os.path.join(apt.folder, 'cache', 'archives')
    for name in os.listdir(archives):  # an earlier resolution's versions are not this one's
        if name.endswith('.deb'):
            os.unlink(os.path.join(archives, name))
    apt.run('apt-get', 'install', '--download-only', '--no-install-recommends', '--yes',
            ROOT_PACKAGE)
    return sorted(os.path.join(archives, name) for name in os.listdir(archives)
                  if name.endswith('.deb'))


def fetch(apt, pinned, folder, architecture):
    """The locked packages for one architecture, downloaded once each (Fetch)."""
    os.makedirs(folder, exist_ok=True)
    debs = []
    missing = []
    for package, version in pinned:
        stem = f'{package}_{version.replace(":", "%3a")}_'  # apt-get download's file name
        cached = [name for name in (f'{stem}{architecture}.deb', f'{stem}all.deb')
                  if os.path.exists(os.path.join(folder, name))]
        if not cached:
            try:
                apt.run('apt-get', 'download', f'{package}:{architecture}={version}', cwd=folder)
            except LayerError as error:
                missing.append(f'{package}={version} ({str(error).splitlines()[-1]})')
                continue
            cached = [name for name in os.listdir(folder) if name.startswith(stem)]
        debs.append(os.path.join(folder, cached[0]))
    if missing:
        raise LayerError(f'{len(missing)} locked packages could not be downloaded for '
                         f'{architecture}: ' + '; '.join(missing) + '. If the mirror no longer '
                         'has these versions (a security update replaced them), run `make '
                         'layer-lock` to lock the current ones.')
    return debs


def extract(debs, root):
    """Unpack the packages' files, never their scripts (Extract)."""
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root)
    for deb in debs:
        subprocess.run(['dpkg-deb', '-x', deb, root], check=True)


def inside(root, path):
    """Follow symlinks as they would resolve on the system the root stands for."""
    for _ in range(40):
        if not os.path.islink(path):
            return path
        target = os.readlink(path)
        path = (os.path.join(root, target.lstrip('/')) if target.startswith('/')
                else os.path.join(os.path.dirname(path), target))
    raise LayerError(f'{path}: too many symbolic links')


def select(root, triplet):
    """Libraries by SONAME and coder modules by name, with where each comes from (Select)."""
    folders = [os.path.join(root, *parts) for parts in (
        ('lib', triplet), ('usr', 'lib', triplet), ('lib',), ('usr', 'lib'))]

    def find(soname):
        for folder in folders:
            path = os.path.join(folder, soname)
            if os.path.lexists(path):
                return inside(root, path)
        return None

    modules = [folder for folder in _glob_dirs(os.path.join(root, 'usr', 'lib', triplet),
                                               'ImageMagick-', 'modules-Q16', 'coders')]
    if len(modules) != 1:
        raise LayerError(f'expected one ImageMagick coder folder, found {modules}')
    coders = {}
    for coder in CODERS:
        for extension in ('.so', '.la'):
            path = os.path.join(modules[0], coder + extension)
            if not os.path.exists(path):
                raise LayerError(f'the {coder} coder is missing from the packages ({path})')
            coders[coder + extension] = path
    libraries = {WAND_LIBRARY: find(WAND_LIBRARY)}
    if libraries[WAND_LIBRARY] is None:
        raise LayerError(f'{WAND_LIBRARY} is not in the packages')
    queue = [libraries[WAND_LIBRARY]] + [path for name, path in coders.items()
                                         if name.endswith('.so')]
    while queue:
        path = queue.pop()
        with open(path, 'rb') as handle:
            info = elf.read(path, handle.read())
        for needed in info.needed:
            if needed in libraries or needed in elf.RUNTIME_LIBRARIES:
                continue
            found = find(needed)
            if found is None:
                raise LayerError(f'{os.path.relpath(path, root)} needs {needed}, which no '
                                 f'locked package provides: run `make layer-lock`')
            libraries[needed] = found
            queue.append(found)
    return libraries, coders


def _glob_dirs(base, prefix, *rest):
    if not os.path.isdir(base):
        return []
    return [os.path.join(base, name, *rest) for name in sorted(os.listdir(base))
            if name.startswith(prefix) and os.path.isdir(os.path.join(base, name, *rest))]


def assemble(libraries, coders, policy, folder):
    """The tree Lambda mounts at /opt (Assemble)."""
    shutil.rmtree(folder, ignore_errors=True)
    for subfolder in ('lib', CODER_PATH, CONFIG_PATH):
        os.makedirs(os.path.join(folder, subfolder), exist_ok=True)
    for soname, path in libraries.items():
        shutil.copyfile(path, os.path.join(folder, 'lib', soname))
    for name, path in coders.items():
        target = os.path.join(folder, CODER_PATH, name)
        if name.endswith('.la'):
            # libltdl tries the libdir a .la names before the .la's own folder: on a machine
            # with ImageMagick installed, the stock libdir would load that machine's coders.
            with open(path) as source, open(target, 'w') as copy:
                copy.write(re.sub(r"^libdir='.*'$", f"libdir='/opt/{CODER_PATH}'",
                                  source.read(), flags=re.M))
        else:
            shutil.copyfile(path, target)
    shutil.copyfile(policy, os.path.join(folder, CONFIG_PATH, 'policy.xml'))


def read_lock(path):
    pinned = []
    with open(path) as lock:
        for line in lock:
            line = line.split('#', 1)[0].strip()
            if line:
                package, version = line.split()
                pinned.append((package, version))
    if not pinned:
        raise LayerError(f'{path} locks no packages: run `make layer-lock`')
    return pinned


def package_of(deb):
    """(package, version) from a .deb's own control data."""
    output = subprocess.run(['dpkg-deb', '--show', '--showformat', '${Package} ${Version}', deb],
                            check=True, capture_output=True, text=True).stdout
    package, version = output.split()
    return package, version


def contents(deb):
    """The paths a package installs, as /usr/lib/... ."""
    listing = subprocess.run(['dpkg-deb', '--contents', deb], check=True, capture_output=True,
                             text=True).stdout
    return {line.split(None, 5)[5].split(' -> ')[0].lstrip('.') for line in listing.splitlines()}


def lock(lock_path, work, mirror, security_mirror):
    """Resolve, then keep only the packages whose files the layer ships (Resolve)."""
    apt = Apt(os.path.join(work, 'apt-amd64'), 'amd64', mirror, security_mirror)
    apt.update()
    debs = resolve(apt)
    root = os.path.join(work, 'resolve-root')
    extract(debs, root)
    libraries, coders = select(root, ARCHITECTURES['x86_64'][1])
    shipped = {'/' + os.path.relpath(path, root) for path in [*libraries.values(),
                                                               *coders.values()]}
    kept = sorted(package_of(deb) for deb in debs if contents(deb) & shipped)
    with open(lock_path, 'w') as output:
        output.write('# Debian bullseye packages whose files make the ImageMagick layer (glibc '
                     '2.31, so they load on\n# Amazon Linux 2023). Written by `make layer-lock`; '
                     '`make layer` fetches exactly these.\n')
        for package, version in kept:
            output.write(f'{package} {version}\n')
    shutil.rmtree(root, ignore_errors=True)
    return kept


def inputs_digest(arch, pinned, policy):
    digest = hashlib.sha256(f'{arch}\n{pinned}\n'.encode())
    with open(policy, 'rb') as handle:
        digest.update(handle.read())
    with open(__file__, 'rb') as handle:
        digest.update(handle.read())
    return digest.hexdigest()


def build(arch, lock_path, policy, work, output, mirror, security_mirror):
    """Build the layer zip, or leave it alone if its inputs have not changed."""
    if arch not in ARCHITECTURES:
        raise LayerError(f'ARCH={arch}: the layer is built for x86_64 or arm64')
    architecture, triplet = ARCHITECTURES[arch]
    pinned = read_lock(lock_path)
    digest = inputs_digest(arch, pinned, policy)
    stamp = os.path.join(work, os.path.basename(output) + '.inputs')
    if os.path.exists(output) and os.path.exists(stamp):
        with open(stamp) as recorded:
            if recorded.read() == digest:
                return None
    apt = Apt(os.path.join(work, f'apt-{architecture}'), architecture, mirror, security_mirror)
    apt.update()
    debs = fetch(apt, pinned, os.path.join(work, f'debs-{architecture}'), architecture)
    root = os.path.join(work, f'root-{architecture}')
    extract(debs, root)
    libraries, coders = select(root, triplet)
    tree = os.path.join(work, f'layer-{architecture}')
    assemble(libraries, coders, policy, tree)
    problems = elf.problems(_files(tree), arch)
    if problems:
        raise LayerError('the layer would not load on Lambda:\n' + '\n'.join(
            f'  {name}: {problem}' for name, problem in problems))
    result = zipper.build(output, tree)
    os.makedirs(work, exist_ok=True)
    with open(stamp, 'w') as handle:
        handle.write(digest)
    return result


def _files(tree):
    files = {}
    for directory, _, names in os.walk(tree):
        for name in names:
            path = os.path.join(directory, name)
            with open(path, 'rb') as handle:
                files[os.path.relpath(path, tree)] = handle.read()
    return files


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m deploy.layer')
    parser.add_argument('command', choices=('build', 'lock'))
    parser.add_argument('--arch', default='x86_64')
    parser.add_argument('--lock', required=True, help='the locked package list')
    parser.add_argument('--policy', help="ImageMagick's policy.xml for the layer")
    parser.add_argument('--work', required=True, help='scratch folder (apt lists, packages)')
    parser.add_argument('--output', help='the layer zip')
    parser.add_argument('--mirror', default='http://deb.debian.org/debian')
    parser.add_argument('--security-mirror', default='http://deb.debian.org/debian-security')
    arguments = parser.parse_args(argv)
    work = os.path.abspath(arguments.work)
    try:
        if arguments.command == 'lock':
            kept = lock(arguments.lock, work, arguments.mirror, arguments.security_mirror)
            print(f'locked {len(kept)} packages in {arguments.lock}')
            return 0
        result = build(arguments.arch, arguments.lock, arguments.policy, work, arguments.output,
                       arguments.mirror, arguments.security_mirror)
    except LayerError as error:
        print(f'error: {error}', file=sys.stderr)
        return 1
    if result is None:
        print(f'{arguments.output} is up to date')
    else:
        count, unzipped, zipped = result
        print(f'built {arguments.output} for {arguments.arch}: {count} files, {zipped:,} bytes '
              f'zipped, {unzipped:,} unzipped')
    return 0


if __name__ == '__main__':
    sys.exit(main())
