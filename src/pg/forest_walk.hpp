// Whole-index walks shared by annoy_check and annoy_index_info: every page
// in block order, and every tree from its root.
#pragma once

#include "search_state.hpp"

#include "context_alloc.hpp"
#include "node_access.hpp"

namespace annoy::pg {

// Opens index `indexoid` with `lockmode` for a whole-index function; errors
// (wrong object type) unless it is an annoy index.
Relation open_annoy_index(Oid indexoid, LOCKMODE lockmode);

// Calls fn(page, blkno) for every data page under a share lock, after
// checking it; meta page and never-initialised pages are skipped.
template <class Fn>
void walk_pages(Relation index, Fn &&fn)
{
    BlockNumber nblocks = RelationGetNumberOfBlocks(index);
    for (BlockNumber blkno = kMetaBlock + 1; blkno < nblocks; blkno++) {
        CHECK_FOR_INTERRUPTS();
        Buffer buf = ReadBuffer(index, blkno);
        LockBuffer(buf, BUFFER_LOCK_SHARE);
        Page page = BufferGetPage(buf);
        if (!PageIsNew(page)) {
            check_data_page(index, page, blkno);
            fn(page, blkno);
        }
        UnlockReleaseBuffer(buf);
    }
}

// What a tree walk reports for each node it reaches.
struct WalkVisitor {
    // A leaf at `depth` (root = 0) with copies of its references and their
    // filter payloads (the meta page's payload_bytes each).
    virtual void leaf(const TupleRef &ref, const TupleRef *items, const uint8 *payloads, int count, int capacity,
                      int depth) = 0;
    virtual void split(const TupleRef &ref, const SplitTupleHeader &split, int depth) = 0;
    virtual void forward(const TupleRef &ref, const ForwardTupleHeader &forward) = 0;

protected:
    // Not virtual, so visitors stay trivially destructible: they live in
    // frames that Postgres errors may longjmp through.
    ~WalkVisitor() = default;
};

// Depth-first walk of tree `tree` from its root.  Errors (index corrupted)
// on a reference to a missing tuple, a tuple of the wrong kind or tree, or
// a node reached twice (a cycle or a shared subtree).
void walk_tree(Relation index, const MetaPageData &meta, int tree, WalkVisitor &visitor);

}  // namespace annoy::pg
