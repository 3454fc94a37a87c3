"""A function's requirements.txt installed for Lambda's platform, sdist-only packages included.

pip installs wheels for Lambda's Python, architecture and glibc (never the host's). A package
published only as a source distribution has no such wheel, and pip says "from versions: none",
the same words it uses for a name that does not exist. So, as Chalice does, when pip finds no
wheel for a requirement: its sdist is downloaded and built into a wheel here, and the wheel is
checked. A pure-Python wheel runs anywhere: it joins the install, whose resolution (for Lambda's
platform) then brings its own dependencies. A wheel with compiled code was built for this
machine, not for Lambda: it is refused, saying why and what to do. A name the index does not
know is said to be unknown.

    python -m deploy.dependencies install --requirements requirements.txt --target DIR \
        --runtime python3.12 --arch x86_64 [--find-links DIR ...] [--no-index] [--name NAME]
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile

from deploy import bytecode

# Amazon Linux 2 (glibc 2.26) runs these; Amazon Linux 2023 (glibc 2.34) the later ones.
AMAZON_LINUX_2 = ('python3.7', 'python3.8', 'python3.9', 'python3.10', 'python3.11')
MACHINES = {'x86_64': 'x86_64', 'arm64': 'aarch64'}
COMPILED_SUFFIXES = ('.so', '.pyd', '.dylib', '.dll')
PIP_TIMEOUT = 1800  # seconds for one pip run: a large install or sdist build, not a hang

UNSATISFIED = re.compile(
    r'^ERROR: Could not find a version that satisfies the requirement (?P<requirement>.+?)'
    r'(?: \(from (?!versions:)[^()]*\))? \(from versions: (?P<versions>[^()]*)\)$', re.MULTILINE)
# pip -vv, told --no-binary NAME, logs every wheel it sees so (of NAME or not), with its link.
WHEEL_SKIPPED = re.compile(r'Skipping link: No binaries permitted for [^:]+: (?P<link>\S+)')


class DependencyError(Exception):
    """A requirement that cannot be installed for Lambda, with what to do about it."""


class Platform:
    """Lambda's Python and machine: what pip's --platform flags and the messages name."""

    def __init__(self, runtime, arch):
        match = re.fullmatch(r'python3\.(\d+)', runtime)
        if not match:
            raise DependencyError(f'{runtime} is not a Python 3 Lambda runtime (e.g. python3.12)')
        if arch not in MACHINES:
            raise DependencyError(f'architecture must be x86_64 or arm64, not {arch!r}')
        self.runtime, self.arch, self.minor = runtime, arch, int(match.group(1))
        self.machine = MACHINES[arch]

    @property
    def python_version(self):
        return f'3.{self.minor}'

    @property
    def platforms(self):
        """Wheels must need no newer glibc than the runtime's."""
        newer = () if self.runtime in AMAZON_LINUX_2 else ('manylinux_2_28', 'manylinux_2_34')
        return [f'{tag}_{self.machine}' for tag in ('manylinux2014',) + newer]

    def __str__(self):
        return f'cp3{self.minor} on manylinux {self.machine}'

    def pure_python_tags(self):
        """The tags of a wheel with no compiled code that this Python installs."""
        interpreters = ['py3', f'cp3{self.minor}'] + [f'py3{minor}'
                                                      for minor in range(self.minor + 1)]
        return {(interpreter, 'none', 'any') for interpreter in interpreters}


def requirement_lines(path):
    """The lines of requirements.txt that ask for something: none when the file is missing."""
    try:
        with open(path, encoding='utf-8') as handle:
            lines = handle.read().splitlines()
    except FileNotFoundError:
        return []
    stripped = (re.sub(r'(^|\s)#.*$', '', line).strip() for line in lines)
    return [line for line in stripped if line]


def unsatisfied(pip_output):
    """(requirement, versions pip saw) when pip failed for want of a distribution, else None.

    The requirement is as pip wrote it (specifier included, "(from parent)" left out)."""
    match = UNSATISFIED.search(pip_output)
    if not match:
        return None
    versions = match.group('versions').strip()
    return match.group('requirement'), [] if versions == 'none' else versions.split(', ')


def project_name(requirement):
    """PEP 503's normalised name of a requirement such as 'Foo_Bar[extra]>=1'."""
    name = re.match(r'[A-Za-z0-9][A-Za-z0-9._-]*', requirement).group(0)
    return re.sub(r'[-_.]+', '-', name).lower()


def wheel_tags(filename):
    """{(interpreter, abi, platform)} of a wheel file name (PEP 427, compressed tag sets)."""
    parts = os.path.basename(filename)[:-len('.whl')].split('-')
    if not filename.endswith('.whl') or len(parts) not in (5, 6):
        raise ValueError(f'{filename} is not a wheel file name')
    interpreters, abis, platforms = (part.split('.') for part in parts[-3:])
    return {(interpreter, abi, platform) for interpreter in interpreters for abi in abis
            for platform in platforms}


def compiled_files(wheel):
    """The files in a wheel that only run on the machine they were compiled for."""
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    return sorted(name for name in names
                  if name.endswith(COMPILED_SUFFIXES) or re.search(r'\.so\.\d', name))


def check_built_wheel(requirement, wheel, platform):
    """Refuse a wheel built here that would not run on Lambda; say what to do instead."""
    filename = os.path.basename(wheel)
    compiled = compiled_files(wheel)
    if compiled or not wheel_tags(filename) & platform.pure_python_tags():
        what = (f'compiles native code ({", ".join(compiled[:3])}'
                f'{", ..." if len(compiled) > 3 else ""})' if compiled else
                f'builds a wheel Lambda\'s {platform.runtime} does not install')
        raise DependencyError(
            f'{requirement}: no wheel for {platform} is published, and its source '
            f'distribution {what}: built here it is {filename}, for this machine, not for '
            f'Lambda. {remedies(requirement, platform)}')


def remedies(requirement, platform):
    return (f'Pin a version of {project_name(requirement)} that publishes a wheel for '
            f'{platform}, or move it to a layer built for Lambda, or build the dependencies '
            f'in an Amazon Linux container for {platform.arch} '
            f'(sam build --use-container does).')


def diagnosis(requirement, platform, wheel_versions, sdist_probe_output):
    """Why neither a wheel for the platform nor a source distribution was found: the name is
    unknown, or the versions asked for have none, or the package only has other wheels."""
    sdist = unsatisfied(sdist_probe_output)
    sdist_versions = sdist[1] if sdist else []
    if wheel_versions or sdist_versions:
        return (f'{requirement}: no version that matches has a wheel for {platform} or a '
                f'source distribution (with a wheel for {platform}: '
                f'{", ".join(wheel_versions) or "none"}; with a source distribution: '
                f'{", ".join(sdist_versions) or "none"}): change the version in '
                f'requirements.txt.')
    if has_wheels(requirement, sdist_probe_output):
        return (f'{requirement}: publishes wheels only for other platforms or Pythons, none '
                f'for {platform}, and no source distribution to build one from. '
                f'{remedies(requirement, platform)}')
    return (f'{requirement}: no package named {project_name(requirement)} on the package index '
            f'(neither a wheel nor a source distribution): check its name in requirements.txt.')


def has_wheels(requirement, sdist_probe_output):
    """Whether pip, looking for sdists only, skipped wheels of this project."""
    for match in WHEEL_SKIPPED.finditer(sdist_probe_output):
        filename = match.group('link').split('#')[0].rsplit('/', 1)[-1]
        wheel_project = project_name(filename.split('-')[0])
        if filename.endswith('.whl') and wheel_project == project_name(requirement):
            return True
    return False


def remove_local_direct_urls(site_packages):
    """Delete the direct_url.json files that record a local path (a wheel or folder installed
    by path): they carry the builder's absolute path into the zip, so the same inputs would
    give different zips on two machines. Their RECORD lines go too."""
    for entry in sorted(os.listdir(site_packages)):
        path = os.path.join(site_packages, entry, 'direct_url.json')
        if not entry.endswith('.dist-info') or not os.path.isfile(path):
            continue
        with open(path, encoding='utf-8') as handle:
            url = json.load(handle).get('url', '')
        if not url.startswith('file:'):
            continue
        os.unlink(path)
        record = os.path.join(site_packages, entry, 'RECORD')
        if os.path.isfile(record):
            with open(record, encoding='utf-8') as handle:
                lines = handle.read().splitlines(keepends=True)
            kept = [line for line in lines if not line.startswith(f'{entry}/direct_url.json,')]
            with open(record, 'w', encoding='utf-8') as handle:
                handle.writelines(kept)


class Installer:
    """Runs pip for one platform, with the index options the caller chose."""

    def __init__(self, platform, index_options=()):
        self.platform = platform
        self.index_options = list(index_options)

    def pip(self, *arguments):
        command = [sys.executable, '-m', 'pip', '--disable-pip-version-check', *arguments,
                   *self.index_options]
        try:
            return subprocess.run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise DependencyError(
                f'pip {arguments[0]} ran for over {PIP_TIMEOUT} s and was stopped') from None

    def install_wheels(self, requirements, target, wheelhouse):
        """pip install of wheels for Lambda's platform only, those built here among them."""
        return self.pip(
            'install', '--quiet', '--no-compile', '--target', target, '--implementation', 'cp',
            '--python-version', self.platform.python_version, '--only-binary=:all:',
            *(option for name in self.platform.platforms for option in ('--platform', name)),
            '--find-links', wheelhouse, '-r', requirements)

    def wheel_from_sdist(self, requirement, wheel_versions, work):
        """Build the requirement's sdist into a wheel here, as pip builds any sdist (in an
        isolated environment), and refuse it unless it runs on Lambda."""
        name = project_name(requirement)
        built = os.path.join(work, 'built', name)
        build = self.pip('wheel', '--no-deps', '--no-binary', name, '--wheel-dir', built,
                         requirement)
        output = build.stdout + build.stderr
        if build.returncode != 0 and unsatisfied(output):
            probe = self.pip('download', '-vv', '--no-deps', '--no-binary', name,
                             '--dest', os.path.join(work, 'probe', name), requirement)
            raise DependencyError(diagnosis(requirement, self.platform, wheel_versions,
                                            probe.stdout + probe.stderr))
        wheels = sorted(os.path.join(built, file) for file in os.listdir(built)
                        if file.endswith('.whl')) if os.path.isdir(built) else []
        if build.returncode != 0 or not wheels:
            raise DependencyError(
                f'{requirement}: no wheel for {self.platform} is published, and its source '
                f'distribution failed to build here:\n{tail(output)}\n'
                f'{remedies(requirement, self.platform)}')
        check_built_wheel(requirement, wheels[0], self.platform)
        return wheels[0]


def tail(text, lines=15):
    return '\n'.join(f'  {line}' for line in text.strip().splitlines()[-lines:])


def install(requirements, target, platform, index_options=(), report=print):
    """Fill target with the requirements for the platform; it is replaced only on success."""
    parent = os.path.dirname(os.path.abspath(target))
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix='.site-packages-', dir=parent)
    try:
        if requirement_lines(requirements):
            report(f'installing {requirements} for {platform.runtime} on {platform.arch} '
                   f'({" ".join(platform.platforms)})')
            with tempfile.TemporaryDirectory(prefix='dependencies-') as work:
                install_with_built_wheels(requirements, staging, platform, index_options,
                                          work, report)
            remove_local_direct_urls(staging)
            interpreter = bytecode.interpreter_for(platform.runtime)
            if interpreter:
                bytecode.compile_for_lambda(staging, interpreter)
            else:
                report(f'no {platform.runtime} interpreter on this machine: dependencies ship '
                       f'without bytecode (each cold start compiles what it imports)')
        shutil.rmtree(target, ignore_errors=True)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def install_with_built_wheels(requirements, staging, platform, index_options, work, report):
    """Each time pip finds no wheel for a requirement, build one from its sdist and retry:
    a built wheel's own dependencies may lack wheels too, and each is a new name, so this
    ends with a success or a refusal."""
    installer = Installer(platform, index_options)
    wheelhouse = os.path.join(work, 'wheelhouse')
    os.makedirs(wheelhouse)
    built = {}
    while True:
        result = installer.install_wheels(requirements, staging, wheelhouse)
        if result.returncode == 0:
            return
        output = result.stdout + result.stderr
        missing = unsatisfied(output)
        if missing is None:
            raise DependencyError(f'pip could not install {requirements} for {platform}:\n'
                                  f'{tail(output)}')
        requirement, wheel_versions = missing
        name = project_name(requirement)
        if name in built:
            raise DependencyError(
                f'{requirement}: the wheel built from its source distribution '
                f'({os.path.basename(built[name])}) does not satisfy it for {platform.runtime}:'
                f'\n{tail(output)}')
        wheel = installer.wheel_from_sdist(requirement, wheel_versions, work)
        built[name] = shutil.copy(wheel, wheelhouse)
        report(f'{requirement}: no wheel for {platform} is published; built '
               f'{os.path.basename(wheel)} from its source distribution (pure Python)')


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m deploy.dependencies',
                                     description="A function's requirements for Lambda.")
    commands = parser.add_subparsers(dest='command', required=True)
    command = commands.add_parser('install', help='install requirements.txt for Lambda')
    command.add_argument('--requirements', default='requirements.txt',
                         help='the requirements file; missing means no dependencies')
    command.add_argument('--target', required=True, help='folder to fill (replaced)')
    command.add_argument('--runtime', required=True, help='Lambda runtime, e.g. python3.12')
    command.add_argument('--arch', required=True, help='x86_64 or arm64')
    command.add_argument('--find-links', action='append', default=[], metavar='DIR',
                         help="a folder or page of wheels and sdists pip also looks in")
    command.add_argument('--no-index', action='store_true',
                         help='look only in --find-links, not the package index')
    command.add_argument('--name', help="the function's name, to begin what is printed with")
    arguments = parser.parse_args(argv)

    prefix = f'{arguments.name}: ' if arguments.name else ''
    index_options = [option for folder in arguments.find_links
                     for option in ('--find-links', folder)]
    if arguments.no_index:
        index_options.append('--no-index')
    try:
        platform = Platform(arguments.runtime, arguments.arch)
        install(arguments.requirements, arguments.target, platform, index_options,
                report=lambda line: print(f'{prefix}{line}', flush=True))
    except DependencyError as error:
        print(f'error: {prefix}{error}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
