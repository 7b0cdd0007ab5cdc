# Etude's front door: `make demo` installs what is missing, builds in Release and composes a piece
# into out/; `make test` does the same install and build, then runs every test. `make build` stops
# after the build (the program is build/etude); `make fuzz` builds the fuzzers.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
CTEST_FLAGS ?=

.PHONY: all setup configure build test demo fuzz bench clean
all: build

setup:
	@bash scripts/setup.sh

configure: setup
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD) -j$(JOBS) -- --no-print-directory

# `make demo`: compose one piece in the Chopin style of the shipped base model (models/piano) into
# out/ (MIDI, WAV, PDF + PNG score).
demo: build
	@bash scripts/demo.sh $(BUILD)

test: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS) --timeout 1500 $(CTEST_FLAGS)

fuzz: setup
	cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ -DETUDE_FUZZ=ON >/dev/null
	cmake --build build-fuzz -j$(JOBS) --target fuzz_midi_reader
	mkdir -p fuzz-out/corpus
	./build-fuzz/fuzz_midi_reader -max_total_time=$${FUZZ_SECONDS:-60} -max_len=4096 fuzz-out/corpus fuzz/seeds

bench: build
	bash bench/run_all.sh

clean:
	rm -rf $(BUILD) build-fuzz fuzz-out
