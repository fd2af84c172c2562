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
	@bash scripts/bench-cpu.sh $(BUILD)/bin/molt

# molt, Open MPI and every library they load, for a GPU box with only the driver and CUDA:
# dist-portable/molt-portable.tar.xz (README: "Running where dependencies are not installed").
portable: build
	@bash scripts/make-portable.sh $(BUILD) dist-portable

clean:
	rm -rf build build-cpu build-debug
