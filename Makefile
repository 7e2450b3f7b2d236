# The two commands of the README: `make app` (install, then run the app on the shipped model)
# and `make test` (install, then run the test suite, browser tests included; `make test-slow`: the slow checks).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: app test test-slow bench

# node_modules: onnxruntime-web, which the app serves to the page (the generator in the browser);
# without npm the app still runs, on the server path only.
$(STAMP): requirements.txt requirements-dev.txt package-lock.json
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	if command -v npm >/dev/null; then npm ci --no-audit --no-fund --ignore-scripts; \
		else echo "npm not found: the app will draw on the server only (install Node.js for the in-browser engine)"; fi
	touch $(STAMP)

app: $(STAMP)
	$(BIN)/python app.py

# Chromium comes from Debian (never `playwright install`, which downloads its own browser).
test: $(STAMP)
	@test -x /usr/bin/chromium || { [ "$$(id -u)" = 0 ] && apt-get update -q && apt-get install -y -q chromium; } \
		|| { echo "install Debian's chromium (apt-get install chromium) for the browser tests"; exit 1; }
	$(BIN)/python -m pytest -q -m "not slow" --durations=15 tests

# The checks too slow for every change (statistical tests over several training runs).
test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow tests

bench: $(STAMP)
	$(BIN)/python benchmarks/inference.py
