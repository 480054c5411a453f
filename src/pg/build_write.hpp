// Writing a built forest to pages (shared by the in-memory and the
// bounded-memory build).
#pragma once

#include "forest.hpp"
#include "search_state.hpp"
#include "sketch.hpp"

#include "context_alloc.hpp"
#include "page_writer.hpp"

namespace annoy::pg {

// Replaces the forest in `slot` (owned by a build's memory context, so it is
// freed even if an error longjmps out of the page writing) with a new build:
// core work under the guard.
const core::FlatForest &build_into(ContextOwned<core::FlatForest> *slot, const core::Space &space, const void *vectors,
                                   size_t n, const core::BuildParams &params);

// Writes item tuples for the n vectors, in the order the leaves of the tree
// under `root` list them (the vectors of one leaf share pages); returns each
// item's reference, by item number.
TupleRef *write_items(PageWriter &w, const core::Space &space, const core::FlatForest &f, core::NodeRef root,
                      const char *vectors, const ItemPointerData *heap_tids, size_t n);

// What write_tree makes of a forest's leaves.
struct TreeLeaves {
    // Leaf tuples with `capacity` slots, referring to item_refs[item] and
    // holding item_sketches[item] (sketch_bytes each, by item number; nullptr
    // and 0 when the index has no sketches).
    const TupleRef *item_refs;
    int capacity;
    const uint8 *item_sketches;
    int sketch_bytes;
    // And item_payloads[item] (payload_bytes each; 0 without filter columns).
    const uint8 *item_payloads;
    int payload_bytes;
    // Or, when set, no leaf tuples: references to leaf i become subtrees[i]
    // (the root of a subtree written before).
    const TupleRef *subtrees;

    static TreeLeaves items(const TupleRef *item_refs, int capacity, const uint8 *item_sketches, int sketch_bytes,
                            const uint8 *item_payloads, int payload_bytes)
    {
        return TreeLeaves{item_refs, capacity, item_sketches, sketch_bytes, item_payloads, payload_bytes, nullptr};
    }
    static TreeLeaves subtree_roots(const TupleRef *subtrees)
    {
        return TreeLeaves{nullptr, 0, nullptr, 0, nullptr, 0, subtrees};
    }
};

// Writes the nodes of f's tree under `root` in post-order, as tree number
// `tree`, its leaves as `leaves` says.  Returns the root's reference.
TupleRef write_tree(PageWriter &w, const core::FlatForest &f, core::NodeRef root, uint16 tree,
                    const TreeLeaves &leaves);

// The sketches of n vectors (sketch_bytes each, palloc'd), and the center tuple.
uint8 *sketch_items(const core::Sketcher &sketcher, const char *vectors, size_t n);
TupleRef write_center(PageWriter &w, const float *center, uint32 dim);
// The center of the sketches of n vectors (palloc'd, space.dim floats).
float *sketch_center(const core::Space &space, const char *vectors, size_t n);

}  // namespace annoy::pg
