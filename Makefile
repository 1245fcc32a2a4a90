# Thin wrapper over CMake. `make` builds, `make test` runs the whole suite,
# `make run` starts cpmd on its embedded defaults, `make bench` measures,
# `make demo` walks through store-and-forward (docs: README "Demo").
# `make install [PREFIX=/usr/local] [DESTDIR=/tmp/stage]`: bin/cpm, sbin/cpmd, the man pages,
# lib/systemd/system/cpmd.service and the example config (/etc/cpmd with PREFIX=/usr).
BUILD ?= build
JOBS  ?= $(shell nproc)
PREFIX ?= /usr/local

.PHONY: all build test unit e2e asan fuzz bench run demo clean install
all: build

build:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD) -j$(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

unit: build
	cd $(BUILD) && ctest --output-on-failure -L unit

asan:
	CC=clang cmake -S . -B build-asan -DCPM_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
	cmake --build build-asan -j$(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j$(JOBS)

fuzz:
	CC=clang cmake -S . -B build-fuzz -DCPM_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build build-fuzz -j$(JOBS)
	scripts/run-fuzzers.sh build-fuzz $${FUZZ_SECONDS:-30}

bench: build
	bench/run.sh $(BUILD)

install: build
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix "$(PREFIX)"

run: build
	$(BUILD)/cpmd

demo: build
	scripts/demo.sh $(BUILD)

clean:
	rm -rf build build-asan build-fuzz build-clang
