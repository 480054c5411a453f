// ambuild / ambuildempty: load every vector from the heap, build the forest
// in the core, write it to pages, WAL-log the result.
//
// Page order: item tuples first, in the order tree 0's leaves list them (so
// the vectors one leaf refers to share pages), then each tree's nodes in
// post-order (children before their parent, whose references they become).
#include "am.hpp"
#include "guard.hpp"
#include "index_vector.hpp"
#include "node_access.hpp"
#include "page_writer.hpp"

#include "forest.hpp"

extern "C" {
#include "access/xloginsert.h"
#include "pgstat.h"
#include "utils/backend_progress.h"
}

namespace annoy::pg {

namespace {

struct BuildState {
    Relation index;
    core::Space space;
    bool dim_known;
    size_t vector_bytes;
    size_t mem_limit;  // maintenance_work_mem in bytes
    // Loaded rows, grown geometrically.
    char *vectors;
    ItemPointerData *heap_tids;
    size_t n, cap;
};

[[noreturn]] void memory_error(size_t needed, size_t limit)
{
    ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                    errmsg("annoy index build needs about %zu MB of memory, more than maintenance_work_mem (%zu MB)",
                           needed / (1024 * 1024) + 1, limit / (1024 * 1024)),
                    errhint("Raise maintenance_work_mem for this build, e.g. SET maintenance_work_mem = '%zuMB'.",
                            (needed / (1024 * 1024) + 1) * 5 / 4 + 1)));
}

void grow(BuildState &st)
{
    size_t cap = st.cap ? st.cap * 2 : 1024;
    size_t needed = cap * (st.vector_bytes + sizeof(ItemPointerData));
    if (needed > st.mem_limit) {
        // Grow only as far as the budget allows before giving up.
        cap = st.mem_limit / (st.vector_bytes + sizeof(ItemPointerData));
        if (cap <= st.n)
            memory_error((st.n + 1) * (st.vector_bytes + sizeof(ItemPointerData)), st.mem_limit);
    }
    if (st.vectors == nullptr) {
        st.vectors = static_cast<char *>(palloc_extended(cap * st.vector_bytes, MCXT_ALLOC_HUGE));
        st.heap_tids = static_cast<ItemPointerData *>(palloc_extended(cap * sizeof(ItemPointerData), MCXT_ALLOC_HUGE));
    } else {
        st.vectors = static_cast<char *>(repalloc_huge(st.vectors, cap * st.vector_bytes));
        st.heap_tids = static_cast<ItemPointerData *>(repalloc_huge(st.heap_tids, cap * sizeof(ItemPointerData)));
    }
    st.cap = cap;
}

void build_callback(Relation index, ItemPointer tid, Datum *values, bool *isnull, bool, void *arg)
{
    auto &st = *static_cast<BuildState *>(arg);
    if (isnull[0])
        return;  // NULL vectors are not indexed

    MemoryContext tmp = AllocSetContextCreate(CurrentMemoryContext, "annoy build row", ALLOCSET_SMALL_SIZES);
    MemoryContext old = MemoryContextSwitchTo(tmp);
    RawVector v = index_vector(index, st.space.metric, values[0]);
    MemoryContextSwitchTo(old);

    if (!st.dim_known) {
        st.space.dim = uint32(v.dim);
        st.vector_bytes = st.space.vector_bytes();
        st.dim_known = true;
    } else {
        check_index_dimension(index, st.space.metric, int(st.space.dim), v.dim);
    }
    if (st.n == st.cap)
        grow(st);
    memcpy(st.vectors + st.n * st.vector_bytes, v.data, st.vector_bytes);
    st.heap_tids[st.n] = *tid;
    st.n++;
    MemoryContextDelete(tmp);

    if (st.n % 1024 == 0)
        pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, int64(st.n));
}

// Owns the core's forest for the build; freed with the build's memory
// context even if an error longjmps out of the page writing.
struct ForestHolder {
    core::FlatForest *forest;
    MemoryContextCallback cb;
};

void free_forest(void *arg)
{
    auto *h = static_cast<ForestHolder *>(arg);
    delete h->forest;
    h->forest = nullptr;
}

// Calls visit(leaf) for the leaves of the tree under `root`, depth first,
// child 0 before child 1.  `stack` has room for every node of the forest.
template <class Visit>
void for_each_leaf(const core::FlatForest &f, core::NodeRef root, core::NodeRef *stack, Visit &&visit)
{
    size_t top = 0;
    stack[top++] = root;
    while (top > 0) {
        core::NodeRef r = stack[--top];
        if (core::is_leaf(r)) {
            visit(f.leaves[core::node_index(r)]);
        } else {
            const core::FlatForest::Split &s = f.splits[core::node_index(r)];
            stack[top++] = s.child[1];
            stack[top++] = s.child[0];
        }
    }
}

// Writes the item tuples in tree 0's leaf order, so the vectors of one leaf
// share pages; returns each item's reference, by item number.
TupleRef *write_items(PageWriter &w, const BuildState &st, const core::FlatForest &f, core::NodeRef *stack)
{
    auto *refs = static_cast<TupleRef *>(palloc_extended(std::max<size_t>(st.n, 1) * sizeof(TupleRef), MCXT_ALLOC_HUGE));
    Size size = item_tuple_size(st.space);
    auto *tuple = static_cast<ItemTupleHeader *>(palloc0(size));
    tuple->kind = kItemTuple;
    size_t written = 0;
    for_each_leaf(f, f.roots[0], stack, [&](const core::FlatForest::Leaf &leaf) {
        for (uint32_t i = 0; i < leaf.count; i++) {
            uint32_t item = f.leaf_items[leaf.begin + i];
            tuple->heap_tid = st.heap_tids[item];
            memcpy(item_vector(tuple), st.vectors + size_t(item) * st.vector_bytes, st.vector_bytes);
            refs[item] = w.add(tuple, size);
            if (++written % 1024 == 0) {
                CHECK_FOR_INTERRUPTS();
                pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, int64(written));
            }
        }
    });
    pfree(tuple);
    return refs;
}

int compare_refs(const void *a, const void *b)
{
    return ItemPointerCompare(static_cast<ItemPointer>(const_cast<void *>(a)),
                              static_cast<ItemPointer>(const_cast<void *>(b)));
}

// Writes one tree's nodes in post-order; returns the root's reference.
TupleRef write_tree(PageWriter &w, const BuildState &st, const core::FlatForest &f, uint16 tree,
                    const TupleRef *item_refs, int leaf_capacity, core::NodeRef *stack, TupleRef *written)
{
    Size leaf_size = leaf_tuple_size(leaf_capacity);
    auto *leaf = static_cast<LeafTupleHeader *>(palloc0(leaf_size));
    Size split_size = split_tuple_size(st.space);
    auto *split = static_cast<SplitTupleHeader *>(palloc0(split_size));

    // A node is pushed once (unexpanded) and, if a split, again after its
    // children (expanded, marked by the stack's parallel flag).
    core::NodeRef root = f.roots[tree];
    auto *expanded = static_cast<bool *>(palloc0(f.splits.size() + f.leaves.size() + 2));
    size_t top = 0;
    stack[top] = root;
    expanded[top++] = false;
    TupleRef root_ref;
    ItemPointerSetInvalid(&root_ref);
    // written[] holds each node's reference: leaves first, then splits.
    auto ref_of = [&](core::NodeRef r) -> TupleRef & {
        return core::is_leaf(r) ? written[core::node_index(r)] : written[f.leaves.size() + core::node_index(r)];
    };
    while (top > 0) {
        core::NodeRef r = stack[--top];
        bool done_children = expanded[top];
        if (core::is_leaf(r)) {
            const core::FlatForest::Leaf &l = f.leaves[core::node_index(r)];
            leaf->kind = kLeafTuple;
            leaf->tree = tree;
            leaf->count = uint16(l.count);
            leaf->capacity = uint16(leaf_capacity);
            TupleRef *refs = leaf_refs(leaf);
            for (uint32_t i = 0; i < l.count; i++)
                refs[i] = item_refs[f.leaf_items[l.begin + i]];
            // Page order lets a scan reuse one pin for neighbours.
            qsort(refs, l.count, sizeof(TupleRef), compare_refs);
            ref_of(r) = w.add_in_gap(leaf, leaf_size);
        } else if (!done_children) {
            const core::FlatForest::Split &s = f.splits[core::node_index(r)];
            stack[top] = r;
            expanded[top++] = true;
            stack[top] = s.child[1];
            expanded[top++] = false;
            stack[top] = s.child[0];
            expanded[top++] = false;
        } else {
            uint32_t idx = core::node_index(r);
            const core::FlatForest::Split &s = f.splits[idx];
            split->kind = kSplitTuple;
            split->tree = tree;
            split->bit = s.bit;
            split->offset = s.offset;
            split->child[0] = ref_of(s.child[0]);
            split->child[1] = ref_of(s.child[1]);
            if (f.plane_dim > 0)
                store_plane(st.space, split, f.planes.data() + size_t(idx) * f.plane_dim);
            ref_of(r) = w.add_in_gap(split, split_size);
            CHECK_FOR_INTERRUPTS();
        }
    }
    root_ref = ref_of(root);
    pfree(expanded);
    pfree(leaf);
    pfree(split);
    return root_ref;
}

}  // namespace

IndexBuildResult *build(Relation heap, Relation index, IndexInfo *info)
{
    if (RelationGetNumberOfBlocks(index) != 0)
        elog(ERROR, "index \"%s\" already contains data", RelationGetRelationName(index));

    IndexOptions opts = index_options(index);
    MemoryContext build_cxt = AllocSetContextCreate(CurrentMemoryContext, "annoy build", ALLOCSET_DEFAULT_SIZES);
    MemoryContext old = MemoryContextSwitchTo(build_cxt);

    BuildState st{};
    st.index = index;
    st.space.metric = opclass_metric(index);
    st.mem_limit = size_t(maintenance_work_mem) * 1024;

    // 1. Load.
    pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, kPhaseLoad);
    double reltuples = table_index_build_scan(heap, index, info, true, true, build_callback, &st, nullptr);

    // 2. Trees.
    pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, kPhaseTrees);
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
    size_t needed = st.n * (st.vector_bytes + sizeof(ItemPointerData)) +
                    core::forest_memory_estimate(st.space, st.n, params) + st.n * sizeof(TupleRef);
    if (needed > st.mem_limit)
        memory_error(needed, st.mem_limit);

    auto *holder = static_cast<ForestHolder *>(palloc0(sizeof(ForestHolder)));
    holder->cb.func = free_forest;
    holder->cb.arg = holder;
    MemoryContextRegisterResetCallback(build_cxt, &holder->cb);
    guarded([&] {
        holder->forest = new core::FlatForest(core::build_forest(st.space, st.vectors, st.n, params));
    });
    const core::FlatForest &f = *holder->forest;

    // 3. Pages: meta page first (block 0), filled in last when roots are known.
    pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, kPhaseWrite);
    pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL, int64(st.n));
    pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, 0);
    Buffer meta_buf = ReadBuffer(index, P_NEW);
    Assert(BufferGetBlockNumber(meta_buf) == kMetaBlock);
    ReleaseBuffer(meta_buf);

    size_t n_nodes = f.splits.size() + f.leaves.size();
    auto *stack = static_cast<core::NodeRef *>(palloc_extended((n_nodes + 2) * sizeof(core::NodeRef), MCXT_ALLOC_HUGE));
    auto *node_refs = static_cast<TupleRef *>(palloc_extended((n_nodes + 1) * sizeof(TupleRef), MCXT_ALLOC_HUGE));
    PageWriter w = PageWriter::start(index, MAIN_FORKNUM);
    // Item pages whose leftover space could hold a leaf are remembered, and
    // tree nodes fill them first.
    w.record_gaps(MAXALIGN(leaf_tuple_size(opts.leaf_size)));
    TupleRef *item_refs = write_items(w, st, f, stack);
    w.finish();
    w.min_gap = MAXALIGN(std::min(leaf_tuple_size(opts.leaf_size), split_tuple_size(st.space)));

    MetaPageData *meta = alloc_meta();
    meta->magic = kMagic;
    meta->version = kLayoutVersion;
    meta->metric = uint8(st.space.metric);
    meta->n_trees = uint16(opts.n_trees);
    meta->dim = st.dim_known ? st.space.dim : 0;
    meta->leaf_size = uint32(opts.leaf_size);
    meta->seed = uint32(opts.seed);
    meta->dot_max_norm = f.dot_max_norm;
    meta->n_items = st.n;
    for (int t = 0; t < opts.n_trees; t++)
        meta->roots[t] = write_tree(w, st, f, uint16(t), item_refs, opts.leaf_size, stack, node_refs);
    w.finish();
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
    MetaPageData *meta = alloc_meta();
    meta->magic = kMagic;
    meta->version = kLayoutVersion;
    meta->metric = uint8(opclass_metric(index));
    meta->n_trees = uint16(opts.n_trees);
    meta->leaf_size = uint32(opts.leaf_size);
    meta->seed = uint32(opts.seed);

    // Block 0 for the meta page, then one empty leaf per tree.
    Buffer buf = ReadBufferExtended(index, INIT_FORKNUM, P_NEW, RBM_NORMAL, nullptr);
    ReleaseBuffer(buf);
    Size size = leaf_tuple_size(opts.leaf_size);
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
