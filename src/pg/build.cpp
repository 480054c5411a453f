// ambuild / ambuildempty: load every vector from the heap, build the forest
// in the core, write it to pages, WAL-log the result.
//
// While the vectors fit in maintenance_work_mem the whole forest is built in
// memory (on several threads) and written with the item tuples in the order
// tree 0's leaves list them (the vectors one leaf refers to share pages),
// then each tree's nodes in post-order.  When they do not fit, the build
// continues with bounded memory (build_spill.cpp).
#include "forest.hpp"
#include "search_state.hpp"
#include "sketch.hpp"

#include "am.hpp"
#include "build_state.hpp"
#include "build_write.hpp"
#include "guard.hpp"
#include "index_sketch.hpp"
#include "index_vector.hpp"

extern "C" {
#include "access/xloginsert.h"
#include "pgstat.h"
#include "utils/backend_progress.h"
}

namespace annoy::pg {

namespace {

// Grows the in-memory arrays, or switches to the bounded-memory build when
// the vectors (and the forest built over them) would not fit.
void grow(BuildState &st, const core::BuildParams &params)
{
    size_t cap = st.cap ? st.cap * 2 : 1024;
    // Sketches (at most this many bytes a row) are made after loading.
    size_t per_row = st.vector_bytes + sizeof(ItemPointerData) + sizeof(TupleRef) + size_t(st.payload_bytes) +
                     core::Sketcher::sketch_bytes(st.space, core::kMaxSketchBits);
    size_t needed = cap * per_row + core::forest_memory_estimate(st.space, cap, params);
    if (needed > st.mem_limit) {
        // Grow only as far as the budget allows, then spill.
        size_t fit = st.mem_limit / (per_row + (needed - cap * per_row) / cap + 1);
        if (fit <= st.n) {
            spill(st);
            return;
        }
        cap = fit;
    }
    if (st.vectors == nullptr) {
        st.vectors = static_cast<char *>(palloc_extended(cap * st.vector_bytes, MCXT_ALLOC_HUGE));
        st.heap_tids = static_cast<ItemPointerData *>(palloc_extended(cap * sizeof(ItemPointerData), MCXT_ALLOC_HUGE));
    } else {
        st.vectors = static_cast<char *>(repalloc_huge(st.vectors, cap * st.vector_bytes));
        st.heap_tids = static_cast<ItemPointerData *>(repalloc_huge(st.heap_tids, cap * sizeof(ItemPointerData)));
    }
    grow_payloads(st, cap);
    st.cap = cap;
}

}  // namespace

void grow_payloads(BuildState &st, size_t cap)
{
    if (st.payload_bytes == 0)
        return;
    size_t bytes = cap * size_t(st.payload_bytes);
    st.payloads = static_cast<uint8 *>(st.payloads == nullptr ? palloc_extended(bytes, MCXT_ALLOC_HUGE)
                                                              : repalloc_huge(st.payloads, bytes));
}

namespace {

struct LoadContext {
    BuildState *st;
    core::BuildParams params;
    MemoryContext row_cxt;  // reset after every row
};

void build_callback(Relation index, ItemPointer tid, Datum *values, bool *isnull, bool, void *arg)
{
    auto &lc = *static_cast<LoadContext *>(arg);
    BuildState &st = *lc.st;
    if (isnull[0])
        return;  // NULL vectors are not indexed

    MemoryContext old = MemoryContextSwitchTo(lc.row_cxt);
    RawVector v = index_vector(index, st.space.metric, values[0]);
    if (st.payload_bytes > 0)
        encode_payload(*st.columns, values + 1, isnull + 1, st.row_payload);
    MemoryContextSwitchTo(old);

    if (!st.dim_known) {
        st.space.dim = uint32(v.dim);
        st.vector_bytes = st.space.vector_bytes();
        st.dim_known = true;
    } else {
        check_index_dimension(index, st.space.metric, int(st.space.dim), v.dim);
    }
    if (!st.spilled && st.n == st.cap)
        grow(st, lc.params);
    if (st.spilled) {
        spill_add(st, v.data, tid);
    } else {
        memcpy(st.vectors + st.n * st.vector_bytes, v.data, st.vector_bytes);
        st.heap_tids[st.n] = *tid;
        if (st.payload_bytes > 0)
            memcpy(st.payloads + st.n * size_t(st.payload_bytes), st.row_payload, size_t(st.payload_bytes));
        st.n++;
    }
    MemoryContextReset(lc.row_cxt);

    if (st.n % 1024 == 0)
        pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, int64(st.n));
}

MetaPageData *new_meta(const IndexOptions &opts, core::Metric metric, int payload_bytes)
{
    MetaPageData *meta = alloc_meta();
    meta->magic = kMagic;
    meta->version = kLayoutVersion;
    meta->metric = uint8(metric);
    meta->n_trees = uint16(opts.n_trees);
    meta->leaf_size = uint32(opts.leaf_size);
    meta->seed = uint32(opts.seed);
    ItemPointerSetInvalid(&meta->center);
    meta->payload_bytes = uint8(payload_bytes);
    return meta;
}

// The whole forest in memory, then pages.
void build_in_memory(BuildState &st, const IndexOptions &opts, const core::BuildParams &params, MetaPageData *meta,
                     MemoryContext cxt)
{
    auto *slot = ContextOwned<core::FlatForest>::create(cxt);
    const core::FlatForest &f = build_into(slot, st.space, st.vectors, st.n, params);

    pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, kPhaseWrite);
    pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL, int64(st.n));
    pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, 0);
    Buffer meta_buf = ReadBuffer(st.index, P_NEW);  // block 0, filled in last
    Assert(BufferGetBlockNumber(meta_buf) == kMetaBlock);
    ReleaseBuffer(meta_buf);

    // Sketches: the center, then every item's sketch.
    uint8 *sketches = nullptr;
    int sketch_bytes = 0;
    float *center = nullptr;
    if (st.sketch_bits > 0) {
        center = sketch_center(st.space, st.vectors, st.n);
        const core::Sketcher *sk = build_sketcher(cxt, st.space, st.sketch_bits, uint32(opts.seed), center);
        sketches = sketch_items(*sk, st.vectors, st.n);
        sketch_bytes = int(sk->sketch_bytes());
    }

    PageWriter w = PageWriter::start(st.index, MAIN_FORKNUM);
    // Item pages whose leftover space could hold a leaf are remembered, and
    // tree nodes fill them first.
    check_leaf_room(st.index, opts.leaf_size, sketch_bytes, st.payload_bytes);
    Size leaf_size = leaf_tuple_size(opts.leaf_size, sketch_bytes, st.payload_bytes);
    w.record_gaps(MAXALIGN(leaf_size));
    TupleRef *item_refs = write_items(w, st.space, f, f.roots[0], st.vectors, st.heap_tids, st.n);
    w.finish();
    w.min_gap = MAXALIGN(std::min(leaf_size, split_tuple_size(st.space)));
    if (center != nullptr)
        meta->center = write_center(w, center, st.space.dim);
    meta->sketch_bits = uint16(st.sketch_bits);
    meta->dot_max_norm = f.dot_max_norm;
    for (int t = 0; t < opts.n_trees; t++)
        meta->roots[t] = write_tree(
            w, f, f.roots[t], uint16(t),
            TreeLeaves::items(item_refs, opts.leaf_size, sketches, sketch_bytes, st.payloads, st.payload_bytes));
    w.finish();
}

}  // namespace

IndexBuildResult *build(Relation heap, Relation index, IndexInfo *info)
{
    if (RelationGetNumberOfBlocks(index) != 0)
        elog(ERROR, "annoy: index \"%s\" already contains data", RelationGetRelationName(index));

    IndexOptions opts = index_options(index);
    MemoryContext build_cxt = AllocSetContextCreate(CurrentMemoryContext, "annoy build", ALLOCSET_DEFAULT_SIZES);
    MemoryContext old = MemoryContextSwitchTo(build_cxt);

    BuildState st{};
    st.index = index;
    st.columns = copy_index_columns(index);
    st.space.metric = st.columns->metric;
    st.payload_bytes = st.columns->payload_bytes;
    st.row_payload = static_cast<uint8 *>(palloc0(size_t(std::max(st.payload_bytes, 1))));
    st.mem_limit = size_t(maintenance_work_mem) * 1024;
    st.leaf_size = opts.leaf_size;
    st.seed = uint64(opts.seed);

    core::BuildParams params;
    params.n_trees = uint32_t(opts.n_trees);
    params.leaf_size = uint32_t(opts.leaf_size);
    params.seed = uint64_t(opts.seed);
    // Trees are independent: build them on this backend's thread plus one
    // thread per parallel maintenance worker allowed.  The threads run only
    // core code (no Postgres calls, no palloc); this thread alone services
    // interrupts while they run.
    params.threads = unsigned(1 + std::max(0, max_parallel_maintenance_workers));
    params.cancel = interrupt_check();

    // 1. Load.
    pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, kPhaseLoad);
    LoadContext lc{&st, params, AllocSetContextCreate(build_cxt, "annoy build row", ALLOCSET_SMALL_SIZES)};
    double reltuples = table_index_build_scan(heap, index, info, true, true, build_callback, &lc, nullptr);

    // 2. Trees, 3. pages.
    MetaPageData *meta = new_meta(opts, st.space.metric, st.payload_bytes);
    meta->dim = st.dim_known ? st.space.dim : 0;
    // Sketches need the dimension: an index built empty has none (REINDEX
    // once it has rows gives it some).
    st.sketch_bits = 0;
    if (st.dim_known && st.n > 0) {
        st.sketch_bits = resolved_sketch_bits(index, opts, st.space);
    } else if (opts.sketch_bits > 0) {
        // Refuse what no data could make possible; otherwise say why the
        // requested sketches are not there.
        resolved_sketch_bits(index, opts, core::Space{st.space.metric, 1});
        ereport(NOTICE,
                (errmsg("index \"%s\" is built on an empty table and has no sketches", RelationGetRelationName(index)),
                 errhint("REINDEX it once the table has rows to build its sketches.")));
    }
    meta->n_items = st.n;
    pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, kPhaseTrees);
    if (st.spilled) {
        pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL, opts.n_trees);
        build_spilled_trees(st, opts.n_trees, meta);
    } else {
        build_in_memory(st, opts, params, meta, build_cxt);
    }
    meta->counted_pages = RelationGetNumberOfBlocks(index);
    write_meta_block(index, MAIN_FORKNUM, *meta, false);

    if (RelationNeedsWAL(index))
        log_newpage_range(index, MAIN_FORKNUM, 0, RelationGetNumberOfBlocks(index), true);

    auto *result = static_cast<IndexBuildResult *>(MemoryContextAlloc(old, sizeof(IndexBuildResult)));
    result->heap_tuples = reltuples;
    result->index_tuples = double(st.n);
    MemoryContextSwitchTo(old);
    MemoryContextDelete(build_cxt);
    return result;
}

void build_empty(Relation index)
{
    IndexOptions opts = index_options(index);
    const IndexColumns &cols = index_columns(index);
    MetaPageData *meta = new_meta(opts, cols.metric, cols.payload_bytes);

    // Block 0 for the meta page, then one empty leaf per tree.
    Buffer buf = ReadBufferExtended(index, INIT_FORKNUM, P_NEW, RBM_NORMAL, nullptr);
    ReleaseBuffer(buf);
    check_leaf_room(index, opts.leaf_size, 0, cols.payload_bytes);
    Size size = leaf_tuple_size(opts.leaf_size, 0, cols.payload_bytes);
    auto *leaf = static_cast<LeafTupleHeader *>(palloc0(size));
    leaf->kind = kLeafTuple;
    leaf->capacity = uint16(opts.leaf_size);
    PageWriter w = PageWriter::start(index, INIT_FORKNUM);
    for (int t = 0; t < opts.n_trees; t++) {
        leaf->tree = uint16(t);
        meta->roots[t] = w.add(leaf, size);
    }
    w.finish();
    write_meta_block(index, INIT_FORKNUM, *meta, true);
    pfree(leaf);
    pfree(meta);
}

}  // namespace annoy::pg
