# bridgedapp: two commands set up and run everything.
#   make run    run the operator (on a local control plane when no KUBECONFIG is set)
#   make test   install, build or reuse the control plane, run every test tier
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: help venv run test unit lint crds lock bench e2e sandbox-down clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/\t/'

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@rm -f $(VENV)/.installed-*; touch $@

venv: $(STAMP)  ## create the virtualenv and install the project with its test tools

run: $(STAMP)  ## run the operator: against $$KUBECONFIG if set, else on a local sandbox control plane
	$(PY) -m testbed run

test: $(STAMP)  ## build or reuse the control plane and Kafka, then run unit, integration and data-path tests
	$(PY) -m testbed build
	$(PY) -m pytest

unit: $(STAMP)  ## unit tests only (no cluster)
	$(PY) -m pytest tests/unit tests/testbed -m "not integration"

lint: $(STAMP)  ## ruff
	$(PY) -m ruff check operator testbed tests bench
	$(PY) -m ruff format --check operator testbed tests bench

crds: $(STAMP)  ## regenerate crds/ and docs/reference.md from the pydantic models
	$(PY) -m bridgedapp.crd > crds/bridgedapp.io_bridgedapps.yaml
	$(PY) -m bridgedapp.reference > docs/reference.md

lock: $(STAMP)  ## re-lock the image's dependencies (requirements/image.txt, with hashes) from pyproject.toml
	$(VENV)/bin/uv pip compile pyproject.toml --python-version 3.11 --python-platform x86_64-unknown-linux-gnu \
	  --generate-hashes --custom-compile-command "make lock" -q -o requirements/image.txt

bench: $(STAMP)  ## run the benchmarks, write results and plots into docs/
	$(PY) -m bench

e2e:  ## end-to-end on kind (needs Docker; cannot run on machines without an engine)
	$(PY) -m pytest tests/e2e -m e2e

sandbox-down: $(STAMP)  ## delete the local sandbox cluster left by `make run`
	$(PY) -m testbed down

clean:  ## remove the virtualenv
	rm -rf $(VENV)
