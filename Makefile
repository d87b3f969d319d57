# yrd-gateway: every set-up step lives here, so a fresh clone needs nothing else.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: install demo test check lint proto proto-check bench clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

# The main job: the four-province federation on SQLite with seeded catalogs, and a showcase.
demo: install
	$(VENV)/bin/yrdgw up --demo

# The test command (CI runs exactly this through .ci/run).
test: install
	bash scripts/install-system-deps.sh
	$(PY) scripts/gen_protos.py --check
	$(VENV)/bin/ruff check gateway yrdtools tests scripts
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy
	$(PY) -m pytest -q

check: test

lint: install
	$(VENV)/bin/ruff check gateway yrdtools tests scripts
	$(VENV)/bin/ruff format --check gateway yrdtools tests scripts

# The benchmark harness (issue 6): four node processes at 131,000 entries each plus baselines.
bench: install
	$(PY) -m yrdtools.bench $(ARGS)

proto: install
	$(PY) scripts/gen_protos.py

proto-check: install
	$(PY) scripts/gen_protos.py --check

clean:
	rm -rf var .pytest_cache
