// ambulkdelete / amvacuumcleanup.
//
// One VACUUM makes a few sequential passes over the index, so its time is
// proportional to the index size whatever the number of dead rows:
//   1. flag the items whose heap rows are dead (scans skip them, leaf splits
//      drop them), collect the items flagged by an earlier VACUUM, and free
//      retired forward tuples no snapshot can still reach;
//   2. remove references to all those items from every leaf (all trees at
//      once, page by page);
//   3. free the flagged items, so inserts reuse their space (a barrier after
//      pass 1 waits for leaf splits that read references before the flags
//      were set, so none can copy a reference back after pass 2: see
//      kSplitBarrier);
//   4. tidy every tree: two sibling leaves whose items fit in one are merged
//      (the sibling and the split node become retired forward tuples), bottom
//      up, so deletes do not leave trees full of empty or tiny leaves.
// Line pointers of freed tuples stay in place (unused), so references to
// other tuples never change.  Each page change is one GenericXLog record.
#include "search_state.hpp"

#include "am.hpp"
#include "context_alloc.hpp"
#include "node_access.hpp"
#include "tree_edit.hpp"

extern "C" {
#include "access/transam.h"
#include "commands/vacuum.h"
#include "utils/snapmgr.h"
}

namespace annoy::pg {

namespace {

// Calls fn(buf, page, blkno) for every data page, locked in `mode`.
template <class Fn>
void for_each_data_page(Relation index, BufferAccessStrategy strategy, int mode, Fn &&fn)
{
    BlockNumber nblocks = RelationGetNumberOfBlocks(index);
    for (BlockNumber blkno = kMetaBlock + 1; blkno < nblocks; blkno++) {
        vacuum_delay_point();
        Buffer buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL, strategy);
        LockBuffer(buf, mode);
        Page page = BufferGetPage(buf);
        if (!PageIsNew(page) && (page_opaque(page)->flags & kPageData) != 0)
            fn(buf, page, blkno);
        UnlockReleaseBuffer(buf);
    }
}

// What pass 1 found.
struct DeadItems {
    core::ItemSet *unreference;  // items whose references pass 2 removes
    core::ItemSet *free_now;     // items pass 3 frees (all flagged ones)
    double newly_dead;
    double live;
};

// Pass 1: flags the items whose rows the callback reports dead, collects
// the items flagged before, and frees retired forward tuples that no
// snapshot can still reach.  (callback may be null: nothing newly dead.)
void flag_dead(IndexVacuumInfo *info, IndexBulkDeleteCallback callback, void *state, DeadItems &dead)
{
    Relation index = info->index;
    for_each_data_page(index, info->strategy, BUFFER_LOCK_EXCLUSIVE, [&](Buffer buf, Page page, BlockNumber blkno) {
        GenericXLogState *xlog = nullptr;
        Page copy = nullptr;
        auto writable = [&]() {
            if (xlog == nullptr) {
                xlog = GenericXLogStart(index);
                copy = GenericXLogRegisterBuffer(xlog, buf, 0);
            }
            return copy;
        };
        OffsetNumber max = PageGetMaxOffsetNumber(page);
        for (OffsetNumber off = FirstOffsetNumber; off <= max; off++) {
            ItemId id = PageGetItemId(page, off);
            if (!ItemIdIsUsed(id))
                continue;
            TupleRef ref;
            ItemPointerSet(&ref, blkno, off);
            const char *tuple = static_cast<const char *>(PageGetItem(page, id));
            if (uint8(tuple[0]) == kForwardTuple) {
                auto *fwd = reinterpret_cast<const ForwardTupleHeader *>(tuple);
                uint64 retired = fwd->retired();
                if (retired != 0 && GlobalVisCheckRemovableFullXid(nullptr, FullTransactionIdFromU64(retired))) {
                    Page p = writable();
                    PageIndexTupleDeleteNoCompact(p, off);
                    PageSetHasFreeLinePointers(p);
                }
                continue;
            }
            if (uint8(tuple[0]) != kItemTuple)
                continue;
            auto *item = reinterpret_cast<const ItemTupleHeader *>(tuple);
            if (item->flags & kItemDead) {
                // Flagged by a VACUUM that did not finish.
                dead.unreference->insert(ref_key(ref));
                dead.free_now->insert(ref_key(ref));
            } else if (callback != nullptr && callback(const_cast<ItemPointer>(&item->heap_tid), state)) {
                auto *w = reinterpret_cast<ItemTupleHeader *>(PageGetItem(writable(), PageGetItemId(copy, off)));
                w->flags |= kItemDead;
                dead.unreference->insert(ref_key(ref));
                dead.free_now->insert(ref_key(ref));
                dead.newly_dead += 1;
            } else {
                dead.live += 1;
            }
        }
        if (xlog != nullptr)
            GenericXLogFinish(xlog);
        // Every page's free space, afresh: inserts may have recorded a busy
        // page as full.
        record_free_space(index, buf);
    });
}

// Pass 2: drop references to the given items from every leaf.
void clean_leaves(IndexVacuumInfo *info, const core::ItemSet &dead)
{
    Relation index = info->index;
    for_each_data_page(index, info->strategy, BUFFER_LOCK_EXCLUSIVE, [&](Buffer buf, Page page, BlockNumber) {
        GenericXLogState *state = nullptr;
        Page copy = nullptr;
        OffsetNumber max = PageGetMaxOffsetNumber(page);
        for (OffsetNumber off = FirstOffsetNumber; off <= max; off++) {
            ItemId id = PageGetItemId(page, off);
            if (!ItemIdIsUsed(id))
                continue;
            auto *leaf = reinterpret_cast<LeafTupleHeader *>(PageGetItem(page, id));
            if (leaf->kind != kLeafTuple)
                continue;
            bool any = false;
            for (int i = 0; i < leaf->count && !any; i++)
                any = dead.contains(ref_key(leaf_refs(leaf)[i]));
            if (!any)
                continue;
            if (state == nullptr) {
                state = GenericXLogStart(index);
                copy = GenericXLogRegisterBuffer(state, buf, 0);
            }
            auto *l = reinterpret_cast<LeafTupleHeader *>(PageGetItem(copy, PageGetItemId(copy, off)));
            TupleRef *refs = leaf_refs(l);
            int kept = 0;
            for (int i = 0; i < l->count; i++) {
                if (!dead.contains(ref_key(refs[i])))
                    copy_leaf_entry(l, kept++, l, i);  // reference and sketch
            }
            memset(refs + kept, 0, size_t(l->count - kept) * sizeof(TupleRef));
            memset(leaf_codes(l) + size_t(kept) * l->code_bytes, 0, size_t(l->count - kept) * l->code_bytes);
            l->count = uint16(kept);
        }
        if (state != nullptr)
            GenericXLogFinish(state);
    });
}

// Pass 3: free the flagged items.  Their line pointers
// stay (unused) unless last on the page, so a stale reference finds a free
// slot or, once reused, a tuple whose kind or tree tells it apart.
void free_items(IndexVacuumInfo *info, const core::ItemSet &dead)
{
    Relation index = info->index;
    for_each_data_page(index, info->strategy, BUFFER_LOCK_EXCLUSIVE, [&](Buffer buf, Page page, BlockNumber blkno) {
        GenericXLogState *state = nullptr;
        Page copy = nullptr;
        OffsetNumber max = PageGetMaxOffsetNumber(page);
        for (OffsetNumber off = max; off >= FirstOffsetNumber; off--) {
            ItemId id = PageGetItemId(page, off);
            if (!ItemIdIsUsed(id))
                continue;
            TupleRef ref;
            ItemPointerSet(&ref, blkno, off);
            auto *item = reinterpret_cast<ItemTupleHeader *>(PageGetItem(page, id));
            if (item->kind != kItemTuple || !(item->flags & kItemDead) || !dead.contains(ref_key(ref)))
                continue;
            if (state == nullptr) {
                state = GenericXLogStart(index);
                copy = GenericXLogRegisterBuffer(state, buf, 0);
            }
            PageIndexTupleDeleteNoCompact(copy, off);
        }
        if (state != nullptr) {
            // Let PageAddItem look for the unused line pointers.
            PageSetHasFreeLinePointers(copy);
            GenericXLogFinish(state);
            record_free_space(index, buf);
        }
    });
}

// A tree as pass 4 sees it: nodes in depth-first pre-order.
struct TidyNode {
    TupleRef ref;       // the node itself
    Slot slot;          // where its parent refers to it
    TupleRef slot_ref;  // what that slot holds (== ref unless via a forward tuple)
    uint8 kind;
    int count, capacity;
    int child[2];
};

// Loads tree `tree` into nodes[]; returns the node count.
int load_tree(Relation index, const TupleRef &root, int tree, TidyNode *&nodes, int &cap)
{
    struct Pending {
        Slot slot;
        TupleRef ref;
        int parent, side;
    };
    int n = 0, top = 0, stack_cap = 256;
    auto *stack = static_cast<Pending *>(palloc(sizeof(Pending) * size_t(stack_cap)));
    stack[top++] = Pending{root_slot(), root, -1, 0};
    while (top > 0) {
        Pending p = stack[--top];
        TupleRef ref = p.ref;
        uint8 kind = 0;
        TidyNode node{};
        for (int hops = 0; hops < 64; hops++) {  // follow forward tuples
            Buffer buf = lock_ref_buffer(index, ref, BUFFER_LOCK_SHARE);
            Size size;
            char *tuple = tuple_at(index, BufferGetPage(buf), ref, &size);
            NodeView v = view_node(tuple, size, tree);
            kind = v.kind;
            if (kind == kForwardTuple) {
                ref = v.forward->target;
                UnlockReleaseBuffer(buf);
                continue;
            }
            if (kind == kLeafTuple) {
                node.count = v.leaf->count;
                node.capacity = v.leaf->capacity;
            } else if (kind == kSplitTuple) {
                node.child[0] = node.child[1] = -1;
                if (top + 2 >= stack_cap) {
                    stack_cap *= 2;
                    stack = static_cast<Pending *>(repalloc(stack, sizeof(Pending) * size_t(stack_cap)));
                }
                for (int side = 1; side >= 0; side--) {
                    Slot child_slot{ref, side};
                    stack[top++] = Pending{child_slot, v.split->child[side], n, side};
                }
            }
            UnlockReleaseBuffer(buf);
            break;
        }
        if (kind != kLeafTuple && kind != kSplitTuple)
            continue;  // changed concurrently; the next VACUUM looks again
        if (n == cap) {
            cap *= 2;
            nodes = static_cast<TidyNode *>(repalloc_huge(nodes, sizeof(TidyNode) * size_t(cap)));
        }
        node.ref = ref;
        node.slot = p.slot;
        node.slot_ref = p.ref;
        node.kind = kind;
        if (p.parent >= 0)
            nodes[p.parent].child[p.side] = n;
        nodes[n++] = node;
    }
    pfree(stack);
    return n;
}

// Merges the two leaf children of split node s into its child 0, frees
// child 1 and the split, and points s's slot at the merged leaf, in one WAL
// record.  False if anything changed since the tree was loaded.
bool merge_leaves(Relation index, int tree, TidyNode *nodes, int s)
{
    TidyNode &split = nodes[s];
    TidyNode &a = nodes[split.child[0]];
    TidyNode &b = nodes[split.child[1]];
    BlockNumber blocks[4] = {slot_block(split.slot), ItemPointerGetBlockNumber(&split.ref),
                             ItemPointerGetBlockNumber(&a.ref), ItemPointerGetBlockNumber(&b.ref)};
    LockedPages pages = LockedPages::lock(index, blocks, 4);
    TupleRef *slot = slot_ref_in(pages, split.slot, tree);
    NodeView sv = node_in(pages, split.ref, tree);
    NodeView av = node_in(pages, a.ref, tree);
    NodeView bv = node_in(pages, b.ref, tree);
    bool ok = slot != nullptr && ItemPointerEquals(slot, &split.slot_ref) && sv.kind == kSplitTuple &&
              av.kind == kLeafTuple && bv.kind == kLeafTuple && ItemPointerEquals(&sv.split->child[0], &a.ref) &&
              ItemPointerEquals(&sv.split->child[1], &b.ref) && av.leaf->count + bv.leaf->count <= av.leaf->capacity &&
              av.leaf->code_bytes == bv.leaf->code_bytes;
    if (!ok) {
        pages.abandon();
        return false;
    }
    for (int i = 0; i < bv.leaf->count; i++)
        copy_leaf_entry(av.leaf, av.leaf->count + i, bv.leaf, i);  // reference and sketch
    av.leaf->count = uint16(av.leaf->count + bv.leaf->count);
    int merged = av.leaf->count, capacity = av.leaf->capacity;
    *slot = a.ref;
    // Readers may still hold b or the split: they now lead to the merged leaf.
    retire_to_forward(pages, b.ref, tree, a.ref);
    retire_to_forward(pages, split.ref, tree, a.ref);
    pages.commit();

    // The split is now a leaf for its own parent's turn.
    split.kind = kLeafTuple;
    split.ref = a.ref;
    split.slot_ref = a.ref;
    split.count = merged;
    split.capacity = capacity;
    return true;
}

// Pass 4 for one tree; returns the number of merges.
int tidy_tree(Relation index, const TupleRef &root, int tree)
{
    int cap = 1024;
    auto *nodes = static_cast<TidyNode *>(palloc_extended(sizeof(TidyNode) * size_t(cap), MCXT_ALLOC_HUGE));
    int n = load_tree(index, root, tree, nodes, cap);
    int merges = 0;
    // Reverse pre-order visits children before their parent.
    for (int i = n - 1; i >= 0; i--) {
        TidyNode &s = nodes[i];
        if (s.kind != kSplitTuple || s.child[0] < 0 || s.child[1] < 0)
            continue;
        const TidyNode &a = nodes[s.child[0]];
        const TidyNode &b = nodes[s.child[1]];
        // Only direct references (no forward tuple on the way) are merged.
        if (a.kind != kLeafTuple || b.kind != kLeafTuple ||
            !ItemPointerEquals(const_cast<TupleRef *>(&a.ref), const_cast<TupleRef *>(&a.slot_ref)) ||
            !ItemPointerEquals(const_cast<TupleRef *>(&b.ref), const_cast<TupleRef *>(&b.slot_ref)) ||
            !ItemPointerEquals(&s.ref, &s.slot_ref) || a.count + b.count > a.capacity)
            continue;
        vacuum_delay_point();
        merges += merge_leaves(index, tree, nodes, i);
    }
    pfree(nodes);
    return merges;
}

void tidy_trees(Relation index)
{
    MetaPageData *meta = alloc_meta();
    read_meta(index, meta);
    for (int t = 0; t < meta->n_trees; t++)
        tidy_tree(index, read_root(index, t), t);
    pfree(meta);
}

void store_item_count(Relation index, double live)
{
    Buffer buf = ReadBuffer(index, kMetaBlock);
    LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
    GenericXLogState *state = GenericXLogStart(index);
    MetaPageData *meta = meta_data(GenericXLogRegisterBuffer(state, buf, 0));
    meta->n_items = uint64(live);
    meta->counted_pages = RelationGetNumberOfBlocks(index);
    GenericXLogFinish(state);
    UnlockReleaseBuffer(buf);
}

// One VACUUM cycle over the index (bulk delete, or cleanup alone with no
// callback): passes 1-3 and tidying.  Returns the live item count.
double vacuum_index(IndexVacuumInfo *info, IndexBulkDeleteCallback callback, void *callback_state,
                    IndexBulkDeleteResult *stats)
{
    MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "annoy vacuum", ALLOCSET_DEFAULT_SIZES);
    core::RawAllocator alloc = context_allocator(cxt);
    DeadItems dead{};
    dead.unreference = new (MemoryContextAlloc(cxt, sizeof(core::ItemSet))) core::ItemSet(alloc);
    dead.free_now = new (MemoryContextAlloc(cxt, sizeof(core::ItemSet))) core::ItemSet(alloc);
    flag_dead(info, callback, callback_state, dead);
    // The barrier: wait for leaf splits that may have read references
    // before the flags were set (they hold it in share mode).
    LockPage(info->index, kSplitBarrier, ExclusiveLock);
    UnlockPage(info->index, kSplitBarrier, ExclusiveLock);
    if (dead.unreference->size() > 0)
        clean_leaves(info, *dead.unreference);
    if (dead.free_now->size() > 0)
        free_items(info, *dead.free_now);
    if (dead.unreference->size() > 0)
        tidy_trees(info->index);
    stats->tuples_removed += dead.newly_dead;
    stats->num_index_tuples = dead.live;
    stats->num_pages = RelationGetNumberOfBlocks(info->index);
    store_item_count(info->index, dead.live);
    MemoryContextDelete(cxt);  // the sets' memory; they own nothing else
    return dead.live;
}

}  // namespace

IndexBulkDeleteResult *bulk_delete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
                                   IndexBulkDeleteCallback callback, void *callback_state)
{
    if (stats == nullptr)
        stats = static_cast<IndexBulkDeleteResult *>(palloc0(sizeof(IndexBulkDeleteResult)));
    vacuum_index(info, callback, callback_state, stats);
    return stats;
}

IndexBulkDeleteResult *vacuum_cleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats)
{
    if (info->analyze_only)
        return stats;
    if (stats == nullptr) {
        // No bulk delete ran in this VACUUM: still free what earlier ones
        // flagged and retired, and count the items for reltuples.
        stats = static_cast<IndexBulkDeleteResult *>(palloc0(sizeof(IndexBulkDeleteResult)));
        vacuum_index(info, nullptr, nullptr, stats);
    }
    stats->num_pages = RelationGetNumberOfBlocks(info->index);
    IndexFreeSpaceMapVacuum(info->index);
    return stats;
}

}  // namespace annoy::pg
