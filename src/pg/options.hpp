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
    int sketch_bits;  // -1: automatic (core::Sketcher::default_bits)
};

// Registers the reloption kind and the GUCs; called once from _PG_init.
void define_options();

bytea *parse_options(Datum reloptions, bool validate);

// The options of an index relation (defaults when none were given).
IndexOptions index_options(Relation index);

// annoy.search_k: candidates a scan examines per batch; -1 = automatic.
extern int search_k_setting;

// The automatic budget for an index of n items: max(1000, 8 * sqrt(n))
// items scored, or with sketches (which pick the items worth scoring)
// max(250, 3 * sqrt(n)).  It grows slowly with the index, as the candidates
// a forest must examine for a given recall do.  Measured at default options
// (1,000 queries), recall@10 without sketches about 0.996 on Fashion-MNIST
// (60,000 x 784, budget 1,960) and 0.95 on GloVe (100,000 x 100, angular,
// budget 2,530), the harder set; with sketches 0.99 (budget 735) and 0.97
// (budget 949) at two to three times the queries/s.
inline double automatic_search_k(double n, bool sketched)
{
    double root = std::sqrt(std::max(n, 1.0));
    return sketched ? std::max(250.0, 3.0 * root) : std::max(1000.0, 8.0 * root);
}

// annoy.sketch_factor: with sketches, a scan ranks this many candidates per
// item it scores exactly (1: sketches unused).  Default 6: at equal recall
// 4 to 8 were within 10% of each other on Fashion-MNIST (4 best) and GloVe
// (8 best).
extern int sketch_factor_setting;

// The sketch_bits option resolved for an index of this space: explicit bits
// are honoured at any dimension for the metrics sketches support (an error,
// 22023, for the others, or when a leaf of leaf_size entries with them would
// not fit a page); automatic bits are 128 where sketches help, fewer when a
// leaf of leaf_size entries with 128 would not fit, none below 32.
uint32 resolved_sketch_bits(Relation index, const IndexOptions &opts, const core::Space &space);

// The most entries a leaf with sketches of sketch_bytes each can hold.
int max_leaf_entries(int sketch_bytes);

// The budget a scan uses, for an index of about n items.
inline double effective_search_k(double n, bool sketched)
{
    return search_k_setting > 0 ? double(search_k_setting) : automatic_search_k(n, sketched);
}

}  // namespace annoy::pg
