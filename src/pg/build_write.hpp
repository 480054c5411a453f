// Writing a built forest to pages (shared by the in-memory and the
// bounded-memory build).
#pragma once

#include "forest.hpp"
#include "sketch.hpp"

#include "page_writer.hpp"

namespace annoy::pg {

// Owns a core forest during a build; freed with the build's memory context
// even if an error longjmps out of the page writing.
struct ForestHolder {
    core::FlatForest *forest;
    MemoryContextCallback cb;
};

// A holder whose forest is deleted when `cxt` is reset or deleted.
ForestHolder *forest_holder(MemoryContext cxt);

// Replaces the holder's forest with a new build (core work under the guard).
const core::FlatForest &build_into(ForestHolder *holder, const core::Space &space, const void *vectors, size_t n,
                                   const core::BuildParams &params);

// Writes item tuples for the n vectors, in the order the leaves of the tree
// under `root` list them (the vectors of one leaf share pages); returns each
// item's reference, by item number.
TupleRef *write_items(PageWriter &w, const core::Space &space, const core::FlatForest &f, core::NodeRef root,
                      const char *vectors, const ItemPointerData *heap_tids, size_t n);

// Writes the nodes of the tree under `root` in post-order, as tree number
// `tree`; leaf tuples get `leaf_capacity` slots and refer to item_refs[item].
// With leaf_override, leaf i is not written: references to it become
// leaf_override[i] (a subtree written before).  Returns the root's reference.
// item_codes: the sketch of each item (code_bytes each, by item number), or
// nullptr when the index has no sketches (code_bytes 0).
TupleRef write_tree(PageWriter &w, const core::Space &space, const core::FlatForest &f, core::NodeRef root, uint16 tree,
                    const TupleRef *item_refs, int leaf_capacity, const TupleRef *leaf_override,
                    const uint8 *item_codes, int code_bytes);

// The sketches of n vectors (code_bytes each, palloc'd), and the centre tuple.
uint8 *encode_items(const core::Sketcher &sketcher, const char *vectors, size_t n);
TupleRef write_center(PageWriter &w, const float *center, uint32 dim);
// The centre of the sketches of n vectors (palloc'd, space.dim floats).
float *sketch_center(const core::Space &space, const char *vectors, size_t n);

}  // namespace annoy::pg
