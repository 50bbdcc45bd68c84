# simple_cache: PGXS build of the C++17 extension module, plus the project's test and demo targets.

EXTENSION   = simple_cache
MODULE_big  = simple_cache
DATA        = sql/simple_cache--1.0.sql
PGFILEDESC  = "simple_cache - shared key/value cache and free-space map in DSA"

# The source tree: this folder, or VPATH in a build from another folder (pg_buildext builds
# each PostgreSQL version in debian's build-NN/ with "make -f ../Makefile VPATH=..").
SOURCE_TREE := $(if $(VPATH),$(VPATH),$(patsubst %/,%,$(dir $(firstword $(MAKEFILE_LIST)))))
in_tree     = $(patsubst $(SOURCE_TREE)/%,%,$(wildcard $(addprefix $(SOURCE_TREE)/,$(1))))

# The core and pg layers form one static library (BASE_LIB), linked whole into the module and
# linked by the benchmark extension (bench/ext); the features, the SQL entry points and the C
# API are the module's own objects. The fuzzers and unit tests build src/core alone, without
# PostgreSQL. test/check-layers.sh checks the layering rules on every build.
BASE_SOURCES = $(sort $(call in_tree,src/core/*.cpp src/pg/*.cpp))
BASE_OBJS   = $(BASE_SOURCES:.cpp=.o)
BASE_LIB    = libsimple_cache_base.a
SOURCES     = $(sort $(call in_tree,src/cache/*.cpp src/fsm/*.cpp src/sql/*.cpp src/api/*.cpp))
OBJS        = $(SOURCES:.cpp=.o)
PROJECT_HEADERS = $(call in_tree,include/simple_cache/*/*.hpp include/simple_cache/*/*/*.hpp src/*/*.hpp) \
                  include/simple_cache/api/simple_cache_api.h

# The C API's public header, for other extensions: installed into
# $(includedir_server)/extension/simple_cache/, included as
# "extension/simple_cache/simple_cache_api.h".
HEADERS     = include/simple_cache/api/simple_cache_api.h

REGRESS      = $(basename $(notdir $(sort $(call in_tree,sql/[0-9]*.sql))))
REGRESS_OPTS = --inputdir=. --load-extension=simple_cache
ISOLATION    = $(basename $(notdir $(sort $(call in_tree,test/isolation/specs/*.spec))))
ISOLATION_OPTS = --inputdir=test/isolation --outputdir=output_iso --load-extension=simple_cache

PG_CONFIG ?= pg_config
PG_INCLUDE_SERVER := $(shell $(PG_CONFIG) --includedir-server)

# PostgreSQL's own headers are system headers for us: -Wall -Wextra apply to project files only.
PG_CPPFLAGS  = -I$(SOURCE_TREE)/include -isystem $(PG_INCLUDE_SERVER)
PG_CXXFLAGS  = -std=c++17 -Wall -Wextra -fno-omit-frame-pointer
SHLIB_LINK  += -Wl,--whole-archive $(BASE_LIB) -Wl,--no-whole-archive -lstdc++

# No LLVM bitcode: the JIT gains nothing here and it would need clang on every machine.
override with_llvm = no

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

$(OBJS) $(BASE_OBJS): $(PROJECT_HEADERS)

$(BASE_LIB): $(BASE_OBJS)
	rm -f $@
	$(AR) crs $@ $(BASE_OBJS)

# The module links the library; the layering is checked before anything is linked.
$(shlib): $(BASE_LIB) | check-layers

.PHONY: check-layers
check-layers:
	bash $(SOURCE_TREE)/test/check-layers.sh

EXTRA_CLEAN += $(BASE_LIB) $(BASE_OBJS)

# In a build from another folder the objects' folders must exist there.
ifneq ($(SOURCE_TREE),.)
$(shell mkdir -p $(sort $(dir $(OBJS) $(BASE_OBJS))))
endif

# ---------------------------------------------------------------------------------------------
# Demo, tests and dependencies (scripts under test/; build output under build/).
#   make demo       install deps, build, install, run test/demo.sql on a throwaway cluster
#   make test       install deps, build, install, run every test suite (test/run-all.sh) on
#                   the main PostgreSQL (that of pg_config) and the server suites on every other
#                   major found; make test PG=main tests the main one only, PG=17 one major
#   make deps       install missing Debian packages only
#   make unit       core unit tests with ASan + UBSan (no PostgreSQL needed)
#   make unit-tsan  core unit tests with ThreadSanitizer
# make installcheck (from PGXS) needs a running server: use "make test", or run it inside
# test/cluster.sh run -- make installcheck
#   make deb        Debian packages postgresql-NN-simple-cache into build/deb/ (test/build-deb.sh)
.PHONY: demo test deps unit unit-tsan deb

demo:
	bash test/demo.sh

# The pg_regress files and isolation specs, for test/run-all.sh.
.PHONY: print-regress print-isolation
print-regress:
	@echo $(REGRESS)

print-isolation:
	@echo $(ISOLATION)

test:
	PG=$(PG) TEST_JOBS=$(TEST_JOBS) bash test/run-all.sh

deps:
	bash test/install-deps.sh

deb:
	bash test/build-deb.sh

unit:
	$(MAKE) -f test/unit/Makefile SAN=asan run

unit-tsan:
	$(MAKE) -f test/unit/Makefile SAN=tsan run

EXTRA_CLEAN += build

# Core DHT timings on the heap policy (context figures; see bench/dht_core_bench.cpp).
.PHONY: bench-core
bench-core:
	mkdir -p build
	$(CXX) -std=c++17 -O2 -g -Wall -Wextra -Iinclude bench/dht_core_bench.cpp -o build/dht_core_bench -pthread
	build/dht_core_bench

# The benchmark suite (bench/run.sh; method and latest figures in bench/README.md). Builds and
# installs the extension and the test-only simple_cache_bench extension (bench/ext/, never
# installed by "make install"), runs throwaway clusters, writes bench/results/.
#   make bench           full run (under 20 minutes)
#   make bench QUICK=1   short run (under 2 minutes), results in bench/results/quick/
#   make bench-profile   perf profiles of the cases behind missed targets (bench/profile.sh)
.PHONY: bench bench-profile
bench:
	QUICK=$(QUICK) bash bench/run.sh

bench-profile:
	bash bench/profile.sh

# Section 8 of make bench alone: the cost of routing get/put through a Citus coordinator
# (bench/citus.sh; needs Citus installed, see test/install-citus.sh).
.PHONY: bench-citus
bench-citus:
	bash bench/citus.sh

# Reliability: long runs of the crash, load, fuzz and sqlsmith tests with a summary of the
# figures reached (test/stress.sh; "make test" runs their quick versions).
#   make stress                  16 clients x 300 s, 5 crash rounds, 600 s per fuzz target
#                                (one job per CPU), 600 s of sqlsmith, the known-bug checks
#   make stress STRESS_CLIENTS=32 STRESS_SECONDS=3600 STRESS_CRASH_ROUNDS=20 \
#               STRESS_FUZZ_SECONDS=3600 STRESS_SQLSMITH_SECONDS=1800 STRESS_VALGRIND=1
#   make fuzz [FUZZ_SECONDS=60]  the libFuzzer targets only (test/fuzz/run.sh)
.PHONY: stress fuzz
stress:
	STRESS_CLIENTS=$(STRESS_CLIENTS) STRESS_SECONDS=$(STRESS_SECONDS) \
	STRESS_CRASH_ROUNDS=$(STRESS_CRASH_ROUNDS) STRESS_FUZZ_SECONDS=$(STRESS_FUZZ_SECONDS) \
	STRESS_FUZZ_JOBS=$(STRESS_FUZZ_JOBS) STRESS_SQLSMITH_SECONDS=$(STRESS_SQLSMITH_SECONDS) \
	STRESS_STEPS="$(STRESS_STEPS)" STRESS_VALGRIND=$(STRESS_VALGRIND) bash test/stress.sh

fuzz:
	bash test/fuzz/run.sh $(FUZZ_SECONDS)
