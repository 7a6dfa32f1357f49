# nograd — build, test, demo, bench.
#   make                  build/nograd (BLAS=blis by default; BLAS=openblas or BLAS=none)
#   make test             build and run the doctest suite
#   make bench            speed and memory against this machine's peak (~5 min; nograd bench)
#   make bench-full       the same with d24, d48, T=1024 and every backend (~15 min)
#   make PORTABLE=1       generic x86-64 code (no -march=native)
#   make SANITIZE=1       AddressSanitizer + UndefinedBehaviorSanitizer
#   make MPI=1            built with mpicxx (Open MPI): `mpirun -np K build/nograd train ...` (see README)
# Each combination of options builds into its own folder; build/nograd is the default one.

BLAS     ?= blis
PORTABLE ?= 0
SANITIZE ?= 0
MPI      ?= 0
CXX      ?= g++

ifeq ($(PORTABLE),1)
  ARCH_FLAGS := -march=x86-64 -mtune=generic
else
  ARCH_FLAGS := -march=native
endif
# -ffp-contract=fast lets the compiler fuse a*b+c into one FMA (ISO C++ mode turns it off);
# -fno-math-errno lets sqrt loops vectorise (nograd never reads errno after math calls).
# No -ffast-math: it changes tanh/exp results and NaN handling, which the tests rely on.
CXXFLAGS := -std=c++20 -O3 $(ARCH_FLAGS) -ffp-contract=fast -fno-math-errno -fopenmp -Wall -Wextra -Wno-unused-parameter -MMD -MP -Isrc
LDFLAGS  := -fopenmp
LDLIBS   := -lpcre2-8

VARIANT := $(BLAS)$(if $(filter 1,$(PORTABLE)),-portable)$(if $(filter 1,$(MPI)),-mpi)$(if $(filter 1,$(SANITIZE)),-sanitize)
ifeq ($(SANITIZE),1)
  # No recovery: an undefined-behaviour report ends the process, so a test cannot pass over it.
  CXXFLAGS := $(filter-out -O3,$(CXXFLAGS)) -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
  LDFLAGS  += -fsanitize=address,undefined
endif

ifeq ($(BLAS),blis)
  # Debian's BLIS ships no pkg-config file and the generic cblas.h is OpenBLAS's: name the variant.
  BLIS_DIR := /usr/lib/x86_64-linux-gnu/blis-openmp
  CXXFLAGS += -DNOGRAD_BLAS_BLIS -isystem /usr/include/x86_64-linux-gnu/blis-openmp
  LDLIBS   += -L$(BLIS_DIR) -Wl,-rpath,$(BLIS_DIR) -lblis
  DEP_GROUPS := build
else ifeq ($(BLAS),openblas)
  CXXFLAGS += -DNOGRAD_BLAS_OPENBLAS -isystem /usr/include/x86_64-linux-gnu/openblas-pthread
  LDLIBS   += -L/usr/lib/x86_64-linux-gnu/openblas-pthread -lopenblas
  DEP_GROUPS := build openblas
else ifeq ($(BLAS),none)
  CXXFLAGS += -DNOGRAD_BLAS_NONE
  DEP_GROUPS := build
else
  $(error BLAS must be blis, openblas or none, not '$(BLAS)')
endif

# mpicxx is g++ with Open MPI's include and link flags; NOGRAD_MPI compiles util/comm.cpp's MPI half.
ifeq ($(MPI),1)
  CXX := mpicxx
  CXXFLAGS += -DNOGRAD_MPI
  DEP_GROUPS += mpi
endif

OBJ_DIR   := build/$(VARIANT)
MAIN_SRC  := src/cli/main.cpp
LIB_SRC   := $(filter-out $(MAIN_SRC),$(wildcard src/*/*.cpp))
TEST_SRC  := $(wildcard tests/*.cpp)
LIB_OBJ   := $(LIB_SRC:%.cpp=$(OBJ_DIR)/%.o)
MAIN_OBJ  := $(MAIN_SRC:%.cpp=$(OBJ_DIR)/%.o)
TEST_OBJ  := $(TEST_SRC:%.cpp=$(OBJ_DIR)/%.o)
BIN       := $(OBJ_DIR)/nograd
TEST_BIN  := $(OBJ_DIR)/nograd_tests
DEPS_OK   := build/.deps-$(subst $() ,-,$(DEP_GROUPS))

.PHONY: all test test-kernels demo bench bench-full clean deps
all: build/nograd

deps: $(DEPS_OK)
$(DEPS_OK): tools/install-deps.sh
	@tools/install-deps.sh $(DEP_GROUPS)
	@mkdir -p build && touch $@

$(OBJ_DIR)/%.o: %.cpp | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c $< -o $@

# The git commit is compiled into one small file, rebuilt every time so logs name the right commit.
GIT_COMMIT := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)$(shell git diff --quiet HEAD 2>/dev/null || echo -dirty)
$(OBJ_DIR)/src/util/version.o: CXXFLAGS += -DNOGRAD_GIT_COMMIT='"$(GIT_COMMIT)"' -DNOGRAD_BUILD='"$(VARIANT)"'
$(OBJ_DIR)/src/util/version.o: FORCE
FORCE:

$(BIN): $(LIB_OBJ) $(MAIN_OBJ)
	$(CXX) $(LDFLAGS) $^ -o $@ $(LDLIBS)

# build/nograd always points at the most recently built variant's binary.
build/nograd: $(BIN)
	ln -sf $(VARIANT)/nograd $@

# The CLI tests run the real binary of the same variant.
$(TEST_OBJ): CXXFLAGS += -DNOGRAD_BINARY='"$(BIN)"'

$(TEST_BIN): $(LIB_OBJ) $(TEST_OBJ) $(BIN)
	$(CXX) $(LDFLAGS) $(LIB_OBJ) $(TEST_OBJ) -o $@ $(LDLIBS)

# The tokenizer tests read the GPT-2 vocabulary, fetched once (checksummed) into data/cache as a setup
# step, like the packages; no test itself touches the network.
VOCAB := data/cache/gpt2-vocab/encoder.json
$(VOCAB): data/fetch-vocab.sh
	@tools/install-deps.sh fetch
	@data/fetch-vocab.sh

# Sanitizer reports exit with their own statuses, which no CLI test expects (ASan's default, 1, is nograd's
# runtime-error status and would let a test that expects a clean error pass over a memory error).
TEST_ENV := OMP_NUM_THREADS=2 ASAN_OPTIONS=exitcode=99 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:exitcode=98

test: $(TEST_BIN) build/nograd $(VOCAB)
	$(TEST_ENV) $(TEST_BIN) $(TEST_ARGS)

# The kernel tests alone (CI runs them again on the portable, BLAS-free build).
test-kernels: $(TEST_BIN)
	$(TEST_ENV) $(TEST_BIN) -ts=kernels,optim $(TEST_ARGS)

# The main job: pretrain, then fine-tune with every method (see tools/demo.sh).
demo:
	@tools/install-deps.sh build
	@tools/demo.sh

# Benchmarks (see README, Performance): a table on stdout, every number in build/bench.json. Timings are
# only meaningful on a quiet machine; BENCH_ARGS passes flags through (e.g. BENCH_ARGS="--rounds 9").
bench: build/nograd
	$(BIN) bench $(BENCH_ARGS)

# --full compares the backends too: their binaries are built beside this one (build/<variant>/nograd).
bench-full: build/nograd
	$(MAKE) BLAS=openblas build/openblas/nograd
	$(MAKE) BLAS=none build/none/nograd
	$(BIN) bench --full $(BENCH_ARGS)

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(MAIN_OBJ:.o=.d) $(TEST_OBJ:.o=.d)

# ---------------------------------------------------------------------------------------------------------
# Fuzzing (libFuzzer + clang, ASan + UBSan, BLAS=none): one target per parser, tests/fuzz/fuzz_<name>.cpp,
# seeds committed in tests/fuzz/corpus/<name>/ (only read; new inputs go to build/fuzz/corpus/<name>/).
#   make fuzz          every target for FUZZ_SECONDS (default 60) each
#   make fuzz-ci       every target for FUZZ_CI_SECONDS (default 20) each: the CI run
#   make fuzz-seeds    rewrite the seed corpora with nograd's own writers (after a format change)
# A crash stops the run and leaves the input in build/fuzz/crashes/<name>-crash-...; replay it with
# build/fuzz/fuzz_<name> FILE, then add a regression test to tests/test_reliability.cpp.
FUZZ_CXX        ?= clang++
FUZZ_SECONDS    ?= 60
FUZZ_CI_SECONDS ?= 20
FUZZ_DIR        := build/fuzz
FUZZ_CXXFLAGS   := -std=c++20 -O1 -g -fopenmp -fno-omit-frame-pointer -fsanitize=address,undefined \
                   -fno-sanitize-recover=undefined -DNOGRAD_BLAS_NONE -Isrc -Itests/fuzz -MMD -MP
FUZZ_TARGETS    := $(patsubst tests/fuzz/fuzz_%.cpp,%,$(wildcard tests/fuzz/fuzz_*.cpp))
FUZZ_LIB_OBJ    := $(LIB_SRC:%.cpp=$(FUZZ_DIR)/obj/%.o)
FUZZ_BINS       := $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz_%)
FUZZ_DEPS_OK    := build/.deps-build-fuzz

.PHONY: fuzz fuzz-ci fuzz-build fuzz-seeds
$(FUZZ_DEPS_OK): tools/install-deps.sh
	@tools/install-deps.sh build fuzz
	@mkdir -p build && touch $@

# The library objects carry coverage instrumentation; only the members a target needs get linked.
$(FUZZ_DIR)/obj/%.o: %.cpp | $(FUZZ_DEPS_OK)
	@mkdir -p $(dir $@)
	$(FUZZ_CXX) $(FUZZ_CXXFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_DIR)/libnograd.a: $(FUZZ_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.cpp $(FUZZ_DIR)/libnograd.a
	$(FUZZ_CXX) $(FUZZ_CXXFLAGS) -fsanitize=fuzzer $< $(FUZZ_DIR)/libnograd.a -o $@ -lpcre2-8

fuzz-build: $(FUZZ_BINS)

# $(1): seconds per target. One target at a time on one thread; the log of each run is in build/fuzz/.
define run_fuzzers
	@mkdir -p $(FUZZ_DIR)/crashes
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_DIR)/corpus/$$t; \
	  if OMP_NUM_THREADS=1 $(FUZZ_DIR)/fuzz_$$t -max_total_time=$(1) -max_len=16384 -timeout=10 \
	       -rss_limit_mb=2048 -malloc_limit_mb=256 -print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/crashes/$$t- \
	       $(FUZZ_DIR)/corpus/$$t tests/fuzz/corpus/$$t > $(FUZZ_DIR)/$$t.log 2>&1; then \
	    echo "fuzz $$t: $$(grep -h 'stat::number_of_executed_units' $(FUZZ_DIR)/$$t.log | sed 's/.*: *//') runs in $(1) s, no crash"; \
	  else \
	    tail -n 60 $(FUZZ_DIR)/$$t.log; echo "fuzz $$t: FAILED (input saved in $(FUZZ_DIR)/crashes/)"; exit 1; \
	  fi; \
	done
endef

fuzz: $(FUZZ_BINS)
	$(call run_fuzzers,$(FUZZ_SECONDS))

fuzz-ci: $(FUZZ_BINS)
	$(call run_fuzzers,$(FUZZ_CI_SECONDS))

$(FUZZ_DIR)/make_seeds: tests/fuzz/make_seeds.cpp $(FUZZ_DIR)/libnograd.a
	$(FUZZ_CXX) $(FUZZ_CXXFLAGS) $< $(FUZZ_DIR)/libnograd.a -o $@ -lpcre2-8

fuzz-seeds: $(FUZZ_DIR)/make_seeds
	$(FUZZ_DIR)/make_seeds

-include $(FUZZ_LIB_OBJ:.o=.d) $(FUZZ_BINS:=.d)
