# The familiar verbs over CMake. `make` builds (installing missing Debian
# packages first), `make run` starts the pipeline under supervisord,
# `make test` runs every test, `make bench` measures.
BUILD ?= build
JOBS ?= $(shell nproc)
DEBIAN_PACKAGES = build-essential cmake pkg-config libzmq3-dev libczmq-dev libmicrohttpd-dev \
	libprotobuf-c-dev protobuf-c-compiler libcjson-dev libcurl4-openssl-dev libssl-dev \
	zlib1g-dev libcmocka-dev supervisor wrk python3 curl valgrind \
	libfuse3-dev fuse3

.PHONY: all build deps run test test-unit test-integration sanitize bench clean

all: build

deps:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; \
	  done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi
	@# The cloud sinks' tests run against emulators from the npm registry.
	@command -v npm >/dev/null || { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq npm; }
	tests/emulators/setup.sh

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

# Foreground; Ctrl-C (SIGINT) or SIGTERM stops every program cleanly.
# HAMUSTRO_CONFIG, HAMUSTRO_HOST and HAMUSTRO_PORT reach the programs.
run: build
	mkdir -p var/run var/data var/events
	exec supervisord -n -c deploy/supervisord.conf

# --no-tests=error: a filter or a build that finds no test fails, not passes.
CTEST = ctest --no-tests=error --output-on-failure

test: build
	$(CTEST) --test-dir $(BUILD) -j 1

test-unit: build
	$(CTEST) --test-dir $(BUILD) -L unit

test-integration: build
	$(CTEST) --test-dir $(BUILD) -L integration

# AddressSanitizer + UndefinedBehaviorSanitizer build of everything, tests included.
sanitize: deps
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DHAMUSTRO_SANITIZE=ON
	cmake --build build-asan -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  $(CTEST) --test-dir build-asan -j 1

bench: build
	bench/run.sh $(BUILD)

# Minutes of steady load with small log segments: samples each process's
# memory, descriptors and threads and checks every event answered 200 landed
# (bench/soak.py; SOAK_ARGS e.g. "--minutes 60 --rate 3000").
SOAK_ARGS ?=
.PHONY: soak
soak: build
	HAMUSTRO_BIN=$(abspath $(BUILD))/bin python3 bench/soak.py $(SOAK_ARGS)

.PHONY: faults valgrind

# The fault-injection suite alone (tests/faults/README.md); its table is
# kept in tests/faults/RESULTS.md. `make test` runs it too (label faults).
faults: build
	HAMUSTRO_BIN=$(abspath $(BUILD))/bin HAMUSTRO_SRC=$(CURDIR) python3 tests/faults/run.py

# The pipeline under valgrind memcheck (also in `make test`, label valgrind).
valgrind: build
	HAMUSTRO_BIN=$(abspath $(BUILD))/bin HAMUSTRO_SRC=$(CURDIR) python3 tests/valgrind/run.py

# libFuzzer over the parsers of untrusted input (tests/fuzz/README.md), with
# ASan + UBSan, FUZZ_SECONDS per target. `make test` only replays the
# committed corpora; this searches for new inputs.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS = collection config push_line scan cloud_reply
.PHONY: fuzz
fuzz: deps
	@command -v clang >/dev/null || { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq clang; }
	CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHAMUSTRO_FUZZ=ON
	cmake --build build-fuzz -j $(JOBS) --target $(addprefix fuzz_,$(FUZZ_TARGETS))
	tests/fuzz/run.sh build-fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

clean:
	rm -rf $(BUILD) build-asan build-fuzz
