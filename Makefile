# The two commands the README starts with:
#   make demo   — create .venv, install auditor, run the whole audit on a synthetic school
#   make test   — install test tools (and PostgreSQL, Chromium if missing), run the suite on
#                 SQLite, then again on a PostgreSQL server started on 127.0.0.1
PYTHON ?= python3
VENV ?= .venv
DEMO_OUT ?= demo-output

.PHONY: demo test lint env clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $@

env: $(VENV)/.installed

demo: $(VENV)/.installed
	$(VENV)/bin/auditor demo --out $(DEMO_OUT)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check auditor connectors reports tests benchmarks

test: $(VENV)/.installed
	VENV=$(VENV) scripts/test.sh

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache .ruff_cache
