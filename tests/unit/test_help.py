"""make help's printer (deploy.help) fed small makefile texts: which targets and variables it
finds, the defaults it shows, which variables make may expand for it, and the layout. The last
test runs real make on a temporary folder with the recipe the Makefiles use."""
import io
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest
from contextlib import redirect_stderr, redirect_stdout
from unittest import mock

from deploy import help as make_help
from deploy.functions import ROOT


def parse(*texts):
    """Each text a makefile of its own, read in order."""
    return make_help.parse((f'{index}.mk', textwrap.dedent(text))
                           for index, text in enumerate(texts))


def target_names(documentation):
    return [' '.join(target.names) for target in documentation.targets]


def defaults(documentation, values=None):
    return {name: make_help.describe_default(variable, values or {})
            for name, variable in documentation.variables.items()}


class TargetsTest(unittest.TestCase):
    def test_rules_of_every_shape_with_a_comment_are_listed(self):
        documentation = parse("""\
            help: ## this list
            build size update delete: ## build, size, update or delete both functions
            layer layer-check: deps | $(VENV_STAMP) ## the layer
            tune: | $(VENV_STAMP) ## duration and cost
            install_deps: $(DEPS_STAMP) ## pip-install
            $(ZIPFILE_NAME): $(SOURCES) ## the zip
            watch:: ## double-colon
            s3-sync2: $(subst a:b,c,d) ## a colon inside a function call
            create deploy: \\
              build ## continued on the next line
            """)
        self.assertEqual(
            ['help', 'build size update delete', 'layer layer-check', 'tune', 'install_deps',
             '$(ZIPFILE_NAME)', 'watch', 's3-sync2', 'create deploy'], target_names(documentation))
        self.assertEqual('build, size, update or delete both functions',
                         documentation.targets[1].text)
        self.assertEqual('continued on the next line', documentation.targets[-1].text)

    def test_what_is_not_a_documented_rule_is_left_out(self):
        documentation = parse("""\
            undocumented: deps
            commented: # one hash only
            $(DEPS_STAMP): requirements.txt | $(VENV_STAMP)
            \t@echo 'recipe: ## not a rule'
            define print_help
            @awk '/^[a-z]+:.*## / {print}' $(MAKEFILE_LIST)
            fake: ## inside a define
            endef
            LIST := a b ## a variable's comment
            tune: MEMORY = 128 ## a target-specific variable
            ifeq ($(A),b:c) ## a conditional
            endif
            real: ## listed
            """)
        self.assertEqual(['real'], target_names(documentation))

    def test_a_target_documented_twice_is_listed_once(self):
        documentation = parse('clean: ## the function\n', 'clean: ## the top level\n')
        listed = [(' '.join(target.names), target.text) for target in documentation.targets]
        self.assertEqual([('clean', 'the function')], listed)


class VariablesTest(unittest.TestCase):
    def test_every_definition_form_and_name_is_documented(self):
        documentation = parse("""\
            #: conditional
            APP ?= image-service
            #: recursive
            S3_BUCKET2 = bucket2
            #: simple
            _private_3 := three
            #: with empty default
            GALLERY_ORIGIN ?=
            #: exported
            export LOG_LEVEL ?= INFO
            """)
        self.assertEqual({'APP': 'default: image-service', 'S3_BUCKET2': 'default: bucket2',
                          '_private_3': 'default: three', 'GALLERY_ORIGIN': 'default: (none)',
                          'LOG_LEVEL': 'default: INFO'}, defaults(documentation))
        self.assertEqual('with empty default', documentation.variables['GALLERY_ORIGIN'].text)

    def test_consecutive_doc_lines_form_one_text(self):
        documentation = parse("""\
            # A plain comment first, not part of the text.
            #: the library Wand loads first; without it
            #: Wand tries 24 names
            WAND_SUFFIX ?= -6.Q16
            """)
        self.assertEqual('the library Wand loads first; without it Wand tries 24 names',
                         documentation.variables['WAND_SUFFIX'].text)

    def test_doc_lines_count_only_directly_above_a_definition(self):
        documentation = parse("""\
            #: separated by a blank line

            SEPARATED ?= 1
            #: separated by a plain comment
            # plain
            COMMENTED ?= 2
            #: above a rule
            rule:
            AFTER_RULE ?= 3
            UNDOCUMENTED ?= 4
            """)
        self.assertEqual({}, documentation.variables)

    def test_the_first_documented_definition_gives_the_text(self):
        function = """\
            FUNCTION_NAME ?= Resize
            #: MB of memory, chosen with make tune
            MEMORY_SIZE ?= 1024
            """
        shared = """\
            #: the function's name in Lambda
            FUNCTION_NAME ?= $(notdir $(CURDIR))
            #: megabytes
            MEMORY_SIZE ?= 256
            """
        documentation = parse(function, shared)
        self.assertEqual(['MEMORY_SIZE', 'FUNCTION_NAME'], list(documentation.variables))
        self.assertEqual('MB of memory, chosen with make tune',
                         documentation.variables['MEMORY_SIZE'].text)
        self.assertEqual("the function's name in Lambda",
                         documentation.variables['FUNCTION_NAME'].text)
        self.assertEqual({'MEMORY_SIZE': 'default: 1024', 'FUNCTION_NAME': 'default: Resize'},
                         defaults(documentation))

    def test_the_default_is_what_make_leaves_after_every_definition(self):
        function = """\
            FUNCTION_ENV = BUCKET SIZE
            LAYER_INPUTS = --policy layer/policy.xml
            """
        shared = """\
            #: variables passed to the function
            FUNCTION_ENV ?=
            #: files the layer's build reads
            LAYER_INPUTS ?=
            #: overridden by a later plain definition
            RUNTIME ?= python3.12
            RUNTIME = python3.13
            #: appended to
            FLAGS ?= -q
            FLAGS += -v
            #: a price # with a comment
            PRICE ?= 0.20 # USD
            #: an escaped hash
            CHANNEL ?= \\#general
            """
        self.assertEqual({'FUNCTION_ENV': 'default: BUCKET SIZE',
                          'LAYER_INPUTS': 'default: --policy layer/policy.xml',
                          'RUNTIME': 'default: python3.13', 'FLAGS': 'default: -q -v',
                          'PRICE': 'default: 0.20', 'CHANNEL': 'default: #general'},
                         defaults(parse(function, shared)))

    def test_an_included_file_is_read_where_it_is_included(self):
        function = """\
            include $(dir $(lastword $(MAKEFILE_LIST)))../lambda.mk
            #: MB, chosen with make tune
            MEMORY_SIZE ?= 1024
            #: the function's role
            ROLE = mine
            """
        shared = """\
            -include $(ROOT)/config.mk
            include $(dir $(lastword $(MAKEFILE_LIST)))common.mk other.mk
            #: megabytes
            MEMORY_SIZE ?= 256
            #: its role
            ROLE ?= generic
            """
        common = '#: prefix\nAPP ?= image-service\nROLE ?= common\n'
        other = 'APP = from-other\n'
        documentation = make_help.parse([
            ('fn/Makefile', textwrap.dedent(function)),
            ('fn/../lambda.mk', textwrap.dedent(shared)),
            ('fn/../common.mk', common), ('fn/../other.mk', other)])
        self.assertEqual({'MEMORY_SIZE': 'default: 256', 'ROLE': 'default: mine',
                          'APP': 'default: from-other'}, defaults(documentation))
        self.assertEqual('MB, chosen with make tune', documentation.variables['MEMORY_SIZE'].text)

    def test_a_definition_continued_over_lines_is_one_value(self):
        documentation = parse("""\
            #: what goes into the environment
            FUNCTION_ENV = RESIZED_BUCKET MAX_WIDTH \\
              MAX_HEIGHT
            """)
        self.assertEqual('default: RESIZED_BUCKET MAX_WIDTH MAX_HEIGHT',
                         defaults(documentation)['FUNCTION_ENV'])


class DefaultsTest(unittest.TestCase):
    TEXT = """\
        #: prefix of every name
        APP ?= image-service
        #: the function's role
        ROLE_NAME ?= $(APP)-$(FUNCTION_NAME)
        #: AWS region
        REGION ?= $(or $(AWS_REGION),$(call once,REGION,aws configure get region))
        #: empty unless a layer is set
        MAGICK_HOME ?= $(if $(strip $(LAYERS)),/opt)
        #: a literal dollar
        PATTERN ?= ^$$
        """

    def test_expressions_are_shown_as_written_and_marked(self):
        self.assertEqual({
            'APP': 'default: image-service',
            'ROLE_NAME': 'computed: $(APP)-$(FUNCTION_NAME)',
            'REGION': 'computed: $(or $(AWS_REGION),$(call once,REGION,aws configure get region))',
            'MAGICK_HOME': 'computed: $(if $(strip $(LAYERS)),/opt)',
            'PATTERN': 'default: ^$'}, defaults(parse(self.TEXT)))

    def test_values_make_supplied_are_shown_beside_the_expression(self):
        values = {'APP': 'my-images', 'ROLE_NAME': 'my-images-Resize', 'MAGICK_HOME': '',
                  'PATTERN': '^$'}
        self.assertEqual({
            'APP': 'default: image-service, now: my-images',
            'ROLE_NAME': 'computed: $(APP)-$(FUNCTION_NAME), now: my-images-Resize',
            'REGION': 'computed: $(or $(AWS_REGION),$(call once,REGION,aws configure get region))',
            'MAGICK_HOME': 'computed: $(if $(strip $(LAYERS)),/opt), now: (none)',
            'PATTERN': 'default: ^$'}, defaults(parse(self.TEXT), values))

    def test_values_are_read_from_name_value_lines(self):
        lines = io.StringIO('APP=my-images\nURL=http://a/?b=c\nAPP=second\nnoise\nEMPTY=\n')
        self.assertEqual({'APP': 'my-images', 'URL': 'http://a/?b=c', 'EMPTY': ''},
                         make_help.read_values(lines))


class ExpandableTest(unittest.TestCase):
    def expandable(self, text):
        return make_help.expandable(parse(text))

    def test_only_variables_whose_expansion_runs_nothing(self):
        names = self.expandable("""\
            #: literal
            LITERAL ?= 30
            #: refers to a literal and to the environment
            NAME ?= $(APP)-$(AWS_REGION)-${LITERAL}
            APP ?= image-service
            #: text functions only
            EVENT ?= events/$(firstword $(notdir $(wildcard events/*.json)))
            #: a substitution reference
            OBJECTS ?= $(SOURCES:.c=.o)
            #: shell at parse time already
            KEY := $(shell date)
            #: refers to it
            STAMP ?= .build/$(KEY).stamp
            #: an escaped dollar is text
            ESCAPED ?= $$(shell aws sts get-caller-identity)
            #: a shell assignment, run at parse time
            HOST != hostname
            #: automatic and one-letter variables
            ONE ?= $@ $1
            """)
        self.assertEqual(['LITERAL', 'NAME', 'EVENT', 'OBJECTS', 'KEY', 'STAMP', 'ESCAPED', 'HOST',
                          'ONE'], names)

    def test_a_lookup_anywhere_in_the_chain_is_never_expanded(self):
        names = self.expandable("""\
            once = $(eval $1 := $$(shell { $2; } 2>/dev/null))$($1)
            #: shell
            REGION ?= $(shell aws configure get region)
            #: call
            ACCOUNT_ID ?= $(call once,ACCOUNT_ID,aws sts get-caller-identity)
            #: through another variable
            BUCKET ?= $(APP)-$(ACCOUNT_ID)
            #: through a function's argument
            ROLE_ARN ?= $(if $(APP),arn:$(REGION))
            #: through a define
            LOOKUP_TEXT ?= $(lookup)
            define lookup
            $(shell aws lambda list-functions)
            endef
            #: a computed name
            INDIRECT ?= $($(NAME))
            #: itself
            LOOP ?= $(LOOP) x
            #: printing
            NOISY ?= $(info hello)
            #: unclosed
            BROKEN ?= $(APP
            #: a later definition adds a lookup
            LATER ?= plain
            LATER += $(REGION)
            """)
        self.assertEqual([], names)

    def test_a_long_chain_of_references_is_not_followed_past_a_bound(self):
        chain = ''.join(f'V{index} ?= $(V{index + 1})\n' for index in range(2000))
        self.assertEqual([], make_help.expandable(parse('#: top\n' + chain + 'V2000 ?= end\n')))
        short = ''.join(f'V{index} ?= $(V{index + 1})\n' for index in range(10))
        self.assertEqual(['V0'], make_help.expandable(parse('#: top\n' + short)))

    def test_a_definition_in_a_later_file_counts(self):
        documentation = parse('#: plain\nCONFIGURED ?= plain\n',
                              'CONFIGURED = $(shell aws configure get x)\n')
        self.assertEqual([], make_help.expandable(documentation))


# What RenderTest's makefile text renders as.
RENDERED = """\
ResizeImage (image_resize): targets
  help                      this list
  build size update delete  build, size, update or delete both functions
  layer layer-check layer-publish layer-lock
                            the layer: build, check, publish, re-lock
  logs                      follow the function's CloudWatch logs; SINCE says how far back it
                            starts, in the aws logs tail format (10m, 2h, 1d)

Variables (command line, config.mk or environment):
  PRICE_PER_MILLION_REQUESTS
                            USD per million requests, for make tune's cost
                            default: 0.20
  TIMEOUT                   seconds
                            default: 30
  REGION                    AWS region
                            computed: $(or $(AWS_REGION),$(AWS_DEFAULT_REGION), $(call
                              once,REGION,$(AWS) configure get region))
"""


class RenderTest(unittest.TestCase):
    def test_targets_then_variables_in_aligned_columns_within_100_characters(self):
        documentation = parse("""\
            help: ## this list
            build size update delete: ## build, size, update or delete both functions
            layer layer-check layer-publish layer-lock: ## the layer: build, check, publish, re-lock
            logs: ## follow the function's CloudWatch logs; SINCE says how far back it starts, \\
              in the aws logs tail format (10m, 2h, 1d)
            #: USD per million requests, for make tune's cost
            PRICE_PER_MILLION_REQUESTS ?= 0.20
            #: seconds
            TIMEOUT ?= 30
            #: AWS region
            REGION ?= $(or $(AWS_REGION),$(AWS_DEFAULT_REGION),\\
              $(call once,REGION,$(AWS) configure get region))
            """)
        output = make_help.render('ResizeImage (image_resize)', documentation)
        self.assertEqual(RENDERED, output)
        self.assertLessEqual(max(map(len, output.splitlines())), 100)

    def test_no_line_is_longer_than_100_characters_even_without_spaces(self):
        documentation = parse('#: ' + 'x' * 150 + '\nLONG ?= ' + 'y' * 150 + '\n'
                              + 'a' * 120 + ': ## ' + 'z' * 120 + '\n')
        output = make_help.render('T', documentation)
        self.assertLessEqual(max(map(len, output.splitlines())), 100)
        self.assertEqual(150, output.count('y'))

    def test_without_documented_variables_only_targets(self):
        self.assertEqual('T: targets\n  all  everything\n', make_help.render('T', parse(
            'all: ## everything\n')))


class CommandLineTest(unittest.TestCase):
    def setUp(self):
        self.directory = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.directory)
        self.function = self.write('Makefile', """\
            #: the function's name
            FUNCTION_NAME ?= Resize
            include ../lambda.mk
            """)
        self.shared = self.write('lambda.mk', """\
            #: the function's name in Lambda
            FUNCTION_NAME ?= $(notdir $(CURDIR))
            #: its role
            ROLE_NAME ?= app-$(FUNCTION_NAME)
            #: its account
            ACCOUNT_ID ?= $(shell aws sts get-caller-identity)
            build update: ## build or update it
            """)

    def write(self, name, text):
        path = os.path.join(self.directory, name)
        with open(path, 'w') as handle:
            handle.write(textwrap.dedent(text))
        return path

    def run_main(self, *argv, stdin=''):
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err), \
                mock.patch.object(sys, 'stdin', io.StringIO(stdin)):
            try:
                status = make_help.main(list(argv))
            except SystemExit as exit_:
                status = exit_.code
        return status, out.getvalue(), err.getvalue()

    def test_expandable_names_for_make(self):
        self.assertEqual((0, 'FUNCTION_NAME ROLE_NAME\n', ''),
                         self.run_main('--expandable', self.function, self.shared))

    def test_help_with_values_from_a_file_and_from_stdin(self):
        values = self.write('values', 'FUNCTION_NAME=Resize\nROLE_NAME=app-Resize\n')
        status, out, _ = self.run_main('Resize (function)', self.function, self.shared,
                                       '--values', values)
        self.assertEqual(0, status)
        self.assertIn('  build update   build or update it\n', out)
        self.assertIn('computed: app-$(FUNCTION_NAME), now: app-Resize\n', out)
        self.assertIn('computed: $(shell aws sts get-caller-identity)\n', out)
        status, from_stdin, _ = self.run_main('Resize (function)', self.function, self.shared,
                                              '--values', '-', stdin=open(values).read())
        self.assertEqual(out, from_stdin)

    def test_a_missing_makefile_or_title_is_a_clear_error(self):
        status, out, err = self.run_main('T', os.path.join(self.directory, 'absent.mk'))
        self.assertEqual((1, ''), (status, out))
        self.assertIn('error: cannot read', err)
        status, _, err = self.run_main(self.function)
        self.assertEqual(2, status)
        self.assertIn('say a title and at least one makefile', err)


@unittest.skipUnless(shutil.which('make'), 'needs GNU make')
class MakeRecipeTest(unittest.TestCase):
    """The recipe the Makefiles' help targets run: make expands only what deploy.help names, so
    a lookup (here a shell command that leaves a file behind) never runs to print help."""

    MAKEFILE = """\
        ROOT := {root}
        PYTHON ?= {python}
        #: prefix
        APP ?= image-service
        #: the function's name
        FUNCTION_NAME ?= Resize
        #: its role
        ROLE_NAME ?= $(APP)-$(FUNCTION_NAME)
        #: its account, looked up
        ACCOUNT_ID ?= $(shell touch looked-up; echo 123456789012)
        #: its bucket
        BUCKET ?= $(APP)-$(ACCOUNT_ID)

        # As common.mk has them.
        HELP = PYTHONPATH=$(ROOT) $(PYTHON) -m deploy.help
        print_help = names="$$($(HELP) --expandable $(MAKEFILE_LIST))" && \\
          $(MAKE) -s --no-print-directory -f $(firstword $(MAKEFILE_LIST)) help-values \\
            HELP_VALUES="$$names" | $(HELP) $1 $(MAKEFILE_LIST) --values -

        help-values:
        \t@$(foreach name,$(HELP_VALUES),printf '%s=%s\\n' '$(name)' '$(subst ','\\'',$($(name)))';)

        help: ## this list
        \t@$(call print_help,"$(FUNCTION_NAME) ($(notdir $(CURDIR)))")
        """

    def test_make_help_shows_values_and_runs_no_lookup(self):
        directory = tempfile.mkdtemp(prefix='help-')
        self.addCleanup(shutil.rmtree, directory)
        with open(os.path.join(directory, 'Makefile'), 'w') as handle:
            handle.write(textwrap.dedent(self.MAKEFILE).format(
                root=ROOT, python=sys.executable))
        result = subprocess.run(['make', '-s', 'help', "APP=it's-mine"], cwd=directory,
                                capture_output=True, text=True, timeout=60, check=True)
        self.assertTrue(result.stdout.startswith('Resize (help-'), result.stdout)
        self.assertIn("default: image-service, now: it's-mine", result.stdout)
        self.assertIn("computed: $(APP)-$(FUNCTION_NAME), now: it's-mine-Resize", result.stdout)
        self.assertIn('computed: $(APP)-$(ACCOUNT_ID)\n', result.stdout)
        self.assertFalse(os.path.exists(os.path.join(directory, 'looked-up')))


if __name__ == '__main__':
    unittest.main()
