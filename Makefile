# Lethe: `make demo` shows every command on synthetic data; `make test` runs the whole suite.
# Both install what they need (apt packages), build, and run against a throwaway PostgreSQL 15.
SWIFT ?= swift
SCALE ?= 1
# Production-like durability for benchmarks (tests run without fsync), and room for bulk loads.
BENCH_PG_OPTS = -c fsync=on -c synchronous_commit=on -c full_page_writes=on -c shared_buffers=1GB -c max_wal_size=8GB -c maintenance_work_mem=512MB

.PHONY: all deps build test test-faults test-profile test-deb deb fuzz demo bench clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	$(SWIFT) build

# LETHE_PG_REPORT_CPU: the throwaway server says how much CPU the suite asked of it (the suite's main cost).
# No autovacuum: test databases live seconds, and its workers analysed every one of them (no test relies on it;
# `make bench` keeps it, as production does). The cluster on tmpfs (see scripts/with-postgres.sh).
TEST_PG_OPTS = -c autovacuum=off
TEST_PG_ENV = LETHE_PG_DIR=/dev/shm LETHE_PG_OPTS="$(TEST_PG_OPTS)"
test: deps
	$(SWIFT) build --build-tests
	$(TEST_PG_ENV) LETHE_PG_REPORT_CPU=1 LETHE_BIN=$$($(SWIFT) build --show-bin-path)/lethe scripts/with-postgres.sh $(SWIFT) test --skip-build --skip FaultInjection

# Jobs killed and the server crashed under them (Tests/CLITests/FaultInjectionTests.swift). Alone on their own
# server: a restart drops every connection, which would fail tests running beside them.
test-faults: deps
	$(SWIFT) build --build-tests
	$(TEST_PG_ENV) LETHE_PG_REPORT_CPU=1 LETHE_BIN=$$($(SWIFT) build --show-bin-path)/lethe scripts/with-postgres.sh $(SWIFT) test --skip-build --filter FaultInjection

# What each test costs, one at a time (wall, server CPU, client CPU), sorted: where a slower suite starts.
test-profile: deps
	$(SWIFT) build --build-tests
	LETHE_BIN=$$($(SWIFT) build --show-bin-path)/lethe scripts/with-postgres.sh scripts/test-profile.sh

# The Debian package (lethe_<version>_amd64.deb, release binary with the Swift runtime linked in); see scripts/make-deb.sh.
deb: deps
	scripts/make-deb.sh

# The package installed with apt-get and run as an operator would (root: it installs and purges the package),
# against a throwaway server listening on loopback; see scripts/test-deb.sh.
test-deb: deps
	LETHE_PG_OPTS="-c listen_addresses=127.0.0.1" scripts/with-postgres.sh scripts/test-deb.sh

# libFuzzer on every parser of untrusted bytes, FUZZ_SECONDS (default 60) per target; see scripts/fuzz.sh.
FUZZ_SECONDS ?= 60
fuzz: deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh

demo: build
	LETHE_BIN=$$($(SWIFT) build --show-bin-path)/lethe scripts/with-postgres.sh scripts/demo.sh

# Benchmarks use release binaries as they would be deployed: self-contained (Swift runtime and Foundation linked
# in), which also saves ~10 ms of dynamic linking at every start of a short command.
RELEASE_FLAGS = -c release --static-swift-stdlib

bench: deps
	$(SWIFT) build $(RELEASE_FLAGS)
	RELEASE_FLAGS="$(RELEASE_FLAGS)" LETHE_PG_OPTS="$(BENCH_PG_OPTS)" SCALE=$(SCALE) scripts/with-postgres.sh scripts/bench.sh

clean:
	rm -rf .build
