// Changing a tree's shape in one WAL record: the slots that refer to nodes
// (a root in the meta page, a split node's child) and a set of pages locked
// together in block order.
//
// Every writer that holds more than one page lock at a time while waiting
// takes them through LockedPages::lock, in ascending block order, so two such
// writers cannot deadlock (leaf splits hold one page and only take others
// with a conditional lock, LockedPages::place; scans hold one page at a
// time).
#pragma once

#include "node_access.hpp"

namespace annoy::pg {

// Where a reference to a node is stored: the meta page's root slot of a
// tree (split invalid) or child `side` of a split node.
struct Slot {
    TupleRef split;
    int side;
};

inline Slot root_slot()
{
    Slot s;
    ItemPointerSetInvalid(&s.split);
    s.side = 0;
    return s;
}
inline BlockNumber slot_block(const Slot &s)
{
    return ItemPointerIsValid(&s.split) ? ItemPointerGetBlockNumber(&s.split) : kMetaBlock;
}

struct LockedPages {
    Relation index;
    GenericXLogState *state;
    int n;
    BlockNumber blocks[MAX_GENERIC_XLOG_PAGES];
    Buffer bufs[MAX_GENERIC_XLOG_PAGES];
    Page pages[MAX_GENERIC_XLOG_PAGES];  // registered copies

    // Locks the distinct blocks among blocks[0..count) exclusively, in
    // ascending order, and registers them in a new GenericXLog record.
    static LockedPages lock(Relation index, const BlockNumber *blocks, int count);
    // A new record over `buf`, which the caller has locked exclusively.
    static LockedPages adopt(Relation index, Buffer buf);
    // Adds a tuple to one of the registered pages, or else to a page with
    // room taken without waiting (page_with_room) and registered now.
    TupleRef place(const void *tuple, Size size);
    Page page(BlockNumber blkno) const;  // the registered copy
    void commit();                       // GenericXLogFinish + release
    void abandon();                      // GenericXLogAbort + release

private:
    Page add(Buffer buf, bool is_new);  // registers one more locked buffer
};

// The reference stored in `slot` of `tree`, inside registered page copies;
// nullptr if the slot's split node is no longer a split (a concurrent merge
// made it a forward tuple).
TupleRef *slot_ref_in(const LockedPages &pages, const Slot &slot, int tree, const IndexShape &shape);

// The node at ref inside registered page copies (read_node: errors unless
// it is a node of `tree`).
NodeView node_in(const LockedPages &pages, const TupleRef &ref, int tree, const IndexShape &shape);

// Replaces the node at ref (inside registered copies) with a retired
// forward tuple to `target`: readers that still hold ref find target; VACUUM
// frees it once no snapshot from before this moment remains.
void retire_to_forward(const LockedPages &pages, const TupleRef &ref, int tree, const TupleRef &target);

// The full transaction id that stamps a node retired now.
uint64 retirement_stamp();

}  // namespace annoy::pg
