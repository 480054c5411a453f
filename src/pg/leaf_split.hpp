// Splitting a leaf that an insert found full, with the core's split rule
// (the one the build uses), and the parent update that follows.
//
// The split writes the new split node and two new leaves and turns the old
// leaf into a forward tuple pointing at the split node, in one WAL record;
// then it points the parent's reference at the split node and retires the
// forward tuple, in a second.  Readers that still hold the old reference
// follow the forward tuple, so no state in between loses an item.  Pages
// for the new tuples are only taken with a conditional lock (page.cpp).
#pragma once

#include "tree_edit.hpp"

namespace annoy::pg {

// The tree an insert adds to.
struct TreeInsert {
    Relation index;
    IndexShape shape;          // with the dimension, if this insert set it (node_access.hpp)
    const MetaPageData *meta;  // as the insert read it
    int tree;
};

// The item an insert adds: its item tuple, vector, sketch and filter
// payload.
struct NewItem {
    TupleRef ref;
    const void *vec;       // space.vector_bytes()
    float extra;           // core::item_extra (Dot)
    const uint8 *sketch;   // its sketch, sketch_bytes long (unused without sketches)
    int sketch_bytes;      // 0: the index has no sketches
    const uint8 *payload;  // its filter payload, shape.payload_bytes long (unused without filter columns)
};

// Where the descent came from: the slot (a split's child, or the tree's
// root in the meta page) that held `slot_ref`, the first node after the
// parent split (possibly a forward tuple leading to the leaf).
struct Parent {
    Slot slot;
    TupleRef slot_ref;
};

// A full leaf as the insert found it, its entries copied out.
struct FullLeaf {
    TupleRef ref;
    Parent parent;
    const TupleRef *refs;   // count references
    const uint8 *sketches;  // their sketches (sketch_bytes each), nullptr without
    const uint8 *payloads;  // their filter payloads (shape.payload_bytes each), nullptr without
    int count, capacity;
};

// Adds `item` to `leaf`: drops references to dead items and, if the rest
// still overflows the leaf, splits it.  Returns false if the leaf changed
// since it was copied; the caller then looks at leaf.ref again.
bool split_leaf(const TreeInsert &t, const FullLeaf &leaf, const NewItem &item);

}  // namespace annoy::pg
