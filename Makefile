# Every function folder of the project (a folder whose Makefile includes lambda.mk), the AWS
# resources they declare, the local endpoint, and the tests. Each function's own rules are in
# lambda.mk; shared settings in common.mk; the sample image service's in service.mk. `make help`.
include common.mk service.mk

#: the function folders the targets below act on (default: every folder including lambda.mk)
FUNCTIONS ?= $(patsubst %/Makefile,%,$(shell grep -l '^include .*lambda\.mk' */Makefile 2>/dev/null))
#: make new: the new function's folder name
NAME ?=
#: make new: http (function URL), s3 (bucket trigger), schedule (EventBridge rule) or plain
KIND ?= plain
#: the image make upload sends
FILE ?=
#: seconds make upload waits for the resized image (0: do not wait)
UPLOAD_WAIT ?= 30
#: 1: make destroy does not ask first
FORCE ?=
#: the function folder make tune measures (one of FUNCTIONS)
FUNCTION ?=
#: make tune's event, in the function's folder (default: its first events/*.json)
EVENT ?=
#: test names for nose2, e.g. tests.unit.test_resize (default: all)
TESTS ?=
#: extra nose2 flags, e.g. -v
NOSE2_FLAGS ?=
#: interleaved rounds per input in make bench-resize
BENCH_ROUNDS ?= 15
#: quick: make bench in about a minute instead of the full run
BENCH ?=
#: port of the private endpoint make bench starts, so a running one is left alone
BENCH_PORT ?= 4567
#: port of the local AWS endpoint (make up)
LOCAL_PORT ?= 4566
#: region the local endpoint's resources live in
LOCAL_REGION ?= us-east-1
#: where the local endpoint keeps its log, pid and caches
LOCAL_STATE ?= $(ROOT)/.local
#: seconds before the 2nd and 3rd attempts of a failed async event, locally (AWS: ~60,120)
LOCAL_RETRY_DELAYS ?= 1,2
#: enforce: the local endpoint checks every call against the caller's IAM policies
LOCAL_IAM ?= enforce

LOCAL_URL = http://127.0.0.1:$(LOCAL_PORT)
# Per port, so endpoints on two ports never take each other's pid file.
LOCAL_PID = $(LOCAL_STATE)/endpoint-$(LOCAL_PORT).pid
LOCAL_LOG = $(LOCAL_STATE)/endpoint-$(LOCAL_PORT).log
# moto's account; the local endpoint accepts the credentials test / test.
LOCAL_ENV = AWS_ENDPOINT_URL=$(LOCAL_URL) AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
  AWS_REGION=$(LOCAL_REGION) AWS_DEFAULT_REGION=$(LOCAL_REGION)
HEALTHY = $(VENV_PYTHON) -c 'import urllib.request, sys; urllib.request.urlopen(sys.argv[1], timeout=2)' \
  $(LOCAL_URL)/_local/health >/dev/null 2>&1

DEPLOY = $(TOOLS) -m deploy

.DEFAULT_GOAL := help
.PHONY: help bootstrap imagemagick curl test test-unit test-integration bench-resize \
  build size plan create update deploy watch versions rollback promote failed redrive delete \
  clean infra url \
  upload destroy new \
  up down reset local-env demo bench tune

help: ## this list
	@$(call print_help,"Lambda functions of this project ($(FUNCTIONS))")
	@echo ""
	@echo "Each function folder ($(addsuffix /,$(FUNCTIONS))) has make help of its own."

bootstrap: $(VENV_STAMP) imagemagick curl ## create .venv from requirements.txt; check ImageMagick and curl

imagemagick: $(VENV_STAMP) ## make sure ImageMagick's library is installed (apt-get when root)
	@tools/ensure-imagemagick $(VENV_PYTHON)

curl: ## make sure curl is installed (make upload uses it; apt-get when root)
	@command -v curl >/dev/null 2>&1 || { \
	  if test "$$(id -u)" = 0 && command -v apt-get >/dev/null 2>&1; then \
	    echo "curl is missing; installing it with apt-get." >&2; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl >&2; \
	  else echo "error: curl is missing. Install it with: sudo apt-get install -y curl" >&2; exit 1; fi; }

test: bootstrap ## run the whole test suite (nose2)
	$(VENV_PYTHON) -m nose2 --config nose2.cfg $(NOSE2_FLAGS) $(TESTS)

test-unit: bootstrap ## run the unit tests only
	$(VENV_PYTHON) -m nose2 --config nose2.cfg $(NOSE2_FLAGS) tests.unit

test-integration: bootstrap ## run the tests against moto (in-process and server)
	$(VENV_PYTHON) -m nose2 --config nose2.cfg $(NOSE2_FLAGS) tests.integration

bench: bootstrap ## every performance figure side by side, in one run (BENCH=quick: about a minute)
	@$(VENV_PYTHON) -m pip install --quiet --disable-pip-version-check -r bench/requirements.txt
	@# A clean endpoint each run: what an earlier run stored would change what this one measures.
	@$(MAKE) --no-print-directory reset LOCAL_PORT=$(BENCH_PORT) LOCAL_STATE=$(LOCAL_STATE)/bench >/dev/null
	@$(MAKE) --no-print-directory up LOCAL_PORT=$(BENCH_PORT) LOCAL_STATE=$(LOCAL_STATE)/bench
	@echo "[$$(date +%H:%M:%S)] deploying both functions to it (log: $(LOCAL_STATE)/bench/deploy.log)"
	@status=0; eval "$$($(MAKE) -s local-env LOCAL_PORT=$(BENCH_PORT))" && \
	  $(MAKE) --no-print-directory deploy LOCAL_PORT=$(BENCH_PORT) > $(LOCAL_STATE)/bench/deploy.log 2>&1 && \
	  eval "$$($(MAKE) -s local-env LOCAL_PORT=$(BENCH_PORT))" && \
	  UPLOAD_BUCKET=$$UPLOAD_BUCKET RESIZED_BUCKET=$$RESIZED_BUCKET \
	  BENCH_ENDPOINT_PID=$$(cat $(LOCAL_STATE)/bench/endpoint-$(BENCH_PORT).pid) \
	  $(TOOLS) -m bench $(if $(filter quick,$(BENCH)),--quick) --json $(LOCAL_STATE)/bench/results.json \
	  || status=$$?; \
	$(MAKE) --no-print-directory down LOCAL_PORT=$(BENCH_PORT) LOCAL_STATE=$(LOCAL_STATE)/bench; exit $$status

bench-resize: bootstrap ## resize engines side by side on one core: project, tutorial, pyvips
	$(VENV_PYTHON) -m pip install --quiet --disable-pip-version-check -r bench/requirements.txt
	$(VENV_PYTHON) -m bench.resize_engines --rounds $(BENCH_ROUNDS)

build size: ## build (or size) every function's zip
	@for function in $(FUNCTIONS); do $(MAKE) -s --no-print-directory -C $$function $@ || exit 1; done

plan create update deploy: build ## plan (print only), create, update or deploy every function, with what each declares
	@$(DEPLOY) $@ $(FUNCTIONS)

watch: build ## deploy every function, then build and publish each on every save (Ctrl-C stops)
	@$(TOOLS) -m deploy.watch $(FUNCTIONS)

versions promote: ## every function's versions and aliases; promote every canary in progress
	@$(DEPLOY) $@ $(FUNCTIONS)

rollback: ## a rollback is per function: make -C FOLDER rollback [TO=N] (this says so)
	@$(DEPLOY) rollback $(FUNCTIONS)

failed redrive: ## every async function's failed events; invoke each again (kept unless it succeeds)
	@$(DEPLOY) $@ $(FUNCTIONS)

infra: ## create or update what every function declares (roles, log groups, buckets) and wire what exists
	@$(DEPLOY) infra $(FUNCTIONS)

delete: ## delete every function (and what points at it); roles, logs and buckets stay
	@$(DEPLOY) delete $(FUNCTIONS)

layer layer-check layer-publish layer-lock: ## image_resize's ImageMagick layer: build, check, publish (prints the ARN), re-lock
	@$(MAKE) --no-print-directory -C image_resize $@

new: ## scaffold a function folder: make new NAME=thumbnails KIND=http|s3|schedule|plain
	@$(TOOLS) -m deploy.scaffold "$(NAME)" --kind "$(KIND)"

clean: ## remove zips, vendored dependencies and caches (keeps .venv)
	@for function in $(FUNCTIONS); do $(MAKE) --no-print-directory -C $$function clean || exit 1; done
	rm -rf .build
	find . -path ./.venv -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

url: ## print the functions' URLs (function URL or HTTP API)
	@$(DEPLOY) url $(FUNCTIONS)

upload: ## upload FILE=photo.jpg with curl through the gallery's presigned POST, wait for the resize
	@test -n "$(FILE)" || { echo "error: say which image: make upload FILE=photo.jpg" >&2; exit 1; }
	@settings="$$($(DEPLOY) env image_list)" && eval "$$settings" && \
	  $(TOOLS) -m deploy.upload "$(FILE)" --wait $(UPLOAD_WAIT)

destroy: ## delete every function, its role, logs, failure queue and schedule, and the buckets with everything in them
	@$(DEPLOY) destroy $(if $(filter 1,$(FORCE)),--force) $(FUNCTIONS)

up: bootstrap ## start the local AWS endpoint in the background and wait until it answers
	@if $(HEALTHY); then echo "local endpoint already up at $(LOCAL_URL)"; exit 0; fi; \
	mkdir -p $(LOCAL_STATE); \
	PYTHONPATH=$(ROOT) nohup $(VENV_PYTHON) -m local_endpoint --port $(LOCAL_PORT) \
	  --state-dir $(LOCAL_STATE) --retry-delays $(LOCAL_RETRY_DELAYS) \
	  $(if $(filter enforce,$(LOCAL_IAM)),--enforce-iam) > $(LOCAL_LOG) 2>&1 & echo $$! > $(LOCAL_PID); \
	for attempt in $$(seq 1 150); do \
	  if $(HEALTHY); then echo "local endpoint up at $(LOCAL_URL) (log: $(LOCAL_LOG))"; \
	    grep -e '^execution environments: ' -e '^python runtimes: ' -e '^state: ' $(LOCAL_LOG); exit 0; fi; \
	  kill -0 $$(cat $(LOCAL_PID)) 2>/dev/null || break; sleep 0.2; done; \
	echo "error: the local endpoint did not start; its log says:" >&2; tail -n 20 $(LOCAL_LOG) >&2; exit 1

down: ## stop the local endpoint and every function environment it runs
	@if test -f $(LOCAL_PID) && kill -0 $$(cat $(LOCAL_PID)) 2>/dev/null; then \
	  kill $$(cat $(LOCAL_PID)); \
	  for attempt in $$(seq 1 50); do kill -0 $$(cat $(LOCAL_PID)) 2>/dev/null || break; sleep 0.2; done; \
	  kill -9 $$(cat $(LOCAL_PID)) 2>/dev/null; echo "local endpoint stopped"; \
	else echo "local endpoint not running"; fi; rm -f $(LOCAL_PID)

reset: ## stop the local endpoint and forget everything it keeps (LOCAL_STATE/state): the next make up starts clean
	@$(MAKE) --no-print-directory down
	@rm -rf $(LOCAL_STATE)/state && echo "local endpoint state removed ($(LOCAL_STATE)/state)"

tune: bootstrap ## FUNCTION's duration and cost at several memory sizes, on the local endpoint (EVENT=, TUNE_OBJECT=)
	@test "$(words $(FUNCTION))" = 1 && test -n "$(filter $(FUNCTIONS),$(FUNCTION))" || { \
	  echo "error: say which function: make tune FUNCTION=image_resize EVENT=events/<file>.json (one of: $(FUNCTIONS))" >&2; exit 1; }
	@$(HEALTHY) || { echo "error: no local endpoint answers at $(LOCAL_URL): start it with make up LOCAL_PORT=$(LOCAL_PORT), then deploy to it (eval \"\$$(make -s local-env LOCAL_PORT=$(LOCAL_PORT))\"; make deploy LOCAL_PORT=$(LOCAL_PORT))" >&2; exit 1; }
	@$(LOCAL_ENV) $(MAKE) --no-print-directory -C $(FUNCTION) tune \
	  $(if $(wildcard $(EVENT)),EVENT=$(abspath $(EVENT))) $(if $(wildcard $(TUNE_OBJECT)),TUNE_OBJECT=$(abspath $(TUNE_OBJECT)))

local-env: ## print the export lines that point awscli, boto3 and make at the local endpoint
	@echo 'unset AWS_PROFILE AWS_SESSION_TOKEN UPLOAD_BUCKET RESIZED_BUCKET'
	@echo 'export AWS_ENDPOINT_URL=$(LOCAL_URL)'
	@echo 'export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test'
	@echo 'export AWS_REGION=$(LOCAL_REGION) AWS_DEFAULT_REGION=$(LOCAL_REGION)'
	@# shell variables, not exported: make would take them over every stage's own names
	@echo 'UPLOAD_BUCKET=$(subst $${ACCOUNT_ID},123456789012,$(subst $${REGION},$(LOCAL_REGION),$(UPLOAD_BUCKET)))'
	@echo 'RESIZED_BUCKET=$(subst $${ACCOUNT_ID},123456789012,$(subst $${REGION},$(LOCAL_REGION),$(RESIZED_BUCKET)))'
	@echo "export GALLERY_URL=$$($(LOCAL_ENV) $(DEPLOY) url image_list 2>/dev/null)"

demo: bootstrap ## the whole service on the local endpoint: up, deploy, upload, report
	@$(MAKE) --no-print-directory up
	@eval "$$($(MAKE) -s local-env)" && \
	  $(MAKE) --no-print-directory deploy && \
	  $(TOOLS) -m local_endpoint.demo sample $(LOCAL_STATE)/sample.jpg && \
	  $(MAKE) --no-print-directory upload FILE=$(LOCAL_STATE)/sample.jpg && \
	  eval "$$($(MAKE) -s local-env)" && RESIZED_BUCKET=$$RESIZED_BUCKET \
	  RESIZE_FUNCTION=$$($(MAKE) -s -C image_resize settings | sed -n 's/^FUNCTION_NAME=//p') \
	  $(TOOLS) -m local_endpoint.demo summary $(LOCAL_STATE)/sample.jpg $(LOCAL_PORT)
