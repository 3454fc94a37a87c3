# Image resize service: both functions, the AWS resources around them, and the tests.
# Each function's own rules are in lambda.mk; shared settings in common.mk. `make help`.
include common.mk

FUNCTIONS := image_resize image_list
#: days a refused original stays in the upload bucket before it expires
REJECTED_DAYS ?= 30
#: origin allowed to POST uploads (CORS); by default the gallery's function URL
GALLERY_ORIGIN ?=
#: the image make upload sends
FILE ?=
#: seconds make upload waits for the resized image (0: do not wait)
UPLOAD_WAIT ?= 30
#: 1: make destroy does not ask first
FORCE ?=
#: the function folder make tune measures (image_resize or image_list)
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

INFRA_DIR := .build/infra
DOCUMENT = $(TOOLS) -m deploy.documents --upload-bucket $(UPLOAD_BUCKET) \
  --resized-bucket $(RESIZED_BUCKET) --upload-prefix $(UPLOAD_PREFIX) --partition $(PARTITION) \
  --region $(REGION) --account $(ACCOUNT_ID)
# Sets the shell variable $1 to the function's ARN, or to nothing when it does not exist.
function_arn = $1=$$($(AWS) lambda get-function --function-name $2 --query Configuration.FunctionArn \
  --output text 2>$(INFRA_DIR)/error.txt) || { grep -q ResourceNotFoundException $(INFRA_DIR)/error.txt \
  && $1= || { cat $(INFRA_DIR)/error.txt >&2; exit 1; }; }

.DEFAULT_GOAL := help
.PHONY: help bootstrap imagemagick curl test test-unit test-integration bench-resize \
  build size create update deploy delete clean infra wire url upload destroy \
  up down local-env demo bench tune

help: ## this list
	@echo "Image resize service: targets"
	$(print_help)
	@echo ""
	@echo "Each function folder (image_resize/, image_list/) has make help of its own."

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
	@$(MAKE) --no-print-directory up LOCAL_PORT=$(BENCH_PORT) LOCAL_STATE=$(LOCAL_STATE)/bench
	@echo "[$$(date +%H:%M:%S)] deploying both functions to it (log: $(LOCAL_STATE)/bench/deploy.log)"
	@status=0; eval "$$($(MAKE) -s local-env LOCAL_PORT=$(BENCH_PORT))" && \
	  $(MAKE) --no-print-directory infra deploy LOCAL_PORT=$(BENCH_PORT) > $(LOCAL_STATE)/bench/deploy.log 2>&1 && \
	  eval "$$($(MAKE) -s local-env LOCAL_PORT=$(BENCH_PORT))" && \
	  BENCH_ENDPOINT_PID=$$(cat $(LOCAL_STATE)/bench/endpoint-$(BENCH_PORT).pid) \
	  $(TOOLS) -m bench $(if $(filter quick,$(BENCH)),--quick) --json $(LOCAL_STATE)/bench/results.json \
	  || status=$$?; \
	$(MAKE) --no-print-directory down LOCAL_PORT=$(BENCH_PORT) LOCAL_STATE=$(LOCAL_STATE)/bench; exit $$status

bench-resize: bootstrap ## resize engines side by side on one core: project, tutorial, pyvips
	$(VENV_PYTHON) -m pip install --quiet --disable-pip-version-check -r bench/requirements.txt
	$(VENV_PYTHON) -m bench.resize_engines --rounds $(BENCH_ROUNDS)

build size update delete: ## build, size, update or delete both functions
	@for function in $(FUNCTIONS); do $(MAKE) --no-print-directory -C $$function $@ || exit 1; done

layer layer-check layer-publish layer-lock: ## image_resize's ImageMagick layer: build, check, publish (prints the ARN), re-lock
	@$(MAKE) --no-print-directory -C image_resize $@

create deploy: ## create (or deploy) both functions, then wire the trigger and the gallery URL
	@for function in $(FUNCTIONS); do $(MAKE) --no-print-directory -C $$function $@ || exit 1; done
	@$(MAKE) --no-print-directory wire

clean: ## remove zips, vendored dependencies and caches (keeps .venv)
	@for function in $(FUNCTIONS); do $(MAKE) --no-print-directory -C $$function clean || exit 1; done
	rm -rf .build
	find . -path ./.venv -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

infra: ## create or update the buckets, the roles and the wiring (safe to run again)
	@$(require_aws)
	@mkdir -p $(INFRA_DIR)
	@echo "Buckets"
	@for bucket in $(UPLOAD_BUCKET) $(RESIZED_BUCKET); do \
	  if $(AWS) s3api head-bucket --bucket $$bucket >/dev/null 2>&1; then echo "  $$bucket exists"; \
	  else $(AWS) s3api create-bucket --bucket $$bucket \
	    $(if $(filter us-east-1,$(REGION)),,--create-bucket-configuration LocationConstraint=$(REGION)) \
	    --output text >/dev/null && echo "  created $$bucket" || exit 1; fi; \
	  $(AWS) s3api put-public-access-block --bucket $$bucket --public-access-block-configuration \
	    BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true || exit 1; \
	done
	@$(DOCUMENT) lifecycle --rejected-days $(REJECTED_DAYS) > $(INFRA_DIR)/lifecycle.json
	$(AWS) s3api put-bucket-lifecycle-configuration --bucket $(UPLOAD_BUCKET) \
	  --lifecycle-configuration file://$(INFRA_DIR)/lifecycle.json
	@echo "Roles"
	@$(DOCUMENT) trust-policy > $(INFRA_DIR)/trust-policy.json
	@$(DOCUMENT) resize-policy --function $(RESIZE_FUNCTION) > $(INFRA_DIR)/$(RESIZE_ROLE).json
	@$(DOCUMENT) list-policy --function $(LIST_FUNCTION) > $(INFRA_DIR)/$(LIST_ROLE).json
	@for role in $(RESIZE_ROLE) $(LIST_ROLE); do \
	  if $(AWS) iam get-role --role-name $$role >/dev/null 2>&1; then echo "  $$role exists"; \
	  else $(AWS) iam create-role --role-name $$role --description "$(APP): runs one Lambda function" \
	    --assume-role-policy-document file://$(INFRA_DIR)/trust-policy.json >/dev/null \
	    && echo "  created $$role" || exit 1; fi; \
	  $(AWS) iam put-role-policy --role-name $$role --policy-name $$role \
	    --policy-document file://$(INFRA_DIR)/$$role.json || exit 1; \
	  echo "  $$role: least-privilege policy $(INFRA_DIR)/$$role.json"; \
	done
	@$(MAKE) --no-print-directory wire

wire: ## connect what exists: the upload trigger and the gallery's public URL
	@$(require_aws)
	@mkdir -p $(INFRA_DIR)
	@echo "Upload trigger"
	@$(call function_arn,arn,$(RESIZE_FUNCTION)); \
	if test -z "$$arn"; then echo "  $(RESIZE_FUNCTION) does not exist yet: make create wires it"; else \
	  $(AWS) lambda remove-permission --function-name $(RESIZE_FUNCTION) --statement-id s3-uploads >/dev/null 2>&1; \
	  $(AWS) lambda add-permission --function-name $(RESIZE_FUNCTION) --statement-id s3-uploads \
	    --action lambda:InvokeFunction --principal s3.amazonaws.com \
	    --source-arn arn:$(PARTITION):s3:::$(UPLOAD_BUCKET) --source-account $(ACCOUNT_ID) >/dev/null || exit 1; \
	  $(DOCUMENT) notification --function-arn $$arn > $(INFRA_DIR)/notification.json; \
	  $(AWS) s3api put-bucket-notification-configuration --bucket $(UPLOAD_BUCKET) \
	    --notification-configuration file://$(INFRA_DIR)/notification.json || exit 1; \
	  echo "  s3://$(UPLOAD_BUCKET)/$(UPLOAD_PREFIX)* -> $(RESIZE_FUNCTION)"; fi
	@echo "Gallery URL"
	@$(call function_arn,arn,$(LIST_FUNCTION)); \
	if test -z "$$arn"; then echo "  $(LIST_FUNCTION) does not exist yet: make create wires it"; else \
	  url=$$($(AWS) lambda get-function-url-config --function-name $(LIST_FUNCTION) --query FunctionUrl --output text 2>/dev/null) \
	  || url=$$($(AWS) lambda create-function-url-config --function-name $(LIST_FUNCTION) --auth-type NONE \
	       --query FunctionUrl --output text) || exit 1; \
	  for statement in function-url-public function-url-invoke; do \
	    $(AWS) lambda remove-permission --function-name $(LIST_FUNCTION) --statement-id $$statement >/dev/null 2>&1; done; \
	  $(AWS) lambda add-permission --function-name $(LIST_FUNCTION) --statement-id function-url-public \
	    --action lambda:InvokeFunctionUrl --principal '*' --function-url-auth-type NONE >/dev/null || exit 1; \
	  $(AWS) lambda add-permission --function-name $(LIST_FUNCTION) --statement-id function-url-invoke \
	    --action lambda:InvokeFunction --principal '*' --invoked-via-function-url >/dev/null || exit 1; \
	  origin=$${url%/}; $(DOCUMENT) cors --origin "$(or $(GALLERY_ORIGIN),$$origin)" > $(INFRA_DIR)/cors.json; \
	  $(AWS) s3api put-bucket-cors --bucket $(UPLOAD_BUCKET) --cors-configuration file://$(INFRA_DIR)/cors.json || exit 1; \
	  echo "  $$url"; fi

url: ## print the gallery's URL
	@$(require_aws)
	@$(AWS) lambda get-function-url-config --function-name $(LIST_FUNCTION) --query FunctionUrl --output text 2>/dev/null \
	  || { echo "error: $(LIST_FUNCTION) has no URL yet: run make infra create" >&2; exit 1; }

upload: ## upload FILE=photo.jpg with curl through the gallery's presigned POST, wait for the resize
	@test -n "$(FILE)" || { echo "error: say which image: make upload FILE=photo.jpg" >&2; exit 1; }
	@$(require_aws)
	@UPLOAD_BUCKET=$(UPLOAD_BUCKET) RESIZED_BUCKET=$(RESIZED_BUCKET) UPLOAD_PREFIX=$(UPLOAD_PREFIX) \
	  UPLOAD_BUCKET_REGION=$(REGION) $(TOOLS) -m deploy.upload "$(FILE)" --wait $(UPLOAD_WAIT)

destroy: ## delete both functions, their logs and roles, and both buckets with everything in them
	@$(require_aws)
	@if test "$(FORCE)" != 1; then \
	  printf 'This deletes %s and %s, s3://%s and s3://%s with every object in them, and the roles %s and %s.\nType yes to go on: ' \
	    $(RESIZE_FUNCTION) $(LIST_FUNCTION) $(UPLOAD_BUCKET) $(RESIZED_BUCKET) $(RESIZE_ROLE) $(LIST_ROLE); \
	  read answer || true; test "$$answer" = yes || { echo "nothing deleted (FORCE=1 skips this question)"; exit 1; }; fi
	@mkdir -p $(INFRA_DIR)
	@for function in $(RESIZE_FUNCTION) $(LIST_FUNCTION); do \
	  $(AWS) lambda delete-function --function-name $$function 2>/dev/null && echo "  deleted $$function"; \
	  $(AWS) logs delete-log-group --log-group-name /aws/lambda/$$function 2>/dev/null && echo "  deleted its log group"; \
	done; true
	@for bucket in $(UPLOAD_BUCKET) $(RESIZED_BUCKET); do \
	  if $(AWS) s3api head-bucket --bucket $$bucket >/dev/null 2>&1; then \
	    $(TOOLS) -m deploy.buckets empty $$bucket && $(AWS) s3api delete-bucket --bucket $$bucket \
	    && echo "  deleted $$bucket" || exit 1; fi; \
	done
	@for role in $(RESIZE_ROLE) $(LIST_ROLE); do \
	  if $(AWS) iam get-role --role-name $$role >/dev/null 2>&1; then \
	    $(AWS) iam delete-role-policy --role-name $$role --policy-name $$role 2>/dev/null; \
	    $(AWS) iam delete-role --role-name $$role && echo "  deleted $$role" || exit 1; fi; \
	done
	@rm -rf $(INFRA_DIR)
	@echo "destroyed"

up: bootstrap ## start the local AWS endpoint in the background and wait until it answers
	@if $(HEALTHY); then echo "local endpoint already up at $(LOCAL_URL)"; exit 0; fi; \
	mkdir -p $(LOCAL_STATE); \
	PYTHONPATH=$(ROOT) nohup $(VENV_PYTHON) -m local_endpoint --port $(LOCAL_PORT) \
	  --state-dir $(LOCAL_STATE) --retry-delays $(LOCAL_RETRY_DELAYS) \
	  $(if $(filter enforce,$(LOCAL_IAM)),--enforce-iam) > $(LOCAL_LOG) 2>&1 & echo $$! > $(LOCAL_PID); \
	for attempt in $$(seq 1 150); do \
	  if $(HEALTHY); then echo "local endpoint up at $(LOCAL_URL) (log: $(LOCAL_LOG))"; \
	    grep '^execution environments: ' $(LOCAL_LOG); exit 0; fi; \
	  kill -0 $$(cat $(LOCAL_PID)) 2>/dev/null || break; sleep 0.2; done; \
	echo "error: the local endpoint did not start; its log says:" >&2; tail -n 20 $(LOCAL_LOG) >&2; exit 1

down: ## stop the local endpoint and every function environment it runs
	@if test -f $(LOCAL_PID) && kill -0 $$(cat $(LOCAL_PID)) 2>/dev/null; then \
	  kill $$(cat $(LOCAL_PID)); \
	  for attempt in $$(seq 1 50); do kill -0 $$(cat $(LOCAL_PID)) 2>/dev/null || break; sleep 0.2; done; \
	  kill -9 $$(cat $(LOCAL_PID)) 2>/dev/null; echo "local endpoint stopped"; \
	else echo "local endpoint not running"; fi; rm -f $(LOCAL_PID)

tune: bootstrap ## FUNCTION's duration and cost at several memory sizes, on the local endpoint (EVENT=, TUNE_OBJECT=)
	@test "$(words $(FUNCTION))" = 1 && test -n "$(filter $(FUNCTIONS),$(FUNCTION))" || { \
	  echo "error: say which function: make tune FUNCTION=image_resize EVENT=events/<file>.json (one of: $(FUNCTIONS))" >&2; exit 1; }
	@$(HEALTHY) || { echo "error: no local endpoint answers at $(LOCAL_URL): start it with make up LOCAL_PORT=$(LOCAL_PORT), then deploy to it (eval \"\$$(make -s local-env LOCAL_PORT=$(LOCAL_PORT))\"; make infra deploy LOCAL_PORT=$(LOCAL_PORT))" >&2; exit 1; }
	@$(LOCAL_ENV) $(MAKE) --no-print-directory -C $(FUNCTION) tune \
	  $(if $(wildcard $(EVENT)),EVENT=$(abspath $(EVENT))) $(if $(wildcard $(TUNE_OBJECT)),TUNE_OBJECT=$(abspath $(TUNE_OBJECT)))

local-env: ## print the export lines that point awscli, boto3 and make at the local endpoint
	@echo 'unset AWS_PROFILE AWS_SESSION_TOKEN'
	@echo 'export AWS_ENDPOINT_URL=$(LOCAL_URL)'
	@echo 'export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test'
	@echo 'export AWS_REGION=$(LOCAL_REGION) AWS_DEFAULT_REGION=$(LOCAL_REGION)'
	@echo 'export UPLOAD_BUCKET=$(APP)-uploads-123456789012-$(LOCAL_REGION)'
	@echo 'export RESIZED_BUCKET=$(APP)-resized-123456789012-$(LOCAL_REGION)'
	@echo "export GALLERY_URL=$$($(LOCAL_ENV) $(AWS) lambda get-function-url-config \
	  --function-name $(LIST_FUNCTION) --query FunctionUrl --output text 2>/dev/null)"

demo: bootstrap ## the whole service on the local endpoint: up, infra, deploy, upload, report
	@$(MAKE) --no-print-directory up
	@eval "$$($(MAKE) -s local-env)" && \
	  $(MAKE) --no-print-directory infra deploy && \
	  $(TOOLS) -m local_endpoint.demo sample $(LOCAL_STATE)/sample.jpg && \
	  $(MAKE) --no-print-directory upload FILE=$(LOCAL_STATE)/sample.jpg && \
	  eval "$$($(MAKE) -s local-env)" && $(TOOLS) -m local_endpoint.demo summary $(LOCAL_STATE)/sample.jpg $(LOCAL_PORT)
