# nograd — build, test, demo, bench.
#   make                  build/nograd (BLAS=blis by default; BLAS=openblas or BLAS=none)
#   make test             build and run the doctest suite
#   make PORTABLE=1       generic x86-64 code (no -march=native)
#   make SANITIZE=1       AddressSanitizer + UndefinedBehaviorSanitizer
# Each combination of options builds into its own folder; build/nograd is the default one.

BLAS     ?= blis
PORTABLE ?= 0
SANITIZE ?= 0
CXX      ?= g++

ifeq ($(PORTABLE),1)
  ARCH_FLAGS := -march=x86-64 -mtune=generic
else
  ARCH_FLAGS := -march=native
endif
# -ffp-contract=fast lets the compiler fuse a*b+c into one FMA (ISO C++ mode turns it off).
# No -ffast-math: it changes tanh/exp results and NaN handling, which the tests rely on.
CXXFLAGS := -std=c++20 -O3 $(ARCH_FLAGS) -ffp-contract=fast -fopenmp -Wall -Wextra -Wno-unused-parameter -MMD -MP -Isrc
LDFLAGS  := -fopenmp
LDLIBS   := -lpcre2-8

VARIANT := $(BLAS)$(if $(filter 1,$(PORTABLE)),-portable)$(if $(filter 1,$(SANITIZE)),-sanitize)
ifeq ($(SANITIZE),1)
  CXXFLAGS := $(filter-out -O3,$(CXXFLAGS)) -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer
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

.PHONY: all test test-kernels demo bench clean deps
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

$(TEST_BIN): $(LIB_OBJ) $(TEST_OBJ)
	$(CXX) $(LDFLAGS) $^ -o $@ $(LDLIBS)

# Tests that need the GPT-2 vocabulary fetch it (checksummed) into data/cache first; no test touches the network.
test: $(TEST_BIN) build/nograd
	OMP_NUM_THREADS=2 $(TEST_BIN) $(TEST_ARGS)

# The kernel tests alone (CI runs them again on the portable, BLAS-free build).
test-kernels: $(TEST_BIN)
	OMP_NUM_THREADS=2 $(TEST_BIN) -ts=kernels $(TEST_ARGS)

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(MAIN_OBJ:.o=.d) $(TEST_OBJ:.o=.d)
