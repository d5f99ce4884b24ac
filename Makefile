# Two commands: `make run` and `make test`. Both set everything up first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The browser tests drive Debian's chromium (never a downloaded browser); installed here when missing.
CHROMIUM := /usr/bin/chromium
# The signing tests use Debian's SoftHSM2 as the HSM and qpdf to check signed letters; installed here when missing.
SOFTHSM := /usr/lib/softhsm/libsofthsm2.so
QPDF := /usr/bin/qpdf
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# The suites that exercise the people's records run a second time on PostgreSQL: Debian's server (installed here
# when missing), which the tests start themselves (tests/postgres.py).
PEOPLE_TESTS := tests/test_portal_accounts.py tests/test_identity.py tests/test_portal_security.py \
	tests/test_portal_notifications.py tests/test_portal_api.py tests/test_notices.py tests/test_outbox.py

.PHONY: run test lint check bench clean histories postgresql

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null

$(SOFTHSM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq softhsm2 >/dev/null

$(QPDF):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq qpdf >/dev/null

postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq postgresql >/dev/null; }

run: $(STAMP)
	$(BIN)/offerdesk up --demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

test: lint $(CHROMIUM) $(SOFTHSM) $(QPDF) postgresql
	$(BIN)/pytest -q
	OFFERDESK_TEST_DATABASE=postgresql $(BIN)/pytest -q $(PEOPLE_TESTS)

# The benchmark: a 75-partner round, the same work without Temporal, letter rendering, 5,000 open offers.
bench: $(STAMP)
	$(BIN)/python -m benchmarks.round $(BENCH_ARGS)

histories: $(STAMP)
	OFFERDESK_RECORD_HISTORIES=1 $(BIN)/pytest -q tests/test_replay.py

clean:
	rm -rf $(VENV) .offerdesk .mypy_cache .ruff_cache .pytest_cache
