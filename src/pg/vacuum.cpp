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
#include "access/nbtxlog.h"
#include "access/transam.h"
#include "access/xloginsert.h"
#include "commands/vacuum.h"
#include "utils/snapmgr.h"
}

namespace annoy::pg {

namespace {

// The shape of the index's tuples now (a pass reads it afresh: the first
// insert into an empty index sets the dimension).
IndexShape current_shape(Relation index)
{
    MetaPageData *meta = alloc_meta();
    read_meta(index, meta);
    IndexShape shape = index_shape(*meta);
    pfree(meta);
    return shape;
}

// Calls fn(buf, page, blkno, shape) for every data page, locked in `mode`
// and checked (never-initialised pages are skipped: an extension a crash
// interrupted).
template <class Fn>
void for_each_data_page(Relation index, BufferAccessStrategy strategy, int mode, Fn &&fn)
{
    IndexShape shape = current_shape(index);
    BlockNumber nblocks = RelationGetNumberOfBlocks(index);
    for (BlockNumber blkno = kMetaBlock + 1; blkno < nblocks; blkno++) {
        vacuum_delay_point();
        Buffer buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL, strategy);
        LockBuffer(buf, mode);
        Page page = BufferGetPage(buf);
        if (!PageIsNew(page)) {
            check_data_page(index, page, blkno);
            fn(buf, page, blkno, shape);
        }
        UnlockReleaseBuffer(buf);
    }
}

// One page's change in a pass: its GenericXLog record is started on the
// first write, as most pages a pass reads need none.
struct PageChange {
    Relation index;
    Buffer buf;
    GenericXLogState *state = nullptr;
    Page copy = nullptr;

    // The page's registered copy, to write to.
    Page writable()
    {
        if (state == nullptr) {
            state = GenericXLogStart(index);
            copy = GenericXLogRegisterBuffer(state, buf, 0);
        }
        return copy;
    }
    bool changed() const { return state != nullptr; }
    void finish()
    {
        if (state != nullptr)
            GenericXLogFinish(state);
    }
};

// Before freeing retired forward tuples: a hot standby replays the free
// without knowing which of its queries may still hold a reference to them
// (the primary only waits for its own snapshots).  So, as btree does before
// reusing a deleted page, log a recovery conflict: replaying it cancels the
// standby queries whose snapshot is as old as the newest retirement stamp
// freed (or waits for them, max_standby_streaming_delay); with
// hot_standby_feedback the primary's horizon already includes the standby's
// queries and none is affected.  btree's XLOG_BTREE_REUSE_PAGE record is
// exactly that conflict and touches no page, so it serves any relation; a
// resource manager of our own would need shared_preload_libraries.
void log_standby_conflict(Relation index, BlockNumber blkno, uint64 newest_retired)
{
    if (!RelationNeedsWAL(index) || !XLogStandbyInfoActive())
        return;
    xl_btree_reuse_page conflict;
    conflict.node = index->rd_node;
    conflict.block = blkno;
    conflict.latestRemovedFullXid = FullTransactionIdFromU64(newest_retired);
    XLogBeginInsert();
    XLogRegisterData(reinterpret_cast<char *>(&conflict), SizeOfBtreeReusePage);
    XLogInsert(RM_BTREE_ID, XLOG_BTREE_REUSE_PAGE);
}

// What pass 1 found.
struct DeadItems {
    core::ItemSet *flagged;  // every flagged item: pass 2 removes its references, pass 3 frees it
    double newly_dead;
    double live;
};

// Pass 1: flags the items whose rows the callback reports dead, collects
// the items flagged before, and frees retired forward tuples that no
// snapshot can still reach.  (callback may be null: nothing newly dead.)
void flag_dead(IndexVacuumInfo *info, IndexBulkDeleteCallback callback, void *state, DeadItems &dead)
{
    Relation index = info->index;
    for_each_data_page(
        index, info->strategy, BUFFER_LOCK_EXCLUSIVE,
        [&](Buffer buf, Page page, BlockNumber blkno, const IndexShape &shape) {
            PageChange change{index, buf};
            uint64 newest_freed = 0;  // the latest retirement stamp freed here
            for_each_checked_tuple(index, page, blkno, shape, [&](OffsetNumber off, char *tuple, Size) {
                TupleRef ref;
                ItemPointerSet(&ref, blkno, off);
                if (uint8(tuple[0]) == kForwardTuple) {
                    auto *fwd = reinterpret_cast<const ForwardTupleHeader *>(tuple);
                    uint64 retired = fwd->retired();
                    if (retired != 0 && GlobalVisCheckRemovableFullXid(nullptr, FullTransactionIdFromU64(retired))) {
                        Page p = change.writable();
                        PageIndexTupleDeleteNoCompact(p, off);
                        PageSetHasFreeLinePointers(p);
                        newest_freed = std::max(newest_freed, retired);
                    }
                    return;
                }
                if (uint8(tuple[0]) == kChunkTuple) {
                    // Part of a vector larger than a page: it goes with its
                    // owner's row.  No leaf refers to it: pass 2 finds none,
                    // pass 3 frees it.  (The center's chunks, whose owner
                    // TID is invalid, stay.)
                    auto *chunk = reinterpret_cast<const ItemTupleHeader *>(tuple);
                    if (chunk->flags & kItemDead) {
                        dead.flagged->insert(ref_key(ref));
                    } else if (callback != nullptr && ItemPointerIsValid(&chunk->heap_tid) &&
                               callback(const_cast<ItemPointer>(&chunk->heap_tid), state)) {
                        Page p = change.writable();
                        auto *w = reinterpret_cast<ItemTupleHeader *>(PageGetItem(p, PageGetItemId(p, off)));
                        w->flags |= kItemDead;
                        dead.flagged->insert(ref_key(ref));
                    }
                    return;
                }
                if (uint8(tuple[0]) != kItemTuple)
                    return;
                auto *item = reinterpret_cast<const ItemTupleHeader *>(tuple);
                if (item->flags & kItemDead) {
                    // Flagged by a VACUUM that did not finish.
                    dead.flagged->insert(ref_key(ref));
                } else if (callback != nullptr && callback(const_cast<ItemPointer>(&item->heap_tid), state)) {
                    Page p = change.writable();
                    auto *w = reinterpret_cast<ItemTupleHeader *>(PageGetItem(p, PageGetItemId(p, off)));
                    w->flags |= kItemDead;
                    dead.flagged->insert(ref_key(ref));
                    dead.newly_dead += 1;
                } else {
                    dead.live += 1;
                }
            });
            if (newest_freed != 0)
                log_standby_conflict(index, blkno, newest_freed);  // before the record that frees them
            change.finish();
            // Every page's free space, afresh: inserts may have recorded a busy
            // page as full.
            record_free_space(index, buf);
        });
}

// Pass 2: drop references to the given items from every leaf.
void clean_leaves(IndexVacuumInfo *info, const core::ItemSet &dead)
{
    Relation index = info->index;
    for_each_data_page(
        index, info->strategy, BUFFER_LOCK_EXCLUSIVE,
        [&](Buffer buf, Page page, BlockNumber blkno, const IndexShape &shape) {
            PageChange change{index, buf};
            for_each_checked_tuple(index, page, blkno, shape, [&](OffsetNumber off, char *tuple, Size) {
                auto *leaf = reinterpret_cast<LeafTupleHeader *>(tuple);
                if (leaf->kind != kLeafTuple)
                    return;
                bool any = false;
                for (int i = 0; i < leaf->count && !any; i++)
                    any = dead.contains(ref_key(leaf_refs(leaf)[i]));
                if (!any)
                    return;
                Page copy = change.writable();
                auto *l = reinterpret_cast<LeafTupleHeader *>(PageGetItem(copy, PageGetItemId(copy, off)));
                TupleRef *refs = leaf_refs(l);
                int kept = 0;
                for (int i = 0; i < l->count; i++) {
                    if (!dead.contains(ref_key(refs[i])))
                        copy_leaf_entry(l, kept++, l, i, shape.payload_bytes);  // reference, sketch, payload
                }
                const size_t gone = size_t(l->count - kept), pb = size_t(shape.payload_bytes);
                memset(refs + kept, 0, gone * sizeof(TupleRef));
                memset(leaf_sketches(l) + size_t(kept) * l->sketch_bytes, 0, gone * l->sketch_bytes);
                memset(leaf_payloads(l) + size_t(kept) * pb, 0, gone * pb);
                l->count = uint16(kept);
            });
            change.finish();
        });
}

// Pass 3: free the flagged items (and chunks).  Their line pointers
// stay (unused) unless last on the page, so a stale reference finds a free
// slot or, once reused, a tuple whose kind or tree tells it apart.
void free_items(IndexVacuumInfo *info, const core::ItemSet &dead)
{
    Relation index = info->index;
    for_each_data_page(index, info->strategy, BUFFER_LOCK_EXCLUSIVE,
                       [&](Buffer buf, Page page, BlockNumber blkno, const IndexShape &shape) {
                           PageChange change{index, buf};
                           for_each_checked_tuple(
                               index, page, blkno, shape,
                               [&](OffsetNumber off, char *tuple, Size) {
                                   auto *item = reinterpret_cast<ItemTupleHeader *>(tuple);
                                   TupleRef ref;
                                   ItemPointerSet(&ref, blkno, off);
                                   if ((item->kind != kItemTuple && item->kind != kChunkTuple) ||
                                       !(item->flags & kItemDead) || !dead.contains(ref_key(ref)))
                                       return;
                                   PageIndexTupleDeleteNoCompact(change.writable(), off);
                               },
                               true);
                           if (change.changed()) {
                               // Let PageAddItem look for the unused line pointers.
                               PageSetHasFreeLinePointers(change.writable());
                               change.finish();
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

// Loads tree `tree` into nodes[]; returns the node count.  Every node is
// read through read_node (an error on anything that is not a node of the
// tree) and at most once: a node reached twice is a cycle or a shared
// subtree, which no writer makes, so it is corruption, as is a tree with more
// nodes than the index has tuples.
int load_tree(Relation index, const IndexShape &shape, const TupleRef &root, int tree, TidyNode *&nodes, int &cap,
              core::ItemSet &reached)
{
    struct Pending {
        Slot slot;
        TupleRef ref;
        int parent, side;
    };
    int n = 0, top = 0, stack_cap = 256;
    auto *stack = static_cast<Pending *>(palloc(sizeof(Pending) * size_t(stack_cap)));
    stack[top++] = Pending{root_slot(), root, -1, 0};
    reached.clear();
    while (top > 0) {
        CHECK_FOR_INTERRUPTS();
        Pending p = stack[--top];
        TupleRef ref = p.ref;
        uint8 kind = 0;
        TidyNode node{};
        for (;;) {  // follow forward tuples
            if (!reached.insert(ref_key(ref)))
                tuple_corrupted(index, ref, tree, "node reached twice (cycle or shared subtree)");
            Buffer buf = lock_ref_buffer(index, ref, BUFFER_LOCK_SHARE);
            NodeView v = read_node(index, BufferGetPage(buf), ref, tree, shape);
            kind = v.kind;
            if (kind == kForwardTuple) {
                ref = v.forward->target;
                UnlockReleaseBuffer(buf);
                continue;
            }
            if (kind == kLeafTuple) {
                node.count = v.leaf->count;
                node.capacity = v.leaf->capacity;
            } else {
                node.child[0] = node.child[1] = -1;
                if (top + 2 >= stack_cap) {
                    stack_cap *= 2;
                    stack = static_cast<Pending *>(repalloc_huge(stack, sizeof(Pending) * size_t(stack_cap)));
                }
                for (int side = 1; side >= 0; side--) {
                    Slot child_slot{ref, side};
                    stack[top++] = Pending{child_slot, v.split->child[side], n, side};
                }
            }
            UnlockReleaseBuffer(buf);
            break;
        }
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
bool merge_leaves(Relation index, const IndexShape &shape, int tree, TidyNode *nodes, int s)
{
    TidyNode &split = nodes[s];
    TidyNode &a = nodes[split.child[0]];
    TidyNode &b = nodes[split.child[1]];
    BlockNumber blocks[4] = {slot_block(split.slot), ItemPointerGetBlockNumber(&split.ref),
                             ItemPointerGetBlockNumber(&a.ref), ItemPointerGetBlockNumber(&b.ref)};
    LockedPages pages = LockedPages::lock(index, blocks, 4);
    TupleRef *slot = slot_ref_in(pages, split.slot, tree, shape);
    NodeView sv = node_in(pages, split.ref, tree, shape);
    NodeView av = node_in(pages, a.ref, tree, shape);
    NodeView bv = node_in(pages, b.ref, tree, shape);
    bool ok = slot != nullptr && ItemPointerEquals(slot, &split.slot_ref) && sv.kind == kSplitTuple &&
              av.kind == kLeafTuple && bv.kind == kLeafTuple && ItemPointerEquals(&sv.split->child[0], &a.ref) &&
              ItemPointerEquals(&sv.split->child[1], &b.ref) && av.leaf->count + bv.leaf->count <= av.leaf->capacity &&
              av.leaf->sketch_bytes == bv.leaf->sketch_bytes;
    if (!ok) {
        pages.abandon();
        return false;
    }
    for (int i = 0; i < bv.leaf->count; i++)
        copy_leaf_entry(av.leaf, av.leaf->count + i, bv.leaf, i, shape.payload_bytes);  // reference, sketch, payload
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
int tidy_tree(Relation index, const IndexShape &shape, const TupleRef &root, int tree, core::ItemSet &reached)
{
    int cap = 1024;
    auto *nodes = static_cast<TidyNode *>(palloc_extended(sizeof(TidyNode) * size_t(cap), MCXT_ALLOC_HUGE));
    int n = load_tree(index, shape, root, tree, nodes, cap, reached);
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
        merges += merge_leaves(index, shape, tree, nodes, i);
    }
    pfree(nodes);
    return merges;
}

void tidy_trees(Relation index, core::ItemSet &reached)
{
    MetaPageData *meta = alloc_meta();
    read_meta(index, meta);
    IndexShape shape = index_shape(*meta);
    for (int t = 0; t < meta->n_trees; t++)
        tidy_tree(index, shape, read_root(index, t), t, reached);
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
    dead.flagged = context_new<core::ItemSet>(cxt, alloc);
    flag_dead(info, callback, callback_state, dead);
    // The barrier: wait for leaf splits that may have read references
    // before the flags were set (they hold it in share mode).
    LockPage(info->index, kSplitBarrier, ExclusiveLock);
    UnlockPage(info->index, kSplitBarrier, ExclusiveLock);
    if (dead.flagged->size() > 0) {
        clean_leaves(info, *dead.flagged);
        free_items(info, *dead.flagged);
        tidy_trees(info->index, *context_new<core::ItemSet>(cxt, alloc));
    }
    stats->tuples_removed += dead.newly_dead;
    stats->num_index_tuples = dead.live;
    stats->num_pages = RelationGetNumberOfBlocks(info->index);
    store_item_count(info->index, dead.live);
    MemoryContextDelete(cxt);  // the set and its memory
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
