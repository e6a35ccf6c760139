# The familiar verbs over CMake. `make` builds (installing missing Debian
# packages first), `make run` starts the pipeline under supervisord,
# `make test` runs every test, `make bench` measures.
BUILD ?= build
JOBS ?= $(shell nproc)
DEBIAN_PACKAGES = build-essential cmake pkg-config libzmq3-dev libczmq-dev libmicrohttpd-dev \
	libprotobuf-c-dev protobuf-c-compiler libcjson-dev libcurl4-openssl-dev libssl-dev \
	zlib1g-dev libdeflate-dev libisal-dev libgnutls28-dev libcmocka-dev supervisor wrk python3 curl openssl valgrind \
	libfuse3-dev fuse3 strace util-linux iproute2 haproxy \
	python3-zmq nginx-light \
	help2man debhelper lintian logrotate debootstrap systemd-container \
	prometheus

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
# Runs what the config says (HAMUSTRO_CONFIG, else the embedded default):
# hamustro-ctl supervisord-conf checks it and writes the programs, or
# prints every problem and nothing starts. HAMUSTRO_HOST and HAMUSTRO_PORT
# reach the programs. RUN_HOME: the directory the programs run in, where
# the config's relative paths (var/...) and make run's own files
# (var/run/) are; SUPERVISOR_LOGLEVEL: info also shows every start and stop.
RUN_HOME ?= $(CURDIR)
SUPERVISOR_LOGLEVEL ?= warn
run: build
	@case "$(abspath $(RUN_HOME))" in *[!A-Za-z0-9_./-]*) \
	  echo "RUN_HOME: only letters, digits and _ . / - please" >&2; exit 2;; esac
	mkdir -p $(abspath $(RUN_HOME))/var/run $(abspath $(RUN_HOME))/var/data
	@# supervisord drops to the invoking user (as root it says so, not CRIT).
	printf '[supervisord]\nuser=%s\n' "$$(id -un)" > $(abspath $(RUN_HOME))/var/run/supervisord-user.conf
	$(BUILD)/bin/hamustro-ctl supervisord-conf --directory $(abspath $(RUN_HOME)) \
	  > $(abspath $(RUN_HOME))/var/run/programs.conf.new \
	  || { rm -f $(abspath $(RUN_HOME))/var/run/programs.conf.new; exit 1; }
	mv $(abspath $(RUN_HOME))/var/run/programs.conf.new $(abspath $(RUN_HOME))/var/run/programs.conf
	HAMUSTRO_RUN_HOME=$(abspath $(RUN_HOME)) HAMUSTRO_SUPERVISOR_LOGLEVEL=$(SUPERVISOR_LOGLEVEL) \
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
FUZZ_TARGETS = collection config push_line scan cloud_reply request ingest_stats wire
.PHONY: fuzz
fuzz: deps
	@command -v clang >/dev/null || { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq clang; }
	CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHAMUSTRO_FUZZ=ON
	cmake --build build-fuzz -j $(JOBS) --target $(addprefix fuzz_,$(FUZZ_TARGETS))
	tests/fuzz/run.sh build-fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# The build dependencies of the package alone (debian/control's
# Build-Depends, through apt-get build-dep): what `make install` and `make
# deb` need on a server, without the test tools of `make deps`.
.PHONY: build-deps install deb
build-deps:
	@dpkg-checkbuilddeps >/dev/null 2>&1 || { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get build-dep -y -qq ./; }

# `make install [PREFIX=/usr/local] [DESTDIR=...]`: programs, the packaged
# config under etc/hamustro/, systemd units and their generator, man pages,
# docs (deploy/CMakeLists.txt). Built in its own directory, $(BUILD)/install,
# without the tests, so the prefix of $(BUILD) is left alone.
PREFIX ?= /usr/local
install: build-deps
	cmake -S . -B $(BUILD)/install -DHAMUSTRO_TESTS=OFF -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	cmake --build $(BUILD)/install -j $(JOBS)
	DESTDIR=$(if $(DESTDIR),$(abspath $(DESTDIR))) cmake --install $(BUILD)/install

# `make deb`: the Debian package, built by dpkg-buildpackage (debian/) from a
# copy of the committed-or-not tree in $(BUILD)/deb, so the checkout stays
# clean; the .deb lands in $(BUILD)/deb/.
deb: build-deps
	deploy/make-deb.sh $(BUILD)/deb

clean:
	rm -rf $(BUILD) build-asan build-fuzz
