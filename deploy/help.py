"""`make help`: the targets and variables the makefiles document, read the way make reads them.

A target is documented by `## text` on its rule line (`build size: deps | order-only ## text`);
a variable by the `#: text` lines directly above one of its definitions, the first documented
definition winning (the function's own Makefile is read first). A variable's default is what its
definitions leave it with in the order make reads them (`?=` only when still undefined, `=`,
`:=` always, `+=` appends), shown as written; conditionals (ifeq...) are not evaluated.

Nothing here runs make's expressions: a default such as `$(APP)-$(FUNCTION_NAME)` is shown as
`computed: ...`, and with its value when make supplies it (--values). Make supplies values only
for the names `--expandable` prints: those whose expansion calls no $(shell), $(call), $(eval)...
directly or through another variable, so printing help never looks anything up in AWS.

    python -m deploy.help TITLE MAKEFILE... [--values FILE]   (FILE: NAME=VALUE lines, - for stdin)
    python -m deploy.help --expandable MAKEFILE...
"""
import argparse
import re
import sys
import textwrap

LINE_WIDTH = 100
NAME_WIDTH = 24  # longer names get a line of their own
INDENT = '  '

ASSIGNMENT = re.compile(r'(?:(?:override|export|private)\s+)*([^\s:#=?+!$(){}]+)\s*'
                        r'(:::=|::=|:=|\?=|\+=|!=|=)\s*(.*)', re.DOTALL)
DEFINE = re.compile(r'(?:(?:override|export|private)\s+)*define\s+([^\s:#=?+!$(){}]+)\s*'
                    r'(:::=|::=|:=|\?=|\+=|!=|=)?\s*$')
DOCUMENTED_NAME = re.compile(r'[A-Za-z0-9_][A-Za-z0-9_.-]*\Z')
INCLUDES = {'include', '-include', 'sinclude'}
DIRECTIVES = {'ifeq', 'ifneq', 'ifdef', 'ifndef', 'else', 'endif', 'vpath', 'unexport',
              'undefine', 'export', 'override'}
# Make functions whose expansion only computes text or reads file names: no command, no side
# effect, no output. Anything else ($(shell), $(call), $(eval), $(file), $(info)...) is not
# expanded for help.
PURE_FUNCTIONS = {
    'subst', 'patsubst', 'strip', 'findstring', 'filter', 'filter-out', 'sort', 'word',
    'wordlist', 'words', 'firstword', 'lastword', 'dir', 'notdir', 'suffix', 'basename',
    'addsuffix', 'addprefix', 'join', 'wildcard', 'realpath', 'abspath', 'if', 'or', 'and',
    'intcmp', 'foreach', 'let', 'origin', 'flavor', 'value'}
# Deeper chains of variables than this are not followed: not expanded for help.
MAX_REFERENCE_DEPTH = 64


# Plain classes: importing dataclasses (and inspect with it) adds some 20 ms to every make help.
class Target:
    def __init__(self, names, text):
        self.names, self.text = names, text


class Variable:
    def __init__(self, name, text):
        self.name, self.text = name, text
        self.definitions = []  # (operator, value as written), every one in the order read

    @property
    def default(self):
        """What the definitions leave the variable with, in the order make reads them."""
        value = None
        for operator, written in self.definitions:
            if operator == '?=':
                value = written if value is None else value
            elif operator == '+=':
                value = written if value is None else f'{value} {written}'
            elif operator == '!=':
                value = f'$(shell {written})'
            else:
                value = written
        return '' if value is None else value.strip()


class Documentation:
    def __init__(self, definitions):
        self.targets = []
        self.variables = {}  # name -> Variable, documented ones only
        self.definitions = definitions  # name -> [(operator, value)], every one


def logical_lines(text):
    """The makefile's lines with backslash-newline continuations joined by one space, as make
    joins them (an even run of backslashes before the newline is no continuation)."""
    pending = []
    for line in text.splitlines():
        backslashes = len(line) - len(line.rstrip('\\'))
        if backslashes % 2:
            pending.append(line[:-1].rstrip() if pending == [] else line[:-1].strip())
            continue
        if pending:
            pending.append(line.strip())
            yield ' '.join(part for part in pending if part)
            pending = []
        else:
            yield line
    if pending:
        yield ' '.join(part for part in pending if part)


def _closing(text, start):
    """Index of the parenthesis closing the `$(` or `${` opened at text[start], or -1.
    Make counts only parentheses of the same kind."""
    opening = text[start]
    closing = ')' if opening == '(' else '}'
    depth = 0
    for index in range(start, len(text)):
        if text[index] == opening:
            depth += 1
        elif text[index] == closing:
            depth -= 1
            if depth == 0:
                return index
    return -1


def _top_level(text, wanted):
    """Index of the first character in `wanted` outside any $(...) or ${...}, or -1. A `#`
    escaped with a backslash is not a comment."""
    index = 0
    while index < len(text):
        character = text[index]
        if character == '$' and index + 1 < len(text) and text[index + 1] in '({':
            end = _closing(text, index + 1)
            if end < 0:
                return -1
            index = end + 1
            continue
        if character == '\\' and index + 1 < len(text):
            index += 2
            continue
        if character in wanted:
            return index
        index += 1
    return -1


def split_comment(line):
    """(code, comment): the comment is what follows the first `#` make reads as one."""
    at = _top_level(line, '#')
    if at < 0:
        return line.replace('\\#', '#'), None
    return line[:at].replace('\\#', '#'), line[at + 1:]


def parse(files):
    """Read makefiles, (path, text) in the order make read them (MAKEFILE_LIST), into one
    Documentation. An included file is read where its include line is, as make reads it, when it
    is the next one in the list: that order decides a variable's default. Documentation goes by
    the list's order: the first file's (the function's own Makefile) wins wherever it includes."""
    return _Reader(files).read()


class _Reader:
    def __init__(self, files):
        self.files = list(files)
        self.next = 0
        self.definitions = {}
        self.candidates = []  # (file index, order read, Target or Variable)

    def read(self):
        while self.next < len(self.files):
            self._read_file(self.next)
        documentation = Documentation(definitions=self.definitions)
        listed = set()
        for _, _, entry in sorted(self.candidates, key=lambda candidate: candidate[:2]):
            if isinstance(entry, Target):
                if not set(entry.names) <= listed:
                    documentation.targets.append(entry)
                    listed.update(entry.names)
            elif entry.name not in documentation.variables:
                entry.definitions = self.definitions[entry.name]
                documentation.variables[entry.name] = entry
        return documentation

    def _read_file(self, index):
        self.next = index + 1
        doc_lines = []
        define = None  # [name, operator, body lines, nesting]
        for line in logical_lines(self.files[index][1]):
            if define is not None:
                word = line.strip().split(maxsplit=1)[0] if line.strip() else ''
                if word == 'endef':
                    define[3] -= 1
                    if define[3] == 0:
                        self._define(define[0], define[1], '\n'.join(define[2]))
                        define = None
                        continue
                elif DEFINE.fullmatch(line.strip()):
                    define[3] += 1
                define[2].append(line)
                continue
            if line.startswith('\t'):  # a recipe line
                doc_lines = []
                continue
            stripped = line.strip()
            if not stripped:
                doc_lines = []
                continue
            if stripped.startswith('#'):
                doc = re.fullmatch(r'#:(?: (.*))?', stripped)
                doc_lines = doc_lines + [(doc[1] or '').strip()] if doc else []
                continue
            starting_define = DEFINE.fullmatch(stripped)
            if starting_define:
                define = [starting_define[1], starting_define[2] or '=', [], 1]
                doc_lines = []
                continue
            code, comment = split_comment(line)
            assignment = ASSIGNMENT.fullmatch(code.strip())
            first_word = stripped.split(maxsplit=1)[0]
            if assignment:
                name, operator, value = assignment.groups()
                self._define(name, operator, value.rstrip())
                if doc_lines and DOCUMENTED_NAME.match(name):
                    text = ' '.join(part for part in doc_lines if part)
                    self._candidate(index, Variable(name, text))
            elif first_word in INCLUDES:
                self._include(code.strip()[len(first_word):])
            elif first_word not in DIRECTIVES:
                target = _documented_rule(code, comment)
                if target:
                    self._candidate(index, target)
            doc_lines = []

    def _define(self, name, operator, value):
        self.definitions.setdefault(name, []).append((operator, value))

    def _candidate(self, index, entry):
        self.candidates.append((index, len(self.candidates), entry))

    def _include(self, words):
        """Read now the files of an include line that are next in the list."""
        for word in _top_level_words(words):
            if self.next < len(self.files) and (
                    _last_path_part(word) == _last_path_part(self.files[self.next][0])):
                self._read_file(self.next)


def _top_level_words(text):
    """Whitespace-separated words, a $(...) counting as part of its word."""
    words = []
    while text.strip():
        text = text.lstrip()
        end = _top_level(text, ' \t')
        words.append(text if end < 0 else text[:end])
        text = '' if end < 0 else text[end:]
    return words


def _last_path_part(path):
    """The file name an include names: `$(dir $(lastword $(MAKEFILE_LIST)))common.mk` names
    common.mk."""
    return re.split(r'[/)}]', path.rstrip('/'))[-1]


def _documented_rule(code, comment):
    """The Target a rule line's `## text` documents; a target-specific variable (`target: NAME =
    value`) is none."""
    colon = _top_level(code, ':')
    if colon < 0 or comment is None or not comment.startswith('# '):
        return None
    names = code[:colon].split()
    after = code[colon + 1:]
    after = after[1:] if after.startswith(':') else after
    if not names or _top_level(code[:colon], '=') >= 0 or ASSIGNMENT.fullmatch(after.strip()):
        return None
    return Target(names, comment[2:].strip())


class Expansion:
    """Whether make can expand a variable without running anything: no $(shell), $(call)...
    in its definitions or in those of any variable it refers to. A `:=` (or `!=`) definition
    was expanded when make read it, so referring to it runs nothing again. A variable no
    makefile defines (make's own such as CURDIR, or one from the environment or the command
    line, where only the user can have put an expression) is taken as plain text."""

    def __init__(self, definitions):
        self.definitions = definitions
        self.known = {}

    def variable(self, name, depth=0):
        if name in self.known:
            return self.known[name]
        if depth > MAX_REFERENCE_DEPTH:
            return False
        self.known[name] = False  # a variable referring to itself is not expanded
        self.known[name] = all(
            operator in (':=', '::=', ':::=', '!=') or self.text(value, depth + 1)
            for operator, value in self.definitions.get(name, ()))
        return self.known[name]

    def text(self, text, depth=0):
        index = 0
        while index < len(text):
            at = text.find('$', index)
            if at < 0 or at + 1 >= len(text):
                return True
            following = text[at + 1]
            if following == '$':
                index = at + 2
                continue
            if following not in '({':
                if not self.variable(following, depth):
                    return False
                index = at + 2
                continue
            end = _closing(text, at + 1)
            if end < 0 or not self.reference(text[at + 2:end], depth):
                return False
            index = end + 1
        return True

    def reference(self, inside, depth):
        """`inside` is what is between $( and ): a function call or a variable's name."""
        words = inside.split(maxsplit=1)
        if not words:
            return True
        if len(words) == 2 or inside != inside.lstrip():
            return words[0] in PURE_FUNCTIONS and self.text(inside, depth)
        name, _, substitution = inside.partition(':')
        if '$' in name:  # a computed name: which variable it is, only make knows
            return False
        return self.variable(name, depth) and self.text(substitution, depth)


def expandable(documentation):
    """The documented variables make may expand to print help, in their order."""
    expansion = Expansion(documentation.definitions)
    return [name for name in documentation.variables if expansion.variable(name)]


def read_values(handle):
    """NAME=VALUE lines; the first line for a name wins, lines without `=` are ignored."""
    values = {}
    for line in handle:
        name, equals, value = line.rstrip('\n').partition('=')
        if equals and name not in values:
            values[name] = value.strip()
    return values


def is_expression(written):
    return re.search(r'\$[^$]', written.replace('$$', '')) is not None


def describe_default(variable, values):
    written = variable.default
    now = values.get(variable.name)
    if is_expression(written):
        description = f'computed: {written}'
        return description if now is None else f'{description}, now: {now or "(none)"}'
    literal = written.replace('$$', '$')
    description = f'default: {literal or "(none)"}'
    if now is not None and now != literal:
        description += f', now: {now or "(none)"}'
    return description


def _entry(name, text, column):
    """A name and its text in aligned columns, wrapped at LINE_WIDTH."""
    indent = ' ' * (len(INDENT) + column + 2)
    wrap = dict(width=LINE_WIDTH, break_on_hyphens=False, subsequent_indent=indent)
    if len(name) <= column:
        return textwrap.wrap(text, initial_indent=f'{INDENT}{name:<{column}}  ', **wrap) or [
            f'{INDENT}{name}']
    lines = textwrap.wrap(name, width=LINE_WIDTH, initial_indent=INDENT,
                          subsequent_indent=INDENT, break_on_hyphens=False)
    return lines + textwrap.wrap(text, initial_indent=indent, **wrap)


def render(title, documentation, values=None):
    values = values or {}
    names = [' '.join(target.names) for target in documentation.targets]
    names += list(documentation.variables)
    column = min(NAME_WIDTH, max(map(len, names), default=0))
    lines = [f'{title}: targets']
    for target in documentation.targets:
        lines += _entry(' '.join(target.names), target.text, column)
    if documentation.variables:
        lines += ['', 'Variables (command line, config.mk or environment):']
    for variable in documentation.variables.values():
        lines += _entry(variable.name, variable.text, column)
        lines += textwrap.wrap(describe_default(variable, values), width=LINE_WIDTH,
                               initial_indent=' ' * (len(INDENT) + column + 2),
                               subsequent_indent=' ' * (len(INDENT) + column + 4),
                               break_on_hyphens=False)
    return '\n'.join(lines) + '\n'


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog='python -m deploy.help',
        usage='%(prog)s TITLE MAKEFILE... [--values FILE]\n'
              '       %(prog)s --expandable MAKEFILE...')
    parser.add_argument('arguments', nargs='+', metavar='TITLE MAKEFILE...')
    parser.add_argument('--values', type=argparse.FileType('r'),
                        help='NAME=VALUE lines with the values make expanded (- for stdin)')
    parser.add_argument('--expandable', action='store_true',
                        help='print the documented variables make may expand for help, and stop')
    arguments = parser.parse_args(argv)
    if arguments.expandable:
        makefiles = arguments.arguments
    elif len(arguments.arguments) < 2:
        parser.error('say a title and at least one makefile')
    else:
        title, *makefiles = arguments.arguments
    files = []
    for path in makefiles:
        try:
            with open(path, encoding='utf-8', errors='replace') as handle:
                files.append((path, handle.read()))
        except OSError as error:
            print(f'error: cannot read {path}: {error.strerror}', file=sys.stderr)
            return 1
    documentation = parse(files)
    if arguments.expandable:
        print(' '.join(expandable(documentation)))
        return 0
    values = read_values(arguments.values) if arguments.values else {}
    sys.stdout.write(render(title, documentation, values))
    return 0


if __name__ == '__main__':
    sys.exit(main())
