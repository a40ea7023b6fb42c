# Two commands matter: `make demo` and `make test`. Both set up .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# Tests read the shared corpus through WORKBENCH_CORPUS; point it at ../shared/corpus when that exists.
ifneq ($(wildcard ../shared/corpus),)
export WORKBENCH_CORPUS ?= $(abspath ../shared/corpus)
endif

.PHONY: setup demo test bench clean-demo

setup: $(STAMP)

# torch first, pinned: that version has a CPU-only build; anything else pulls gigabytes of CUDA packages.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev,demo,notebooks,apps]'
	@# OCR models ship in this wheel; it declares opencv-python, whose cv2 would replace the headless build that
	@# deepface brings, so it goes in without dependencies (those it needs are in pyproject.toml).
	$(BIN)/pip install --quiet --no-deps rapidocr-onnxruntime==1.4.4
	@# Browser tests drive Debian's Chromium; install it when we can (root with apt-get), else say how.
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "note: browser tests need Debian's Chromium: sudo apt-get install chromium"; fi; fi
	@# `workbench backup` drives Debian's restic; the backup benchmark compares it with borg.
	@if [ ! -x /usr/bin/restic ] || [ ! -x /usr/bin/borg ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq restic borgbackup >/dev/null; \
	  else echo "note: backups need Debian's restic: sudo apt-get install restic borgbackup"; fi; fi
	touch $(STAMP)

# Builds the demo library, then serves it (gallery on DEMO_PORT, dashboards on 5006, background processor) with a
# demo admin account whose password it prints; Ctrl+C stops it. WORKBENCH_DEMO_NO_SERVE=1 only builds.
DEMO_PORT ?= 8866
demo: setup
	$(BIN)/python -m workbench.demo --library data/demo/library --media data/demo/media --port $(DEMO_PORT)

test: setup
	$(BIN)/python -m pytest -n 2 --dist loadfile -q -rs

bench: setup
	$(BIN)/python benchmarks/ingest.py

clean-demo:
	rm -rf data/demo
