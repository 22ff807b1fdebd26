# CCPOR Hub developer and CI commands. `make help` lists them.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: help venv demo test lint wsdl bench-submit bench-search bench-auth bench-attacks bench-carpos bench-dsp917 bench-report bench-image-memory bench-etl clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 16

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)  ## create the virtualenv and install the hub with its test extras

demo: $(STAMP)  ## a fresh SQLite hub by `ccpor-hub run --mock-doj`: the scripted SOAP demo, FCNs and all, the console; then stop
	$(VENV)/bin/ccpor-hub demo

test: $(STAMP)  ## run the whole test suite (PostgreSQL tests skip if no server answers)
	$(PY) -m pytest -q $(PYTEST_ARGS)

lint: $(STAMP)  ## ruff check and format check; the import contracts (one-way layers, pyproject.toml)
	$(VENV)/bin/ruff check hub adapters gateway mocks tests bench
	$(VENV)/bin/ruff format --check hub adapters gateway mocks tests bench
	$(VENV)/bin/lint-imports --no-cache

wsdl: $(STAMP)  ## regenerate the WSDLs in wsdl/ from the XSDs (review the diff!)
	$(VENV)/bin/ccpor-hub wsdl --service orders --out wsdl/ccpor-orders.wsdl
	$(VENV)/bin/ccpor-hub wsdl --service admin --out wsdl/ccpor-admin.wsdl
	$(VENV)/bin/ccpor-hub wsdl --service carpos --out wsdl/ccpor-carpos.wsdl
	$(VENV)/bin/ccpor-hub wsdl --service switch --out wsdl/carpos-switch.wsdl

bench-submit: $(STAMP)  ## SubmitOrder throughput and latency vs a bare Spyne echo
	$(PY) bench/submit_bench.py

bench-search: $(STAMP)  ## SearchOrders on 1,000,000 orders, SQLite and PostgreSQL
	$(PY) bench/search_bench.py

bench-auth: $(STAMP)  ## SubmitOrder throughput with PasswordText, PasswordDigest and X.509 signatures
	$(PY) bench/auth_bench.py

bench-attacks: $(STAMP)  ## the attack corpus against every endpoint: time per case, server memory
	$(PY) bench/attack_bench.py

bench-carpos: $(STAMP)  ## CARPOS: sealing cost vs xmlsec1, drain rate through the mock switch, submit -> ACCEPTED latency
	$(PY) bench/carpos_bench.py

bench-dsp917: $(STAMP)  ## DSP917: notifications/s through /ws/dsp917 vs SubmitOrder, business responses delivered to the mock court
	$(PY) bench/dsp917_bench.py

bench-report: $(STAMP)  ## the monthly reports over 1,000,000 orders (SQLite; --database-url for PostgreSQL)
	$(PY) bench/report_bench.py

bench-image-memory: $(STAMP)  ## a hub worker's peak RSS growth for AttachImage / GetImage of a 20 MB image
	$(PY) bench/image_memory_bench.py

bench-etl: $(STAMP)  ## the historical load: 1,000,000 records, time and peak RSS, then killed at ~50 % and resumed (SQLite; --database-url for PostgreSQL)
	$(PY) bench/etl_bench.py $(BENCH_ARGS)

clean:  ## remove the virtualenv and local data
	rm -rf $(VENV) var .pytest_cache build
