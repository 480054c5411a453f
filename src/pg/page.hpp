// On-disk layout of an annoy index.  See src/pg/README.md for the picture.
//
// Block 0 is the meta page.  Every other page is a data page holding tuples
// of five kinds, each starting with a kind byte:
//   item     one indexed vector and the heap TID of its row (stored once)
//   split    a tree's inner node: hyperplane + two child references
//   leaf     a tree's leaf: up to `capacity` references to item tuples,
//            each item's sketch (core/sketch.hpp) when the index has them,
//            and its filter payload (filter.hpp) when it has filter columns
//   center   the center of the sketches (one per index with sketches)
//   forward  what a leaf becomes when it is split (or merged): a pointer to
//            the node that now holds its contents, so that a scan or insert
//            that read the old reference still finds everything
// Tuples are addressed by (block, offset) like heap tuples.  Line pointers
// are never compacted away while a reference may exist, so addresses are
// stable; freed slots are marked unused and reused by later tuples.
//
// Every on-disk struct has its size and field offsets asserted below it:
// a change that moves a byte of the format fails to compile until the
// assertions, src/pg/README.md and kLayoutVersion are updated together.
#pragma once

#include "pg.hpp"

namespace annoy::pg {

constexpr uint32 kMagic = 0x414E4E59;  // "ANNY"
// Bump when the on-disk format changes; older indexes must be REINDEXed.
// 4: meta page checksum.
// 5: vectors beyond one page continue in chunk tuples; split hyperplanes in
// 8 or 4 bits when half precision does not fit (plane_codec.hpp).
// 6: RaBitQ sketches for sketches with a bit per dimension (one alignment
// byte more per leaf entry).
// 7: filter columns: each leaf entry carries its row's filter payload
// (filter.hpp), its size in the meta page.
constexpr uint32 kLayoutVersion = 7;
constexpr BlockNumber kMetaBlock = 0;
constexpr uint16 kPageId = 0xFF8A;  // identifies our pages (pg_filedump etc.)

// Special space of every page.
struct PageOpaque {
    uint16 flags;
    uint16 page_id;
};
static_assert(sizeof(PageOpaque) == 4 && offsetof(PageOpaque, page_id) == 2, "special space layout");
constexpr uint16 kPageMeta = 1 << 0;
constexpr uint16 kPageData = 1 << 1;

inline PageOpaque *page_opaque(Page page)
{
    return reinterpret_cast<PageOpaque *>(PageGetSpecialPointer(page));
}

enum TupleKind : uint8 {
    kItemTuple = 1,
    kSplitTuple = 2,
    kLeafTuple = 3,
    kForwardTuple = 4,
    kCenterTuple = 5,
    kChunkTuple = 6,
};

// A reference to a tuple: block and offset, the layout of ItemPointerData
// (6 bytes, 2-byte aligned) so references in leaves stay compact.
using TupleRef = ItemPointerData;
static_assert(sizeof(TupleRef) == 6 && alignof(TupleRef) == 2, "references are 6 bytes, 2-byte aligned");

inline uint64 ref_key(const TupleRef &r)
{
    // Nonzero for every valid reference (offsets start at 1).
    return (uint64(ItemPointerGetBlockNumberNoCheck(&r)) << 16) | ItemPointerGetOffsetNumberNoCheck(&r);
}
inline TupleRef ref_from_key(uint64 key)
{
    TupleRef r;
    ItemPointerSet(&r, BlockNumber(key >> 16), OffsetNumber(key & 0xFFFF));
    return r;
}

// Item flags.  VACUUM first flags dead items (scans skip them, leaf splits
// drop them), then removes every reference to them, then frees them.
constexpr uint8 kItemDead = 1 << 0;

// Leaf splits copy a leaf's references; one that read them before VACUUM
// flagged an item could write a copy of its reference onto a page VACUUM had
// already cleaned.  So a split holds this heavyweight lock (share mode, on a
// page-lock tag that is never a real page lock) while it reads and writes,
// and VACUUM takes it exclusively once after flagging: after that, every
// split sees the flags.
constexpr BlockNumber kSplitBarrier = 0xFFFFFFF0u;

// An item tuple holds its vector, or, when the vector does not fit in one
// page (more than about 2,000 dimensions), its first bytes and a reference
// to a chain of chunk tuples with the rest (item_chain.hpp).  Chunk tuples
// share the header: kind kChunkTuple, `seq` 1, 2, ... along the chain, the
// owner's heap TID (VACUUM flags and frees them by it, like items), and the
// next chunk.
struct ItemTupleHeader {
    uint8 kind;  // kItemTuple or kChunkTuple
    uint8 flags;
    uint16 seq;  // 0 for the item, i for its i-th chunk
    ItemPointerData heap_tid;
    TupleRef next;  // first (next) chunk; invalid if none
    // vector bytes follow, 8-byte aligned: dim floats or ceil(bits/64) words
};
static_assert(sizeof(ItemTupleHeader) == 16, "item header must keep the vector 8-byte aligned");
static_assert(offsetof(ItemTupleHeader, flags) == 1 && offsetof(ItemTupleHeader, seq) == 2 &&
                  offsetof(ItemTupleHeader, heap_tid) == 4 && offsetof(ItemTupleHeader, next) == 10,
              "item header layout");

// Node tuples carry their tree's number: a reader holding a stale reference
// (to a slot VACUUM freed and a later insert reused) can tell the tuple is
// not the node it was looking for.
struct SplitTupleHeader {
    uint8 kind;  // kSplitTuple
    uint8 unused;
    uint16 tree;
    uint32 bit;         // Hamming: the bit tested
    TupleRef child[2];  // child[1] takes margin > 0
    float offset;
    // the hyperplane normal follows, plane_dim coordinates encoded with
    // plane_codec(space) (core/plane_codec.hpp: they only steer the search)
};
static_assert(sizeof(SplitTupleHeader) == 24 && offsetof(SplitTupleHeader, tree) == 2 &&
                  offsetof(SplitTupleHeader, bit) == 4 && offsetof(SplitTupleHeader, child) == 8 &&
                  offsetof(SplitTupleHeader, offset) == 20,
              "split header layout");

struct LeafTupleHeader {
    uint8 kind;          // kLeafTuple
    uint8 sketch_bytes;  // bytes of each item's sketch, 0 without sketches
    uint16 count;        // references in use
    uint16 capacity;     // references the tuple has room for
    uint16 tree;
    // capacity TupleRefs follow, then capacity sketches of sketch_bytes each
    // (sketch i belongs to reference i), then capacity filter payloads of the
    // meta page's payload_bytes each (payload i belongs to reference i).
    // The payload size is the index's, not the leaf's: readers take it from
    // the meta page (IndexShape), so a leaf of an index without filter
    // columns is as it was in layout 6.
};
static_assert(sizeof(LeafTupleHeader) == 8 && offsetof(LeafTupleHeader, sketch_bytes) == 1 &&
                  offsetof(LeafTupleHeader, count) == 2 && offsetof(LeafTupleHeader, capacity) == 4 &&
                  offsetof(LeafTupleHeader, tree) == 6,
              "leaf header layout");

// A forward tuple is "retired" once nothing in the tree refers to it any
// more (its parent now points past it): `retired` holds the next full
// transaction id of that moment.  Scans and inserts that started earlier
// may still hold a reference to it, so VACUUM frees it only when that id is
// older than every snapshot (like btree's deleted pages).  0 = still
// referenced by its parent.
struct ForwardTupleHeader {
    uint8 kind;  // kForwardTuple
    uint8 unused;
    uint16 tree;
    TupleRef target;
    uint16 unused2;
    uint32 retired_lo, retired_hi;

    uint64 retired() const { return (uint64(retired_hi) << 32) | retired_lo; }
    void set_retired(uint64 fxid)
    {
        retired_lo = uint32(fxid);
        retired_hi = uint32(fxid >> 32);
    }
};
static_assert(sizeof(ForwardTupleHeader) == 20 && offsetof(ForwardTupleHeader, tree) == 2 &&
                  offsetof(ForwardTupleHeader, target) == 4 && offsetof(ForwardTupleHeader, retired_lo) == 12 &&
                  offsetof(ForwardTupleHeader, retired_hi) == 16,
              "forward tuple layout");

inline void *split_plane(SplitTupleHeader *s)
{
    return s + 1;
}
inline TupleRef *leaf_refs(LeafTupleHeader *l)
{
    return reinterpret_cast<TupleRef *>(l + 1);
}
inline uint8 *leaf_sketches(LeafTupleHeader *l)
{
    return reinterpret_cast<uint8 *>(leaf_refs(l) + l->capacity);
}
// The filter payloads (payload i at + i * payload_bytes).
inline uint8 *leaf_payloads(LeafTupleHeader *l)
{
    return leaf_sketches(l) + Size(l->capacity) * l->sketch_bytes;
}
inline char *item_vector(ItemTupleHeader *t)
{
    return reinterpret_cast<char *>(t + 1);
}

// Vector bytes a chunk tuple carries at most (about a page, 8-byte units).
Size chunk_capacity() noexcept;
// Chunk tuples a vector of `bytes` needs when its head tuple has a header
// of `header` bytes, and the bytes that stay in the head.
int vector_chunks(Size bytes, Size header) noexcept;
inline Size vector_head_bytes(Size bytes, Size header) noexcept
{
    return bytes - Size(vector_chunks(bytes, header)) * chunk_capacity();
}

// The item tuple (with the head of the vector, if it has chunks).
inline Size item_tuple_size(const core::Space &space)
{
    return sizeof(ItemTupleHeader) + vector_head_bytes(space.vector_bytes(), sizeof(ItemTupleHeader));
}
inline int item_chunks(const core::Space &space)
{
    return vector_chunks(space.vector_bytes(), sizeof(ItemTupleHeader));
}

// How split tuples store their hyperplane: half precision while it fits in
// a page, then 8 and 4 bits.
core::PlaneCodec plane_codec(const core::Space &space) noexcept;
inline Size split_tuple_size(const core::Space &space)
{
    return sizeof(SplitTupleHeader) + core::plane_bytes(plane_codec(space), space.plane_dim());
}
inline Size leaf_tuple_size(int capacity, int sketch_bytes, int payload_bytes)
{
    return sizeof(LeafTupleHeader) + Size(capacity) * (sizeof(TupleRef) + Size(sketch_bytes) + Size(payload_bytes));
}
inline Size leaf_tuple_size(const LeafTupleHeader *l, int payload_bytes)
{
    return leaf_tuple_size(l->capacity, l->sketch_bytes, payload_bytes);
}

// Sets entry i of a leaf: its reference, the item's sketch if the leaf has
// sketches (l->sketch_bytes bytes at `sketch`) and its filter payload if the
// index has filter columns (payload_bytes at `payload`); the pointers are
// unused when their size is 0.
inline void set_leaf_entry(LeafTupleHeader *l, int i, const TupleRef &ref, const uint8 *sketch, const uint8 *payload,
                           int payload_bytes)
{
    leaf_refs(l)[i] = ref;
    if (l->sketch_bytes > 0)
        memmove(leaf_sketches(l) + Size(i) * l->sketch_bytes, sketch, l->sketch_bytes);
    if (payload_bytes > 0)
        memmove(leaf_payloads(l) + Size(i) * Size(payload_bytes), payload, Size(payload_bytes));
}

// Copies entry `from` of leaf `src` to entry `to` of leaf `dst` (the same
// leaf is fine); both have the same sketch_bytes.
inline void copy_leaf_entry(LeafTupleHeader *dst, int to, LeafTupleHeader *src, int from, int payload_bytes)
{
    set_leaf_entry(dst, to, leaf_refs(src)[from], leaf_sketches(src) + Size(from) * src->sketch_bytes,
                   leaf_payloads(src) + Size(from) * Size(payload_bytes), payload_bytes);
}

// The center of the sketches: dim floats, continued in chunk tuples (heap
// TID invalid) when they do not fit in one page, like an item's vector.
struct CenterTupleHeader {
    uint8 kind;  // kCenterTuple
    uint8 unused;
    uint16 unused2;
    uint32 dim;
    TupleRef next;  // first chunk; invalid if none
    uint16 unused3;
    // dim floats (the head of them, with chunks) follow
};
static_assert(sizeof(CenterTupleHeader) == 16 && offsetof(CenterTupleHeader, dim) == 4 &&
                  offsetof(CenterTupleHeader, next) == 8,
              "center header layout");

// Room for tuples on an empty data page, line pointer included.
constexpr Size kPageRoom = BLCKSZ - MAXALIGN(SizeOfPageHeaderData) - MAXALIGN(sizeof(PageOpaque)) - sizeof(ItemIdData);
// Largest tuple that fits on an empty data page.
constexpr Size kMaxTupleSize = kPageRoom - (kPageRoom % MAXIMUM_ALIGNOF);

// Largest dimension an index can hold for a metric: 16,000 for vectors
// (pgvector's limit; longer vectors continue in chunk tuples, hyperplanes
// are stored in 4 bits at most), and for bit strings what one item tuple
// holds.
constexpr int kMaxFloatDimensions = 16000;
int max_dimensions(core::Metric metric);

constexpr int kMaxTrees = 1000;  // roots must fit in the meta page

struct MetaPageData {
    uint32 magic;
    uint32 version;
    uint8 metric;         // core::Metric
    uint8 payload_bytes;  // filter payload per leaf entry (filter.hpp); 0: no filter columns
    uint16 n_trees;
    uint32 dim;  // 0 until the first vector is indexed
    uint32 leaf_size;
    uint32 seed;
    float dot_max_norm;
    // Pages the index had when n_items was counted (build, VACUUM); 0 if
    // unknown.  Inserts do not touch the meta page, so a scan estimates the
    // current item count as n_items * pages now / counted_pages.
    uint32 counted_pages;
    uint64 n_items;  // live item tuples when last counted
    // Sketches in the leaves: projections (0: none), drawn from a seed mixed
    // from `seed`, around the center tuple `center` (invalid without).
    TupleRef center;
    uint16 sketch_bits;
    // CRC-32C of the fields above that describe the index's shape (all but
    // the item count): a changed metric, seed or dimension byte would make
    // readers misread every tuple or trees silently differ (meta_checksum).
    uint32 checksum;
    TupleRef roots[FLEXIBLE_ARRAY_MEMBER];
};
static_assert(offsetof(MetaPageData, version) == 4 && offsetof(MetaPageData, metric) == 8 &&
                  offsetof(MetaPageData, payload_bytes) == 9 && offsetof(MetaPageData, n_trees) == 10 &&
                  offsetof(MetaPageData, dim) == 12 && offsetof(MetaPageData, leaf_size) == 16 &&
                  offsetof(MetaPageData, seed) == 20 && offsetof(MetaPageData, dot_max_norm) == 24 &&
                  offsetof(MetaPageData, counted_pages) == 28 && offsetof(MetaPageData, n_items) == 32 &&
                  offsetof(MetaPageData, center) == 40 && offsetof(MetaPageData, sketch_bits) == 46 &&
                  offsetof(MetaPageData, checksum) == 48 && offsetof(MetaPageData, roots) == 52,
              "meta page layout");
static_assert(MAXALIGN(SizeOfPageHeaderData) + offsetof(MetaPageData, roots) + kMaxTrees * sizeof(TupleRef) <=
                  BLCKSZ - MAXALIGN(sizeof(PageOpaque)),
              "the roots of kMaxTrees trees fit in the meta page");

// The checksum of a meta page's shape fields; init_meta_page stores it, and
// a writer that changes one of them (the first insert sets dim) updates it.
uint32 meta_checksum(const MetaPageData &meta);

inline MetaPageData *meta_data(Page page)
{
    return reinterpret_cast<MetaPageData *>(PageGetContents(page));
}
inline Size meta_size(int n_trees)
{
    return offsetof(MetaPageData, roots) + Size(n_trees) * sizeof(TupleRef);
}

// Initialises a page in memory.
void init_data_page(Page page);
void init_meta_page(Page page, const MetaPageData &meta);

// Reads the meta page into `out` (copy) and checks magic, version, the
// checksum and the ranges of its fields; errors with a REINDEX hint when the
// index was written by another layout.
// The roots array of `out` must have room for kMaxTrees entries.
void read_meta(Relation index, MetaPageData *out);
MetaPageData *alloc_meta();  // palloc'd, room for kMaxTrees roots

// Whether a page's header is one of ours and its pointers are consistent
// (PageAddItem PANICs on inconsistent ones, so no page is written before
// this holds).
inline bool data_page_header_ok(Page page)
{
    const PageHeader h = reinterpret_cast<PageHeader>(page);
    return !PageIsNew(page) && h->pd_special == BLCKSZ - MAXALIGN(sizeof(PageOpaque)) &&
           h->pd_lower >= SizeOfPageHeaderData && h->pd_lower <= h->pd_upper && h->pd_upper <= h->pd_special;
}

// Validates a page read from disk before its tuples are trusted: the
// header, and the special space's page id and flags.
void check_data_page(Relation index, Page page, BlockNumber blkno);

// The scan's cheaper form: only what the page header says (the special
// space sits at the far end of the page, a cache miss per candidate).
// Tuples and references are still checked for every tuple read
// (node_access.hpp).
inline void check_page_header(Relation index, Page page, BlockNumber blkno)
{
    if (unlikely(!data_page_header_ok(page)))
        check_data_page(index, page, blkno);  // raises the error
}

// Errors (index corrupted) unless blkno is a data block of the index.  The
// size comes from the storage manager's cached block count, refreshed (a
// system call) only for a block past it: the index may have grown since.
void check_block_ref_slow(Relation index, BlockNumber blkno);
inline void check_block_ref(Relation index, BlockNumber blkno)
{
    BlockNumber known = RelationGetSmgr(index)->smgr_cached_nblocks[MAIN_FORKNUM];
    if (unlikely(blkno == kMetaBlock || blkno >= known || known == InvalidBlockNumber))
        check_block_ref_slow(index, blkno);
}

// Pins and locks the block of `ref`; returns the buffer.
Buffer lock_ref_buffer(Relation index, const TupleRef &ref, int mode);

// A new, empty, exclusively locked data page appended to the relation.
// The caller initialises it (init_data_page) in its WAL-logged copy.
Buffer new_page(Relation index);

// An exclusively locked page with at least `size` bytes free for a new tuple
// (line pointer included): the page this backend last added to, else pages
// the free space map offers, else a new page.  Pages are taken only if their
// lock is free at once (the caller may hold other page locks, among them
// held[0..nheld), which are skipped).  *is_new tells whether the page must
// be initialised.
Buffer page_with_room(Relation index, Size size, const Buffer *held, int nheld, bool *is_new);

// Records a page's free space in the free space map after a change.
void record_free_space(Relation index, Buffer buf);

// Adds a tuple to a page (in a WAL-logged copy); errors if it does not fit.
OffsetNumber add_tuple(Relation index, Page page, const void *tuple, Size size);

}  // namespace annoy::pg
