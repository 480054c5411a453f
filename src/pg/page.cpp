// Page and tuple helpers shared by build, insert, scan and vacuum.
#include "sketch.hpp"

#include "page.hpp"

#include "am.hpp"
#include "filter.hpp"

#include "buffer_hint.hpp"

extern "C" {
#include "port/pg_crc32c.h"
}

namespace annoy::pg {

int max_dimensions(core::Metric metric)
{
    if (core::is_bit_metric(metric))
        return int((kMaxTupleSize - sizeof(ItemTupleHeader)) / 8 * 64);
    return kMaxFloatDimensions;
}

Size chunk_capacity() noexcept
{
    // Not quite a full page: the free space map records free space in
    // steps of BLCKSZ/256 bytes, rounding down what a page has and up what
    // a request needs, so a page emptied by VACUUM (8,152 bytes free) is
    // only ever offered for tuples of at most 254 steps (8,128 bytes).  A
    // chunk that size reuses the pages VACUUM frees.
    constexpr Size fsm_room = (BLCKSZ / 256) * 254;
    return (std::min(kMaxTupleSize, fsm_room) - sizeof(ItemTupleHeader)) & ~Size(7);
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
    meta_data(page)->checksum = meta_checksum(meta);
    // Mark the contents as used so a full-page image keeps them.
    ((PageHeader)page)->pd_lower = MAXALIGN(SizeOfPageHeaderData) + meta_size(meta.n_trees);
}

uint32 meta_checksum(const MetaPageData &meta)
{
    // Field by field: padding bytes are not part of the shape.
    pg_crc32c crc;
    INIT_CRC32C(crc);
    auto add = [&](const auto &field) { COMP_CRC32C(crc, &field, sizeof(field)); };
    add(meta.magic);
    add(meta.version);
    add(meta.metric);
    add(meta.payload_bytes);
    add(meta.n_trees);
    add(meta.dim);
    add(meta.leaf_size);
    add(meta.seed);
    add(meta.dot_max_norm);
    add(meta.center);
    add(meta.sketch_bits);
    FIN_CRC32C(crc);
    return crc;
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
    auto bad = [&](const char *what) {
        ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
                        errmsg("index \"%s\" block 0: meta page %s", RelationGetRelationName(index), what),
                        errhint("REINDEX the index.")));
    };
    const PageHeader h = reinterpret_cast<PageHeader>(page);
    if (h->pd_lower < MAXALIGN(SizeOfPageHeaderData) + offsetof(MetaPageData, roots) || h->pd_lower > BLCKSZ)
        bad("has an invalid header");
    if (meta->n_trees < 1 || meta->n_trees > kMaxTrees ||
        h->pd_lower < MAXALIGN(SizeOfPageHeaderData) + meta_size(meta->n_trees))
        bad("has an invalid tree count");
    if (meta->checksum != meta_checksum(*meta))
        bad("fails its checksum (metric, dimension, options or sketch fields changed)");
    if (meta->metric != uint8(opclass_metric(index)))
        bad("has a metric its operator class does not have");
    if (meta->payload_bytes != index_columns(index).payload_bytes)
        bad("has a filter payload size its columns do not have");
    if (meta->dim > uint32(max_dimensions(core::Metric(meta->metric))))
        bad("has an impossible dimension");
    if (meta->sketch_bits % 8 != 0 || meta->sketch_bits > core::kMaxSketchBits ||
        (meta->sketch_bits != 0) != ItemPointerIsValid(&meta->center))
        bad("has invalid sketch fields");
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
    if (!data_page_header_ok(page) || page_opaque(page)->page_id != kPageId ||
        (page_opaque(page)->flags & kPageData) == 0)
        ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED), errmsg("index \"%s\" block %u is not an annoy data page",
                                                                 RelationGetRelationName(index), blkno)));
}

void check_block_ref_slow(Relation index, BlockNumber blkno)
{
    if (blkno == kMetaBlock || blkno == InvalidBlockNumber)
        ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
                        errmsg("index \"%s\" refers to invalid block %u", RelationGetRelationName(index), blkno)));
    BlockNumber nblocks = RelationGetNumberOfBlocks(index);  // refreshes the cached count
    if (blkno >= nblocks)
        ereport(ERROR,
                (errcode(ERRCODE_INDEX_CORRUPTED), errmsg("index \"%s\" refers to block %u past its end (%u blocks)",
                                                          RelationGetRelationName(index), blkno, nblocks)));
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
                // Never add to a page whose header is not sane (PageAddItem
                // would PANIC).
                check_data_page(index, page, blkno);
                actual = PageGetFreeSpace(page);
                if (actual >= need) {
                    RelationSetTargetBlock(index, blkno);
                    return buf;
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
