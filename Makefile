# Two commands do everything on a fresh clone: `make demo` and `make test`.
SHELL := /bin/bash
export TF_CPP_MIN_LOG_LEVEL := 2
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench pretrain install clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,codecs,baselines]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) -m restoolkit demo --out runs/demo

test: $(STAMP)
	$(PY) -m pytest -n 2 -q tests

pretrain: $(STAMP)
	$(PY) -m restoolkit pretrain

lint: $(STAMP)
	$(VENV)/bin/ruff check restoolkit domains tests benchmarks

bench: $(STAMP)
	$(PY) -m pip install -q -e '.[bench]'  # keras-hub, for the detection comparison
	@for f in benchmarks/*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

clean:
	rm -rf $(VENV) runs .pytest_cache
