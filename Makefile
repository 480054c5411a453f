# annoy: approximate nearest-neighbour index access method for PostgreSQL.
#
#   make && make install      build and install into the Postgres found by pg_config
#   make test                 set up a fresh machine, then run every test (README)
#   make demo                 Fashion-MNIST demo on a private throwaway cluster
#   make bench                the benchmark tool (test/bench)

EXTENSION = annoy
MODULE_big = annoy
DATA = sql/annoy--0.1.0.sql sql/annoy--0.2.0.sql sql/annoy--0.1.0--0.2.0.sql
PGFILEDESC = "annoy - approximate nearest neighbour index"

CORE_SRCS := $(sort $(wildcard src/core/*.cpp))
PG_SRCS := $(sort $(wildcard src/pg/*.cpp))
OBJS = $(CORE_SRCS:.cpp=.o) $(PG_SRCS:.cpp=.o)
ANNOY_HEADERS := $(wildcard src/core/*.hpp src/pg/*.hpp)

# pg_regress suite: sql/<name>.sql against expected/<name>.out
REGRESS = distance_functions index_build index_scan index_errors index_bounded_build index_sketch index_robust
REGRESS_OPTS = --inputdir=. --outputdir=test/regress_out

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)

# C++17 for our sources.  The server headers are included as system headers:
# they use `register`, which C++17 rejects (clang) or warns about (g++).
PG_CXXFLAGS += -std=c++17 -Wextra -Wshadow -Wno-missing-field-initializers -fno-math-errno
PG_CPPFLAGS += -isystem $(shell $(PG_CONFIG) --includedir-server) -Isrc/core
SHLIB_LINK += -lstdc++ -pthread

include $(PGXS)

# PGXS also compiles every source to LLVM bitcode with clang for the JIT
# inliner; give it the same language standard.  Kernels use function-level
# target attributes, which the bitcode step accepts (per-file -mavx2 would not).
BITCODE_CXXFLAGS += -std=c++17 -isystem $(shell $(PG_CONFIG) --includedir-server) -Isrc/core

$(OBJS): $(ANNOY_HEADERS)

# The core must stay free of Postgres headers (see src/core/common.hpp).
check-core-purity:
	@! grep -nE '#include *[<"](postgres|fmgr|access/|utils/|storage/|catalog/|nodes/|executor/|miscadmin)' src/core/*.hpp src/core/*.cpp \
	  || (echo "src/core includes a PostgreSQL header" >&2; false)

test:
	test/run_tests.sh

demo:
	test/demo.sh

bench:
	test/bench/run_bench.sh

.PHONY: test demo bench check-core-purity
