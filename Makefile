# Developer entry points. `make run` serves the demo, `make test` is what CI runs (.ci/run).
# Everything runs from the project's own virtualenv in .venv, created on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Touched after a successful install; reinstalls only when a requirements file changes.
STAMP := $(VENV)/.installed
# the packages mypy checks (pyproject.toml [tool.mypy])
TYPED := core gateway services rbac apikeys limits audit lookups
PYTEST_ARGS ?= -n 2

.DEFAULT_GOAL := help
.PHONY: help install browser directory fmt lint test test-unit check run bench docker

help:
	@echo "make run        serve the demo (embedded PostgreSQL if none is reachable) on :8000"
	@echo "make test       install, lint, then the whole pytest suite (real PostgreSQL)"
	@echo "make browser    install Debian's chromium for the admin UI tests (root only)"
	@echo "make test-unit  the database-free unit tests only"
	@echo "make lint       ruff check + ruff format --check + lint-imports + mypy"
	@echo "make fmt        ruff format + ruff check --fix"
	@echo "make check      lint + test"
	@echo "make bench      load benchmarks (bench/run.py)"
	@echo "make docker     docker build -t pg-gateway ."

install: $(STAMP)

# pip shows each package as it goes (no --quiet): a first install takes a minute or so. Its last
# phase (unpacking and compiling every package) prints nothing, so a line every 15 s says it
# is still working.
$(STAMP): requirements.txt requirements-dev.txt
	@if [ -x $(BIN)/python ]; then \
		echo "==> $(VENV) exists, but its packages are older than a requirements file"; \
	else \
		echo "==> creating the virtualenv $(VENV) ($(PYTHON) -m venv)"; \
		$(PYTHON) -m venv $(VENV); \
	fi
	@echo "==> installing requirements-dev.txt into $(VENV) (a fresh one takes about a minute)"
	@(trap 'kill $$nap 2>/dev/null; exit 0' TERM; \
		while :; do sleep 15 & nap=$$!; wait $$nap; echo "    ... pip is still working"; done) & \
		ticker=$$!; \
		$(BIN)/python -m pip install --disable-pip-version-check -r requirements-dev.txt; \
		status=$$?; kill $$ticker 2>/dev/null; exit $$status
	@touch $@
	@echo "==> $(VENV) is ready; later runs skip this step until a requirements file changes"

fmt: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy $(TYPED)

# The admin UI tests (tests/ui) drive Debian's chromium; Playwright never downloads a browser.
browser:
	@if command -v chromium >/dev/null; then :; \
	elif [ "$$(id -u)" -eq 0 ]; then \
		apt-get update && apt-get install -y --no-install-recommends chromium; \
	else \
		echo "browser: chromium is missing and we are not root; the admin UI tests will be" \
			"skipped (failed under CI). Install it with: sudo apt-get install chromium"; \
	fi

# The sign-in tests start real identity providers on free ports: Debian's slapd (LDAP), and
# simplesamlphp under php's built-in server (SAML; pysaml2 checks signatures with xmlsec1).
# The OpenID provider (Node's oidc-provider) is installed with npm by tests/oidc_server.py.
IDP_PACKAGES := slapd ldap-utils xmlsec1 simplesamlphp php-cli php-xml php-mbstring
directory:
	@if command -v slapd >/dev/null && command -v xmlsec1 >/dev/null \
		&& [ -d /usr/share/simplesamlphp ]; then :; \
	elif [ "$$(id -u)" -eq 0 ]; then \
		echo "directory: installing the identity providers for the sign-in tests" \
			"($(IDP_PACKAGES))"; \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y \
			--no-install-recommends $(IDP_PACKAGES); \
	else \
		echo "directory: slapd, xmlsec1 or simplesamlphp is missing and we are not root; the" \
			"LDAP and SAML sign-in tests will be skipped (failed under CI). Install them with:" \
			"sudo apt-get install $(IDP_PACKAGES)"; \
	fi

# The @supabase/postgrest-js scenarios (tests/postgrest_js) install Node 22 with npm on first
# use; without npm they are skipped (failed under CI).
JS_CLIENT := $(shell if command -v npm >/dev/null || [ -n "$$CI" ]; then echo 1; else echo 0; fi)

test: install browser directory lint
	GATEWAY_JS_CLIENT=$(JS_CLIENT) $(BIN)/pytest $(PYTEST_ARGS)

test-unit: install
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

check: lint test

run: install
	@echo "==> starting the demo (devtools/run_demo.py)"
	@$(BIN)/python -m devtools.run_demo

bench: install
	$(BIN)/python bench/run.py

docker:
	docker build -t pg-gateway .
