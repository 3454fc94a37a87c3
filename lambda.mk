# Rules for one Lambda function. A function folder's Makefile sets its variables, then
# includes this file; nothing else. Run `make help` in a function folder for the list.
include $(dir $(lastword $(MAKEFILE_LIST)))common.mk

# Function (set by the function's Makefile; what it needs around it is in its function.json)
#: the function's base name (the stage is added to it)
NAME ?= $(notdir $(CURDIR))
#: the function's name in Lambda
FUNCTION_NAME ?= $(NAME)-$(STAGE)
#: module.function Lambda calls
HANDLER ?= handler.handler
#: the deployment zip, built in this folder
ZIPFILE_NAME ?= $(notdir $(CURDIR)).zip
#: seconds before Lambda stops an invocation
TIMEOUT ?= 30
#: megabytes (CPU grows with it; 1769 MB is one vCPU)
MEMORY_SIZE ?= 256
#: the function's description in Lambda (default: function.json's)
DESCRIPTION ?=
#: IAM role the function runs as (make infra writes it from function.json's permissions)
ROLE_NAME ?= $(APP)-$(FUNCTION_NAME)
#: layer version ARNs, space separated (besides a layer function.json declares)
LAYERS ?=
#: days the function's log group keeps its logs (empty: forever)
LOG_RETENTION_DAYS ?= 30
#: the alias every trigger invokes; each deploy that publishes a version moves it there
ALIAS ?= live
#: versions kept besides those an alias points at (older ones are deleted on deploy)
KEEP_VERSIONS ?= 10
#: make update CANARY=10: the new version gets 10 % of the alias's invocations (make promote, make rollback)
CANARY ?=
#: retries of a failed async event (S3, schedule), 0-2; then it goes to the function's failure queue
ASYNC_RETRY_ATTEMPTS ?= 2
#: seconds an async event may wait for its attempts, 60-21600
ASYNC_MAX_EVENT_AGE ?= 21600
#: make rollback TO=N: the version the alias goes back to (default: the one before)
TO ?=
#: folders (or pages) of wheels and sdists pip also looks in, space separated
PIP_FIND_LINKS ?=
#: payload for make invoke
EVENT ?= events/$(firstword $(notdir $(wildcard events/*.json)))
#: how far back make logs starts
SINCE ?= 10m
#: memory sizes make tune measures, in MB
TUNE_MEMORY_SIZES ?= 128 256 512 1024 1769 3008
#: invocations make tune measures per memory size, after one warm-up
TUNE_INVOCATIONS ?= 10
#: a file make tune puts at the event's S3 bucket/key before each invocation (for a function that consumes its input)
TUNE_OBJECT ?=
#: USD per million requests, for make tune's cost (us-east-1)
PRICE_PER_MILLION_REQUESTS ?= 0.20
#: USD per GB-second, for make tune's cost (us-east-1: x86_64 0.0000166667, arm64 0.0000133334)
PRICE_PER_GB_SECOND ?= $(if $(filter arm64,$(ARCH)),0.0000133334,0.0000166667)
#: names left out of the zip, besides caches, hidden files, tests and zips
ZIP_EXCLUDE ?= Makefile requirements.txt events function.json
#: refuse to deploy a function whose declared layer is not published (real AWS only by default)
LAYER_REQUIRED ?= $(if $(AWS_ENDPOINT_URL),,yes)

# A layer of the function's own, when its Makefile sets LAYER_LOCK (image_resize: ImageMagick)
#: the layer zip make layer builds
LAYER_ZIP ?= layer.zip
#: the Debian packages the layer is made of, with versions (make layer-lock rewrites it)
LAYER_LOCK ?=
#: files the layer's build reads besides the lock (its policy.xml...)
LAYER_INPUTS ?=
#: the layer's name in Lambda
LAYER_NAME ?= $(APP)-$(FUNCTION_NAME)
#: the description publish-layer-version records
LAYER_DESCRIPTION ?= $(LAYER_NAME)
#: runtimes the published layer declares itself compatible with (Amazon Linux 2023 ones)
LAYER_RUNTIMES ?= $(sort python3.12 python3.13 $(RUNTIME))
#: the Debian mirror the layer's packages come from
DEBIAN_MIRROR ?= http://deb.debian.org/debian
#: its security-updates mirror
DEBIAN_SECURITY_MIRROR ?= http://deb.debian.org/debian-security

BUILD_DIR := .build

ifeq ($(filter python3.%,$(RUNTIME)),)
$(error RUNTIME=$(RUNTIME) is not a Python 3 Lambda runtime (e.g. python3.12); python2.7 can no longer be deployed)
endif
ifeq ($(filter x86_64 arm64,$(ARCH)),)
$(error ARCH must be x86_64 or arm64, not '$(ARCH)')
endif
# Amazon Linux 2 (glibc 2.26) runs these runtimes; Amazon Linux 2023 (2.34) the later ones.
AMAZON_LINUX_2 := python3.7 python3.8 python3.9 python3.10 python3.11

# Dependencies are reinstalled only when requirements.txt, RUNTIME or ARCH change.
DEPS_KEY := $(shell { cat requirements.txt 2>/dev/null; echo "$(RUNTIME) $(ARCH)"; } | { sha256sum 2>/dev/null || shasum -a 256; } | cut -c1-16)
DEPS_DIR := $(BUILD_DIR)/site-packages
DEPS_STAMP := $(BUILD_DIR)/deps-$(DEPS_KEY).stamp
# Homebrew's pip refuses --target unless it finds ../.pydistutils.cfg as ~/.pydistutils.cfg.
PIP_HOME := $(if $(filter Darwin,$(shell uname -s)),HOME=$(ROOT))

# What goes into the zip from this folder (the zipper applies the same exclusions).
SOURCES := $(shell find . -mindepth 1 \( -path './.*' -o -name __pycache__ -o -name tests \
  $(foreach name,$(ZIP_EXCLUDE),-o -name '$(name)') \) -prune -o -type f \
  ! -name '*.pyc' ! -name '*.zip' -print)

# The newest version of the function's layer published for ARCH and RUNTIME, if any.
newest_layer_version = $(call once,NEWEST_LAYER_VERSION,$(AWS) lambda list-layer-versions \
  --layer-name $(LAYER_NAME) --compatible-architecture $(ARCH) --compatible-runtime $(RUNTIME) \
  --query 'LayerVersions[0].LayerVersionArn' --output text | grep -vx None)

.DEFAULT_GOAL := help
.PHONY: help test clean_pyc install_deps build size settings plan create update deploy infra versions rollback promote \
  failed redrive url watch invoke \
  logs delete clean layer layer-check layer-publish layer-lock tune

help: ## this list
	@$(call print_help,"$(FUNCTION_NAME) ($(notdir $(CURDIR)))")

test: $(DEPS_STAMP) ## run the function's own tests (its tests/ folder): the project's Python, its dependencies
	@if test -d tests; then PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=.:$(DEPS_DIR) \
	  $(VENV_PYTHON) -m unittest discover -s tests; \
	else echo "$(notdir $(CURDIR)) has no tests/ folder"; fi

clean_pyc: ## remove Python caches from the source folder
	@find . -path ./$(BUILD_DIR) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} + \
	  -o -name '*.py[co]' -exec rm -f {} +

install_deps: $(DEPS_STAMP) ## pip-install requirements.txt for Lambda's platform into .build/

$(DEPS_STAMP): $(wildcard requirements.txt) $(ROOT)/deploy/dependencies.py | $(VENV_STAMP)
	@rm -f $(BUILD_DIR)/deps-*.stamp && mkdir -p $(BUILD_DIR)
	@$(PIP_HOME) $(TOOLS) -m deploy.dependencies install --requirements requirements.txt \
	  --target $(DEPS_DIR) --runtime $(RUNTIME) --arch $(ARCH) --name $(FUNCTION_NAME) \
	  $(addprefix --find-links ,$(PIP_FIND_LINKS))
	@touch $@

build: $(ZIPFILE_NAME) ## build the zip: code at its root plus dependencies (only when an input changed)

$(ZIPFILE_NAME): $(SOURCES) $(DEPS_STAMP) $(ROOT)/deploy/zipper.py
	@$(TOOLS) -m deploy.zipper build $@ . --deps $(DEPS_DIR) --runtime $(RUNTIME) \
	  $(addprefix --exclude ,$(ZIP_EXCLUDE))

size: build ## the zip's sizes against Lambda's limits
	@$(TOOLS) -m deploy.zipper report $(ZIPFILE_NAME)

# What the deploy reads: the settings every function has, and every make variable its
# function.json names as ${NAME}.
DECLARED_NAMES = $(shell grep -o '\$${[A-Za-z_][A-Za-z0-9_]*}' function.json 2>/dev/null | tr -d '$${}' | sort -u)
SETTING_NAMES = FUNCTION_NAME HANDLER RUNTIME ARCH TIMEOUT MEMORY_SIZE ROLE_NAME ZIPFILE_NAME \
  LAYERS LOG_RETENTION_DAYS DESCRIPTION ZIP_EXCLUDE ALIAS KEEP_VERSIONS CANARY \
  ASYNC_RETRY_ATTEMPTS ASYNC_MAX_EVENT_AGE APP STAGE \
  ACCOUNT_ID REGION PARTITION \
  $(DECLARED_NAMES)
DEPLOY = $(TOOLS) -m deploy

settings: ## print the settings the deploy reads (NAME=VALUE), as make settles them
	@printf '%s\n' $(foreach name,$(sort $(SETTING_NAMES)),$(if $(filter undefined,$(origin $(name))),,'$(name)=$(subst ','\'',$($(name)))'))

plan: build ## print what make deploy would run (every awscli command), and run nothing
	@$(DEPLOY) plan .

create: build ## create the function, its role, log group and triggers; wait until it is active
	@$(DEPLOY) create .

update: build ## publish new code only if its CodeSha256 changed; update the configuration if it changed
	@$(DEPLOY) update .

deploy: build ## create the function, or update it if it exists; then wire what it declares
	@$(DEPLOY) deploy .

versions: ## the published versions: date, CodeSha256, and which the alias (ALIAS) points at
	@$(DEPLOY) versions .

rollback: ## move the alias back to the version before (TO=N: to version N), or off a canary
	@$(DEPLOY) rollback . $(if $(TO),--to $(TO))

promote: ## give a canary (make update CANARY=10) all of the alias's invocations
	@$(DEPLOY) promote .

failed: ## the async events it failed (kept in its failure queue): when, why, the error
	@$(DEPLOY) failed .

redrive: ## invoke each failed event again; remove it from the queue only if that succeeded
	@$(DEPLOY) redrive .

url: ## print the function's URL (function URL or HTTP API), if it has one
	@$(DEPLOY) url .

watch: build ## deploy, then build and publish on every save (Ctrl-C stops)
	@$(TOOLS) -m deploy.watch .

infra: ## create or update what the function needs (role, log group, buckets) and wire it if it exists
	@$(DEPLOY) infra .

invoke: ## invoke once with EVENT=events/<file>.json; print the result and the log tail
	@test -f "$(EVENT)" || { echo "error: no event file '$(EVENT)': pass EVENT=events/<file>.json" >&2; exit 1; }
	@$(DEPLOY) invoke . --event '$(EVENT)'

tune: | $(VENV_STAMP) ## duration and cost at TUNE_MEMORY_SIZES with EVENT, on the local endpoint only
	@test -f "$(EVENT)" || { echo "error: no event file '$(EVENT)': pass EVENT=events/<file>.json" >&2; exit 1; }
	@test -z "$(TUNE_OBJECT)" || test -f "$(TUNE_OBJECT)" || { echo "error: no file '$(TUNE_OBJECT)' for TUNE_OBJECT" >&2; exit 1; }
	@mkdir -p $(BUILD_DIR)
	@$(TOOLS) -m deploy.tune --function-name $(FUNCTION_NAME) --event '$(EVENT)' \
	  --memory-sizes '$(TUNE_MEMORY_SIZES)' --invocations $(TUNE_INVOCATIONS) \
	  $(if $(TUNE_OBJECT),--object '$(TUNE_OBJECT)') --response $(BUILD_DIR)/tune-response.json \
	  --price-per-million-requests $(PRICE_PER_MILLION_REQUESTS) --price-per-gb-second $(PRICE_PER_GB_SECOND)

logs: ## follow the function's CloudWatch logs (aws logs tail --follow; SINCE=10m)
	@$(require_aws)
	@if $(AWS) logs tail help >/dev/null 2>&1; then \
	  $(AWS) logs tail /aws/lambda/$(FUNCTION_NAME) --follow --since $(SINCE); \
	else $(TOOLS) -m deploy.logs tail /aws/lambda/$(FUNCTION_NAME) --follow --since $(SINCE); fi

delete: ## delete the function from Lambda, and the triggers that point at it
	@$(DEPLOY) delete .

OLD_RUNTIME_ERROR = error: RUNTIME=$(RUNTIME) runs on Amazon Linux 2 (glibc 2.26), older than \
  the layer's libraries need (glibc 2.29): the layer is for python3.12 and newer.

layer: | $(VENV_STAMP) ## build the function's layer zip from its locked Debian packages (only when an input changed)
	@test -n "$(LAYER_LOCK)" || { echo "error: $(FUNCTION_NAME) has no layer (LAYER_LOCK is not set)" >&2; exit 1; }
	@$(if $(filter $(AMAZON_LINUX_2),$(RUNTIME)),echo "$(OLD_RUNTIME_ERROR)" >&2; exit 1)
	@$(TOOLS) -m deploy.layer build --arch $(ARCH) --lock $(LAYER_LOCK) $(LAYER_INPUTS) \
	  --work $(BUILD_DIR)/layer --output $(LAYER_ZIP) --mirror $(DEBIAN_MIRROR) \
	  --security-mirror $(DEBIAN_SECURITY_MIRROR)

layer-check: layer ## check that every ELF file in the layer loads on Amazon Linux 2023
	@$(TOOLS) -m deploy.elf check $(LAYER_ZIP) --arch $(ARCH)

layer-publish: layer ## publish the layer (only if its content changed) and print its ARN
	@$(require_aws)
	@sha=$$($(TOOLS) -m deploy.zipper sha256 $(LAYER_ZIP)); \
	latest="$(newest_layer_version)"; \
	if test -n "$$latest" && test "$$($(AWS) lambda get-layer-version --layer-name $(LAYER_NAME) \
	    --version-number $${latest##*:} --query Content.CodeSha256 --output text)" = "$$sha"; then \
	  echo "$(LAYER_NAME): unchanged, already published as"; echo "$$latest"; exit 0; fi; \
	echo "$(AWS) lambda publish-layer-version --layer-name $(LAYER_NAME) --zip-file fileb://$(LAYER_ZIP) --compatible-runtimes $(LAYER_RUNTIMES) --compatible-architectures $(ARCH)"; \
	$(AWS) lambda publish-layer-version --layer-name $(LAYER_NAME) \
	  --description "$(LAYER_DESCRIPTION)" --zip-file fileb://$(LAYER_ZIP) \
	  --compatible-runtimes $(LAYER_RUNTIMES) --compatible-architectures $(ARCH) \
	  --query LayerVersionArn --output text

layer-lock: | $(VENV_STAMP) ## resolve the layer's Debian packages again and rewrite LAYER_LOCK with their versions
	@test -n "$(LAYER_LOCK)" || { echo "error: $(FUNCTION_NAME) has no layer (LAYER_LOCK is not set)" >&2; exit 1; }
	@$(TOOLS) -m deploy.layer lock --lock $(LAYER_LOCK) --work $(BUILD_DIR)/layer \
	  --mirror $(DEBIAN_MIRROR) --security-mirror $(DEBIAN_SECURITY_MIRROR)

clean: clean_pyc ## remove the zips and .build/ (vendored dependencies, the layer's packages)
	rm -rf $(BUILD_DIR) $(ZIPFILE_NAME) $(LAYER_ZIP)
