# Meridian: `make run` starts the service on an embedded default; `make test` runs the suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
# the suite runs on two xdist workers; PYTEST_ARGS= (empty) runs it in one process
PYTEST_ARGS ?= -n 2 --dist loadgroup
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: setup run test fuzz migrate data lists demo clean lint system-deps

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

setup: system-deps $(STAMP)

# WeasyPrint needs Pango; install it from Debian's packages when missing and we may.
system-deps:
	@bash scripts/system-deps.sh

migrate: setup
	$(PY) manage.py migrate --noinput

# Rule data (rule packs, tax rules, risk model, markets) loads as versioned rows; demo data after it.
data: migrate
	$(PY) manage.py rulepacks load
	$(PY) manage.py load_tax_rules
	$(PY) manage.py risk_models_load
	$(PY) manage.py reference_load
	$(PY) manage.py recon_rules_load
	$(PY) manage.py brokers_load

SANCTIONS := ../shared/data/sanctions

# The real OFAC and UN lists, when ../shared is beside the checkout (a re-import of the same
# files changes nothing).
lists: migrate
	@if [ -f $(SANCTIONS)/ofac/sdn.csv ]; then \
	  $(PY) manage.py sanctions_import --source ofac $(SANCTIONS)/ofac/sdn.csv $(SANCTIONS)/ofac/alt.csv \
	    $(SANCTIONS)/ofac/add.csv $(SANCTIONS)/ofac/sdn_comments.csv && \
	  $(PY) manage.py sanctions_import --source un $(SANCTIONS)/un/consolidated.xml; \
	else echo "note: $(SANCTIONS) not found; screening runs against empty lists"; fi

demo: data lists
	$(PY) manage.py seed_demo

run: demo
	$(PY) manage.py runserver 127.0.0.1:8000

# The layer contracts (import-linter) and the types (mypy) are checked before the suite.
test: setup
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy
	$(PY) -m pytest $(PYTEST_ARGS)

# The schemathesis contract run, randomised and wider than the derandomised run inside `make test`;
# each finding becomes a regression test in tests/api/test_contract_findings.py.
fuzz: setup
	CONTRACT_RANDOM=1 CONTRACT_MAX_EXAMPLES=$${CONTRACT_MAX_EXAMPLES:-50} CONTRACT_STATEFUL_EXAMPLES=$${CONTRACT_STATEFUL_EXAMPLES:-60} \
	  $(PY) -m pytest -q tests/api/test_contract.py $(PYTEST_ARGS)
	CONTRACT_RANDOM=1 HOSTILE_JSON_EXAMPLES=$${HOSTILE_JSON_EXAMPLES:-200} \
	  $(PY) -m pytest -q tests/reliability/test_api_hostile_json.py $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) db.sqlite3 var
