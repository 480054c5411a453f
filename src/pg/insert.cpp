// aminsert: store the new vector once, then add a reference to it in every
// tree, routed down the stored hyperplanes.  A leaf that outgrows its
// capacity is split with the core's split rule (the one the build uses).
//
// Concurrency: at most one node page is locked at a time while waiting, so
// inserts, scans and VACUUM cannot deadlock on each other; pages for new
// tuples are only taken with a conditional lock (page.cpp).  A split turns
// the old leaf into a forward tuple pointing at the new split node in the
// same WAL record that writes the new nodes, then updates the parent's
// reference in a second record; readers that still hold the old reference
// follow the forward tuple, so no state in between loses an item.
#include "split.hpp"
#include "sketch.hpp"

#include "am.hpp"
#include "guard.hpp"
#include "index_sketch.hpp"
#include "index_vector.hpp"
#include "node_access.hpp"
#include "tree_edit.hpp"

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
        meta_data(GenericXLogRegisterBuffer(state, buf, 0))->dim = uint32(dim);
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
    Size size = item_tuple_size(space);
    auto *tuple = static_cast<ItemTupleHeader *>(palloc0(size));
    tuple->kind = kItemTuple;
    tuple->heap_tid = *heap_tid;
    memcpy(item_vector(tuple), vec, space.vector_bytes());

    bool is_new;
    Buffer buf = page_with_room(index, size, nullptr, 0, &is_new);
    GenericXLogState *state = GenericXLogStart(index);
    Page page = GenericXLogRegisterBuffer(state, buf, is_new ? GENERIC_XLOG_FULL_IMAGE : 0);
    if (is_new)
        init_data_page(page);
    TupleRef ref;
    ItemPointerSet(&ref, BufferGetBlockNumber(buf), add_tuple(index, page, tuple, size));
    GenericXLogFinish(state);
    // Keep the free space map truthful: a page it still believed roomy
    // after filling up would send later inserts on a chase through full
    // pages, and they would end up extending the index instead.
    record_free_space(index, buf);
    UnlockReleaseBuffer(buf);
    pfree(tuple);
    return ref;
}

// Where the descent came from: the slot (a split's child, or the tree's
// root in the meta page) that held `slot_ref`, the first node after the
// parent split (possibly a forward tuple leading to the leaf).
struct Parent {
    Slot slot;
    TupleRef slot_ref;
};

// After a split turned leaf_ref into a forward tuple to `replacement`:
// points the parent's slot straight at the replacement and retires the
// forward tuple (VACUUM frees it once no earlier snapshot remains), if the
// slot still holds the leaf's reference (a concurrent change may have moved
// it; the forward tuple then stays live and keeps the tree whole).
void update_parent(Relation index, int tree, const Parent &parent, const TupleRef &leaf_ref,
                   const TupleRef &replacement)
{
    BlockNumber blocks[2] = {slot_block(parent.slot), ItemPointerGetBlockNumber(&leaf_ref)};
    LockedPages pages = LockedPages::lock(index, blocks, 2);
    TupleRef *slot = slot_ref_in(pages, parent.slot, tree);
    if (slot == nullptr || !ItemPointerEquals(slot, const_cast<TupleRef *>(&parent.slot_ref))) {
        pages.abandon();
        return;
    }
    *slot = replacement;
    Size size;
    auto *fwd = reinterpret_cast<ForwardTupleHeader *>(tuple_in(pages, leaf_ref, &size));
    if (ItemPointerEquals(const_cast<TupleRef *>(&parent.slot_ref), const_cast<TupleRef *>(&leaf_ref)) &&
        fwd != nullptr && fwd->kind == kForwardTuple && fwd->tree == tree &&
        ItemPointerEquals(&fwd->target, const_cast<TupleRef *>(&replacement)))
        fwd->set_retired(retirement_stamp());
    pages.commit();
}

// How a full leaf plus the new item is rearranged, in palloc'd memory:
// the references still worth keeping (items VACUUM flagged dead, or freed,
// are dropped), and, if they do not fit in one leaf, their split.
struct LeafSplit {
    TupleRef *keep;  // kept references, the new item last
    uint8 *codes;    // their sketches (code_bytes each), if the index has them
    int n;           // how many
    bool split;      // false: they fit in the leaf as it is
    float *plane;    // plane_dim floats (may be nullptr)
    float offset;
    uint32 bit;
    uint8 *side;  // per kept reference
};

// Reads the vectors of refs[0..count), keeps the live ones plus the new
// item, and runs the core's split rule over them when they overflow
// `capacity`.
void compute_split(Relation index, const core::Space &space, const MetaPageData &meta, const TupleRef *refs,
                   const uint8 *codes, int count, int capacity, const TupleRef &new_ref, const void *new_vec,
                   const uint8 *new_code, int cb, LeafSplit *out)
{
    size_t bytes = space.vector_bytes();
    int n = count + 1;
    char *vecs = static_cast<char *>(palloc(size_t(n) * bytes));
    auto **ptrs = static_cast<const void **>(palloc(size_t(n) * sizeof(void *)));
    auto *extras = static_cast<float *>(palloc(size_t(n) * sizeof(float)));
    out->keep = static_cast<TupleRef *>(palloc(size_t(n) * sizeof(TupleRef)));
    // The kept items' sketches move with them (cb bytes each).
    out->codes = cb > 0 ? static_cast<uint8 *>(palloc(size_t(n) * size_t(cb))) : nullptr;
    out->n = 0;
    for (int i = 0; i < count; i++) {
        if (read_item_vector(index, refs[i], vecs + size_t(out->n) * bytes, bytes, nullptr)) {
            if (cb > 0)
                memcpy(out->codes + size_t(out->n) * size_t(cb), codes + size_t(i) * size_t(cb), size_t(cb));
            out->keep[out->n++] = refs[i];
        }
    }
    memcpy(vecs + size_t(out->n) * bytes, new_vec, bytes);
    if (cb > 0)
        memcpy(out->codes + size_t(out->n) * size_t(cb), new_code, size_t(cb));
    out->keep[out->n++] = new_ref;
    n = out->n;
    out->split = n > capacity;
    out->plane = nullptr;
    if (!out->split)
        return;
    for (int i = 0; i < n; i++) {
        ptrs[i] = vecs + size_t(i) * bytes;
        extras[i] = core::item_extra(space, meta.dot_max_norm, ptrs[i]);
    }
    size_t plane_dim = space.plane_dim();
    out->plane = plane_dim ? static_cast<float *>(palloc(plane_dim * sizeof(float))) : nullptr;
    out->side = static_cast<uint8 *>(palloc(size_t(n)));
    // Seeded from the index seed and the new item: reproducible for a given
    // insert order, independent across leaves.
    uint64 seed = core::mix_seed(meta.seed, ref_key(new_ref));
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

// Places a tuple on one of the pages already registered in `state`, or on a
// new page registered now.  pages/bufs hold the registered pages (at most 4).
struct PageSet {
    GenericXLogState *state;
    Buffer bufs[MAX_GENERIC_XLOG_PAGES];
    Page pages[MAX_GENERIC_XLOG_PAGES];
    int n;
};

TupleRef place(Relation index, PageSet &ps, const void *tuple, Size size)
{
    for (int i = 0; i < ps.n; i++) {
        if (PageGetFreeSpace(ps.pages[i]) >= MAXALIGN(size)) {
            TupleRef ref;
            ItemPointerSet(&ref, BufferGetBlockNumber(ps.bufs[i]), add_tuple(index, ps.pages[i], tuple, size));
            return ref;
        }
    }
    if (ps.n == MAX_GENERIC_XLOG_PAGES)
        elog(ERROR, "annoy: too many pages in one leaf split");
    bool is_new;
    Buffer buf = page_with_room(index, size, ps.bufs, ps.n, &is_new);
    int i = ps.n++;
    ps.bufs[i] = buf;
    ps.pages[i] = GenericXLogRegisterBuffer(ps.state, buf, is_new ? GENERIC_XLOG_FULL_IMAGE : 0);
    if (is_new)
        init_data_page(ps.pages[i]);
    TupleRef ref;
    ItemPointerSet(&ref, BufferGetBlockNumber(buf), add_tuple(index, ps.pages[i], tuple, size));
    return ref;
}

// Adds the new item to the full leaf at `leaf_ref` (whose references were
// copied into refs[0..count)): drops references to dead items and, if the
// rest still overflows, splits the leaf.  Returns false if the leaf changed
// meanwhile; the caller then starts over at leaf_ref.
bool split_leaf(Relation index, const core::Space &space, const MetaPageData &meta, int tree, const TupleRef &leaf_ref,
                const TupleRef *refs, const uint8 *codes, int count, int capacity, const TupleRef &new_ref,
                const void *new_vec, const uint8 *new_code, int cb, const Parent &parent)
{
    // Held until the new leaves are written (see kSplitBarrier).
    LockPage(index, kSplitBarrier, ShareLock);
    LeafSplit split;
    compute_split(index, space, meta, refs, codes, count, capacity, new_ref, new_vec, new_code, cb, &split);
    int n = split.n;

    Buffer leaf_buf = lock_ref_buffer(index, leaf_ref, BUFFER_LOCK_EXCLUSIVE);
    Size size;
    auto *leaf = reinterpret_cast<LeafTupleHeader *>(tuple_at(index, BufferGetPage(leaf_buf), leaf_ref, &size));
    if (leaf == nullptr || leaf->kind != kLeafTuple || leaf->tree != tree || leaf->count != count ||
        leaf->code_bytes != cb || memcmp(leaf_refs(leaf), refs, size_t(count) * sizeof(TupleRef)) != 0) {
        UnlockReleaseBuffer(leaf_buf);
        UnlockPage(index, kSplitBarrier, ShareLock);
        return false;
    }

    if (!split.split) {
        // Dead references made room: the leaf keeps the live ones and the new item.
        GenericXLogState *state = GenericXLogStart(index);
        Page copy = GenericXLogRegisterBuffer(state, leaf_buf, 0);
        auto *l = reinterpret_cast<LeafTupleHeader *>(tuple_at(index, copy, leaf_ref, &size));
        memset(leaf_refs(l), 0, leaf_tuple_size(l) - sizeof(LeafTupleHeader));
        memcpy(leaf_refs(l), split.keep, size_t(n) * sizeof(TupleRef));
        if (cb > 0)
            memcpy(leaf_codes(l), split.codes, size_t(n) * size_t(cb));
        l->count = uint16(n);
        GenericXLogFinish(state);
        UnlockReleaseBuffer(leaf_buf);
        UnlockPage(index, kSplitBarrier, ShareLock);
        return true;
    }

    // The two new leaves.
    Size lsize = leaf_tuple_size(capacity, cb);
    LeafTupleHeader *halves[2];
    for (int s = 0; s < 2; s++) {
        halves[s] = static_cast<LeafTupleHeader *>(palloc0(lsize));
        halves[s]->kind = kLeafTuple;
        halves[s]->code_bytes = uint8(cb);
        halves[s]->tree = uint16(tree);
        halves[s]->capacity = uint16(capacity);
    }
    for (int i = 0; i < n; i++) {
        LeafTupleHeader *h = halves[split.side[i]];
        set_leaf_entry(h, h->count++, split.keep[i], split.codes + size_t(i) * size_t(cb));
    }
    Size ssize = split_tuple_size(space);
    auto *node = static_cast<SplitTupleHeader *>(palloc0(ssize));
    node->kind = kSplitTuple;
    node->tree = uint16(tree);
    node->bit = split.bit;
    node->offset = split.offset;
    if (split.plane != nullptr)
        store_plane(space, node, split.plane);

    PageSet ps{};
    ps.state = GenericXLogStart(index);
    ps.bufs[0] = leaf_buf;
    ps.pages[0] = GenericXLogRegisterBuffer(ps.state, leaf_buf, 0);
    ps.n = 1;
    node->child[0] = place(index, ps, halves[0], lsize);
    node->child[1] = place(index, ps, halves[1], lsize);
    TupleRef split_ref = place(index, ps, node, ssize);

    ForwardTupleHeader fwd{};
    fwd.kind = kForwardTuple;
    fwd.tree = uint16(tree);
    fwd.target = split_ref;
    if (!PageIndexTupleOverwrite(ps.pages[0], ItemPointerGetOffsetNumber(&leaf_ref), reinterpret_cast<Item>(&fwd),
                                 sizeof(fwd)))
        elog(ERROR, "annoy: failed to replace leaf (%u,%u)", ItemPointerGetBlockNumber(&leaf_ref),
             ItemPointerGetOffsetNumber(&leaf_ref));
    GenericXLogFinish(ps.state);
    for (int i = 0; i < ps.n; i++) {
        record_free_space(index, ps.bufs[i]);
        UnlockReleaseBuffer(ps.bufs[i]);
    }

    UnlockPage(index, kSplitBarrier, ShareLock);
    update_parent(index, tree, parent, leaf_ref, split_ref);
    return true;
}

void insert_into_tree(Relation index, const core::Space &space, const MetaPageData &meta, int tree,
                      const TupleRef &item, const void *vec, float extra, const uint8 *code, int cb)
{
    // The root from the meta page read at the start of this insert: if a
    // split replaced it since, it is a forward tuple leading to its
    // replacement.  Only after a stale reference (a freed and reused slot)
    // is the meta page read again.
    bool reread_root = false;
restart:
    Parent parent;
    parent.slot = root_slot();
    TupleRef ref = reread_root ? read_root(index, tree) : meta.roots[tree];
    reread_root = true;
    parent.slot_ref = ref;
    for (int steps = 0;; steps++) {
        if (steps > 100000)
            ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
                            errmsg("index \"%s\" tree %d has a cycle", RelationGetRelationName(index), tree)));
        CHECK_FOR_INTERRUPTS();
        Buffer buf = lock_ref_buffer(index, ref, BUFFER_LOCK_SHARE);
        Size size;
        char *tuple = tuple_at(index, BufferGetPage(buf), ref, &size);
        NodeView node = view_node(tuple, size, tree);
        if (node.kind == kSplitTuple) {
            static_assert(noexcept(core::margin(space, split_view(space, node.split), vec, extra)),
                          "called outside guarded()");
            float m = core::margin(space, split_view(space, node.split), vec, extra);
            int side = m > 0 ? 1 : m < 0 ? 0 : int(ref_key(item) & 1);
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
        if (node.kind != kLeafTuple) {
            // A stale reference to a slot that was freed and reused.
            UnlockReleaseBuffer(buf);
            goto restart;
        }

        // A leaf: take the exclusive lock and look again.
        LockBuffer(buf, BUFFER_LOCK_UNLOCK);
        LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
        tuple = tuple_at(index, BufferGetPage(buf), ref, &size);
        node = view_node(tuple, size, tree);
        if (node.kind != kLeafTuple) {
            UnlockReleaseBuffer(buf);
            if (node.kind == kForwardTuple || node.kind == kSplitTuple)
                continue;  // changed under us: look at it again
            goto restart;
        }
        LeafTupleHeader *leaf = node.leaf;
        if (leaf->code_bytes != cb) {
            UnlockReleaseBuffer(buf);
            ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
                            errmsg("index \"%s\" tree %d: leaf (%u,%u) has sketches of %d bytes, expected %d",
                                   RelationGetRelationName(index), tree, ItemPointerGetBlockNumber(&ref),
                                   ItemPointerGetOffsetNumber(&ref), int(leaf->code_bytes), cb)));
        }
        if (leaf->count < leaf->capacity) {
            GenericXLogState *state = GenericXLogStart(index);
            Page copy = GenericXLogRegisterBuffer(state, buf, 0);
            auto *l = reinterpret_cast<LeafTupleHeader *>(tuple_at(index, copy, ref, &size));
            set_leaf_entry(l, l->count++, item, code);
            GenericXLogFinish(state);
            UnlockReleaseBuffer(buf);
            return;
        }
        int count = leaf->count, capacity = leaf->capacity;
        auto *refs = static_cast<TupleRef *>(palloc(size_t(count) * sizeof(TupleRef)));
        memcpy(refs, leaf_refs(leaf), size_t(count) * sizeof(TupleRef));
        uint8 *codes = nullptr;
        if (cb > 0) {
            codes = static_cast<uint8 *>(palloc(size_t(count) * size_t(cb)));
            memcpy(codes, leaf_codes(leaf), size_t(count) * size_t(cb));
        }
        UnlockReleaseBuffer(buf);
        bool done =
            split_leaf(index, space, meta, tree, ref, refs, codes, count, capacity, item, vec, code, cb, parent);
        pfree(refs);
        if (codes != nullptr)
            pfree(codes);
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

    static_assert(noexcept(core::item_extra(space, meta->dot_max_norm, v.data)), "called outside guarded()");
    float extra = core::item_extra(space, meta->dot_max_norm, v.data);
    // The item's sketch, computed once for all trees.
    const core::Sketcher *sketcher = index_sketcher(index, *meta);
    uint8 *code = nullptr;
    int cb = 0;
    if (sketcher != nullptr) {
        cb = int(sketcher->code_bytes());
        code = static_cast<uint8 *>(palloc(size_t(cb)));
        static_assert(noexcept(sketcher->encode(v.data, code)), "called outside guarded()");
        sketcher->encode(v.data, code);
    }
    TupleRef item = add_item(index, space, heap_tid, v.data);
    for (int t = 0; t < meta->n_trees; t++)
        insert_into_tree(index, space, *meta, t, item, v.data, extra, code, cb);

    MemoryContextSwitchTo(old);
    MemoryContextDelete(cxt);
    return false;
}

}  // namespace annoy::pg
