# Settings shared by the top-level Makefile and every function's Makefile (via lambda.mk).
#
# Every variable can be overridden from the command line (make VAR=value), an optional
# config-$(STAGE).mk then config.mk next to this file (copy config.mk.example), or the
# environment, in that order of precedence. Values that need AWS (account, region) are asked
# of AWS by the deploy itself, once, so building needs no credentials.

ROOT := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
#: dev or prod: every name gets it, so stages live side by side; each has config-STAGE.mk
STAGE ?= dev
-include $(ROOT)/config-$(STAGE).mk $(ROOT)/config.mk

# $(call once,VAR,command): run the shell command the first time VAR is expanded, then reuse it.
# Its errors are silenced: make expands a whole recipe before running it, so a lookup runs
# before require_aws, which then says what is wrong in one clear message.
once = $(eval $1 := $$(shell { $2; } 2>/dev/null))$($1)

# Tools
#: interpreter that creates the virtualenv
PYTHON ?= python3
#: virtualenv with the pinned developer tools
VENV ?= $(ROOT)/.venv
#: the AWS CLI to run (default: the pinned one)
AWS ?= $(VENV)/bin/aws

# AWS account and naming
#: prefix of every name this project creates
APP ?= image-service
#: AWS region (default: AWS_REGION, AWS_DEFAULT_REGION or aws configure)
REGION ?= $(or $(AWS_REGION),$(AWS_DEFAULT_REGION))
#: AWS account (default: the deploy asks sts get-caller-identity)
ACCOUNT_ID ?=
#: aws, aws-cn or aws-us-gov (default: from sts get-caller-identity)
PARTITION ?=

# Lambda platform
#: Lambda runtime of the functions
RUNTIME ?= python3.12
#: x86_64 or arm64
ARCH ?= x86_64

VENV_PYTHON := $(VENV)/bin/python
VENV_STAMP := $(VENV)/.requirements-installed
# Runs the project's own helpers (the deploy package) with the pinned tools.
TOOLS := PYTHONPATH=$(ROOT) $(VENV_PYTHON)

# The virtualenv is rebuilt when requirements.txt changes.
$(VENV_STAMP): $(ROOT)/requirements.txt
	@test -x $(VENV_PYTHON) || $(PYTHON) -m venv $(VENV)
	$(VENV_PYTHON) -m pip install --quiet --disable-pip-version-check -r $(ROOT)/requirements.txt
	@touch $@

# Fails at once with one clear sentence when nothing answers at AWS_ENDPOINT_URL, the
# credentials are refused or no region is set (deploy/aws.py), before awscli's retries would.
require_aws = $(TOOLS) -m deploy.aws

# `make help`: deploy.help reads the "## " and "#: " comments of every makefile make read; make
# expands for it only the variables it names (no $(shell), no $(call)), so nothing asks AWS.
# Standard library only: it runs with $(PYTHON), so make help works before make bootstrap.
HELP = PYTHONPATH=$(ROOT) $(PYTHON) -m deploy.help
print_help = names="$$($(HELP) --expandable $(MAKEFILE_LIST))" && \
  $(MAKE) -s --no-print-directory -f $(firstword $(MAKEFILE_LIST)) help-values \
    HELP_VALUES="$$names" | $(HELP) $1 $(MAKEFILE_LIST) --values -

.PHONY: help-values
help-values:
	@$(foreach name,$(HELP_VALUES),printf '%s=%s\n' '$(name)' '$(subst ','\'',$($(name)))';)
