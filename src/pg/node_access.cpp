// The checks every reader applies to tuples and references (node_access.hpp).
#include "half.hpp"
#include "index_sketch.hpp"

extern "C" {
#include "access/htup_details.h"
}

#include "node_access.hpp"

#include "item_chain.hpp"

namespace annoy::pg {

IndexShape index_shape(const MetaPageData &meta)
{
    IndexShape shape;
    shape.space = core::Space{core::Metric(meta.metric), meta.dim};
    shape.n_trees = meta.n_trees;
    shape.sketch_bytes = leaf_sketch_bytes(meta);
    shape.payload_bytes = meta.payload_bytes;
    return shape;
}

void tuple_corrupted(Relation index, const TupleRef &ref, int tree, const char *what)
{
    BlockNumber blkno = ItemPointerGetBlockNumberNoCheck(&ref);
    OffsetNumber off = ItemPointerGetOffsetNumberNoCheck(&ref);
    if (tree >= 0)
        ANNOY_TREE_CORRUPTED(index, tree, "%s at (%u,%u)", what, blkno, off);
    ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED), errmsg("index \"%s\" block %u: %s at (%u,%u)",
                                                             RelationGetRelationName(index), blkno, what, blkno, off)));
}

char *page_tuple(Relation index, Page page, BlockNumber blkno, OffsetNumber off, Size *size)
{
    ItemId id = PageGetItemId(page, off);
    *size = 0;
    if (ItemIdGetFlags(id) == LP_UNUSED)
        return nullptr;
    Size lp_off = ItemIdGetOffset(id), len = ItemIdGetLength(id);
    const PageHeader header = reinterpret_cast<PageHeader>(page);
    if (unlikely(ItemIdGetFlags(id) != LP_NORMAL || len == 0 || lp_off < header->pd_upper ||
                 lp_off + len > header->pd_special || lp_off != MAXALIGN(lp_off))) {
        TupleRef ref;
        ItemPointerSet(&ref, blkno, off);
        tuple_corrupted(index, ref, -1, "line pointer outside the page's tuple space");
    }
    *size = len;
    return static_cast<char *>(PageGetItem(page, id));
}

const char *tuple_defect(const char *tuple, Size size, const IndexShape &shape)
{
    switch (uint8(tuple[0])) {
        case kItemTuple: {
            // (dim 0: the reader read the meta page before the first insert
            // set the dimension; only the header can be checked.)
            if (shape.space.dim == 0 ? size <= sizeof(ItemTupleHeader) : size != item_tuple_size(shape.space))
                return "item tuple of the wrong size";
            auto *item = reinterpret_cast<const ItemTupleHeader *>(tuple);
            if ((item->flags & ~kItemDead) != 0)
                return "item tuple with unknown flags";
            OffsetNumber off = ItemPointerGetOffsetNumberNoCheck(&item->heap_tid);
            if (off < FirstOffsetNumber || off > MaxHeapTuplesPerPage ||
                ItemPointerGetBlockNumberNoCheck(&item->heap_tid) == InvalidBlockNumber)
                return "item tuple with an invalid heap TID";
            return nullptr;
        }
        case kSplitTuple: {
            if (shape.space.dim == 0 ? size < sizeof(SplitTupleHeader) : size != split_tuple_size(shape.space))
                return "split tuple of the wrong size";
            auto *split = reinterpret_cast<const SplitTupleHeader *>(tuple);
            if (split->tree >= shape.n_trees)
                return "split tuple of a tree the index does not have";
            return nullptr;
        }
        case kLeafTuple: {
            if (size < sizeof(LeafTupleHeader))
                return "leaf tuple of the wrong size";
            auto *leaf = reinterpret_cast<const LeafTupleHeader *>(tuple);
            if (leaf->capacity < 1 || leaf->count > leaf->capacity ||
                size != leaf_tuple_size(leaf, shape.payload_bytes))
                return "leaf tuple whose count or capacity does not fit its size";
            if (leaf->sketch_bytes != shape.sketch_bytes)
                return "leaf tuple with sketches of the wrong size";
            if (leaf->tree >= shape.n_trees)
                return "leaf tuple of a tree the index does not have";
            return nullptr;
        }
        case kForwardTuple: {
            if (size != sizeof(ForwardTupleHeader))
                return "forward tuple of the wrong size";
            if (reinterpret_cast<const ForwardTupleHeader *>(tuple)->tree >= shape.n_trees)
                return "forward tuple of a tree the index does not have";
            return nullptr;
        }
        case kCenterTuple: {
            auto *c = reinterpret_cast<const CenterTupleHeader *>(tuple);
            if (size < sizeof(CenterTupleHeader) || (shape.space.dim != 0 && c->dim != shape.space.dim) ||
                size != sizeof(CenterTupleHeader) +
                            vector_head_bytes(Size(c->dim) * sizeof(float), sizeof(CenterTupleHeader)))
                return "center tuple of the wrong size";
            return nullptr;
        }
        case kChunkTuple: {
            // Part of a vector larger than a page (item_chain.hpp).
            if (size <= sizeof(ItemTupleHeader) || size > sizeof(ItemTupleHeader) + chunk_capacity())
                return "chunk tuple of the wrong size";
            auto *chunk = reinterpret_cast<const ItemTupleHeader *>(tuple);
            if ((chunk->flags & ~kItemDead) != 0 || chunk->seq < 1)
                return "chunk tuple with unknown flags or position";
            return nullptr;
        }
        default:
            return "tuple of unknown kind";
    }
}

char *checked_tuple(Relation index, Page page, BlockNumber blkno, OffsetNumber off, const IndexShape &shape, Size *size)
{
    char *tuple = page_tuple(index, page, blkno, off, size);
    if (tuple != nullptr) {
        const char *defect = tuple_defect(tuple, *size, shape);
        if (unlikely(defect != nullptr)) {
            TupleRef ref;
            ItemPointerSet(&ref, blkno, off);
            tuple_corrupted(index, ref, -1, defect);
        }
    }
    return tuple;
}

// The tuple a reference names, nullptr if its slot is unused or past the
// end of the line pointer array (freeing a page's last tuple shortens it).
static char *referenced_tuple(Relation index, Page page, const TupleRef &ref, Size *size)
{
    OffsetNumber off = ItemPointerGetOffsetNumberNoCheck(&ref);
    if (unlikely(off < FirstOffsetNumber || off > MaxOffsetNumber))
        tuple_corrupted(index, ref, -1, "reference to an invalid offset");
    if (off > PageGetMaxOffsetNumber(page)) {
        *size = 0;
        return nullptr;
    }
    return page_tuple(index, page, ItemPointerGetBlockNumberNoCheck(&ref), off, size);
}

NodeView read_node(Relation index, Page page, const TupleRef &ref, int tree, const IndexShape &shape)
{
    Size size;
    char *tuple = referenced_tuple(index, page, ref, &size);
    if (unlikely(tuple == nullptr))
        tuple_corrupted(index, ref, tree, "reference to a free slot");
    uint8 kind = uint8(tuple[0]);
    if (unlikely(kind != kSplitTuple && kind != kLeafTuple && kind != kForwardTuple))
        tuple_corrupted(index, ref, tree, "reference to a tuple that is not a tree node");
    const char *defect = tuple_defect(tuple, size, shape);
    if (unlikely(defect != nullptr))
        tuple_corrupted(index, ref, tree, defect);
    NodeView v;
    v.kind = kind;
    v.split = reinterpret_cast<SplitTupleHeader *>(tuple);
    int node_tree = kind == kSplitTuple ? v.split->tree : kind == kLeafTuple ? v.leaf->tree : v.forward->tree;
    if (unlikely(node_tree != tree))
        tuple_corrupted(index, ref, tree, "reference to a node of another tree");
    return v;
}

// An item or chunk tuple (they share ItemTupleHeader) of the given kind, or
// nullptr when the slot was freed (and maybe reused) after the reference was
// read, or the tuple is flagged dead.
static ItemTupleHeader *read_vector_tuple(Relation index, Page page, const TupleRef &ref, const IndexShape &shape,
                                          uint8 kind)
{
    Size size;
    char *tuple = referenced_tuple(index, page, ref, &size);
    if (tuple == nullptr || uint8(tuple[0]) != kind)
        return nullptr;
    const char *defect = tuple_defect(tuple, size, shape);
    if (unlikely(defect != nullptr))
        tuple_corrupted(index, ref, -1, defect);
    auto *header = reinterpret_cast<ItemTupleHeader *>(tuple);
    return (header->flags & kItemDead) ? nullptr : header;
}

ItemTupleHeader *read_item(Relation index, Page page, const TupleRef &ref, const IndexShape &shape)
{
    return read_vector_tuple(index, page, ref, shape, kItemTuple);
}

ItemTupleHeader *read_chunk(Relation index, Page page, const TupleRef &ref, const IndexShape &shape)
{
    return read_vector_tuple(index, page, ref, shape, kChunkTuple);
}

void store_plane(const core::Space &space, SplitTupleHeader *split, const float *normal)
{
    core::encode_plane(plane_codec(space), normal, space.plane_dim(), split_plane(split));
}

TupleRef read_root(Relation index, int tree)
{
    Buffer buf = ReadBuffer(index, kMetaBlock);
    LockBuffer(buf, BUFFER_LOCK_SHARE);
    TupleRef root = meta_data(BufferGetPage(buf))->roots[tree];
    UnlockReleaseBuffer(buf);
    return root;
}

bool read_item_vector(Relation index, const TupleRef &ref, const IndexShape &shape, void *dst, ItemPointer heap_tid)
{
    Buffer buf = lock_ref_buffer(index, ref, BUFFER_LOCK_SHARE);
    ItemTupleHeader *item = read_item(index, BufferGetPage(buf), ref, shape);
    Size bytes = shape.space.vector_bytes(), head = vector_head_bytes(bytes, sizeof(ItemTupleHeader));
    ItemPointerData tid;
    TupleRef next;
    if (item != nullptr) {
        memcpy(dst, item_vector(item), head);
        tid = item->heap_tid;
        next = item->next;
    }
    UnlockReleaseBuffer(buf);
    // The rest of a vector larger than a page, one chunk page at a time.
    bool ok = item != nullptr;
    if (ok && head < bytes)
        ok = read_chunks(index, shape, next, tid, static_cast<char *>(dst), head, bytes);
    if (ok && heap_tid != nullptr)
        *heap_tid = tid;
    return ok;
}

}  // namespace annoy::pg
