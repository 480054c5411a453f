// Leaf splits on the insert path; see leaf_split.hpp.
#include "split.hpp"

#include "leaf_split.hpp"

#include "guard.hpp"

namespace annoy::pg {

namespace {

// After a split turned leaf_ref into a forward tuple to `replacement`:
// points the parent's slot straight at the replacement and retires the
// forward tuple (VACUUM frees it once no earlier snapshot remains), if the
// slot still holds the leaf's reference (a concurrent change may have moved
// it; the forward tuple then stays live and keeps the tree whole).
void update_parent(Relation index, const IndexShape &shape, int tree, const Parent &parent, const TupleRef &leaf_ref,
                   const TupleRef &replacement)
{
    BlockNumber blocks[2] = {slot_block(parent.slot), ItemPointerGetBlockNumber(&leaf_ref)};
    LockedPages pages = LockedPages::lock(index, blocks, 2);
    TupleRef *slot = slot_ref_in(pages, parent.slot, tree, shape);
    if (slot == nullptr || !ItemPointerEquals(slot, const_cast<TupleRef *>(&parent.slot_ref))) {
        pages.abandon();
        return;
    }
    *slot = replacement;
    NodeView old = node_in(pages, leaf_ref, tree, shape);
    if (ItemPointerEquals(const_cast<TupleRef *>(&parent.slot_ref), const_cast<TupleRef *>(&leaf_ref)) &&
        old.kind == kForwardTuple && ItemPointerEquals(&old.forward->target, const_cast<TupleRef *>(&replacement)))
        old.forward->set_retired(retirement_stamp());
    pages.commit();
}

// How a full leaf plus the new item is rearranged, in palloc'd memory:
// the references still worth keeping (items VACUUM flagged dead, or freed,
// are dropped), and, if they do not fit in one leaf, their split.
struct LeafSplit {
    TupleRef *keep;   // kept references, the new item last
    uint8 *sketches;  // their sketches (sketch_bytes each), if the index has them
    uint8 *payloads;  // their filter payloads (payload_bytes each), if the index has filter columns
    int n;            // how many
    bool split;       // false: they fit in the leaf as it is
    float *plane;     // plane_dim floats (may be nullptr)
    float offset;
    uint32 bit;
    uint8 *side;  // per kept reference
};

// Reads the vectors of the leaf's items, keeps the live ones plus the new
// item, and runs the core's split rule over them when they overflow the
// leaf's capacity.
void compute_split(const TreeInsert &t, const FullLeaf &leaf, const NewItem &item, LeafSplit *out)
{
    const core::Space &space = t.shape.space;
    const int count = leaf.count, sketch_bytes = item.sketch_bytes;
    const size_t pb = size_t(t.shape.payload_bytes);
    size_t bytes = space.vector_bytes();
    int n = count + 1;
    char *vecs = static_cast<char *>(palloc(size_t(n) * bytes));
    auto **ptrs = static_cast<const void **>(palloc(size_t(n) * sizeof(void *)));
    auto *extras = static_cast<float *>(palloc(size_t(n) * sizeof(float)));
    out->keep = static_cast<TupleRef *>(palloc(size_t(n) * sizeof(TupleRef)));
    // The kept items' sketches move with them (sketch_bytes each).
    out->sketches = sketch_bytes > 0 ? static_cast<uint8 *>(palloc(size_t(n) * size_t(sketch_bytes))) : nullptr;
    // So do their filter payloads; the new item's is its row's.
    out->payloads = pb > 0 ? static_cast<uint8 *>(palloc(size_t(n) * pb)) : nullptr;
    out->n = 0;
    for (int i = 0; i < count; i++) {
        if (read_item_vector(t.index, leaf.refs[i], t.shape, vecs + size_t(out->n) * bytes, nullptr)) {
            if (sketch_bytes > 0)
                memcpy(out->sketches + size_t(out->n) * size_t(sketch_bytes),
                       leaf.sketches + size_t(i) * size_t(sketch_bytes), size_t(sketch_bytes));
            if (pb > 0)
                memcpy(out->payloads + size_t(out->n) * pb, leaf.payloads + size_t(i) * pb, pb);
            out->keep[out->n++] = leaf.refs[i];
        }
    }
    memcpy(vecs + size_t(out->n) * bytes, item.vec, bytes);
    if (sketch_bytes > 0)
        memcpy(out->sketches + size_t(out->n) * size_t(sketch_bytes), item.sketch, size_t(sketch_bytes));
    if (pb > 0)
        memcpy(out->payloads + size_t(out->n) * pb, item.payload, pb);
    out->keep[out->n++] = item.ref;
    n = out->n;
    out->split = n > leaf.capacity;
    out->plane = nullptr;
    if (!out->split)
        return;
    for (int i = 0; i < n; i++) {
        ptrs[i] = vecs + size_t(i) * bytes;
        extras[i] = core::item_extra(space, t.meta->dot_max_norm, ptrs[i]);
    }
    size_t plane_dim = space.plane_dim();
    out->plane = plane_dim ? static_cast<float *>(palloc(plane_dim * sizeof(float))) : nullptr;
    out->side = static_cast<uint8 *>(palloc(size_t(n)));
    // Seeded from the index seed and the new item: reproducible for a given
    // insert order, independent across leaves.
    uint64 seed = core::mix_seed(t.meta->seed, ref_key(item.ref));
    guarded([&] {
        core::Rng rng(seed);
        core::SplitPlane plane;
        core::choose_split(space, ptrs, extras, size_t(n), rng, plane, out->side);
        if (plane_dim)
            memcpy(out->plane, plane.normal.data(), plane_dim * sizeof(float));
        out->offset = plane.offset;
        out->bit = plane.bit;
    });
}

}  // namespace

bool split_leaf(const TreeInsert &t, const FullLeaf &full, const NewItem &item)
{
    Relation index = t.index;
    const core::Space &space = t.shape.space;
    const int tree = t.tree, count = full.count, capacity = full.capacity, sketch_bytes = item.sketch_bytes;
    const int payload_bytes = t.shape.payload_bytes;
    const TupleRef &leaf_ref = full.ref;
    // Held until the new leaves are written (see kSplitBarrier).
    LockPage(index, kSplitBarrier, ShareLock);
    LeafSplit split;
    compute_split(t, full, item, &split);
    int n = split.n;

    Buffer leaf_buf = lock_ref_buffer(index, leaf_ref, BUFFER_LOCK_EXCLUSIVE);
    NodeView now = read_node(index, BufferGetPage(leaf_buf), leaf_ref, tree, t.shape);
    if (now.kind != kLeafTuple || now.leaf->count != count ||
        memcmp(leaf_refs(now.leaf), full.refs, size_t(count) * sizeof(TupleRef)) != 0) {
        UnlockReleaseBuffer(leaf_buf);
        UnlockPage(index, kSplitBarrier, ShareLock);
        return false;
    }

    if (!split.split) {
        // Dead references made room: the leaf keeps the live ones and the new item.
        GenericXLogState *state = GenericXLogStart(index);
        Page copy = GenericXLogRegisterBuffer(state, leaf_buf, 0);
        LeafTupleHeader *l = read_node(index, copy, leaf_ref, tree, t.shape).leaf;
        memset(leaf_refs(l), 0, leaf_tuple_size(l, payload_bytes) - sizeof(LeafTupleHeader));
        for (int i = 0; i < n; i++)
            set_leaf_entry(l, i, split.keep[i], split.sketches + size_t(i) * size_t(sketch_bytes),
                           split.payloads + size_t(i) * size_t(payload_bytes), payload_bytes);
        l->count = uint16(n);
        GenericXLogFinish(state);
        UnlockReleaseBuffer(leaf_buf);
        UnlockPage(index, kSplitBarrier, ShareLock);
        return true;
    }

    // The two new leaves.
    Size lsize = leaf_tuple_size(capacity, sketch_bytes, payload_bytes);
    LeafTupleHeader *halves[2];
    for (int s = 0; s < 2; s++) {
        halves[s] = static_cast<LeafTupleHeader *>(palloc0(lsize));
        halves[s]->kind = kLeafTuple;
        halves[s]->sketch_bytes = uint8(sketch_bytes);
        halves[s]->tree = uint16(tree);
        halves[s]->capacity = uint16(capacity);
    }
    for (int i = 0; i < n; i++) {
        LeafTupleHeader *h = halves[split.side[i]];
        set_leaf_entry(h, h->count++, split.keep[i], split.sketches + size_t(i) * size_t(sketch_bytes),
                       split.payloads + size_t(i) * size_t(payload_bytes), payload_bytes);
    }
    Size ssize = split_tuple_size(space);
    auto *node = static_cast<SplitTupleHeader *>(palloc0(ssize));
    node->kind = kSplitTuple;
    node->tree = uint16(tree);
    node->bit = split.bit;
    node->offset = split.offset;
    if (split.plane != nullptr)
        store_plane(space, node, split.plane);

    LockedPages pages = LockedPages::adopt(index, leaf_buf);
    node->child[0] = pages.place(halves[0], lsize);
    node->child[1] = pages.place(halves[1], lsize);
    TupleRef split_ref = pages.place(node, ssize);

    ForwardTupleHeader fwd{};
    fwd.kind = kForwardTuple;
    fwd.tree = uint16(tree);
    fwd.target = split_ref;
    if (!PageIndexTupleOverwrite(pages.page(BufferGetBlockNumber(leaf_buf)), ItemPointerGetOffsetNumber(&leaf_ref),
                                 reinterpret_cast<Item>(&fwd), sizeof(fwd)))
        elog(ERROR, "annoy: failed to replace leaf (%u,%u)", ItemPointerGetBlockNumber(&leaf_ref),
             ItemPointerGetOffsetNumber(&leaf_ref));
    pages.commit();  // records every page's free space

    UnlockPage(index, kSplitBarrier, ShareLock);
    update_parent(index, t.shape, tree, full.parent, leaf_ref, split_ref);
    return true;
}

}  // namespace annoy::pg
