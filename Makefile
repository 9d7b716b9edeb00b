# Two commands: `make run` and `make test`. Both create .venv and install Hearth on first use.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test bench screenshot doctor clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip wheel setuptools
	$(PY) -m pip install -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/hearth

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q

bench: $(STAMP)
	for b in tests/benchmarks/*.py; do QT_QPA_PLATFORM=offscreen $(PY) $$b || exit 1; done

screenshot: $(STAMP)
	$(VENV)/bin/hearth --screenshot docs/screenshots

doctor: $(STAMP)
	$(VENV)/bin/hearth doctor

clean:
	rm -rf $(VENV) build dist *.egg-info
