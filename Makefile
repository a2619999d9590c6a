# Thin wrapper over CMake and CTest. `make demo` and `make test` are the two commands a new user
# needs on a fresh Debian 12 machine; both install what is missing first.
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)

CXX_SOURCES = $(shell git ls-files '*.cc' '*.h' 2>/dev/null)

.PHONY: all build bootstrap configure test demo format format-check clean
.PHONY: test-asan test-tsan fuzz image proto-snapshot bench

all: build

bootstrap:
	scripts/bootstrap.sh

$(BUILD_DIR)/CMakeCache.txt:
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

configure: $(BUILD_DIR)/CMakeCache.txt

build: configure
	cmake --build $(BUILD_DIR) -j$(JOBS)

test: bootstrap
	$(MAKE) build
	$(MAKE) format-check
	ctest --test-dir $(BUILD_DIR) -j$(JOBS) --output-on-failure

demo: bootstrap
	$(MAKE) build
	scripts/demo.sh $(BUILD_DIR)

format:
	clang-format -i $(CXX_SOURCES)

format-check:
	@clang-format --dry-run -Werror $(CXX_SOURCES) && echo "format-check: $(words $(CXX_SOURCES)) files formatted"

clean:
	rm -rf $(BUILD_DIR)

# Records proto/ as the contract `make test` holds it to (tests/contract/). Only for a deliberate,
# announced breaking change: compatible additions pass the check without it.
proto-snapshot:
	/usr/bin/python3 tests/contract/proto_contract.py update --protoc protoc --proto-root proto \
	  --snapshot tests/contract/agentauth_v1.snapshot.json

# Sanitizer runs, each in its own build tree (cmake/Sanitizers.cmake). Every finding fails the
# run: ASan stops at the first error, UBSan is made fatal, LeakSanitizer runs at exit. The
# suppression files hold only what happens inside Debian's uninstrumented libraries, each entry
# with its reason.
SANITIZER_DIR = $(CURDIR)/tests/sanitizers
ASAN_ENV = ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:strict_string_checks=1:$\
detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1 \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  LSAN_OPTIONS=suppressions=$(SANITIZER_DIR)/lsan.supp:print_suppressions=0
TSAN_ENV = TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:$\
suppressions=$(SANITIZER_DIR)/tsan.supp:print_suppressions=0

test-asan: bootstrap
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DAGENTAUTH_SANITIZE=address
	cmake --build build-asan -j$(JOBS)
	$(ASAN_ENV) ctest --test-dir build-asan -j$(JOBS) --output-on-failure

# The server's unit tests and the in-process integration tests: the ones where our threads meet.
test-tsan: bootstrap
	cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DAGENTAUTH_SANITIZE=thread
	cmake --build build-tsan -j$(JOBS) --target agentauth_server_unit_tests agentauth_integration_tests
	$(TSAN_ENV) ctest --test-dir build-tsan -j$(JOBS) --output-on-failure \
	  -R '^server\.|^integration\.ServiceIntegrationTest'

# libFuzzer with clang (cmake/Sanitizers.cmake, tests/fuzz/): builds every target with ASan and
# UBSan, runs each for FUZZ_SECONDS, and fails listing the inputs when any of them found something.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= token_response discovery config jwt

fuzz: bootstrap
	CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DAGENTAUTH_FUZZ=ON
	cmake --build build-fuzz -j$(JOBS) --target $(addprefix agentauth_fuzz_,$(FUZZ_TARGETS))
	scripts/fuzz.sh build-fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# The container image of deploy/Dockerfile, built with podman (no Docker engine, no registry):
# the base image debian:bookworm-slim is made once with debootstrap. tests/container/ builds and
# runs it in `make test` too; AGENTAUTH_SKIP_IMAGE=1 skips that for quick local runs.
IMAGE ?= localhost/agentauth:dev

image: bootstrap
	scripts/container-base-image.sh
	scripts/podman.sh build --pull=never --network=host -f deploy/Dockerfile -t $(IMAGE) .

# The benchmark suite (tests/bench/, docs/benchmarks.md) from its own Release tree: the six
# scenarios of issue 8 against agentauthd and a no-op gRPC server, one table on stdout and the
# figures in bench-results.json. BENCH_ARGS passes flags, e.g. BENCH_ARGS="--scenarios 1,3".
BENCH_DIR ?= build-bench
BENCH_ARGS ?=

bench: bootstrap
	cmake -S . -B $(BENCH_DIR) -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BENCH_DIR) -j$(JOBS) --target agentauthd agentauth_bench_noop_server agentauth_bench
	$(BENCH_DIR)/tests/bench/agentauth_bench --output bench-results.json $(BENCH_ARGS)
