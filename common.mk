# Settings shared by the top-level Makefile and every function's Makefile (via lambda.mk).
#
# Every variable can be overridden from the command line (make VAR=value), an optional
# config.mk next to this file (copy config.mk.example), or the environment, in that order
# of precedence. Values that need AWS (account, region, bucket names) are looked up only when
# a recipe uses them, so building needs no credentials.

ROOT := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
-include $(ROOT)/config.mk

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
#: AWS region (AWS_REGION, AWS_DEFAULT_REGION or aws configure)
REGION ?= $(or $(AWS_REGION),$(AWS_DEFAULT_REGION),$(call once,REGION,$(AWS) configure get region))
#: from aws sts get-caller-identity
ACCOUNT_ID ?= $(call once,ACCOUNT_ID,$(AWS) sts get-caller-identity --query Account --output text)
#: aws, aws-cn or aws-us-gov
PARTITION ?= $(call once,PARTITION,$(AWS) sts get-caller-identity --query Arn --output text | cut -d: -f2)
#: bucket the browser and curl upload to
UPLOAD_BUCKET ?= $(APP)-uploads-$(ACCOUNT_ID)-$(REGION)
#: bucket the resized images go to
RESIZED_BUCKET ?= $(APP)-resized-$(ACCOUNT_ID)-$(REGION)
#: key prefix of uploads (the trigger's filter)
UPLOAD_PREFIX ?= uploads/
#: name of the image_resize function
RESIZE_FUNCTION ?= ResizeImage
#: name of the image_list function
LIST_FUNCTION ?= ListImage
#: IAM role of the image_resize function
RESIZE_ROLE ?= $(APP)-$(RESIZE_FUNCTION)
#: IAM role of the image_list function
LIST_ROLE ?= $(APP)-$(LIST_FUNCTION)

# Lambda platform
#: Lambda runtime of both functions
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

# Fails with one clear sentence when AWS cannot be reached with the current credentials.
define require_aws
$(AWS) sts get-caller-identity --output text >/dev/null 2>$(ROOT)/.aws-error || { \
  echo "error: cannot reach AWS$(if $(AWS_ENDPOINT_URL), at $(AWS_ENDPOINT_URL),): check your credentials (aws configure, AWS_PROFILE) and region." >&2; \
  sed 's/^/  /' $(ROOT)/.aws-error >&2; rm -f $(ROOT)/.aws-error; exit 1; }; rm -f $(ROOT)/.aws-error; \
test -n "$(REGION)" || { echo "error: no AWS region: set AWS_REGION or run aws configure." >&2; exit 1; }
endef

# `make help`: targets from their "## " comments; variables from the "#: " line above one of
# their definitions, each with its first definition (the function's own Makefile comes first),
# printed as written: nothing is looked up in AWS to print them.
define print_help
@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-18s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
@echo ""
@echo "Variables (command line, config.mk or environment):"
@awk '/^#: / {text = substr($$0, 4); next} \
  /^[A-Z_]+ \?= / {name = $$1; value = $$0; sub(/^[A-Z_]+ \?= */, "", value); \
    if (!(name in first)) first[name] = value; \
    if (text != "" && !(name in doc)) {doc[name] = text; order[++count] = name}} \
  {text = ""} \
  END {for (i = 1; i <= count; i++) printf "  %-18s %s\n  %-18s   default: %s\n", \
    order[i], doc[order[i]], "", first[order[i]]}' $(MAKEFILE_LIST)
endef
