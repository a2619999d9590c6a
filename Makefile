# Thin wrapper over CMake and CTest. `make demo` and `make test` are the two commands a new user
# needs on a fresh Debian 12 machine; both install what is missing first.
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)

CXX_SOURCES = $(shell git ls-files '*.cc' '*.h' 2>/dev/null)

.PHONY: all build bootstrap configure test demo format format-check clean

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
