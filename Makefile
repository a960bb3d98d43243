# Relaydesk: every set-up step lives here, so a fresh machine needs only python3.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
DEMO_DIR ?= .relaydesk-demo

.PHONY: install run serve-demo test test-server test-fast lint bench clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

# The desk arrives with issue #4; until then `make run` serves the demo workspace.
run: serve-demo

serve-demo: install
	$(VENV)/bin/relaydesk-server seed demo --data-dir $(DEMO_DIR)
	$(VENV)/bin/relaydesk-server serve --data-dir $(DEMO_DIR)

# Bytecode caching speeds up the many CLI subprocesses the suite starts.
test: install
	env -u PYTHONDONTWRITEBYTECODE QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q

# The backend suite alone (CI runs it a second time against PostgreSQL).
test-server: install
	env -u PYTHONDONTWRITEBYTECODE $(PY) -m pytest -q tests/server

lint: install
	$(VENV)/bin/ruff check .

# Each benchmark prints one JSON object with the target beside every figure.
bench: install
	$(PY) benchmarks/server_feed.py
	$(PY) benchmarks/sync_client.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis .bench-cache build dist *.egg-info
