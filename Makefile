# The media team's entry points. Every target creates the virtual environment on first use;
# nothing but Python 3.11 and pip is needed (FFmpeg comes from the imageio-ffmpeg wheel).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
ARGS   ?=

.PHONY: help render publish review validate plan dry-run preview thumbnails schema samples browser test lint typecheck bench clean

help:
	@echo "make render    generate sample footage if missing, render every stale output, write out/index.json,"
	@echo "               and publish to the configured storage (S3: see the README; default: out/ only)"
	@echo "make publish   publish what is already rendered (ARGS=--dry-run, --history, --rollback)"
	@echo "make review    serve out/ on 127.0.0.1:8000: the review pages (out/review/index.html) in a browser"
	@echo "make validate  check every manifest and source; report all problems at once"
	@echo "make plan      print the jobs a render would run (make dry-run: with FFmpeg commands)"
	@echo "make preview CASE=id  contact sheets of the framing decisions (faces, crops, shots)"
	@echo "make thumbnails CASE=id  posters, covers, thumbnails (ARGS=--explain: why each frame won)"
	@echo "make schema    write JSON Schemas for manifests and index.json into schemas/"
	@echo "make test      lint, type-check and run the test suite (installs Debian's chromium if missing)"
	@echo "make bench     measure render speed and memory against MoviePy and hand-written FFmpeg"
	@echo "make clean     remove out/ and generated sample footage (keeps .venv)"
	@echo "Extra CLI flags: make render ARGS='--force -j 2'"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

samples: $(STAMP)
	$(PY) -m pipeline samples

render: samples
	$(PY) -m pipeline render --publish $(ARGS)

publish: $(STAMP)
	$(PY) -m pipeline publish $(ARGS)

review: $(STAMP)
	$(PY) -m pipeline review --serve $(ARGS)

validate: samples
	$(PY) -m pipeline validate

plan: samples
	$(PY) -m pipeline plan $(ARGS)

dry-run: samples
	$(PY) -m pipeline plan --dry-run $(ARGS)

preview: samples
	@test -n "$(CASE)" || { echo "usage: make preview CASE=<case study id>"; exit 2; }
	$(PY) -m pipeline reframe-preview $(CASE) $(ARGS)

thumbnails: samples
	@test -n "$(CASE)" || { echo "usage: make thumbnails CASE=<case study id> [ARGS=--explain]"; exit 2; }
	$(PY) -m pipeline thumbnails $(CASE) $(ARGS)

schema: $(STAMP)
	$(PY) -m pipeline schema

lint: $(STAMP)
	$(VENV)/bin/ruff check pipeline tests bench
	$(VENV)/bin/ruff format --check pipeline tests bench

typecheck: $(STAMP)
	$(VENV)/bin/mypy

# The browser tests (tests/browser.py) drive Debian's chromium through Playwright; Playwright's
# own browser download (`playwright install`) is never used. PIPELINE_CHROMIUM=/path skips this.
browser:
	@if [ -n "$$PIPELINE_CHROMIUM" ] || command -v chromium >/dev/null 2>&1 \
	  || command -v chromium-browser >/dev/null 2>&1; then exit 0; fi; \
	if ! command -v apt-get >/dev/null 2>&1; then \
	  echo "make browser: Chromium is needed for the browser tests and apt-get is not available:" \
	    "install Chromium and set PIPELINE_CHROMIUM to its path" >&2; \
	  exit 1; \
	fi; \
	if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	echo "make browser: installing Debian's chromium for the browser tests ($${SUDO:+sudo }apt-get install chromium)"; \
	$$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null

test: lint typecheck browser
	$(PY) -m pytest -n auto --dist loadscope $(ARGS)

bench: $(STAMP)
	$(PY) bench/harness.py $(ARGS)

clean:
	rm -rf out media .pytest_cache .mypy_cache .ruff_cache
