# netwrap: two commands set everything up on a fresh Debian 12 machine (as root):
#   make demo   the whole walkthrough in a lab namespace (no Docker needed)
#   make test   every test, with a real Docker engine started for the run
# Debian's own python3 (the one python3-venv is for), even where another python3 comes
# first on PATH (a pyenv build on some machines): Debian's is built with PGO and LTO
# and starts about a quarter faster, and every netwrap command is a fresh start.
PYTHON ?= $(shell test -x /usr/bin/python3 && echo /usr/bin/python3 || echo python3)
VENV := .venv
BIN := $(VENV)/bin

# What the demo needs from Debian, and what the tests need on top.
DEMO_DEBS := iproute2 bridge-utils net-tools util-linux iputils-ping procps python3-venv
TEST_DEBS := $(DEMO_DEBS) busybox-static iptables docker.io containernetworking-plugins \
             graphviz tmux hyperfine golang-go golang-github-appc-cni-dev \
             podman dnsmasq-base iputils-arping isc-dhcp-client dhcpcd-base

.PHONY: install demo test test-unit lint bench clean debs-demo debs-test

# pip's console script starts Python with site (a quarter of `python -c pass`); the
# launcher that replaces it starts with -S and loads site only for the full CLI (see
# lib/netwrap/launcher.py: `netwrap pid NAME` is timed against `docker inspect`).
LAUNCHER = $(BIN)/python -m netwrap.launcher $(BIN)/netwrap

# launcher.py too: a venv made before the launcher kept pip's script after make install.
$(BIN)/netwrap: pyproject.toml lib/netwrap/launcher.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,docs]'
	$(LAUNCHER)
	touch $@

# The man page (generated from the parser) and bash/zsh completion (argcomplete),
# installed beside the venv's netwrap; README says how to use them.
SHARE := $(VENV)/share
MANPAGE := $(SHARE)/man/man1/netwrap.1
BASH_COMPLETION := $(SHARE)/bash-completion/completions/netwrap
ZSH_COMPLETION := $(SHARE)/zsh/site-functions/_netwrap

$(MANPAGE): $(BIN)/netwrap $(wildcard lib/netwrap/cli*.py lib/netwrap/show.py)
	mkdir -p $(dir $@)
	PYTHONPATH=lib $(BIN)/argparse-manpage --module netwrap.cli --function build_parser \
	  --project-name netwrap --prog netwrap --output $@

$(BASH_COMPLETION): $(BIN)/netwrap
	mkdir -p $(dir $@)
	$(BIN)/register-python-argcomplete netwrap > $@

$(ZSH_COMPLETION): $(BIN)/netwrap
	mkdir -p $(dir $@)
	$(BIN)/register-python-argcomplete --shell zsh netwrap > $@

install: $(BIN)/netwrap $(MANPAGE) $(BASH_COMPLETION) $(ZSH_COMPLETION)

debs-demo:
	scripts/apt-deps.sh $(DEMO_DEBS)

debs-test:
	scripts/apt-deps.sh $(TEST_DEBS)

demo: debs-demo install
	$(BIN)/netwrap demo

# The tests keep their state in a run dir of their own; the run ends by checking that the
# machine's /run/netwrap, /var/run/netns, links and sandbox processes are as before it
# (scripts/leftovers.sh): a run that leaves anything, or removes anything, fails.
test: debs-test install
	$(BIN)/ruff check lib tests bench netwrap.py
	$(BIN)/ruff format --check lib tests bench netwrap.py
	@before=$$(mktemp); scripts/leftovers.sh snapshot >"$$before"; \
	scripts/with-docker.sh $(BIN)/python -m pytest -q -p no:cacheprovider tests; status=$$?; \
	scripts/leftovers.sh compare "$$before" || status=1; rm -f "$$before"; exit $$status

test-unit: install
	$(BIN)/python -m pytest -q -m "not root and not docker" tests

lint: install
	$(BIN)/ruff check lib tests bench netwrap.py
	$(BIN)/ruff format --check lib tests bench netwrap.py

$(VENV)/.bench: $(BIN)/netwrap
	$(BIN)/pip install -q -e '.[test,bench]'
	$(LAUNCHER)
	touch $@

bench: debs-test $(VENV)/.bench
	scripts/with-docker.sh $(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) lib/*.egg-info
