# annoy: approximate nearest-neighbour index access method for PostgreSQL.
#
#   make && make install        build and install into the Postgres found by pg_config
#   make test                   set up a fresh machine, then run every test (README)
#   make demo                   Fashion-MNIST demo on a private throwaway cluster
#   make bench                  the benchmark tool (test/bench)
#   make bench-anchors          the core next to Annoy, hnswlib and FAISS, in memory (test/bench/anchors)
#   make installcheck           pg_regress suite against the server the PG* variables point at
#   make installcheck-tap       TAP suite (test/t) against the installed build (own throwaway clusters)
#   make installcheck-examples  client examples (test/examples) against the server of the PG* variables
#   make dist                   the PGXN source package annoy-<version>.zip (git archive of HEAD)

EXTENSION = annoy
MODULE_big = annoy
DATA = sql/annoy--0.1.0.sql sql/annoy--0.2.0.sql sql/annoy--0.1.0--0.2.0.sql
# The companion extension for pgvector's types (needs pgvector only at
# CREATE EXTENSION time, never to build).
DATA += annoy_vector/annoy_vector.control annoy_vector/annoy_vector--0.2.0.sql
PGFILEDESC = "annoy - approximate nearest neighbour index"

CORE_SRCS := $(sort $(wildcard src/core/*.cpp))
PG_SRCS := $(sort $(wildcard src/pg/*.cpp))
OBJS = $(CORE_SRCS:.cpp=.o) $(PG_SRCS:.cpp=.o)
ANNOY_HEADERS := $(wildcard src/core/*.hpp src/pg/*.hpp)

# pg_regress suite: sql/<name>.sql against expected/<name>.out
REGRESS = distance_functions index_build index_scan index_errors index_bounded_build index_sketch extension_upgrade index_robust \
	bit_operator_sharing float8_vectors filtered_scan filtered_plans
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

bench-anchors:
	test/bench/anchors/run_anchors.sh

# The TAP suite against the build installed into the Postgres of pg_config, as
# the current (non-root) user: each test starts its own throwaway clusters, so
# no server is needed.  test/run_tests.sh runs the same suite as root.
PROVE ?= prove
PROVE_FLAGS ?=
installcheck-tap:
	@if [ "$$(id -u)" = 0 ]; then echo "installcheck-tap: run it as a non-root user (initdb refuses root; make test runs the suite as postgres)" >&2; exit 1; fi
	cd test && PATH="$(bindir):$$PATH" PG_REGRESS="$(top_builddir)/src/test/regress/pg_regress" \
	  TESTDIR="$(CURDIR)/test" ANNOY_DATA_CACHE="$${ANNOY_DATA_CACHE:-/var/tmp/annoy-data}" \
	  $(PROVE) -I "$(top_srcdir)/src/test/perl" --ext .pl $(PROVE_FLAGS) $(if $(PROVE_TESTS),$(PROVE_TESTS),t/)

# The client examples against the server the PG* variables point at (or a
# throwaway cluster of their own when PGHOST is unset).
installcheck-examples:
	test/examples/run_examples.sh $(EXAMPLES)

# The PGXN distribution: exactly the committed tree of HEAD (less what
# .gitattributes marks export-ignore), under the directory annoy-<version>/.
DIST_VERSION := $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" $(dir $(firstword $(MAKEFILE_LIST)))annoy.control)
DIST_DIR ?= .
dist:
	git archive --format=zip --prefix=$(EXTENSION)-$(DIST_VERSION)/ -o $(DIST_DIR)/$(EXTENSION)-$(DIST_VERSION).zip HEAD
	@echo "$(DIST_DIR)/$(EXTENSION)-$(DIST_VERSION).zip"

.PHONY: test demo bench bench-anchors check-core-purity installcheck-tap installcheck-examples dist
