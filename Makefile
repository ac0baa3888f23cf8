# Two commands do everything on a fresh Debian machine:
#   make test   - build .venv (GDAL bindings included), run pytest and the doctests
#   make demo   - build a toy dataset, its cog cache, sample it, write a PNG mosaic
#   make docs   - make the figures and build the Sphinx site (warnings are errors)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.ndsampler-installed
DOCS_STAMP := $(VENV)/.ndsampler-docs-installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
TORCH_SPEC := torch==2.13.0

.PHONY: all test demo docs venv clean

all: test

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q -U pip setuptools wheel numpy

# GDAL's bindings must be built against the system library, with numpy
# already present, or osgeo.gdal_array is silently left out.
$(STAMP): pyproject.toml | $(PY)
	@command -v gdal-config >/dev/null || { \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq libgdal-dev gdal-bin; }
	@$(PY) -c "import osgeo.gdal_array" 2>/dev/null || \
	  $(PIP) install -q --no-build-isolation --no-cache-dir "GDAL==$$(gdal-config --version)"
	$(PIP) install -q --no-build-isolation -e ".[tests]"
	$(PIP) install -q "$(TORCH_SPEC)"
	$(PY) -c "import osgeo.gdal_array, torch, ndsampler"
	touch $(STAMP)

venv: $(STAMP)

test: $(STAMP)
	$(PY) -c "import osgeo.gdal_array; print('osgeo.gdal_array OK')"
	$(PY) -m pytest tests -q
	@echo "--- again with GDAL hidden (osgeo not importable): GDAL tests must skip cleanly"
	NDSAMPLER_TEST_BLOCK_GDAL=1 $(PY) -m pytest tests -q
	$(PY) -m xdoctest ndsampler all

demo: $(STAMP)
	$(PY) -m ndsampler.demo

$(DOCS_STAMP): $(STAMP)
	$(PIP) install -q --no-build-isolation -e ".[docs]"
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	$(PY) docs/make_figures.py docs/_generated
	$(PY) -m sphinx -W --keep-going -q -b html docs docs/_build/html
	@echo "docs: docs/_build/html/index.html"

clean:
	rm -rf $(VENV) _demo_out *.egg-info docs/_generated docs/_build
