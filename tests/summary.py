"""A nose2 plugin that ends the run with one plain line: "N passed, N failed, N skipped".

nose2's own "Ran N tests ... OK" is easy to misread in CI logs, and skipped tests vanish in
it; this line says what happened to every test, in a form any log reader understands. Before
it, the slowest modules, so that a suite that outgrows its 15 minutes says where.
"""
import time
from collections import Counter

from nose2.events import Plugin

SLOWEST_SHOWN = 8


class Summary(Plugin):
    configSection = 'summary'
    commandLineSwitch = None

    def __init__(self):
        self.started = 0
        self.seconds = Counter()  # per module, fixtures included
        self.last = None

    def startTestRun(self, event):
        self.last = time.monotonic()

    def startTest(self, event):
        self.started += 1
        self._clock(event.test)

    def stopTest(self, event):
        self._clock(event.test)

    def _clock(self, test):
        """Time since the last event goes to this test's module: its fixtures run just
        before its first test (a module's teardown is counted with the next one)."""
        now = time.monotonic()
        if self.last is not None:
            self.seconds[test.id().rsplit('.', 2)[0]] += now - self.last
        self.last = now

    def afterSummaryReport(self, event):
        categories = event.reportCategories
        run = self.started
        failed = sum(len(categories.get(name, []))
                     for name in ('failures', 'errors', 'unexpectedSuccesses'))
        skipped = len(categories.get('skipped', []))
        passed = max(0, run - failed - skipped)
        slowest = ', '.join(f'{name} {seconds:.0f} s'
                            for name, seconds in self.seconds.most_common(SLOWEST_SHOWN))
        event.stream.writeln(f'slowest: {slowest}')
        event.stream.writeln(f'{passed} passed, {failed} failed, {skipped} skipped')
