"""A nose2 plugin that ends the run with one plain line: "N passed, N failed, N skipped".

nose2's own "Ran N tests ... OK" is easy to misread in CI logs, and skipped tests vanish in
it; this line says what happened to every test, in a form any log reader understands.
"""
from nose2.events import Plugin


class Summary(Plugin):
    configSection = 'summary'
    commandLineSwitch = None

    def __init__(self):
        self.started = 0

    def startTest(self, event):
        self.started += 1

    def afterSummaryReport(self, event):
        categories = event.reportCategories
        run = self.started
        failed = sum(len(categories.get(name, []))
                     for name in ('failures', 'errors', 'unexpectedSuccesses'))
        skipped = len(categories.get('skipped', []))
        passed = max(0, run - failed - skipped)
        event.stream.writeln(f'{passed} passed, {failed} failed, {skipped} skipped')
