# netwrap: two commands set everything up on a fresh Debian 12 machine (as root):
#   make demo   the whole walkthrough in a lab namespace (no Docker needed)
#   make test   every test, with a real Docker engine started for the run
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

# What the demo needs from Debian, and what the tests need on top.
DEMO_DEBS := iproute2 bridge-utils net-tools util-linux iputils-ping python3-venv
TEST_DEBS := $(DEMO_DEBS) busybox-static iptables docker.io containernetworking-plugins \
             graphviz tmux hyperfine golang-go golang-github-appc-cni-dev \
             podman

.PHONY: install demo test test-unit lint bench clean debs-demo debs-test

$(BIN)/netwrap: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

install: $(BIN)/netwrap

debs-demo:
	scripts/apt-deps.sh $(DEMO_DEBS)

debs-test:
	scripts/apt-deps.sh $(TEST_DEBS)

demo: debs-demo install
	$(BIN)/netwrap demo

test: debs-test install
	$(BIN)/ruff check lib tests bench netwrap.py
	scripts/with-docker.sh $(BIN)/python -m pytest -q -p no:cacheprovider tests

test-unit: install
	$(BIN)/python -m pytest -q -m "not root and not docker" tests

lint: install
	$(BIN)/ruff check lib tests bench netwrap.py

$(VENV)/.bench: $(BIN)/netwrap
	$(BIN)/pip install -q -e '.[test,bench]'
	touch $@

bench: debs-test $(VENV)/.bench
	scripts/with-docker.sh $(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) lib/*.egg-info
