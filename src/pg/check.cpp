// annoy_check(index regclass): verifies the whole structure and raises an
// error describing the first problem found.
//
// Locks: ShareLock on the index, which lets scans run but waits for (and
// holds off) inserts and VACUUM, so the structure cannot change under the
// check.  On a hot standby, where ShareLock cannot be taken, AccessShareLock:
// replay may then add items while the check runs, which the visibility rule
// below tolerates.
//
// An insert adds its item to the trees one after another, so an insert that
// was cancelled or crashed leaves its item in some trees only; such an item
// belongs to a row no snapshot will ever see, and VACUUM removes it.  So a
// live item missing from a tree is an error only when its heap row is
// visible to the check's snapshot.
#include "search_state.hpp"
#include "sketch.hpp"

#include "am.hpp"
#include "forest_walk.hpp"
#include "index_sketch.hpp"

extern "C" {
#include "access/relation.h"
#include "access/table.h"
#include "access/xlog.h"
#include "executor/tuptable.h"
#include "utils/snapmgr.h"
#include "catalog/pg_am.h"
#include "utils/lsyscache.h"
}

namespace annoy::pg {

namespace {

[[noreturn]] void corrupted(Relation index, const char *fmt, uint32 a, uint32 b, int tree)
{
    char what[128];
    snprintf(what, sizeof(what), fmt, a, b);
    ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
                    errmsg("index \"%s\" tree %d: %s", RelationGetRelationName(index), tree, what)));
}

struct CheckVisitor final : WalkVisitor {
    Relation index;
    int tree;
    const core::ItemSet *items;  // every item tuple, live or flagged dead
    core::ItemSet *in_tree;      // items reached in this tree
    int max_capacity;

    void leaf(const TupleRef &, const TupleRef *refs, int count, int capacity, int) override
    {
        if (capacity < 1 || capacity > max_capacity)
            corrupted(index, "leaf capacity %u out of range (max %u)", uint32(capacity), uint32(max_capacity), tree);
        for (int i = 0; i < count; i++) {
            uint64 key = ref_key(refs[i]);
            if (!items->contains(key))
                corrupted(index, "leaf refers to (%u,%u), which is not an item",
                          ItemPointerGetBlockNumberNoCheck(&refs[i]), ItemPointerGetOffsetNumberNoCheck(&refs[i]),
                          tree);
            if (!in_tree->insert(key))
                corrupted(index, "item (%u,%u) appears twice", ItemPointerGetBlockNumberNoCheck(&refs[i]),
                          ItemPointerGetOffsetNumberNoCheck(&refs[i]), tree);
        }
    }
    void split(const TupleRef &, const SplitTupleHeader &s, int) override
    {
        if (s.child[0].ip_posid == 0 || s.child[1].ip_posid == 0)
            corrupted(index, "split node with an invalid child (%u,%u)", 0, 0, tree);
    }
    void forward(const TupleRef &) override {}
};
static_assert(std::is_trivially_destructible_v<CheckVisitor>, "alive across Postgres calls that may longjmp");

// A live item and the heap row it indexes.
struct LiveItem {
    TupleRef ref;
    ItemPointerData heap_tid;
};

// Whether the heap row at tid is visible to the check's snapshot.
bool row_visible(IndexFetchTableData *fetch, TupleTableSlot *slot, ItemPointer tid)
{
    bool call_again = false, all_dead = false;
    ItemPointerData t = *tid;
    Snapshot snap = ActiveSnapshotSet() ? GetActiveSnapshot() : GetTransactionSnapshot();
    return table_index_fetch_tuple(fetch, &t, snap, slot, &call_again, &all_dead);
}

}  // namespace

}  // namespace annoy::pg

extern "C" {

PG_FUNCTION_INFO_V1(annoy_check);

Datum annoy_check(PG_FUNCTION_ARGS)
{
    using namespace annoy::pg;
    Oid indexoid = PG_GETARG_OID(0);
    LOCKMODE lockmode = RecoveryInProgress() ? AccessShareLock : ShareLock;
    Relation index = relation_open(indexoid, lockmode);
    if (index->rd_rel->relkind != RELKIND_INDEX || index->rd_indam == nullptr || index->rd_indam->ambuild != build)
        ereport(ERROR, (errcode(ERRCODE_WRONG_OBJECT_TYPE),
                        errmsg("\"%s\" is not an annoy index", RelationGetRelationName(index))));
    Relation heap = table_open(index->rd_index->indrelid, AccessShareLock);

    MetaPageData *meta = alloc_meta();
    read_meta(index, meta);  // magic, layout version, tree count
    if (meta->metric > uint8(annoy::core::Metric::Hamming))
        ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
                        errmsg("index \"%s\" has unknown metric %u", RelationGetRelationName(index), meta->metric)));
    if (meta->dim > uint32(max_dimensions(annoy::core::Metric(meta->metric))))
        ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
                        errmsg("index \"%s\" has impossible dimension %u", RelationGetRelationName(index), meta->dim)));
    annoy::core::Space space{annoy::core::Metric(meta->metric), meta->dim};
    const int code_bytes = sketch_code_bytes(*meta);

    MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "annoy check", ALLOCSET_DEFAULT_SIZES);
    auto alloc = context_allocator(cxt);
    auto *items = new (MemoryContextAlloc(cxt, sizeof(annoy::core::ItemSet))) annoy::core::ItemSet(alloc);
    auto *in_tree = new (MemoryContextAlloc(cxt, sizeof(annoy::core::ItemSet))) annoy::core::ItemSet(alloc);
    size_t nlive = 0, live_cap = 1024;
    auto *live = static_cast<LiveItem *>(MemoryContextAllocHuge(cxt, live_cap * sizeof(LiveItem)));

    // Every page: known tuple kinds of plausible sizes; collect the items.
    walk_pages(index, [&](Page page, BlockNumber blkno) {
        OffsetNumber max = PageGetMaxOffsetNumber(page);
        for (OffsetNumber off = FirstOffsetNumber; off <= max; off++) {
            ItemId id = PageGetItemId(page, off);
            if (!ItemIdIsUsed(id))
                continue;
            const char *tuple = static_cast<const char *>(PageGetItem(page, id));
            Size size = ItemIdGetLength(id);
            bool ok;
            switch (uint8(tuple[0])) {
                case kItemTuple: {
                    ok = size == item_tuple_size(space);
                    TupleRef ref;
                    ItemPointerSet(&ref, blkno, off);
                    items->insert(ref_key(ref));
                    auto *item = reinterpret_cast<const ItemTupleHeader *>(tuple);
                    if (!(item->flags & kItemDead)) {
                        if (nlive == live_cap) {
                            live_cap *= 2;
                            live = static_cast<LiveItem *>(repalloc_huge(live, live_cap * sizeof(LiveItem)));
                        }
                        live[nlive++] = LiveItem{ref, item->heap_tid};
                    }
                    break;
                }
                case kSplitTuple:
                    ok = size == split_tuple_size(space);
                    break;
                case kLeafTuple: {
                    auto *leaf = reinterpret_cast<const LeafTupleHeader *>(tuple);
                    ok = size >= sizeof(LeafTupleHeader) && size == leaf_tuple_size(leaf) &&
                         leaf->count <= leaf->capacity && leaf->code_bytes == code_bytes;
                    break;
                }
                case kCenterTuple: {
                    TupleRef ref;
                    ItemPointerSet(&ref, blkno, off);
                    ok = size == sizeof(CenterTupleHeader) + Size(space.dim) * sizeof(float) &&
                         ItemPointerEquals(&ref, &meta->center);
                    break;
                }
                case kForwardTuple:
                    ok = size == sizeof(ForwardTupleHeader);
                    break;
                default:
                    ok = false;
            }
            if (!ok)
                ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
                                errmsg("index \"%s\" has a malformed tuple (kind %u, %zu bytes) at (%u,%u)",
                                       RelationGetRelationName(index), uint8(tuple[0]), size, blkno, off)));
        }
    });

    // Every tree: reachable and acyclic, every item at most once, every
    // live item of a visible row exactly once.
    IndexFetchTableData *fetch = table_index_fetch_begin(heap);
    TupleTableSlot *slot = table_slot_create(heap, nullptr);
    for (int t = 0; t < meta->n_trees; t++) {
        in_tree->clear();
        CheckVisitor v;
        v.index = index;
        v.tree = t;
        v.items = items;
        v.in_tree = in_tree;
        v.max_capacity = kMaxLeafSize;
        walk_tree(index, *meta, t, v);
        for (size_t i = 0; i < nlive; i++) {
            if (in_tree->contains(ref_key(live[i].ref)) || !row_visible(fetch, slot, &live[i].heap_tid))
                continue;
            ereport(ERROR,
                    (errcode(ERRCODE_INDEX_CORRUPTED),
                     errmsg("index \"%s\" tree %d: item (%u,%u) of visible row (%u,%u) is missing",
                            RelationGetRelationName(index), t, ItemPointerGetBlockNumber(&live[i].ref),
                            ItemPointerGetOffsetNumber(&live[i].ref), ItemPointerGetBlockNumber(&live[i].heap_tid),
                            ItemPointerGetOffsetNumber(&live[i].heap_tid))));
        }
    }
    ExecDropSingleTupleTableSlot(slot);
    table_index_fetch_end(fetch);
    MemoryContextDelete(cxt);
    table_close(heap, AccessShareLock);
    relation_close(index, lockmode);
    PG_RETURN_VOID();
}

}  // extern "C"
