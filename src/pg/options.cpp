// Storage options and GUCs.
#include "sketch.hpp"

#include "options.hpp"

#include "filter.hpp"

extern "C" {
#include "utils/guc.h"
}

namespace annoy::pg {

int search_k_setting = -1;
int sketch_factor_setting = -1;

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
    add_int_reloption(options_kind, "sketch_bits",
                      "Bits of the sketch each leaf keeps per item (0 = none, -1 = automatic)", -1, -1,
                      int(core::kMaxSketchBits), AccessExclusiveLock);

    DefineCustomIntVariable("annoy.search_k",
                            "Candidate items an annoy index scan examines before returning rows; -1 = automatic.",
                            "Larger values raise recall and cost time.  When a query needs more rows than the first "
                            "batch holds, the scan continues with further batches of the same size.",
                            &search_k_setting, -1, -1, INT_MAX, PGC_USERSET, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("annoy.sketch_factor",
                            "Candidates an annoy index scan ranks by their sketches per item it scores exactly.",
                            "Only for indexes with sketches.  The scan gathers sketch_factor x search_k candidates, "
                            "then computes the exact distance of the search_k most promising; 1 scores every "
                            "candidate gathered; -1 = automatic (12 when the sketches have a bit per dimension, "
                            "else 6).",
                            &sketch_factor_setting, -1, -1, 100, PGC_USERSET, 0, nullptr, nullptr, nullptr);
    MarkGUCPrefixReserved("annoy");
}

bytea *parse_options(Datum reloptions, bool validate)
{
    static const relopt_parse_elt table[] = {
        {"n_trees", RELOPT_TYPE_INT, offsetof(IndexOptions, n_trees)},
        {"leaf_size", RELOPT_TYPE_INT, offsetof(IndexOptions, leaf_size)},
        {"seed", RELOPT_TYPE_INT, offsetof(IndexOptions, seed)},
        {"sketch_bits", RELOPT_TYPE_INT, offsetof(IndexOptions, sketch_bits)},
    };
    auto *opts = static_cast<bytea *>(
        build_reloptions(reloptions, validate, options_kind, sizeof(IndexOptions), table, lengthof(table)));
    if (validate && opts != nullptr) {
        const IndexOptions &o = *reinterpret_cast<IndexOptions *>(opts);
        int bits = o.sketch_bits;
        if (bits > 0 && bits % 8 != 0)
            ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                            errmsg("sketch_bits must be a multiple of 8, 0 (no sketches) or -1 (automatic)")));
        // The smallest sketch these bits make (Euclidean, Angular; Dot's is
        // 4 bytes larger, checked at build time).
        if (bits > 0) {
            int sketch_bytes = int(core::Sketcher::sketch_bytes(core::Space{core::Metric::Euclidean, 1}, uint32(bits)));
            if (o.leaf_size > max_leaf_entries(sketch_bytes))
                ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                                errmsg("leaf_size %d is too large for sketch_bits %d: a leaf must fit in one page, "
                                       "which holds at most %d entries with sketches of %d bits",
                                       o.leaf_size, bits, max_leaf_entries(sketch_bytes), bits),
                                errhint("Lower leaf_size or sketch_bits, or use sketch_bits = -1 (automatic).")));
        }
    }
    return opts;
}

int max_leaf_entries(int sketch_bytes, int payload_bytes)
{
    return int((kMaxTupleSize - sizeof(LeafTupleHeader)) /
               (sizeof(TupleRef) + size_t(sketch_bytes) + size_t(payload_bytes)));
}

void check_leaf_room(Relation index, int leaf_size, int sketch_bytes, int payload_bytes)
{
    if (leaf_size > max_leaf_entries(sketch_bytes, payload_bytes))
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("index \"%s\": leaf_size %d is too large: a leaf must fit in one page, which holds at "
                               "most %d entries of %d bytes here",
                               RelationGetRelationName(index), leaf_size, max_leaf_entries(sketch_bytes, payload_bytes),
                               int(sizeof(TupleRef)) + sketch_bytes + payload_bytes),
                        errdetail("Each entry holds a 6-byte reference, %d bytes of sketch and %d of filter values.",
                                  sketch_bytes, payload_bytes),
                        errhint("Lower leaf_size, or index fewer filter columns.")));
}

uint32 resolved_sketch_bits(Relation index, const IndexOptions &opts, const core::Space &space)
{
    if (opts.sketch_bits == 0)
        return 0;
    const int payload = index_columns(index).payload_bytes;
    if (opts.sketch_bits > 0) {
        uint32 bits = uint32(opts.sketch_bits);
        if (!core::Sketcher::supported(space))
            ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                            errmsg("index \"%s\": sketch_bits is not supported for this operator class",
                                   RelationGetRelationName(index)),
                            errdetail("Sketches estimate inner products: euclidean_ops, angular_ops and dot_ops "
                                      "have them, manhattan_ops and hamming_ops do not."),
                            errhint("Use sketch_bits = 0 or -1 (automatic).")));
        int sketch_bytes = int(core::Sketcher::sketch_bytes(space, bits));
        if (opts.leaf_size > max_leaf_entries(sketch_bytes, payload))
            ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                            errmsg("index \"%s\": leaf_size %d is too large for sketch_bits %d: a leaf must fit in "
                                   "one page, which holds at most %d entries with sketches of %d bits here",
                                   RelationGetRelationName(index), opts.leaf_size, opts.sketch_bits,
                                   max_leaf_entries(sketch_bytes, payload), opts.sketch_bits)));
        return bits;
    }
    // Automatic: the default where sketches help, as many bits as still let
    // a leaf of leaf_size entries fit a page (a shorter sketch ranks
    // candidates less well; below 32 bits it is not worth its bytes).
    uint32 bits = core::Sketcher::default_bits(space);
    while (bits >= 8 && opts.leaf_size > max_leaf_entries(int(core::Sketcher::sketch_bytes(space, bits)), payload))
        bits -= 8;
    return bits >= 32 ? bits : 0;
}

IndexOptions index_options(Relation index)
{
    IndexOptions opts{};
    opts.n_trees = kDefaultTrees;
    opts.leaf_size = kDefaultLeafSize;
    opts.seed = kDefaultSeed;
    opts.sketch_bits = -1;
    if (index->rd_options != nullptr)
        opts = *reinterpret_cast<IndexOptions *>(index->rd_options);
    return opts;
}

}  // namespace annoy::pg
