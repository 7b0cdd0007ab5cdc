# Etude's front door: `make demo` installs what is missing, builds in Release and composes a piece
# into out/; `make test` does the same install and build, then runs every test. `make build` stops
# after the build (the program is build/etude); `make fuzz` builds and runs the fuzzers;
# `make test-sanitize` runs the parsers' C++ tests under ASan + UBSan.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
CTEST_FLAGS ?=

.PHONY: all setup configure build test test-sanitize demo fuzz bench clean
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

# `make fuzz`: builds the libFuzzer targets (clang, ASan + UBSan; fuzz/), writes their seeds from the
# shared corpus and runs each for FUZZ_SECONDS (default 60), one after another (fuzz/run_fuzzers.sh).
FUZZERS = fuzz_midi_reader fuzz_tokenizers fuzz_model_file fuzz_ngram_index fuzz_corpus_cache fuzz_serve
fuzz: setup
	cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ -DETUDE_FUZZ=ON >/dev/null
	cmake --build build-fuzz -j$(JOBS) --target make_fuzz_seeds $(FUZZERS)
	./build-fuzz/make_fuzz_seeds fuzz-out/seeds
	bash fuzz/run_fuzzers.sh $(FUZZERS)

# `make test-sanitize`: the C++ tests of the layers that read files and bytes (MIDI, tokens, corpus
# cache, n-gram index, model files) built under ASan + UBSan in build-san, and run. The mpirun tests
# (label mpi: their rank programs are not among these targets) run in `make test`.
SANITIZE_LAYERS ?= base midi music tokenize corpus nn
test-sanitize: setup
	cmake -S . -B build-san -DCMAKE_BUILD_TYPE=Release -DETUDE_SANITIZE=ON -DETUDE_CUDA=OFF \
	  "-DETUDE_TEST_LAYERS=$(subst $(eval) ,;,$(SANITIZE_LAYERS))" >/dev/null
	cmake --build build-san -j$(JOBS) --target $(addprefix test_,$(SANITIZE_LAYERS)) -- --no-print-directory
	cd build-san && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j$(JOBS) --timeout 3000 -LE 'python|web|mpi' $(CTEST_FLAGS)

bench: build
	bash bench/run_all.sh

clean:
	rm -rf $(BUILD) build-fuzz build-san fuzz-out
