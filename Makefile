# authdemo: `make run` to try it, `make test` to check it. See README.md.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
AXE    := node_modules/axe-core/axe.min.js
export PORT

VERIFIER_PORT ?= 8001
JWKS_URL ?= http://127.0.0.1:$(PORT)/.well-known/jwks.json

.PHONY: run serve verifier test test-tools lint format bench bench-quick bench-verifier loadtest clean venv dev-venv

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when a requirements file changes.
$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt verifier/requirements.txt bench/peers/fastapi/requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

venv: $(VENV)/.runtime
dev-venv: $(VENV)/.dev

run: venv  ## install, migrate, create demo users, serve on 127.0.0.1:$(PORT)
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py seed_demo
	@echo
	@echo "  authdemo is at  http://127.0.0.1:$(PORT)/"
	@echo "  log in:         http://127.0.0.1:$(PORT)/accounts/login/   alice / alice-demo-pass, bob / bob-demo-pass"
	@echo "  admin:          http://127.0.0.1:$(PORT)/admin/            admin / admin-demo-pass"
	@echo "  API docs:       http://127.0.0.1:$(PORT)/api/docs/"
	@echo "  second site:    http://localhost:$(PORT)/           the same client on another site (README 'Cross-site clients')"
	@echo
	$(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

serve: venv  ## production-style: granian (WEB_CONCURRENCY workers x WEB_THREADS threads), whitenoise, debug off (secrets from the environment)
	@test -n "$$DJANGO_SECRET_KEY" -a -n "$$JWT_SIGNING_KEY" -a -n "$$EMAIL_URL" -a -n "$$SITE_URL" || { echo "make serve: set DJANGO_SECRET_KEY (50+ bytes), JWT_SIGNING_KEY (32+ bytes), EMAIL_URL (smtp+tls://..., or consolemail:// to print mails) and SITE_URL (the origin mailed links start with, e.g. http://127.0.0.1:$(PORT)); see README 'Deploying'."; exit 2; }
	DJANGO_DEBUG=false $(BIN)/python manage.py collectstatic --no-input --verbosity 0
	DJANGO_DEBUG=false $(BIN)/python manage.py migrate --no-input
	DJANGO_DEBUG=false $(BIN)/python -m serving authdemo.wsgi --bind 127.0.0.1:$(PORT) --workers $${WEB_CONCURRENCY:-2} --threads $${WEB_THREADS:-4} --access-log

verifier: venv  ## the token verifier on 127.0.0.1:$(VERIFIER_PORT), for the site at JWKS_URL (README "The verifier")
	$(BIN)/pip install --quiet -r verifier/requirements.txt
	JWKS_URL=$(JWKS_URL) PORT=$(VERIFIER_PORT) $(BIN)/python -m verifier

test: dev-venv test-tools $(AXE)  ## the whole suite; REQUIRE_SERVICES=1 turns every skip for a missing service into a failure
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# A missing tool from Debian: installed where we can (root with apt-get, as `make bench` does
# for wrk); elsewhere one line says what to do, and the tests that need it skip.
define debian_tool
@command -v $(1) >/dev/null 2>&1 || { \
  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
    echo "make: installing Debian's $(2) for $(3)"; \
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(2) >/dev/null; \
  else \
    echo "make: $(1) is missing, so $(3) will skip: install it (sudo apt-get install $(2)) and run make test again"; \
  fi; }
endef

test-tools:  ## Chromium and npm for the browser tests; nginx, Redis, Sentinel, supervisor for the cluster tests; wrk
	$(call debian_tool,chromium,chromium,the browser tests)
	$(call debian_tool,npm,npm,the accessibility checks)
	$(call debian_tool,nginx,nginx,the cluster and proxy tests)
	$(call debian_tool,redis-server,redis-server,the cluster and replication tests)
	$(call debian_tool,redis-sentinel,redis-sentinel,the cluster and drill tests)
	$(call debian_tool,supervisord,supervisor,the cluster tests)
	$(call debian_tool,wrk,wrk,the quick benchmark test)
	$(call debian_tool,faketime,faketime,the skewed-clock tests)

# Test-only node packages, pinned in package-lock.json: axe-core for the browser tests'
# accessibility checks, and the Express peer the benchmark runs (bench/peers/express).
# `npm ci` only when what is installed does not match the lock file.
# Without npm the browser tests skip (and fail under REQUIRE_SERVICES=1).
$(AXE): package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm not found: no axe-core, the accessibility tests will skip"; exit 0; }; \
	{ npm ls --depth=0 >/dev/null 2>&1 || npm ci --no-audit --no-fund; } && touch $@

lint: dev-venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: dev-venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: dev-venv $(AXE)  ## the full benchmark (~22 min; PostgreSQL, Redis, wrk): figures for /compare/ in bench/results/
	$(BIN)/python -m bench.run

bench-verifier: dev-venv  ## the verifier part of `make bench` alone (~3 min): RS256/ES256/EdDSA cost, 100 revocations
	$(BIN)/python -m bench.verifier

bench-quick: dev-venv $(AXE)  ## the benchmark harness in about two and a half minutes (CI); writes artifacts/bench-quick/
	$(BIN)/python -m bench.run --quick

# nginx, redis-server, redis-sentinel and supervisor from Debian, installed when missing (as root).
cluster-packages:
	@missing=""; for p in nginx:nginx redis-server:redis-server redis-sentinel:redis-sentinel supervisord:supervisor; do \
	  command -v $${p%%:*} >/dev/null 2>&1 || missing="$$missing $${p##*:}"; done; \
	if [ -n "$$missing" ]; then apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing; fi

cluster: dev-venv cluster-packages  ## nginx + 3 app instances + Redis primary/replica/3 Sentinels under supervisord on 127.0.0.1; map in artifacts/cluster/state.json
	$(BIN)/python -m deploy.cluster

drill: dev-venv cluster-packages  ## failure drills on the cluster (own PostgreSQL; ~3 min): timeline, figures in bench/results/cluster.json, exit 1 on any violation
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq --no-install-recommends postgresql; }
	@command -v faketime >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq --no-install-recommends faketime; }  # drill_clocks
	$(BIN)/python -m deploy.cluster.drill

.PHONY: loadtest-quick loadtest-ui cluster cluster-packages drill
loadtest: dev-venv  ## 50 users for 60 s on 127.0.0.1 (PostgreSQL authdemo_load, Redis db 8): p50/p99, exit 1 on any violation
	$(BIN)/python -m loadtest

loadtest-quick: dev-venv  ## the same check, 10 users for 10 s (CI runs it through `make test`)
	$(BIN)/python -m loadtest --quick

loadtest-ui: dev-venv  ## the same stack with Locust's web UI on http://127.0.0.1:8089/ (you start and stop it; Ctrl-C ends and checks)
	$(BIN)/python -m loadtest --ui

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache artifacts node_modules
