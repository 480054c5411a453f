// Page and tuple helpers shared by build, insert, scan and vacuum.
#include "page.hpp"

#include "buffer_hint.hpp"

namespace annoy::pg {

int max_dimensions(core::Metric metric)
{
    if (core::is_bit_metric(metric))
        return int((kMaxTupleSize - sizeof(ItemTupleHeader)) / 8 * 64);
    return kMaxFloatDimensions;
}

Size chunk_capacity() noexcept
{
    return (kMaxTupleSize - sizeof(ItemTupleHeader)) & ~Size(7);
}

int vector_chunks(Size bytes, Size header) noexcept
{
    Size head_room = kMaxTupleSize - header;
    if (bytes <= head_room)
        return 0;
    return int((bytes - head_room + chunk_capacity() - 1) / chunk_capacity());
}

core::PlaneCodec plane_codec(const core::Space &space) noexcept
{
    Size room = kMaxTupleSize - sizeof(SplitTupleHeader);
    size_t n = space.plane_dim();
    if (core::plane_bytes(core::PlaneCodec::Half, n) <= room)
        return core::PlaneCodec::Half;
    if (core::plane_bytes(core::PlaneCodec::Int8, n) <= room)
        return core::PlaneCodec::Int8;
    return core::PlaneCodec::Int4;
}
static_assert(sizeof(SplitTupleHeader) + sizeof(float) + (kMaxFloatDimensions + 2) / 2 <= kMaxTupleSize,
              "a 4-bit hyperplane of the largest dimension (plus Dot's coordinate) fits in a page");

void init_data_page(Page page)
{
    PageInit(page, BLCKSZ, sizeof(PageOpaque));
    PageOpaque *op = page_opaque(page);
    op->flags = kPageData;
    op->page_id = kPageId;
}

void init_meta_page(Page page, const MetaPageData &meta)
{
    PageInit(page, BLCKSZ, sizeof(PageOpaque));
    PageOpaque *op = page_opaque(page);
    op->flags = kPageMeta;
    op->page_id = kPageId;
    memcpy(meta_data(page), &meta, meta_size(meta.n_trees));
    // Mark the contents as used so a full-page image keeps them.
    ((PageHeader)page)->pd_lower = MAXALIGN(SizeOfPageHeaderData) + meta_size(meta.n_trees);
}

MetaPageData *alloc_meta()
{
    return static_cast<MetaPageData *>(palloc0(meta_size(kMaxTrees)));
}

static void check_meta(Relation index, Page page)
{
    MetaPageData *meta = meta_data(page);
    if (PageIsNew(page) || page_opaque(page)->page_id != kPageId || meta->magic != kMagic)
        ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
                        errmsg("index \"%s\" is not a valid annoy index", RelationGetRelationName(index))));
    if (meta->version != kLayoutVersion)
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("index \"%s\" has annoy layout version %u, this build reads version %u",
                               RelationGetRelationName(index), meta->version, kLayoutVersion),
                        errhint("REINDEX the index.")));
    if (meta->n_trees < 1 || meta->n_trees > kMaxTrees)
        ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED), errmsg("index \"%s\" has an invalid tree count %u",
                                                                 RelationGetRelationName(index), meta->n_trees)));
}

void read_meta(Relation index, MetaPageData *out)
{
    Buffer buf = ReadBuffer(index, kMetaBlock);
    LockBuffer(buf, BUFFER_LOCK_SHARE);
    Page page = BufferGetPage(buf);
    check_meta(index, page);
    memcpy(out, meta_data(page), meta_size(meta_data(page)->n_trees));
    UnlockReleaseBuffer(buf);
}

void check_data_page(Relation index, Page page, BlockNumber blkno)
{
    if (PageIsNew(page) || PageGetSpecialSize(page) != MAXALIGN(sizeof(PageOpaque)) ||
        page_opaque(page)->page_id != kPageId || (page_opaque(page)->flags & kPageData) == 0)
        ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED), errmsg("index \"%s\" block %u is not an annoy data page",
                                                                 RelationGetRelationName(index), blkno)));
}

char *tuple_at(Relation index, Page page, const TupleRef &ref, Size *size)
{
    OffsetNumber off = ItemPointerGetOffsetNumberNoCheck(&ref);
    if (off > PageGetMaxOffsetNumber(page) && off <= MaxOffsetNumber) {
        // Freeing the last tuple of a page shortens its line pointer array:
        // a stale reference to it lands past the end.
        *size = 0;
        return nullptr;
    }
    if (off < FirstOffsetNumber)
        ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
                        errmsg("index \"%s\" refers to missing tuple (%u,%u)", RelationGetRelationName(index),
                               ItemPointerGetBlockNumberNoCheck(&ref), off)));
    ItemId id = PageGetItemId(page, off);
    if (!ItemIdIsUsed(id)) {
        *size = 0;
        return nullptr;  // freed by VACUUM after the reference was read
    }
    *size = ItemIdGetLength(id);
    return static_cast<char *>(PageGetItem(page, id));
}

Buffer lock_ref_buffer(Relation index, const TupleRef &ref, int mode)
{
    BlockNumber blkno = ItemPointerGetBlockNumberNoCheck(&ref);
    check_block_ref(index, blkno);
    Buffer buf = read_index_buffer(index, blkno);
    LockBuffer(buf, mode);
    // The header check only (as scans do): tuple kinds and trees are checked
    // by every reader, and the special space would cost a cache miss per
    // node on an insert's way down every tree.
    check_page_header(index, BufferGetPage(buf), blkno);
    return buf;
}

Buffer new_page(Relation index)
{
    bool local = RELATION_IS_LOCAL(index);
    if (!local)
        LockRelationForExtension(index, ExclusiveLock);
    Buffer buf = ReadBuffer(index, P_NEW);
    LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
    if (!local)
        UnlockRelationForExtension(index, ExclusiveLock);
    return buf;
}

Buffer page_with_room(Relation index, Size size, const Buffer *held, int nheld, bool *is_new)
{
    Size need = MAXALIGN(size);
    *is_new = false;
    auto held_by_caller = [&](BlockNumber blkno) {
        for (int i = 0; i < nheld; i++) {
            if (BufferIsValid(held[i]) && BufferGetBlockNumber(held[i]) == blkno)
                return true;
        }
        return false;
    };

    // First the page this backend last added to (the relation's target
    // block: the free space map's upper levels only learn about new free
    // space at VACUUM), then pages from the free space map.  A page the FSM
    // offers that cannot be used now is recorded with its real free space
    // (0 if it is busy; VACUUM records every page's free space again).
    BlockNumber blkno = RelationGetTargetBlock(index);
    bool from_fsm = false;
    if (blkno == InvalidBlockNumber) {
        blkno = GetPageWithFreeSpace(index, need);
        from_fsm = true;
    }
    for (int attempt = 0; attempt < 8 && blkno != InvalidBlockNumber; attempt++) {
        Size actual = 0;
        if (blkno != kMetaBlock && !held_by_caller(blkno)) {
            Buffer buf = ReadBuffer(index, blkno);
            if (ConditionalLockBuffer(buf)) {
                Page page = BufferGetPage(buf);
                if (PageIsNew(page)) {
                    *is_new = true;
                    RelationSetTargetBlock(index, blkno);
                    return buf;
                }
                if ((page_opaque(page)->flags & kPageData) != 0) {
                    actual = PageGetFreeSpace(page);
                    if (actual >= need) {
                        RelationSetTargetBlock(index, blkno);
                        return buf;
                    }
                }
                UnlockReleaseBuffer(buf);
            } else {
                ReleaseBuffer(buf);
            }
        }
        blkno =
            from_fsm ? RecordAndGetPageWithFreeSpace(index, blkno, actual, need) : GetPageWithFreeSpace(index, need);
        from_fsm = true;
    }
    *is_new = true;
    Buffer buf = new_page(index);
    RelationSetTargetBlock(index, BufferGetBlockNumber(buf));
    return buf;
}

void record_free_space(Relation index, Buffer buf)
{
    RecordPageWithFreeSpace(index, BufferGetBlockNumber(buf), PageGetFreeSpace(BufferGetPage(buf)));
}

OffsetNumber add_tuple(Relation index, Page page, const void *tuple, Size size)
{
    OffsetNumber off =
        PageAddItem(page, static_cast<Item>(const_cast<void *>(tuple)), size, InvalidOffsetNumber, false, false);
    if (off == InvalidOffsetNumber)
        ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("failed to add a %zu-byte tuple to index \"%s\"", size,
                                                                RelationGetRelationName(index))));
    return off;
}

}  // namespace annoy::pg
