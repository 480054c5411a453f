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
// a forest must examine for a given recall do, and aims for recall@10 of
// about 0.97-0.99, never below 0.95 on the sets measured.  With sketches, at
// n_trees 5 and 10 (make bench, 1,000 queries): Fashion-MNIST (60,000 x 784,
// budget 735) 0.996; GloVe-100k (100-d, angular, budget 949) 0.992 and 0.984;
// GloVe's full 331,479 words (budget 1,727) 0.957 and 0.970: the hardest
// set, where the candidates needed grow faster than sqrt(n).
inline double automatic_search_k(double n, bool sketched)
{
    double root = std::sqrt(std::max(n, 1.0));
    return sketched ? std::max(250.0, 3.0 * root) : std::max(1000.0, 8.0 * root);
}

// annoy.sketch_factor: with sketches, a scan ranks this many candidates per
// item it scores exactly (1: sketches unused; -1 or 0: automatic, see
// effective_sketch_factor).
extern int sketch_factor_setting;

// The sketch_bits option resolved for an index of this space: explicit bits
// are honoured at any dimension for the metrics sketches support (an error,
// 22023, for the others, or when a leaf of leaf_size entries with them would
// not fit a page); automatic bits are 128 where sketches help, fewer when a
// leaf of leaf_size entries with 128 would not fit, none below 32.
uint32 resolved_sketch_bits(Relation index, const IndexOptions &opts, const core::Space &space);

// The most entries a leaf with sketches of sketch_bytes each (and filter
// payloads of payload_bytes) can hold.
int max_leaf_entries(int sketch_bytes, int payload_bytes = 0);

// Errors (22023) unless a leaf of leaf_size entries with these sketches and
// filter payloads fits in a page.
void check_leaf_room(Relation index, int leaf_size, int sketch_bytes, int payload_bytes);

// The sketch factor a scan uses on an index whose sketches have `bits` bits
// for vectors of `dim` dimensions.  Automatic: 12 when the code has a bit
// for every dimension (its only error is the 1-bit quantisation's, of order
// 1 / sqrt(bits)), 6 when it has fewer (a random projection to fewer
// dimensions adds an error of its own, and more candidates then bring more
// noise than neighbours).  Measured at equal recall 0.95-0.99: GloVe-100k
// (100-d, 128 bits) 12-16 scored 30-40% fewer vectors than 6 for the same
// queries/s or better; Fashion-MNIST (784-d, 128 bits) 6 beat 10 and 16.
inline int effective_sketch_factor(uint32 bits, uint32 dim)
{
    if (sketch_factor_setting > 0)
        return sketch_factor_setting;
    return bits >= dim ? 12 : 6;
}

// The budget a scan uses, for an index of about n items.
inline double effective_search_k(double n, bool sketched)
{
    return search_k_setting > 0 ? double(search_k_setting) : automatic_search_k(n, sketched);
}

}  // namespace annoy::pg
