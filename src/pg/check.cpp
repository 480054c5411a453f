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
#include "filter.hpp"
#include "forest_walk.hpp"
#include "index_sketch.hpp"
#include "index_vector.hpp"
#include "options.hpp"

extern "C" {
#include "access/relation.h"
#include "access/table.h"
#include "access/xlog.h"
#include "catalog/index.h"
#include "executor/tuptable.h"
#include "utils/snapmgr.h"
#include "catalog/pg_am.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
}

namespace annoy::pg {

namespace {

// Filter payloads by item (ref_key): the first tree's entries set them,
// every other entry of the item must carry the same bytes.
struct PayloadEntry {
    uint64 key;
    uint8 payload[FLEXIBLE_ARRAY_MEMBER];
};

HTAB *payload_table(MemoryContext cxt, int payload_bytes)
{
    HASHCTL ctl{};
    ctl.keysize = sizeof(uint64);
    ctl.entrysize = MAXALIGN(offsetof(PayloadEntry, payload) + size_t(payload_bytes));
    ctl.hcxt = cxt;
    return hash_create("annoy check payloads", 1024, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

const uint8 *item_payload(HTAB *payloads, const TupleRef &ref)
{
    uint64 key = ref_key(ref);
    auto *e = static_cast<PayloadEntry *>(hash_search(payloads, &key, HASH_FIND, nullptr));
    return e != nullptr ? e->payload : nullptr;
}

struct CheckVisitor final : WalkVisitor {
    Relation index;
    int tree;
    const core::ItemSet *items;  // every item tuple, live or flagged dead
    core::ItemSet *in_tree;      // items reached in this tree
    int max_capacity;
    HTAB *payloads;  // nullptr without filter columns
    int payload_bytes;

    void leaf(const TupleRef &, const TupleRef *refs, const uint8 *entry_payloads, int count, int capacity,
              int) override
    {
        if (capacity < 1 || capacity > max_capacity)
            ANNOY_TREE_CORRUPTED(index, tree, "leaf capacity %d out of range (max %d)", capacity, max_capacity);
        for (int i = 0; i < count; i++) {
            uint64 key = ref_key(refs[i]);
            if (!items->contains(key))
                ANNOY_TREE_CORRUPTED(index, tree, "leaf refers to (%u,%u), which is not an item",
                                     ItemPointerGetBlockNumberNoCheck(&refs[i]),
                                     ItemPointerGetOffsetNumberNoCheck(&refs[i]));
            if (!in_tree->insert(key))
                ANNOY_TREE_CORRUPTED(index, tree, "item (%u,%u) appears twice",
                                     ItemPointerGetBlockNumberNoCheck(&refs[i]),
                                     ItemPointerGetOffsetNumberNoCheck(&refs[i]));
            if (payloads == nullptr)
                continue;
            const uint8 *p = entry_payloads + size_t(i) * size_t(payload_bytes);
            bool found;
            auto *e = static_cast<PayloadEntry *>(hash_search(payloads, &key, HASH_ENTER, &found));
            if (!found)
                memcpy(e->payload, p, size_t(payload_bytes));
            else if (memcmp(e->payload, p, size_t(payload_bytes)) != 0)
                ANNOY_TREE_CORRUPTED(index, tree, "item (%u,%u) carries other filter values than in another tree",
                                     ItemPointerGetBlockNumberNoCheck(&refs[i]),
                                     ItemPointerGetOffsetNumberNoCheck(&refs[i]));
        }
    }
    void split(const TupleRef &, const SplitTupleHeader &, int) override {}
    void forward(const TupleRef &ref, const ForwardTupleHeader &fwd) override
    {
        // A forward tuple is retired in the same record that points its
        // parent past it: a retired one still in the tree would be freed by
        // VACUUM with its subtree still hanging from it.
        if (fwd.retired() != 0)
            ANNOY_TREE_CORRUPTED(index, tree, "retired forward tuple (%u,%u) is still in the tree",
                                 ItemPointerGetBlockNumberNoCheck(&ref), ItemPointerGetOffsetNumberNoCheck(&ref));
    }
};
static_assert(std::is_trivially_destructible_v<CheckVisitor>, "alive across Postgres calls that may longjmp");

// An item and the heap row it indexes.
struct ItemRow {
    TupleRef ref;
    ItemPointerData heap_tid;
};

int compare_heap_tid(const void *a, const void *b)
{
    return ItemPointerCompare(const_cast<ItemPointer>(&static_cast<const ItemRow *>(a)->heap_tid),
                              const_cast<ItemPointer>(&static_cast<const ItemRow *>(b)->heap_tid));
}

// A growable array of ItemRows, sorted by heap TID once complete.
struct ItemRows {
    ItemRow *rows;
    size_t n, cap;

    void add(MemoryContext cxt, const TupleRef &ref, const ItemPointerData &tid)
    {
        if (n == cap) {
            cap = cap ? cap * 2 : 1024;
            rows = static_cast<ItemRow *>(rows ? repalloc_huge(rows, cap * sizeof(ItemRow))
                                               : MemoryContextAllocHuge(cxt, cap * sizeof(ItemRow)));
        }
        rows[n++] = ItemRow{ref, tid};
    }
    void sort()
    {
        if (n > 1)
            qsort(rows, n, sizeof(ItemRow), compare_heap_tid);
    }
    const ItemRow *find(ItemPointer tid) const
    {
        ItemRow key{};
        key.heap_tid = *tid;
        return n ? static_cast<const ItemRow *>(bsearch(&key, rows, n, sizeof(ItemRow), compare_heap_tid)) : nullptr;
    }
};

// Whether the heap row at tid is visible to the check's snapshot.
bool row_visible(IndexFetchTableData *fetch, TupleTableSlot *slot, ItemPointer tid)
{
    bool call_again = false, all_dead = false;
    ItemPointerData t = *tid;
    Snapshot snap = ActiveSnapshotSet() ? GetActiveSnapshot() : GetTransactionSnapshot();
    return table_index_fetch_tuple(fetch, &t, snap, slot, &call_again, &all_dead);
}

// The heap side: every row the index should hold has exactly one live item
// whose vector is the row's.
struct HeapCheck {
    Relation index;
    IndexShape shape;
    const ItemRows *live;
    const ItemRows *dead;
    char *vec;       // scratch, one vector
    HTAB *payloads;  // the leaves' filter payloads by item; nullptr without filter columns
    uint8 *payload;  // scratch, one payload
    const IndexColumns *columns;
};

void check_heap_row(Relation index, ItemPointer tid, Datum *values, bool *isnull, bool, void *arg)
{
    auto &hc = *static_cast<HeapCheck *>(arg);
    if (isnull[0])
        return;
    CHECK_FOR_INTERRUPTS();
    const ItemRow *row = hc.live->find(tid);
    if (row == nullptr)
        ereport(ERROR,
                (errcode(ERRCODE_INDEX_CORRUPTED),
                 errmsg("index \"%s\" has no live item for visible heap row (%u,%u)%s", RelationGetRelationName(index),
                        ItemPointerGetBlockNumber(tid), ItemPointerGetOffsetNumber(tid),
                        hc.dead->find(tid) != nullptr ? ": its item is flagged dead" : "")));
    RawVector v = index_vector(index, hc.shape.space.metric, values[0]);
    bool same = uint32(v.dim) == hc.shape.space.dim && read_item_vector(index, row->ref, hc.shape, hc.vec, nullptr) &&
                memcmp(hc.vec, v.data, hc.shape.space.vector_bytes()) == 0;
    if (!same)
        ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
                        errmsg("index \"%s\" item (%u,%u) does not hold the vector of heap row (%u,%u)",
                               RelationGetRelationName(index), ItemPointerGetBlockNumber(&row->ref),
                               ItemPointerGetOffsetNumber(&row->ref), ItemPointerGetBlockNumber(tid),
                               ItemPointerGetOffsetNumber(tid))));
    if (hc.payloads != nullptr) {
        // The filter values the leaves carry are the row's (an item in no
        // tree at all was reported above as missing).
        encode_payload(*hc.columns, values + 1, isnull + 1, hc.payload);
        const uint8 *stored = item_payload(hc.payloads, row->ref);
        if (stored == nullptr || memcmp(stored, hc.payload, size_t(hc.shape.payload_bytes)) != 0)
            ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
                            errmsg("index \"%s\" item (%u,%u) does not carry the filter values of heap row (%u,%u)",
                                   RelationGetRelationName(index), ItemPointerGetBlockNumber(&row->ref),
                                   ItemPointerGetOffsetNumber(&row->ref), ItemPointerGetBlockNumber(tid),
                                   ItemPointerGetOffsetNumber(tid))));
    }
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
    Relation index = open_annoy_index(indexoid, lockmode);
    Relation heap = table_open(index->rd_index->indrelid, AccessShareLock);

    MetaPageData *meta = alloc_meta();
    read_meta(index, meta);  // magic, layout version, checksum, metric, field ranges
    const IndexShape shape = index_shape(*meta);
    annoy::core::Space space = shape.space;
    bool center_seen = false;

    MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "annoy check", ALLOCSET_DEFAULT_SIZES);
    auto alloc = context_allocator(cxt);
    auto *items = context_new<annoy::core::ItemSet>(cxt, alloc);
    auto *in_tree = context_new<annoy::core::ItemSet>(cxt, alloc);
    HTAB *payloads = shape.payload_bytes > 0 ? payload_table(cxt, shape.payload_bytes) : nullptr;
    ItemRows live{}, dead{}, chunks{};

    // Every page: every tuple well formed (node_access.hpp); collect the items.
    walk_pages(index, [&](Page page, BlockNumber blkno) {
        for_each_checked_tuple(index, page, blkno, shape, [&](OffsetNumber off, char *tuple, Size) {
            TupleRef ref;
            ItemPointerSet(&ref, blkno, off);
            if (uint8(tuple[0]) == kItemTuple) {
                items->insert(ref_key(ref));
                auto *item = reinterpret_cast<const ItemTupleHeader *>(tuple);
                (item->flags & kItemDead ? dead : live).add(cxt, ref, item->heap_tid);
            } else if (uint8(tuple[0]) == kChunkTuple) {
                // Part of a vector larger than a page: its chain is read
                // from its item by the heap check below.
                auto *chunk = reinterpret_cast<const ItemTupleHeader *>(tuple);
                if (!(chunk->flags & kItemDead) && ItemPointerIsValid(&chunk->heap_tid))
                    chunks.add(cxt, ref, chunk->heap_tid);
            } else if (uint8(tuple[0]) == kCenterTuple) {
                const float *c = reinterpret_cast<const float *>(tuple + sizeof(CenterTupleHeader));
                if (!ItemPointerEquals(&ref, &meta->center))
                    tuple_corrupted(index, ref, -1, "center tuple the meta page does not name");
                // (The values in the tuple; those in its chunks, if any, are
                // checked where the sketches read them, read_center.)
                uint32 in_tuple = uint32(vector_head_bytes(Size(space.dim) * sizeof(float), sizeof(CenterTupleHeader)) /
                                         sizeof(float));
                for (uint32 d = 0; d < in_tuple; d++) {
                    if (!std::isfinite(c[d]))
                        tuple_corrupted(index, ref, -1, "center tuple with a non-finite value");
                }
                center_seen = true;
            }
        });
    });
    if (meta->sketch_bits != 0 && !center_seen)
        ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
                        errmsg("index \"%s\" has sketches but no center tuple", RelationGetRelationName(index))));
    live.sort();
    dead.sort();
    for (size_t i = 1; i < live.n; i++) {
        if (ItemPointerEquals(&live.rows[i - 1].heap_tid, &live.rows[i].heap_tid))
            ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
                            errmsg("index \"%s\" has two live items for heap row (%u,%u)",
                                   RelationGetRelationName(index), ItemPointerGetBlockNumber(&live.rows[i].heap_tid),
                                   ItemPointerGetOffsetNumber(&live.rows[i].heap_tid))));
    }
    BlockNumber heap_blocks = RelationGetNumberOfBlocks(heap);
    if (live.n > 0 && ItemPointerGetBlockNumber(&live.rows[live.n - 1].heap_tid) >= heap_blocks)
        ereport(ERROR,
                (errcode(ERRCODE_INDEX_CORRUPTED),
                 errmsg("index \"%s\" has an item for heap row (%u,%u), past the table's end",
                        RelationGetRelationName(index), ItemPointerGetBlockNumber(&live.rows[live.n - 1].heap_tid),
                        ItemPointerGetOffsetNumber(&live.rows[live.n - 1].heap_tid))));

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
        v.payloads = payloads;
        v.payload_bytes = shape.payload_bytes;
        walk_tree(index, *meta, t, v);
        for (size_t i = 0; i < live.n; i++) {
            if (in_tree->contains(ref_key(live.rows[i].ref)) || !row_visible(fetch, slot, &live.rows[i].heap_tid))
                continue;
            ANNOY_TREE_CORRUPTED(
                index, t, "item (%u,%u) of visible row (%u,%u) is missing",
                ItemPointerGetBlockNumber(&live.rows[i].ref), ItemPointerGetOffsetNumber(&live.rows[i].ref),
                ItemPointerGetBlockNumber(&live.rows[i].heap_tid), ItemPointerGetOffsetNumber(&live.rows[i].heap_tid));
        }
    }
    // Vectors larger than a page: every live chunk belongs to a live item
    // (an insert cancelled between its chunks and its item leaves chunks of
    // an invisible row, which VACUUM removes).  The chains themselves are
    // read by the heap check below.
    if (chunks.n > 0) {
        auto *owners = context_new<annoy::core::ItemSet>(cxt, alloc);
        for (size_t i = 0; i < live.n; i++)
            owners->insert(ref_key(live.rows[i].heap_tid));
        for (size_t i = 0; i < chunks.n; i++) {
            if (owners->contains(ref_key(chunks.rows[i].heap_tid)) ||
                !row_visible(fetch, slot, &chunks.rows[i].heap_tid))
                continue;
            tuple_corrupted(index, chunks.rows[i].ref, -1, "chunk tuple of a visible row that has no item");
        }
    }
    ExecDropSingleTupleTableSlot(slot);
    table_index_fetch_end(fetch);

    // The heap: every row visible to the check's snapshot that the index
    // should hold has its item, with its vector (as amcheck's
    // heapallindexed; a valid index only: one being built concurrently may
    // lack rows).
    if (index->rd_index->indisvalid) {
        HeapCheck hc{index, shape, &live, &dead, nullptr, payloads, nullptr, nullptr};
        MemoryContext old_cxt = MemoryContextSwitchTo(cxt);
        hc.columns = copy_index_columns(index);
        MemoryContextSwitchTo(old_cxt);
        hc.vec = static_cast<char *>(MemoryContextAlloc(cxt, std::max<size_t>(space.vector_bytes(), 1)));
        hc.payload = static_cast<uint8 *>(MemoryContextAlloc(cxt, size_t(std::max(shape.payload_bytes, 1))));
        Snapshot snapshot = RegisterSnapshot(GetTransactionSnapshot());
        IndexInfo *info = BuildIndexInfo(index);
        info->ii_Concurrent = true;  // use the snapshot below, as CREATE INDEX CONCURRENTLY's first scan
        TableScanDesc scan = table_beginscan_strat(heap, snapshot, 0, nullptr, true, false);
        table_index_build_scan(heap, index, info, false, false, check_heap_row, &hc, scan);
        UnregisterSnapshot(snapshot);
    }
    MemoryContextDelete(cxt);
    table_close(heap, AccessShareLock);
    relation_close(index, lockmode);
    PG_RETURN_VOID();
}

}  // extern "C"
