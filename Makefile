# Image resize service: top-level targets.
# Every variable below can be overridden from the environment, the command line
# (make VAR=value) or an optional config.mk next to this file.
-include config.mk

PYTHON ?= python3
VENV ?= .venv
TESTS ?=
NOSE2_FLAGS ?=
BENCH_ROUNDS ?= 15

VENV_PYTHON := $(VENV)/bin/python
VENV_STAMP := $(VENV)/.requirements-installed

.DEFAULT_GOAL := help
.PHONY: help bootstrap imagemagick test test-unit test-integration bench-resize clean

help: ## Show the targets and the variables they read
	@echo "Targets:"
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-18s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo ""
	@echo "Variables (environment, command line or config.mk):"
	@echo "  PYTHON=$(PYTHON)      interpreter that creates the virtualenv"
	@echo "  VENV=$(VENV)          where the developer tools are installed"
	@echo "  TESTS=$(TESTS)        test names for nose2, e.g. tests.unit.test_resize (default: all)"
	@echo "  NOSE2_FLAGS=$(NOSE2_FLAGS)  extra nose2 flags, e.g. -v"
	@echo "  BENCH_ROUNDS=$(BENCH_ROUNDS)  interleaved rounds per input in bench-resize"

# The virtualenv is rebuilt when requirements.txt changes.
$(VENV_STAMP): requirements.txt
	@test -x $(VENV_PYTHON) || $(PYTHON) -m venv $(VENV)
	$(VENV_PYTHON) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

bootstrap: $(VENV_STAMP) imagemagick ## Create .venv from requirements.txt and check ImageMagick

imagemagick: $(VENV_STAMP) ## Make sure ImageMagick's library is installed (apt-get when root)
	@tools/ensure-imagemagick $(VENV_PYTHON)

test: bootstrap ## Run the whole test suite (nose2)
	$(VENV_PYTHON) -m nose2 --config nose2.cfg $(NOSE2_FLAGS) $(TESTS)

test-unit: bootstrap ## Run the unit tests only
	$(VENV_PYTHON) -m nose2 --config nose2.cfg $(NOSE2_FLAGS) tests.unit

test-integration: bootstrap ## Run the tests against moto (in-process)
	$(VENV_PYTHON) -m nose2 --config nose2.cfg $(NOSE2_FLAGS) tests.integration

bench-resize: bootstrap ## Resize engines side by side on one core: project, tutorial, pyvips
	$(VENV_PYTHON) -m pip install --quiet --disable-pip-version-check -r bench/requirements.txt
	$(VENV_PYTHON) -m bench.resize_engines --rounds $(BENCH_ROUNDS)

clean: ## Remove caches (keeps .venv)
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +
