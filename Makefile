# Two commands: `make run` and `make test`. Both create .venv and install Hearth on first use.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: run test bench screenshot doctor clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip wheel setuptools
	$(PY) -m pip install -e .
	touch $(STAMP)

# The test extras (pytest, the real test models: Gemma, Qwen's pieces, llama.cpp's own server…) only for make test.
$(TEST_STAMP): $(STAMP)
	$(PY) -m pip install -e '.[test]'
	touch $(TEST_STAMP)

run: $(STAMP)
	$(VENV)/bin/hearth

test: $(TEST_STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q

bench: $(TEST_STAMP)
	for b in tests/benchmarks/*.py; do QT_QPA_PLATFORM=offscreen $(PY) $$b || exit 1; done

screenshot: $(TEST_STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) docs/screenshots.py --out docs/screenshots

doctor: $(STAMP)
	$(VENV)/bin/hearth doctor

clean:
	rm -rf $(VENV) build dist *.egg-info

# ---- desktop bundle (PyInstaller onedir; see installers/README.md) ---------------------------------------
DIST_STAMP := $(VENV)/.dist-installed

$(DIST_STAMP): $(STAMP)
	$(PY) -m pip install 'pyinstaller>=6.10'
	touch $(DIST_STAMP)

.PHONY: dist dist-test appimage
dist: $(DIST_STAMP)
	$(VENV)/bin/pyinstaller --noconfirm --distpath dist --workpath build build.spec
	@du -sh dist/Hearth
	@du -s dist/Hearth/_internal/* 2>/dev/null | sort -rn | head -10 | awk '{printf "  %6.0f MB  %s\n", $$1/1024, $$2}'

dist-test:
	QT_QPA_PLATFORM=offscreen HEARTH_HOME=$$(mktemp -d) dist/Hearth/hearth doctor
	rm -rf build/dist-shots
	QT_QPA_PLATFORM=offscreen HEARTH_HOME=$$(mktemp -d) dist/Hearth/hearth --screenshot build/dist-shots
	@for t in chat documents images segment models; do test -s build/dist-shots/$$t.png || { echo "missing $$t.png"; exit 1; }; done
	@echo "dist-test: doctor ok, every tab rendered"

appimage:
	bash installers/linux/build-appimage.sh
