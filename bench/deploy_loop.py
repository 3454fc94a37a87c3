"""Edit to live on the bench's endpoint: from saving image_list/list.html to the gallery's URL
serving the change, with `make watch` running (top level, and in the function's folder) and with
`make update` run after the save (in the function's folder, and top level); and `make update`
with nothing to do.

It works in a throwaway copy of the project (the checkout is never edited), which deploys to
the functions `make bench` deployed: same names, same endpoint. Each edit appends a unique
marker to the page's template, which the page then shows; the gallery's URL is asked every 20 ms
until it does. The request that first shows it is the new code's cold start, so its round trip
is given too: the rest is the loop's own time. Variants run in turn within each round, in an
order that shifts by one each round. Awscli calls are counted from what the tools print (they
run in the tool's own process: no process per call).

At the end the template is restored and published again: the endpoint serves the checkout's
code, byte for byte, as before this stage.
"""
import os
import re
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid

from tests.workspace import VENV, copy_project, make

FOLDER = 'image_list'
PAGE = 'list.html'
POLL_SECONDS = 0.02
LIVE_TIMEOUT = 60
WATCH_START_TIMEOUT = 180
AWS_CALL = re.compile(r'^\s*aws ', re.MULTILINE)
LIVE = re.compile(r'^live in ([0-9.]+) s', re.MULTILINE)
WATCHING = re.compile(r'^watching ', re.MULTILINE)

VARIANTS = ('make watch', f'make -C {FOLDER} watch', f'make -C {FOLDER} update', 'make update',
            f'make -C {FOLDER} update, nothing to do', 'make update, nothing to do')


class LoopFailed(Exception):
    """A tool failed or the change never showed; the message has what it printed."""


def fetch(url):
    """The page, or '' when the gallery answered an error (counted by the caller)."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.read().decode('utf-8', 'replace')
    except urllib.error.HTTPError as error:
        error.close()
        return ''


def until_served(url, marker, started):
    """(ms from started until the page shows marker, round trip of the request that first
    showed it, error answers seen meanwhile)."""
    errors = 0
    while True:
        sent = time.perf_counter()
        page = fetch(url)
        answered = time.perf_counter()
        if marker in page:
            return (answered - started) * 1000, (answered - sent) * 1000, errors
        errors += not page
        if answered - started > LIVE_TIMEOUT:
            raise LoopFailed(f'the gallery did not show the change within {LIVE_TIMEOUT} s')
        time.sleep(POLL_SECONDS)


class Page:
    """The template, each edit its original text plus one new marker."""

    def __init__(self, root):
        self.path = os.path.join(root, FOLDER, PAGE)
        with open(self.path) as handle:
            self.original = handle.read()

    def edit(self):
        marker = f'<!-- bench {uuid.uuid4().hex} -->'
        with open(self.path, 'w') as handle:
            handle.write(f'{self.original}{marker}\n')
        return marker, time.perf_counter()

    def restore(self):
        with open(self.path, 'w') as handle:
            handle.write(self.original)


def make_command(root, folder, target):
    return ['make', '--no-print-directory', '-C', os.path.join(root, folder) if folder else root,
            f'VENV={VENV}', target]


def update(root, folder, page, url, edited):
    """`make update` (in folder, or top level); after an edit, until the change is served."""
    fetch(url)  # the code served before the edit is warm: the cold start timed is the new one's
    marker, started = page.edit() if edited else (None, time.perf_counter())
    result = subprocess.run(make_command(root, folder, 'update'), capture_output=True, text=True,
                            timeout=300)
    command_ms = (time.perf_counter() - started) * 1000
    if result.returncode != 0:
        raise LoopFailed(f'make update failed:\n{result.stdout}{result.stderr}')
    row = {'command_ms': command_ms, 'aws_calls': len(AWS_CALL.findall(result.stdout))}
    if edited:
        row['live_ms'], row['first_request_ms'], row['errors'] = until_served(url, marker,
                                                                             started)
        row['loop_ms'] = row['live_ms'] - row['first_request_ms']
    return row


def watch(root, folder, page, url):
    """`make watch` started and left to deploy; then one edit, until the change is served."""
    log = tempfile.TemporaryFile('w+')
    process = subprocess.Popen(make_command(root, folder, 'watch'), stdout=log,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        started = time.perf_counter()
        while not WATCHING.search(printed(log)):
            if process.poll() is not None:
                raise LoopFailed(f'make watch stopped ({process.returncode}):\n{printed(log)}')
            if time.perf_counter() - started > WATCH_START_TIMEOUT:
                raise LoopFailed(f'make watch did not start in {WATCH_START_TIMEOUT} s:\n'
                                 f'{printed(log)}')
            time.sleep(0.05)
        before = len(printed(log))
        fetch(url)
        marker, edited = page.edit()
        live_ms, first_request_ms, errors = until_served(url, marker, edited)
        waited = time.perf_counter()  # the watcher prints "live in" once its wait returns
        while not LIVE.search(printed(log)[before:]) and time.perf_counter() - waited < 10:
            time.sleep(0.05)
        after = printed(log)[before:]
        published = LIVE.search(after)
        return {'live_ms': live_ms, 'first_request_ms': first_request_ms,
                'loop_ms': live_ms - first_request_ms, 'errors': errors,
                'published_ms': float(published.group(1)) * 1000 if published else None,
                'aws_calls': len(AWS_CALL.findall(after))}
    finally:
        # SIGTERM, not SIGINT: a shell that started make bench in the background may have
        # left SIGINT ignored, for make and the watcher alike.
        stop(process)
        log.close()


def stop(process):
    """End make watch and the watcher it started: their own process group, nothing else."""
    for sent in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sent)
        except ProcessLookupError:  # already gone
            pass
        try:
            process.wait(timeout=10)
            return
        except subprocess.TimeoutExpired:
            continue


def printed(log):
    log.seek(0)
    return log.read()


def run(rounds, progress=print):
    url = os.environ['GALLERY_URL']
    root = copy_project()
    rows = {variant: [] for variant in VARIANTS}
    try:
        make(root, 'build')
        page = Page(root)
        measures = {
            VARIANTS[0]: lambda: watch(root, None, page, url),
            VARIANTS[1]: lambda: watch(root, FOLDER, page, url),
            VARIANTS[2]: lambda: update(root, FOLDER, page, url, edited=True),
            VARIANTS[3]: lambda: update(root, None, page, url, edited=True),
            VARIANTS[4]: lambda: update(root, FOLDER, page, url, edited=False),
            VARIANTS[5]: lambda: update(root, None, page, url, edited=False),
        }
        for round_number in range(rounds):
            shift = round_number % len(VARIANTS)
            for variant in VARIANTS[shift:] + VARIANTS[:shift]:
                rows[variant].append(measures[variant]())
        page.restore()
        make(os.path.join(root, FOLDER), 'update')
    finally:
        shutil.rmtree(root, ignore_errors=True)
    figures = {'rounds': rounds, 'variants': {
        variant: {key: (sum if key == 'errors' else statistics.median)(
            [row[key] for row in samples])
            for key in samples[0] if all(row[key] is not None for row in samples)}
        for variant, samples in rows.items()}}
    for variant, row in figures['variants'].items():
        progress(f'  {variant}: ' + ', '.join(f'{key} {value:.0f}' for key, value in row.items()))
    return figures


# The goals of issue 13: what each is measured on.
GOALS = {'make watch': 'edit to live < 700 ms', f'make -C {FOLDER} watch': 'edit to live < 700 ms',
         'make update': 'tool < 1,500 ms', f'make -C {FOLDER} update, nothing to do':
         'tool < 1,000 ms', 'make update, nothing to do': 'tool < 1,000 ms'}


def table(figures):
    rounds = figures['rounds']
    lines = [f'   {rounds} interleaved round{"s, medians" if rounds > 1 else ""}; edit to live: '
             f'from saving '
             f'{FOLDER}/{PAGE} to the gallery serving it, = the new code\'s cold start (the '
             f'request that first showed it) + the rest',
             f'   {"":42}{"edit to live":>13}{"cold start":>12}{"the rest":>10}{"tool":>10}'
             f'{"awscli":>8}  goal']
    for variant, row in figures['variants'].items():
        values = [row.get('live_ms'), row.get('first_request_ms'),
                  row.get('loop_ms'),
                  row.get('command_ms', row.get('published_ms'))]
        cells = [f'{value:,.0f} ms' if value is not None else '' for value in values]
        lines.append(f'   {variant:42}{cells[0]:>13}{cells[1]:>12}{cells[2]:>10}{cells[3]:>10}'
                     f'{row["aws_calls"]:>8.0f}  {GOALS.get(variant, "")}'.rstrip()
                     + (f' ({row["errors"]} error answers while it changed)'
                        if row.get('errors') else ''))
    lines.append("   tool: make update's own time; for make watch, from its noticing the save to "
                 'the code published, as it prints ("live in"). awscli: the calls printed, each '
                 "run in the tool's own process")
    return lines
