# A thin wrapper over CMake presets and scripts/. The two commands a user needs:
#   make demo   install what is missing, build, fetch + tokenize the Brown corpus, train
#   make test   install what is missing, build, run the whole suite
PRESET ?= default
JOBS ?= $(shell nproc)
BUILD := build$(if $(filter default,$(PRESET)),,-$(PRESET))

.PHONY: all deps build test demo clean portable bench

all: build

deps:
	@bash scripts/install-deps.sh

build: deps
	@cmake --preset $(PRESET) >/dev/null
	@cmake --build --preset $(PRESET) -j $(JOBS)

test: build
	@ctest --preset $(PRESET) -j $(JOBS) --timeout 900

demo: build
	@bash scripts/demo.sh $(BUILD)/bin/molt

bench: build
	@bash scripts/bench.sh $(BUILD)/bin/molt

clean:
	rm -rf build build-cpu build-debug
