"""`make watch`: every save of a function's source is built and live within a second.

The watcher deploys once as `make update` would (the whole plan), then polls the function
folders. A source edit takes the short path, in this process: rebuild the zip (the
dependencies' deflated members are reused, see deploy.zipper) and, if its CodeSha256
changed, `aws lambda update-function-code`, printed and run through the awscli driver already
loaded. An edit to what make or the plan reads (Makefile, function.json, requirements.txt,
the shared .mk files, config) takes the long path: `make build`, then the whole plan again.

    python -m deploy.watch FOLDER... [--interval 0.1]
"""
import argparse
import os
import subprocess
import sys
import time

from deploy import zipper
from deploy.aws import Aws
from deploy.cli import EXPECTED_ERRORS, converge, explain, folder_name, function_of

# Edits to these change settings or dependencies: the long path.
SETTINGS_FILES = {'Makefile', 'function.json', 'requirements.txt'}
SHARED_FILES = ('common.mk', 'lambda.mk', 'service.mk', 'config.mk')
SKIPPED = ('.build', '__pycache__', 'tests', 'events')


def snapshot(folder, root):
    """(path -> (mtime_ns, size)) of what a build reads: the folder's files but its build
    outputs, and the project's shared make files."""
    seen = {}
    for directory, subdirectories, files in os.walk(folder):
        subdirectories[:] = [name for name in subdirectories
                             if not name.startswith('.') and name not in SKIPPED]
        for name in files:
            if name.startswith('.') or name.endswith(('.zip', '.pyc')):
                continue
            path = os.path.join(directory, name)
            try:
                status = os.stat(path)
            except FileNotFoundError:  # removed while we looked: the next poll sees it
                continue
            seen[path] = (status.st_mtime_ns, status.st_size)
    for name in os.listdir(root):
        if name in SHARED_FILES or (name.startswith('config-') and name.endswith('.mk')):
            status = os.stat(os.path.join(root, name))
            seen[os.path.join(root, name)] = (status.st_mtime_ns, status.st_size)
    return seen


def changed_paths(before, after):
    return sorted(path for path in set(before) | set(after) if before.get(path) != after.get(path))


def needs_full_deploy(paths, folder):
    for path in paths:
        if os.path.dirname(os.path.abspath(path)) != os.path.abspath(folder):
            if os.path.basename(path) in SHARED_FILES or os.path.basename(path).startswith(
                    'config-'):
                return True
            continue
        if os.path.basename(path) in SETTINGS_FILES:
            return True
    return False


class Watcher:
    def __init__(self, folders, aws, root, echo=print, clock=time.monotonic):
        self.folders, self.aws, self.root = folders, aws, root
        self.echo, self.clock = echo, clock
        self.functions = {}
        self.snapshots = {folder: snapshot(folder, root) for folder in folders}

    def deploy(self, folder):
        """The long path: make build, then the whole plan."""
        result = subprocess.run(['make', '--no-print-directory', '-s', '-C', folder, 'build'],
                                capture_output=True, text=True)
        if result.returncode != 0:
            self.echo(f'{folder_name(folder)}: make build failed:\n'
                      f'{result.stdout}{result.stderr}'.rstrip())
            return False
        converge([folder], 'deploy', self.aws, echo=self.echo)
        self.functions[folder] = function_of(folder, self.aws)[0]
        return True

    def update_code(self, folder):
        """The short path: the zip rebuilt here, the code published if it changed."""
        function = self.functions[folder]
        before = zipper.code_sha256(function.zip_path)
        deps = os.path.join(function.folder, '.build', 'site-packages')
        zipper.build(function.zip_path, function.folder, deps, function.zip_exclude,
                     cache=zipper.default_cache(deps), runtime=function.runtime)
        after = zipper.code_sha256(function.zip_path)
        if after == before:
            self.echo(f'{function.name}: code unchanged (CodeSha256 {after})')
            return False
        if function.canary:  # a canary's weights are the planner's to set
            converge([folder], 'update', self.aws, echo=self.echo)
            return True
        self.echo(f'{function.name}: publishing new code (CodeSha256 {before} -> {after})')
        published = self.aws.run('lambda', 'update-function-code', '--function-name',
                                 function.name, '--zip-file', f'fileb://{function.zip_path}',
                                 '--architectures', function.architecture, '--publish')
        self.aws.run('lambda', 'wait', 'function-updated-v2', '--function-name', function.name)
        # Every trigger and URL invokes the alias: the new version is live once it moves.
        self.aws.run('lambda', 'update-alias', '--function-name', function.name, '--name',
                     function.alias, '--function-version', published['Version'],
                     '--routing-config', 'AdditionalVersionWeights={}')
        return True

    def poll_once(self):
        for folder in self.folders:
            after = snapshot(folder, self.root)
            paths = changed_paths(self.snapshots[folder], after)
            if not paths:
                continue
            started = self.clock()
            self.snapshots[folder] = after
            shown = ', '.join(os.path.relpath(path) for path in paths[:3])
            self.echo(f'changed: {shown}{" ..." if len(paths) > 3 else ""}')
            try:
                if needs_full_deploy(paths, folder) or folder not in self.functions:
                    done = self.deploy(folder)
                else:
                    done = self.update_code(folder)
            except EXPECTED_ERRORS + (ValueError, zipper.PackageTooLarge) as error:
                self.echo(f'error: {explain(error)}')  # the next save tries again
                continue
            if done:
                self.echo(f'live in {self.clock() - started:.2f} s; watching')

    def run(self, interval):
        for folder in self.folders:
            self.deploy(folder)
        self.echo(f'watching {", ".join(map(folder_name, self.folders))} (Ctrl-C stops)')
        while True:
            time.sleep(interval)
            self.poll_once()


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m deploy.watch')
    parser.add_argument('folders', nargs='+')
    parser.add_argument('--interval', type=float, default=0.1, help='seconds between looks')
    parser.add_argument('--root', default=os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    arguments = parser.parse_args(argv)
    aws = Aws(echo=lambda line: print(line, flush=True))
    watcher = Watcher(arguments.folders, aws, arguments.root,
                      echo=lambda line: print(line, flush=True))
    try:
        watcher.run(arguments.interval)
    except KeyboardInterrupt:
        return 0
    except EXPECTED_ERRORS as error:
        print(f'error: {explain(error)}', file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main())
