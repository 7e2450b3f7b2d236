# The two commands of the README: `make app` (install, then run the app on the shipped model)
# and `make test` (install, then run the whole test suite, browser tests included).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: app test bench

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	touch $(STAMP)

app: $(STAMP)
	$(BIN)/python app.py

# Chromium comes from Debian (never `playwright install`, which downloads its own browser).
test: $(STAMP)
	@test -x /usr/bin/chromium || { [ "$$(id -u)" = 0 ] && apt-get update -q && apt-get install -y -q chromium; } \
		|| { echo "install Debian's chromium (apt-get install chromium) for the browser tests"; exit 1; }
	$(BIN)/python -m pytest -q tests

bench: $(STAMP)
	$(BIN)/python benchmarks/inference.py
