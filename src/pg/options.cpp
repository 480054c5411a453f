// Storage options and GUCs.
#include "options.hpp"

extern "C" {
#include "utils/guc.h"
}

namespace annoy::pg {

int search_k_setting = -1;

static relopt_kind options_kind;

void define_options()
{
    options_kind = add_reloption_kind();
    add_int_reloption(options_kind, "n_trees", "Number of random-projection trees in the forest", kDefaultTrees, 1,
                      kMaxTrees, AccessExclusiveLock);
    add_int_reloption(options_kind, "leaf_size", "Most items a leaf holds before it is split", kDefaultLeafSize,
                      kMinLeafSize, kMaxLeafSize, AccessExclusiveLock);
    add_int_reloption(options_kind, "seed", "Random seed: the same data and seed give the same trees", kDefaultSeed, 0,
                      INT_MAX, AccessExclusiveLock);

    DefineCustomIntVariable("annoy.search_k",
                            "Candidate items an annoy index scan examines before returning rows; -1 = automatic.",
                            "Larger values raise recall and cost time.  When a query needs more rows than the first "
                            "batch holds, the scan continues with further batches of the same size.",
                            &search_k_setting, -1, -1, INT_MAX, PGC_USERSET, 0, nullptr, nullptr, nullptr);
    MarkGUCPrefixReserved("annoy");
}

bytea *parse_options(Datum reloptions, bool validate)
{
    static const relopt_parse_elt table[] = {
        {"n_trees", RELOPT_TYPE_INT, offsetof(IndexOptions, n_trees)},
        {"leaf_size", RELOPT_TYPE_INT, offsetof(IndexOptions, leaf_size)},
        {"seed", RELOPT_TYPE_INT, offsetof(IndexOptions, seed)},
    };
    return static_cast<bytea *>(
        build_reloptions(reloptions, validate, options_kind, sizeof(IndexOptions), table, lengthof(table)));
}

IndexOptions index_options(Relation index)
{
    IndexOptions opts{};
    opts.n_trees = kDefaultTrees;
    opts.leaf_size = kDefaultLeafSize;
    opts.seed = kDefaultSeed;
    if (index->rd_options != nullptr)
        opts = *reinterpret_cast<IndexOptions *>(index->rd_options);
    return opts;
}

}  // namespace annoy::pg
