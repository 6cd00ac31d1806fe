# KinderGate: `make demo` and `make test` set everything up from nothing.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | cksum | cut -d' ' -f1)
# Debian packages the tests talk to: a real broker and a real browser.
TEST_DEBS := mosquitto chromium

.PHONY: demo test bench lint clean venv sysdeps install

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || python3 -m venv $(VENV) || { \
	  echo "make: cannot create $(VENV): install Debian's python3-venv (apt-get install python3-venv)"; exit 1; }
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@rm -f $(VENV)/.installed-*; touch $@

venv: $(STAMP)

sysdeps:
	@missing=""; \
	for deb in $(TEST_DEBS); do \
	  case $$deb in \
	    mosquitto) test -x /usr/sbin/mosquitto || command -v mosquitto >/dev/null || missing="$$missing $$deb";; \
	    chromium) test -x /usr/bin/chromium || missing="$$missing $$deb";; \
	  esac; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "make: the tests need Debian packages:$$missing (run: sudo apt-get install$$missing)"; exit 1; \
	  fi; \
	fi

demo: $(STAMP)
	$(VENV)/bin/kindergate demo -c config/example.toml

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: $(STAMP) sysdeps lint
	$(VENV)/bin/pytest

bench: $(STAMP) sysdeps
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

# On the gate: sudo make install [ROLE=collector|all] [PREFIX=/opt/kindergate]
# [INSTALL_FLAGS=--new-key]; DESTDIR=/some/root stages it without touching this machine.
install:
	systemd/install.sh $(if $(ROLE),--role '$(ROLE)') $(if $(PREFIX),--prefix '$(PREFIX)') \
	  $(if $(DESTDIR),--destdir '$(DESTDIR)') $(INSTALL_FLAGS)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache build *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
