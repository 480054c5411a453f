// aminsert: store the new vector once, then add a reference to it in every
// tree, routed down the stored hyperplanes.  A leaf that outgrows its
// capacity is split (leaf_split.cpp).
//
// Concurrency: at most one node page is locked at a time while waiting, so
// inserts, scans and VACUUM cannot deadlock on each other; pages for new
// tuples are only taken with a conditional lock (page.cpp).
#include "rng.hpp"
#include "sketch.hpp"

#include "am.hpp"
#include "filter.hpp"
#include "index_sketch.hpp"
#include "index_vector.hpp"
#include "item_chain.hpp"
#include "leaf_split.hpp"
#include "node_access.hpp"

namespace annoy::pg {

namespace {

// Sets the index dimension on the first vector ever indexed.
void set_dimension(Relation index, core::Metric metric, int dim)
{
    Buffer buf = ReadBuffer(index, kMetaBlock);
    LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
    MetaPageData *meta = meta_data(BufferGetPage(buf));
    if (meta->dim == 0) {
        GenericXLogState *state = GenericXLogStart(index);
        MetaPageData *m = meta_data(GenericXLogRegisterBuffer(state, buf, 0));
        m->dim = uint32(dim);
        m->checksum = meta_checksum(*m);
        GenericXLogFinish(state);
    } else {
        uint32 existing = meta->dim;
        UnlockReleaseBuffer(buf);
        check_index_dimension(index, metric, int(existing), dim);
        return;
    }
    UnlockReleaseBuffer(buf);
}

TupleRef add_item(Relation index, const core::Space &space, ItemPointer heap_tid, const void *vec)
{
    LoggedSink sink(index);
    auto *tuple = static_cast<ItemTupleHeader *>(palloc(item_tuple_size(space)));
    TupleRef ref = write_item(sink, space, tuple, vec, *heap_tid);
    pfree(tuple);
    return ref;
}

void insert_into_tree(const TreeInsert &t, const NewItem &item)
{
    Relation index = t.index;
    const core::Space &space = t.shape.space;
    const int tree = t.tree, sketch_bytes = item.sketch_bytes;
    // The root from the meta page read at the start of this insert: if a
    // split replaced it since, it is a forward tuple leading to its
    // replacement (nothing frees a node this insert may still reach).
    Parent parent;
    parent.slot = root_slot();
    TupleRef ref = t.meta->roots[tree];
    parent.slot_ref = ref;
    // A descent visits each node once, apart from looking again at one that
    // changed under it: far fewer steps than the index has tuples, unless a
    // corrupted tree has a cycle.  The bound is looked up only once a
    // descent is long.
    uint64 max_steps = 0;
    for (uint64 steps = 0;; steps++) {
        if (unlikely(steps >= 1024)) {
            if (max_steps == 0)
                max_steps = max_tuples(RelationGetNumberOfBlocks(index)) + 1024;
            if (steps > max_steps)
                tuple_corrupted(index, ref, tree, "descent longer than the index (a cycle)");
        }
        CHECK_FOR_INTERRUPTS();
        Buffer buf = lock_ref_buffer(index, ref, BUFFER_LOCK_SHARE);
        NodeView node = read_node(index, BufferGetPage(buf), ref, tree, t.shape);
        if (node.kind == kSplitTuple) {
            static_assert(noexcept(core::margin(space, split_view(space, node.split), item.vec, item.extra)),
                          "called outside guarded()");
            float m = core::margin(space, split_view(space, node.split), item.vec, item.extra);
            // The tie mixes in the split: items on a zero plane spread.
            int side = core::side_of(m, core::mix_seed(ref_key(item.ref), ref_key(ref)));
            parent.slot.split = ref;
            parent.slot.side = side;
            parent.slot_ref = node.split->child[side];
            ref = node.split->child[side];
            UnlockReleaseBuffer(buf);
            continue;
        }
        if (node.kind == kForwardTuple) {
            ref = node.forward->target;
            UnlockReleaseBuffer(buf);
            continue;
        }

        // A leaf: take the exclusive lock and look again.
        LockBuffer(buf, BUFFER_LOCK_UNLOCK);
        LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
        node = read_node(index, BufferGetPage(buf), ref, tree, t.shape);
        if (node.kind != kLeafTuple) {
            UnlockReleaseBuffer(buf);
            continue;  // split or merged under us: look at it again
        }
        LeafTupleHeader *leaf = node.leaf;
        if (leaf->count < leaf->capacity) {
            GenericXLogState *state = GenericXLogStart(index);
            Page copy = GenericXLogRegisterBuffer(state, buf, 0);
            LeafTupleHeader *l = read_node(index, copy, ref, tree, t.shape).leaf;
            set_leaf_entry(l, l->count++, item.ref, item.sketch, item.payload, t.shape.payload_bytes);
            GenericXLogFinish(state);
            UnlockReleaseBuffer(buf);
            return;
        }
        FullLeaf full;
        full.ref = ref;
        full.parent = parent;
        full.count = leaf->count;
        full.capacity = leaf->capacity;
        auto *refs = static_cast<TupleRef *>(palloc(size_t(full.count) * sizeof(TupleRef)));
        memcpy(refs, leaf_refs(leaf), size_t(full.count) * sizeof(TupleRef));
        uint8 *sketches = nullptr;
        if (sketch_bytes > 0) {
            sketches = static_cast<uint8 *>(palloc(size_t(full.count) * size_t(sketch_bytes)));
            memcpy(sketches, leaf_sketches(leaf), size_t(full.count) * size_t(sketch_bytes));
        }
        uint8 *payloads = nullptr;
        const size_t pb = size_t(t.shape.payload_bytes);
        if (pb > 0) {
            payloads = static_cast<uint8 *>(palloc(size_t(full.count) * pb));
            memcpy(payloads, leaf_payloads(leaf), size_t(full.count) * pb);
        }
        full.refs = refs;
        full.sketches = sketches;
        full.payloads = payloads;
        UnlockReleaseBuffer(buf);
        bool done = split_leaf(t, full, item);
        pfree(refs);
        if (sketches != nullptr)
            pfree(sketches);
        if (payloads != nullptr)
            pfree(payloads);
        if (done)
            return;
        // The leaf changed while its split was computed: look at it again.
    }
}

}  // namespace

bool insert(Relation index, Datum *values, bool *isnull, ItemPointer heap_tid, Relation, IndexUniqueCheck, bool,
            IndexInfo *)
{
    if (isnull[0])
        return false;  // NULL vectors are not indexed

    MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "annoy insert", ALLOCSET_DEFAULT_SIZES);
    MemoryContext old = MemoryContextSwitchTo(cxt);

    MetaPageData *meta = alloc_meta();
    read_meta(index, meta);
    core::Space space;
    space.metric = core::Metric(meta->metric);
    RawVector v = index_vector(index, space.metric, values[0]);
    if (meta->dim == 0)
        set_dimension(index, space.metric, v.dim);
    else
        check_index_dimension(index, space.metric, int(meta->dim), v.dim);
    space.dim = uint32(v.dim);

    NewItem item{};
    item.vec = v.data;
    static_assert(noexcept(core::item_extra(space, meta->dot_max_norm, v.data)), "called outside guarded()");
    item.extra = core::item_extra(space, meta->dot_max_norm, v.data);
    // The item's sketch, computed once for all trees.
    const core::Sketcher *sketcher = index_sketcher(index, *meta);
    if (sketcher != nullptr) {
        item.sketch_bytes = int(sketcher->sketch_bytes());
        auto *sketch = static_cast<uint8 *>(palloc(size_t(item.sketch_bytes)));
        static_assert(noexcept(sketcher->sketch(v.data, sketch)), "called outside guarded()");
        sketcher->sketch(v.data, sketch);
        item.sketch = sketch;
    }
    IndexShape shape = index_shape(*meta);
    shape.space = space;  // with the dimension, if this row set it
    // The row's filter values, stored beside each of its references.
    if (shape.payload_bytes > 0) {
        auto *payload = static_cast<uint8 *>(palloc(size_t(shape.payload_bytes)));
        encode_payload(*copy_index_columns(index), values + 1, isnull + 1, payload);
        item.payload = payload;
    }
    if (item.sketch_bytes != shape.sketch_bytes)
        ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
                        errmsg("index \"%s\" has sketches of %d bytes, its meta page says %d",
                               RelationGetRelationName(index), item.sketch_bytes, shape.sketch_bytes)));
    item.ref = add_item(index, space, heap_tid, v.data);
    for (int t = 0; t < meta->n_trees; t++)
        insert_into_tree(TreeInsert{index, shape, meta, t}, item);

    MemoryContextSwitchTo(old);
    MemoryContextDelete(cxt);
    return false;
}

}  // namespace annoy::pg
