// The bounded-memory build, used when the vectors do not fit in
// maintenance_work_mem.
//
// Loading writes item tuples straight to pages and keeps a reservoir sample
// of the vectors in memory.  Then, tree by tree:
//   1. the tree's top levels are built from the sample alone, down to
//      "cells" expected to hold about half a memory budget of vectors each;
//   2. one pass over the item tuples (in page order) routes every item to
//      its cell through those top levels;
//   3. each cell's vectors are read back and its subtree is built in memory
//      with the same split rule, then written; the top is written last,
//      pointing at the cell subtrees.
// Memory stays near maintenance_work_mem whatever the table size; the
// vectors are read about twice per tree instead of once per tree level.
#include "rng.hpp"
#include "forest.hpp"
#include "search_state.hpp"
#include "sketch.hpp"

#include "build_state.hpp"
#include "build_write.hpp"
#include "guard.hpp"
#include "index_sketch.hpp"
#include "item_chain.hpp"
#include "node_access.hpp"
#include "options.hpp"

extern "C" {
#include "commands/progress.h"
#include "pgstat.h"
#include "utils/backend_progress.h"
}

namespace annoy::pg {

namespace {

[[noreturn]] void too_little_memory(const BuildState &st)
{
    ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                    errmsg("maintenance_work_mem (%zu kB) is too small to build annoy index \"%s\"",
                           st.mem_limit / 1024, RelationGetRelationName(st.index)),
                    errdetail("The build needs room for at least %d vectors of %zu bytes and %d bytes per row.",
                              st.leaf_size * 8, st.vector_bytes, 6 + st.payload_bytes)));
}

void append_ref(BuildState &st, const TupleRef &ref)
{
    if (st.n == st.refs_cap) {
        st.refs_cap = std::max<size_t>(st.refs_cap * 2, 1024);
        if (st.refs_cap * (sizeof(TupleRef) + size_t(st.payload_bytes)) + st.sample_cap * st.vector_bytes >
            st.mem_limit)
            too_little_memory(st);
        st.item_refs = static_cast<TupleRef *>(repalloc_huge(st.item_refs, st.refs_cap * sizeof(TupleRef)));
        grow_payloads(st, st.refs_cap);
    }
    st.item_refs[st.n] = ref;
}

void sample_vector(BuildState &st, size_t item, const void *vec)
{
    if (st.sample_n < st.sample_cap) {
        memcpy(st.sample + st.sample_n++ * st.vector_bytes, vec, st.vector_bytes);
        return;
    }
    uint64 j = core::splitmix64(&st.rng) % (item + 1);
    if (j < st.sample_cap)
        memcpy(st.sample + j * st.vector_bytes, vec, st.vector_bytes);
}

void write_item(BuildState &st, const void *vec, ItemPointer heap_tid)
{
    WriterSink sink(st.items);
    append_ref(st, write_item(sink, st.space, st.item_buf, vec, *heap_tid));
    if (st.space.metric == core::Metric::Dot)
        st.max_norm_sq = std::max(st.max_norm_sq, core::squared_norm(st.space, vec));
    sample_vector(st, st.n, vec);
    st.n++;
}

// Reads item `ref`'s vector into dst, reusing the pin of *buf when the
// item is on the same page (items are visited in page order).
void read_vector(const BuildState &st, const TupleRef &ref, Buffer *buf, char *dst)
{
    BlockNumber blkno = ItemPointerGetBlockNumber(&ref);
    if (!BufferIsValid(*buf) || BufferGetBlockNumber(*buf) != blkno) {
        if (BufferIsValid(*buf))
            ReleaseBuffer(*buf);
        *buf = ReadBuffer(st.index, blkno);
    }
    LockBuffer(*buf, BUFFER_LOCK_SHARE);
    IndexShape shape{st.space, 1, 0};  // the build's own items: only their size matters here
    ItemTupleHeader *item = read_item(st.index, BufferGetPage(*buf), ref, shape);
    if (item == nullptr)
        elog(ERROR, "annoy: item tuple (%u,%u) vanished during the build", blkno, ItemPointerGetOffsetNumber(&ref));
    Size head = item_tuple_size(st.space) - sizeof(ItemTupleHeader);
    memcpy(dst, item_vector(item), head);
    ItemPointerData tid = item->heap_tid;
    TupleRef next = item->next;
    LockBuffer(*buf, BUFFER_LOCK_UNLOCK);
    if (head < st.vector_bytes && !read_chunks(st.index, shape, next, tid, dst, head, st.vector_bytes))
        elog(ERROR, "annoy build: the chunks of item (%u,%u) vanished", blkno, ItemPointerGetOffsetNumber(&ref));
}

// The cell (top-level leaf) a vector falls in.
uint32 route(const core::Space &space, const core::FlatForest &top, const void *vec, float extra, size_t item)
{
    static_assert(noexcept(core::margin(space, top.plane(0), vec, extra)), "called outside guarded()");
    core::NodeRef r = top.roots[0];
    while (!core::is_leaf(r)) {
        uint32 idx = core::node_index(r);
        // The tie of an item on the plane mixes in the node, so items no
        // hyperplane divides spread over both sides at every level.
        r = top.splits[idx]
                .child[core::side_of(core::margin(space, top.plane(idx), vec, extra), core::mix_seed(item, idx))];
    }
    return core::node_index(r);
}

}  // namespace

void spill(BuildState &st)
{
    size_t budget = st.mem_limit;
    ereport(
        NOTICE,
        (errmsg("annoy index \"%s\" does not fit in maintenance_work_mem, building it with bounded memory",
                RelationGetRelationName(st.index)),
         errdetail("The vectors filled maintenance_work_mem after %zu rows; a larger setting builds faster.", st.n)));
    st.spilled = true;
    // A quarter of the budget for the sample (at least a few leaves' worth).
    st.sample_cap = std::max<size_t>(size_t(st.leaf_size) * 8, budget / 4 / st.vector_bytes);
    if (st.sample_cap * st.vector_bytes > budget / 2)
        too_little_memory(st);
    st.sample = static_cast<char *>(palloc_extended(st.sample_cap * st.vector_bytes, MCXT_ALLOC_HUGE));
    st.refs_cap = std::max<size_t>(st.n * 2, 1024);
    st.item_refs = static_cast<TupleRef *>(palloc_extended(st.refs_cap * sizeof(TupleRef), MCXT_ALLOC_HUGE));
    grow_payloads(st, st.refs_cap);  // the loaded rows' payloads stay where they are
    st.rng = st.seed ^ 0x5DEECE66Dull;
    st.item_buf = static_cast<ItemTupleHeader *>(palloc0(item_tuple_size(st.space)));

    // Block 0 is the meta page, written at the end.
    Buffer meta = ReadBuffer(st.index, P_NEW);
    Assert(BufferGetBlockNumber(meta) == kMetaBlock);
    ReleaseBuffer(meta);
    st.items = PageWriter::start(st.index, MAIN_FORKNUM);
    // Leftover space on item pages is filled with tree nodes later.
    st.items.record_gaps(MAXALIGN(leaf_tuple_size(st.leaf_size, 0, st.payload_bytes)));

    size_t loaded = st.n;
    st.n = 0;
    for (size_t i = 0; i < loaded; i++)
        write_item(st, st.vectors + i * st.vector_bytes, &st.heap_tids[i]);
    pfree(st.vectors);
    pfree(st.heap_tids);
    st.vectors = nullptr;
    st.heap_tids = nullptr;
    st.cap = 0;
}

void spill_add(BuildState &st, const void *vec, ItemPointer heap_tid)
{
    write_item(st, vec, heap_tid);  // grows st.payloads with the references
    if (st.payload_bytes > 0)
        memcpy(st.payloads + (st.n - 1) * size_t(st.payload_bytes), st.row_payload, size_t(st.payload_bytes));
}

void build_spilled_trees(BuildState &st, int n_trees, MetaPageData *meta)
{
    st.items.finish();
    const core::Space &space = st.space;
    size_t n = st.n, vb = st.vector_bytes;
    float max_norm = space.metric == core::Metric::Dot ? std::sqrt(st.max_norm_sq) : 0.0f;
    meta->dot_max_norm = max_norm;

    // Cells should hold about half the budget's worth of vectors; the top
    // levels come from the sample, so a sample leaf of L items stands for
    // about L * n / sample_n rows.
    size_t cell_cap = std::max<size_t>(size_t(st.leaf_size), st.mem_limit / 2 / vb);
    size_t sample_leaf =
        std::max<size_t>(size_t(st.leaf_size), size_t(double(cell_cap) * double(st.sample_n) / double(n) / 2));

    MemoryContext tree_cxt = AllocSetContextCreate(CurrentMemoryContext, "annoy tree", ALLOCSET_DEFAULT_SIZES);
    auto *top_slot = ContextOwned<core::FlatForest>::create(tree_cxt);
    auto *cell_slot = ContextOwned<core::FlatForest>::create(tree_cxt);
    auto *cell_of = static_cast<uint32 *>(palloc_extended(n * sizeof(uint32), MCXT_ALLOC_HUGE));
    auto *order = static_cast<uint32 *>(palloc_extended(n * sizeof(uint32), MCXT_ALLOC_HUGE));
    char *vec = static_cast<char *>(palloc(vb));
    size_t cell_buf_cap = cell_cap;
    char *cell_vectors = static_cast<char *>(palloc_extended(cell_buf_cap * vb, MCXT_ALLOC_HUGE));
    // Nodes go into the gaps the item pages left, then on new pages.
    PageWriter &w = st.items;

    // Sketches: the center is the sample's mean; each cell's items are
    // sketched when the cell is built.
    const core::Sketcher *sketcher = nullptr;
    int sketch_bytes = 0;
    if (st.sketch_bits > 0) {
        float *center = sketch_center(space, st.sample, st.sample_n);
        sketcher = build_sketcher(tree_cxt, space, st.sketch_bits, uint32(st.seed), center);
        sketch_bytes = int(sketcher->sketch_bytes());
        meta->center = write_center(w, center, space.dim);
        pfree(center);
        meta->sketch_bits = uint16(st.sketch_bits);
    }
    check_leaf_room(st.index, st.leaf_size, sketch_bytes, st.payload_bytes);
    w.min_gap =
        MAXALIGN(std::min(leaf_tuple_size(st.leaf_size, sketch_bytes, st.payload_bytes), split_tuple_size(space)));
    const size_t pb = size_t(st.payload_bytes);

    for (int t = 0; t < n_trees; t++) {
        pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, t);
        uint64 tree_seed = core::mix_seed(st.seed, uint64(t));
        core::BuildParams top_params;
        top_params.n_trees = 1;
        top_params.leaf_size = uint32(sample_leaf);
        top_params.seed = tree_seed;
        top_params.cancel = interrupt_check();
        top_params.dot_max_norm = max_norm;
        const core::FlatForest &top = build_into(top_slot, space, st.sample, st.sample_n, top_params);
        size_t ncells = top.leaves.size();

        // Route every item to its cell, reading items in page order.
        auto *counts = static_cast<size_t *>(palloc0((ncells + 1) * sizeof(size_t)));
        Buffer buf = InvalidBuffer;
        for (size_t i = 0; i < n; i++) {
            if (i % 1024 == 0)
                CHECK_FOR_INTERRUPTS();
            read_vector(st, st.item_refs[i], &buf, vec);
            cell_of[i] = route(space, top, vec, core::item_extra(space, max_norm, vec), i);
            counts[cell_of[i] + 1]++;
        }
        for (size_t c = 0; c < ncells; c++)
            counts[c + 1] += counts[c];
        for (size_t i = 0; i < n; i++)
            order[counts[cell_of[i]]++] = uint32(i);  // counts[c] ends as the start of cell c + 1

        // Build and write each cell's subtree.
        auto *cell_roots = static_cast<TupleRef *>(palloc(std::max<size_t>(ncells, 1) * sizeof(TupleRef)));
        auto *cell_refs = static_cast<TupleRef *>(
            palloc_extended(std::max<size_t>(cell_buf_cap, 1) * sizeof(TupleRef), MCXT_ALLOC_HUGE));
        auto *cell_payloads =
            static_cast<uint8 *>(palloc_extended(std::max<size_t>(cell_buf_cap * pb, 1), MCXT_ALLOC_HUGE));
        size_t begin = 0;
        for (size_t c = 0; c < ncells; c++) {
            size_t end = counts[c], count = end - begin;
            if (count > cell_buf_cap) {
                // A cell larger than planned (skewed data): grow for it.
                cell_buf_cap = count;
                cell_vectors = static_cast<char *>(repalloc_huge(cell_vectors, cell_buf_cap * vb));
                cell_refs = static_cast<TupleRef *>(repalloc_huge(cell_refs, cell_buf_cap * sizeof(TupleRef)));
                cell_payloads =
                    static_cast<uint8 *>(repalloc_huge(cell_payloads, std::max<size_t>(cell_buf_cap * pb, 1)));
            }
            for (size_t k = 0; k < count; k++) {
                uint32 item = order[begin + k];
                cell_refs[k] = st.item_refs[item];
                if (pb > 0)
                    memcpy(cell_payloads + k * pb, st.payloads + size_t(item) * pb, pb);
                read_vector(st, cell_refs[k], &buf, cell_vectors + k * vb);
            }
            core::BuildParams cell_params;
            cell_params.n_trees = 1;
            cell_params.leaf_size = uint32(st.leaf_size);
            cell_params.seed = core::mix_seed(tree_seed, c + 1);
            cell_params.cancel = interrupt_check();
            cell_params.dot_max_norm = max_norm;
            const core::FlatForest &sub = build_into(cell_slot, space, cell_vectors, count, cell_params);
            uint8 *sketches = sketcher != nullptr ? sketch_items(*sketcher, cell_vectors, count) : nullptr;
            cell_roots[c] = write_tree(
                w, sub, sub.roots[0], uint16(t),
                TreeLeaves::items(cell_refs, st.leaf_size, sketches, sketch_bytes, cell_payloads, st.payload_bytes));
            if (sketches != nullptr)
                pfree(sketches);
            begin = end;
        }
        if (BufferIsValid(buf))
            ReleaseBuffer(buf);
        meta->roots[t] = write_tree(w, top, top.roots[0], uint16(t), TreeLeaves::subtree_roots(cell_roots));
        pfree(cell_refs);
        pfree(cell_payloads);
        pfree(cell_roots);
        pfree(counts);
    }
    w.finish();
    MemoryContextDelete(tree_cxt);
}

}  // namespace annoy::pg
