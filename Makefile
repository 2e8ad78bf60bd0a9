# The README's two commands: `make demo` and `make test`.
# Each creates .venv if missing, installs the pinned dependencies, starts the embedded warehouse and does its job.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export MINQING_HOME ?= $(CURDIR)/.minqing

.PHONY: demo test install warehouse clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	$(BIN)/minqing dbt-manifest
	touch $(STAMP)

install: $(STAMP)

warehouse: install
	$(BIN)/minqing warehouse start

demo: warehouse
	$(BIN)/minqing demo

test: warehouse
	$(BIN)/python -m pytest

clean:
	-$(BIN)/minqing warehouse stop
	rm -rf $(MINQING_HOME)
