# simple_cache: PGXS build of the C++17 extension module, plus the project's test and demo targets.

EXTENSION   = simple_cache
MODULE_big  = simple_cache
DATA        = sql/simple_cache--1.0.sql
PGFILEDESC  = "simple_cache - shared key/value cache and free-space map in DSA"

SOURCES     = $(sort $(wildcard src/pg/*.cpp src/cache/*.cpp src/fsm/*.cpp src/sql/*.cpp))
OBJS        = $(SOURCES:.cpp=.o)
PROJECT_HEADERS = $(wildcard include/simple_cache/*/*.hpp)

REGRESS      = $(basename $(notdir $(sort $(wildcard sql/[0-9]*.sql))))
REGRESS_OPTS = --inputdir=. --load-extension=simple_cache
ISOLATION    = $(basename $(notdir $(sort $(wildcard test/isolation/specs/*.spec))))
ISOLATION_OPTS = --inputdir=test/isolation --outputdir=output_iso --load-extension=simple_cache

PG_CONFIG ?= pg_config
PG_INCLUDE_SERVER := $(shell $(PG_CONFIG) --includedir-server)

# PostgreSQL's own headers are system headers for us: -Wall -Wextra apply to project files only.
PG_CPPFLAGS  = -Iinclude -isystem $(PG_INCLUDE_SERVER)
PG_CXXFLAGS  = -std=c++17 -Wall -Wextra -fno-omit-frame-pointer
SHLIB_LINK  += -lstdc++

# No LLVM bitcode: the JIT gains nothing here and it would need clang on every machine.
override with_llvm = no

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

$(OBJS): $(PROJECT_HEADERS)
