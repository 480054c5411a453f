// Reading tree nodes and item vectors from pages: the checks every reader
// (insert, scan, vacuum, annoy_check) applies before trusting a tuple.
#pragma once

#include "page.hpp"

namespace annoy::pg {

// A node tuple seen through its kind.  kind is 0 when the slot is free, holds
// an item, or belongs to another tree: a stale reference.
struct NodeView {
    uint8 kind;
    union {
        SplitTupleHeader *split;
        LeafTupleHeader *leaf;
        ForwardTupleHeader *forward;
    };
};

NodeView view_node(const char *tuple, Size size, int tree);

// The hyperplane of a split tuple, for core::margin.
inline core::PlaneView split_view(const core::Space &space, SplitTupleHeader *split) noexcept
{
    core::PlaneView plane;
    plane.offset = split->offset;
    plane.bit = split->bit;
    plane.normal_half = space.plane_dim() ? split_plane(split) : nullptr;
    return plane;
}

// Writes a hyperplane normal (plane_dim floats) into a split tuple.
void store_plane(const core::Space &space, SplitTupleHeader *split, const float *normal);

// The tree's current root reference (meta page, share lock).
TupleRef read_root(Relation index, int tree);

// Copies the vector of the item at `ref` into dst (bytes long) and its heap
// TID into *heap_tid (if not null).  False if the slot no longer holds a live
// item (flagged dead or freed by VACUUM after the reference was read).
bool read_item_vector(Relation index, const TupleRef &ref, void *dst, size_t bytes, ItemPointer heap_tid);

}  // namespace annoy::pg
