// Reading tuples from pages: the one validation path every reader (scan,
// insert, VACUUM, annoy_check, annoy_index_info) goes through before it
// trusts a tuple or a reference.
//
// Two kinds of reference, two rules:
//  * A node reference (a tree's root, a split's child, a forward tuple's
//    target) always leads to a node of its tree: nothing frees a node while
//    a reader may still hold a reference to it (retired forward tuples wait
//    for every snapshot, and on a hot standby for a recovery conflict; see
//    README).  Anything else there is corruption: an error.
//  * An item reference in a leaf may be stale: VACUUM frees dead items after
//    removing their references, and a reader that copied a leaf before that
//    finds a free slot, a slot past the end of the page, or a reused slot
//    holding another kind of tuple.  Those are skipped; an item tuple that
//    is there but malformed is an error.
// Every check takes sizes from the tuple's own header and the meta page, so
// it follows any layout the writers use.
#pragma once

#include "page.hpp"

namespace annoy::pg {

// What the tuples of an index must look like, from its meta page.
struct IndexShape {
    core::Space space;  // dim 0: no vector indexed yet
    int n_trees;
    int sketch_bytes;   // sketch bytes per leaf entry
    int payload_bytes;  // filter payload bytes per leaf entry (filter.hpp)
};
IndexShape index_shape(const MetaPageData &meta);

// Errors (index corrupted) naming the index, the tuple and, if tree >= 0,
// the tree.
[[noreturn]] void tuple_corrupted(Relation index, const TupleRef &ref, int tree, const char *what);

// The tuple at line pointer `off` (1 <= off <= max offset) of a data page,
// or nullptr for an unused slot.  Errors if the line pointer is not one we
// write or lies outside the page's tuple space.
char *page_tuple(Relation index, Page page, BlockNumber blkno, OffsetNumber off, Size *size);

// nullptr if the `size` bytes at `tuple` are a well-formed tuple of the
// kind its first byte names, for an index of this shape; else what is wrong.
const char *tuple_defect(const char *tuple, Size size, const IndexShape &shape);

// page_tuple, then tuple_defect: the tuple, checked (nullptr if unused).
char *checked_tuple(Relation index, Page page, BlockNumber blkno, OffsetNumber off, const IndexShape &shape,
                    Size *size);

// Calls fn(off, tuple, size) for every used line pointer of a data page,
// each tuple checked (checked_tuple), in offset order, or from the last when
// `last_first` (deleting from the end first lets
// PageIndexTupleDeleteNoCompact shorten the line pointer array).
template <class Fn>
void for_each_checked_tuple(Relation index, Page page, BlockNumber blkno, const IndexShape &shape, Fn &&fn,
                            bool last_first = false)
{
    const OffsetNumber max = PageGetMaxOffsetNumber(page);
    for (OffsetNumber i = 0; i < max; i++) {
        const OffsetNumber off = last_first ? OffsetNumber(max - i) : OffsetNumber(FirstOffsetNumber + i);
        Size size;
        char *tuple = checked_tuple(index, page, blkno, off, shape, &size);
        if (tuple != nullptr)
            fn(off, tuple, size);
    }
}

// A node of a tree, seen through its kind.
struct NodeView {
    uint8 kind;  // kSplitTuple, kLeafTuple or kForwardTuple
    union {
        SplitTupleHeader *split;
        LeafTupleHeader *leaf;
        ForwardTupleHeader *forward;
    };
};

// The node at `ref` of `tree` on a locked page: errors unless it is a
// well-formed split, leaf or forward tuple of that tree.
NodeView read_node(Relation index, Page page, const TupleRef &ref, int tree, const IndexShape &shape);

// The live item at `ref` on a locked page, or nullptr for a stale reference
// (free or reused slot, or an item VACUUM flagged dead).  Errors if an item
// tuple is there but malformed.
ItemTupleHeader *read_item(Relation index, Page page, const TupleRef &ref, const IndexShape &shape);

// The same for a chunk tuple of a vector larger than a page (item_chain.hpp):
// nullptr for a stale reference or a chunk flagged dead.
ItemTupleHeader *read_chunk(Relation index, Page page, const TupleRef &ref, const IndexShape &shape);

// Raises ERRCODE_INDEX_CORRUPTED for a problem found in tree `tree`:
// "index "<name>" tree <tree>: <fmt, args>".  A macro so that the message
// is one format literal the compiler checks against its arguments.
#define ANNOY_TREE_CORRUPTED(index, tree, fmt, ...)   \
    ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED), \
                    errmsg("index \"%s\" tree %d: " fmt, RelationGetRelationName(index), int(tree), ##__VA_ARGS__)))

// The hyperplane of a split tuple, for core::margin.
inline core::PlaneView split_view(const core::Space &space, SplitTupleHeader *split) noexcept
{
    core::PlaneView plane;
    plane.offset = split->offset;
    plane.bit = split->bit;
    plane.stored = space.plane_dim() ? split_plane(split) : nullptr;
    plane.stored_codec = plane_codec(space);
    return plane;
}

// Writes a hyperplane normal (plane_dim floats) into a split tuple.
void store_plane(const core::Space &space, SplitTupleHeader *split, const float *normal);

// The tree's current root reference (meta page, share lock).
TupleRef read_root(Relation index, int tree);

// Copies the vector of the item at `ref` into dst (the shape's vector
// bytes: read from its chunk tuples too when it is larger than a page) and
// its heap TID into *heap_tid (if not null).  False if the slot no longer
// holds a live item (see read_item) or its chain no longer is its own.  The
// one way to fetch an item's vector apart from the scan's in-place scoring
// of vectors that fit in a page.
bool read_item_vector(Relation index, const TupleRef &ref, const IndexShape &shape, void *dst, ItemPointer heap_tid);

// A bound on how many tuples an index of `nblocks` blocks can hold: walks
// that take more steps than this are going round a cycle.
inline uint64 max_tuples(BlockNumber nblocks)
{
    return uint64(nblocks) * (BLCKSZ / (sizeof(ItemIdData) + MAXALIGN(sizeof(ForwardTupleHeader))) + 1);
}

}  // namespace annoy::pg
