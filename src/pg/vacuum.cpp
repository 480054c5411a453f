// ambulkdelete / amvacuumcleanup.
//
// Bulk delete makes three sequential passes over the index, so its time is
// proportional to the index size whatever the number of dead rows:
//   1. find item tuples whose heap row is dead (the callback) and remember
//      their references in a hash set;
//   2. remove those references from every leaf (all trees at once, page by
//      page);
//   3. free the dead item tuples, so later inserts reuse the space.
// Leaves are cleaned before items are freed, so no leaf ever refers to a
// freed slot it still needs.  Line pointers of freed tuples stay in place
// (marked unused): other tuples' references never change.  Each page change
// is one GenericXLog record.
#include "am.hpp"
#include "forest_walk.hpp"
#include "node_access.hpp"

#include "search_state.hpp"

extern "C" {
#include "commands/vacuum.h"
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

// Pass 1: references of dead items; counts live ones.
void collect_dead(IndexVacuumInfo *info, IndexBulkDeleteCallback callback, void *state, core::ItemSet &dead,
                  double *live)
{
    for_each_data_page(info->index, info->strategy, BUFFER_LOCK_SHARE, [&](Buffer, Page page, BlockNumber blkno) {
        OffsetNumber max = PageGetMaxOffsetNumber(page);
        for (OffsetNumber off = FirstOffsetNumber; off <= max; off++) {
            ItemId id = PageGetItemId(page, off);
            if (!ItemIdIsUsed(id))
                continue;
            auto *item = reinterpret_cast<ItemTupleHeader *>(PageGetItem(page, id));
            if (item->kind != kItemTuple)
                continue;
            if (callback(&item->heap_tid, state)) {
                TupleRef ref;
                ItemPointerSet(&ref, blkno, off);
                dead.insert(ref_key(ref));
            } else {
                *live += 1;
            }
        }
    });
}

// Pass 2: drop dead references from every leaf.
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
                    refs[kept++] = refs[i];
            }
            memset(refs + kept, 0, size_t(l->count - kept) * sizeof(TupleRef));
            l->count = uint16(kept);
        }
        if (state != nullptr)
            GenericXLogFinish(state);
    });
}

// Pass 3: free the dead items; returns how many were freed.
double free_items(IndexVacuumInfo *info, const core::ItemSet &dead)
{
    Relation index = info->index;
    double freed = 0;
    for_each_data_page(index, info->strategy, BUFFER_LOCK_EXCLUSIVE, [&](Buffer buf, Page page, BlockNumber blkno) {
        GenericXLogState *state = nullptr;
        Page copy = nullptr;
        OffsetNumber max = PageGetMaxOffsetNumber(page);
        // From the end: deleting the last line pointer shortens the array.
        for (OffsetNumber off = max; off >= FirstOffsetNumber; off--) {
            ItemId id = PageGetItemId(page, off);
            if (!ItemIdIsUsed(id))
                continue;
            TupleRef ref;
            ItemPointerSet(&ref, blkno, off);
            if (!dead.contains(ref_key(ref)))
                continue;
            if (reinterpret_cast<ItemTupleHeader *>(PageGetItem(page, id))->kind != kItemTuple)
                continue;
            if (state == nullptr) {
                state = GenericXLogStart(index);
                copy = GenericXLogRegisterBuffer(state, buf, 0);
            }
            PageIndexTupleDeleteNoCompact(copy, off);
            freed += 1;
        }
        if (state != nullptr) {
            // Let PageAddItem look for the unused line pointers.
            PageSetHasFreeLinePointers(copy);
            GenericXLogFinish(state);
            record_free_space(index, buf);
        }
    });
    return freed;
}

void store_item_count(Relation index, double live)
{
    Buffer buf = ReadBuffer(index, kMetaBlock);
    LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
    GenericXLogState *state = GenericXLogStart(index);
    meta_data(GenericXLogRegisterBuffer(state, buf, 0))->n_items = uint64(live);
    GenericXLogFinish(state);
    UnlockReleaseBuffer(buf);
}

}  // namespace

IndexBulkDeleteResult *bulk_delete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
                                   IndexBulkDeleteCallback callback, void *callback_state)
{
    if (stats == nullptr)
        stats = static_cast<IndexBulkDeleteResult *>(palloc0(sizeof(IndexBulkDeleteResult)));

    MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "annoy vacuum", ALLOCSET_DEFAULT_SIZES);
    auto *dead = new (MemoryContextAlloc(cxt, sizeof(core::ItemSet))) core::ItemSet(context_allocator(cxt));
    double live = 0;
    collect_dead(info, callback, callback_state, *dead, &live);
    if (dead->size() > 0) {
        clean_leaves(info, *dead);
        stats->tuples_removed += free_items(info, *dead);
    }
    stats->num_index_tuples = live;
    stats->num_pages = RelationGetNumberOfBlocks(info->index);
    store_item_count(info->index, live);
    MemoryContextDelete(cxt);  // the set's memory; it has nothing else to release
    return stats;
}

IndexBulkDeleteResult *vacuum_cleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats)
{
    if (info->analyze_only)
        return stats;
    if (stats == nullptr) {
        // No bulk delete ran (nothing to remove): count the items, so the
        // index's reltuples stays accurate.
        stats = static_cast<IndexBulkDeleteResult *>(palloc0(sizeof(IndexBulkDeleteResult)));
        double live = 0;
        for_each_data_page(info->index, info->strategy, BUFFER_LOCK_SHARE, [&](Buffer, Page page, BlockNumber) {
            OffsetNumber max = PageGetMaxOffsetNumber(page);
            for (OffsetNumber off = FirstOffsetNumber; off <= max; off++) {
                ItemId id = PageGetItemId(page, off);
                if (ItemIdIsUsed(id) && reinterpret_cast<ItemTupleHeader *>(PageGetItem(page, id))->kind == kItemTuple)
                    live += 1;
            }
        });
        stats->num_index_tuples = live;
        stats->estimated_count = false;
    }
    stats->num_pages = RelationGetNumberOfBlocks(info->index);
    IndexFreeSpaceMapVacuum(info->index);
    return stats;
}

}  // namespace annoy::pg
