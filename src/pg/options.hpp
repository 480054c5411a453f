// Index storage options (WITH (...)) and the annoy.* settings.
#pragma once

#include "page.hpp"

namespace annoy::pg {

// Defaults are documented (with the measurements behind them) in README.md.
constexpr int kDefaultTrees = 10;
constexpr int kDefaultLeafSize = 64;
constexpr int kMinLeafSize = 2;
constexpr int kMaxLeafSize = 1000;  // a full leaf must fit in one page
constexpr int kDefaultSeed = 0;

struct IndexOptions {
    int32 vl_len_;  // varlena header (do not touch)
    int n_trees;
    int leaf_size;
    int seed;
};

// Registers the reloption kind and the GUCs; called once from _PG_init.
void define_options();

bytea *parse_options(Datum reloptions, bool validate);

// The options of an index relation (defaults when none were given).
IndexOptions index_options(Relation index);

// annoy.search_k: candidates a scan examines per batch; -1 = automatic.
extern int search_k_setting;

}  // namespace annoy::pg
