# Two commands: `make run` (develop) and `make test` (the whole suite). No internet needed
# beyond the package registries; nothing to configure.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 5000
LOCALSTRIPE_PORT ?= 8420
export PORT LOCALSTRIPE_PORT

.PHONY: install translations messages run test lint format lock clean

$(BIN)/.installed: requirements-dev.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes --no-deps -r requirements-dev.lock
	touch $@

# Lighthouse for tests/e2e/test_lighthouse.py, pinned in package-lock.json (the app itself
# needs no Node). Without npm that test skips, and fails under REQUIRE_BROWSER=1 as in CI.
node_modules/.installed: package-lock.json
	@if command -v npm >/dev/null; then \
	  npm ci --no-audit --no-fund && touch $@; \
	else echo "npm not found: skipping node_modules (tests/e2e/test_lighthouse.py will skip)"; fi

install: $(BIN)/.installed translations

# The language catalogues (translations/<lang>/LC_MESSAGES/messages.po) compiled for the app.
translations: $(BIN)/.installed
	@if compgen -G "translations/*/LC_MESSAGES/messages.po" >/dev/null; then \
	  $(BIN)/pybabel -q compile -d translations; fi

# After changing a message in the code or a template: re-extract, and merge into each
# catalogue (new messages arrive untranslated: tests/test_translations.py then fails until
# they are translated).
messages: $(BIN)/.installed
	$(BIN)/pybabel -q extract -F babel.cfg -k _l -k lazy_gettext -c TRANSLATORS: --sort-output \
	  --project safepassage -o translations/messages.pot \
	  accounts audit cases finance fundraising security templates static app.py
	$(BIN)/pybabel -q update --no-fuzzy-matching -i translations/messages.pot -d translations

# Without a Stripe key, localstripe (offline Stripe) runs beside the app, with its webhooks
# pointed at the app and our Stripe.js stand-in, so the demo drive takes test card 4242...
# APP_ENV unset means production (which refuses generated keys and SQLite): `make run` is
# development, always.
run: install
	@set -euo pipefail; \
	export APP_ENV=development; \
	$(BIN)/flask --app app db upgrade; \
	if [ -z "$${STRIPE_SECRET_KEY:-}" ]; then \
	  secret="$${STRIPE_WEBHOOK_SECRET:-$$($(BIN)/flask --app app stripe local-webhook-secret)}"; \
	  $(BIN)/python -m devtools.localstripe_server --port $(LOCALSTRIPE_PORT) \
	    --webhook-url http://127.0.0.1:$(PORT)/stripe/webhook --webhook-secret "$$secret" \
	    --stripe-js tests/e2e/stripe_shim.js & \
	  trap 'kill %1 2>/dev/null' EXIT; \
	  export STRIPE_SECRET_KEY=sk_test_localstripe STRIPE_PUBLISHABLE_KEY=pk_test_localstripe \
	    STRIPE_API_BASE=http://127.0.0.1:$(LOCALSTRIPE_PORT) \
	    STRIPE_JS_URL=http://127.0.0.1:$(LOCALSTRIPE_PORT)/js.stripe.com/v3/ \
	    STRIPE_WEBHOOK_SECRET="$$secret"; \
	  echo "Stripe: localstripe on http://127.0.0.1:$(LOCALSTRIPE_PORT) (test card 4242 4242 4242 4242)"; \
	fi; \
	$(BIN)/flask --app app demo; \
	echo "Serving on http://127.0.0.1:$(PORT)  (Ctrl-C to stop)"; \
	$(BIN)/flask --app app run --host 127.0.0.1 --port $(PORT) --no-debugger --no-reload

test: lint node_modules/.installed
	@bash devtools/system-packages.sh
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Re-pin both lock files from pyproject.toml (existing pins are kept; add --upgrade to move
# them). requirements.lock is what production installs; the dev lock is constrained by it.
LOCK_FLAGS := --allow-unsafe --generate-hashes --no-emit-find-links --no-emit-index-url --strip-extras
lock: install
	$(BIN)/pip-compile --quiet $(LOCK_FLAGS) --output-file=requirements.lock pyproject.toml
	$(BIN)/pip-compile --quiet $(LOCK_FLAGS) --constraint=requirements.lock --extra=dev \
	  --output-file=requirements-dev.lock pyproject.toml

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
