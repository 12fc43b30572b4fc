# Souk: convenience wrapper around CMake, in the way neovim's Makefile wraps its build.
#   make test   install Debian build dependencies if missing, build, run every test under ctest
#   make run    same set-up, build a catalog from apt's own lists, index it and serve/search it
#   make asan   build and test under ASan+UBSan (system malloc)
#   make coverage  build instrumented, run every test, print line and branch coverage per folder
#   make format / make format-check
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
DATA ?= data/debian-storefront
CMAKE_FLAGS ?=

.PHONY: all deps build test asan coverage run format format-check clean

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

# Line and branch coverage of the whole suite, per folder (gcovr); the HTML report is
# build-cov/coverage/index.html. scripts/coverage.sh prints the summary CI shows.
coverage: deps
	cmake -S . -B build-cov -DSOUK_COVERAGE=ON -DCMAKE_BUILD_TYPE=Debug $(CMAKE_FLAGS)
	cmake --build build-cov -j $(JOBS)
	@sh scripts/test-data.sh build-cov
	find build-cov -name '*.gcda' -delete
	cd build-cov && ctest --output-on-failure -j $(JOBS)
	sh scripts/coverage.sh build-cov

run: build
	sh scripts/run.sh $(BUILD) $(DATA)

format:
	clang-format -i $$(git ls-files '*.c' '*.h' '*.cc')

format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h' '*.cc')

clean:
	rm -rf $(BUILD) build-asan build-cov
