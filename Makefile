# Relaydesk: every set-up step lives here, so a fresh machine needs only python3.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
DEMO_DIR ?= .relaydesk-demo

.PHONY: install run try-x11 serve-demo test test-server test-fast lint bench clean translations \
	screenshots

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

# Qt Linguist sources (.ts) are compiled to .qm whenever the package is built (setup.py: into
# the wheel, or beside the .ts for this editable install); this rule redoes it when a .ts
# changes after the install. .qm files are build outputs.
QM := $(patsubst %.ts,%.qm,$(wildcard resources/translations/*.ts))
resources/translations/%.qm: resources/translations/%.ts $(STAMP)
	$(PY) -m app.i18n build

install: $(STAMP) $(QM)

# The desk on its embedded demo workspace: the backend runs in-process on loopback.
# First the X11 libraries Qt's xcb plugin needs and a Japanese font (installed when root,
# else the command that would is printed).
run: install
	PY=$(PY) scripts/ensure-x11-libs
	scripts/ensure-cjk-font
	$(VENV)/bin/relaydesk --demo

# The desk in a real X server (Xvfb): its window's screenshot in screenshots/x11-demo.png.
try-x11: install
	PY=$(PY) scripts/try-x11

# Refresh resources/translations/*.ts from the source (then translate what is new).
translations: install
	$(PY) -m app.i18n update

serve-demo: install
	$(VENV)/bin/relaydesk-server seed demo --data-dir $(DEMO_DIR)
	$(VENV)/bin/relaydesk-server serve --data-dir $(DEMO_DIR)

# Bytecode caching speeds up the many CLI subprocesses the suite starts.
# Qt's offscreen plugin still loads QtGui's GL, font and X11 client libraries: a minimal
# Debian lacks some (ensure-x11-libs installs them as root, else says how).
test: install
	PY=$(PY) scripts/ensure-x11-libs offscreen
	@# Also X11's (the suite checks how the desk names a missing one; installed when root).
	-PY=$(PY) QT_QPA_PLATFORM= scripts/ensure-x11-libs
	env -u PYTHONDONTWRITEBYTECODE QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q

# The backend suite alone (CI runs it a second time against PostgreSQL).
test-server: install
	env -u PYTHONDONTWRITEBYTECODE $(PY) -m pytest -q tests/server

lint: install
	$(VENV)/bin/ruff check .

# Each benchmark prints one JSON object with the target beside every figure.
bench: install
	PY=$(PY) scripts/ensure-x11-libs offscreen
	$(PY) benchmarks/server_feed.py
	$(PY) benchmarks/sync_client.py
	$(PY) benchmarks/desk.py

# The main screens rendered offscreen from a fresh demo workspace into screenshots/*.png.
screenshots: install
	PY=$(PY) scripts/ensure-x11-libs offscreen
	scripts/ensure-cjk-font
	QT_QPA_PLATFORM=offscreen $(PY) scripts/screenshots.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis .bench-cache build dist *.egg-info \
		screenshots resources/translations/*.qm
