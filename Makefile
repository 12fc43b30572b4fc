# Souk: convenience wrapper around CMake, in the way neovim's Makefile wraps its build.
#   make test   install Debian build dependencies if missing, build, run every test under ctest
#   make run    same set-up, build a catalog from apt's own lists, index it and serve/search it
#   make asan   build and test under ASan+UBSan (system malloc)
#   make format / make format-check
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
DATA ?= data/debian
CMAKE_FLAGS ?=

.PHONY: all deps build test asan run format format-check clean

all: build

deps:
	@sh scripts/install-deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

test: build
	@sh scripts/test-data.sh $(BUILD)
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

asan: deps
	cmake -S . -B build-asan -DSOUK_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)
	cmake --build build-asan -j $(JOBS)
	@sh scripts/test-data.sh build-asan
	cd build-asan && ctest --output-on-failure -j $(JOBS)

run: build
	sh scripts/run.sh $(BUILD) $(DATA)

format:
	clang-format -i $$(git ls-files '*.c' '*.h' '*.cc')

format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h' '*.cc')

clean:
	rm -rf $(BUILD) build-asan
