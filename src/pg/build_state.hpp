// State of one index build, shared by build.cpp (loading, in-memory build)
// and build_spill.cpp (the bounded-memory build).
#pragma once

#include "space.hpp"

#include "filter.hpp"
#include "page_writer.hpp"

namespace annoy::pg {

struct BuildState {
    Relation index;
    core::Space space;
    bool dim_known;
    size_t vector_bytes;
    size_t mem_limit;  // maintenance_work_mem, bytes
    int leaf_size;
    uint64 seed;
    size_t n;  // rows loaded

    // In memory (while the vectors fit): grown geometrically.
    char *vectors;
    ItemPointerData *heap_tids;
    size_t cap;

    // Spilled (once they did not fit): item tuples are already on pages.
    bool spilled;
    PageWriter items;
    ItemTupleHeader *item_buf;  // one item tuple being written
    TupleRef *item_refs;        // by item number
    size_t refs_cap;
    char *sample;  // reservoir sample of vectors for the trees' top levels
    size_t sample_n, sample_cap;
    uint64 rng;
    float max_norm_sq;  // Dot: over all vectors (squared_norm, as the in-memory build)

    uint32 sketch_bits;  // 0: no sketches

    // Filter payloads (filter.hpp), payload_bytes each by item number, in
    // both modes (grown with `vectors`, then with `item_refs`); row_payload
    // holds the row being loaded.
    const IndexColumns *columns;
    int payload_bytes;
    uint8 *payloads;
    uint8 *row_payload;
};

// Makes room for `cap` payloads in st.payloads (nothing without filter
// columns).
void grow_payloads(BuildState &st, size_t cap);
// Moves the loaded vectors to item tuples and continues in spilled mode.
void spill(BuildState &st);
// Adds one vector (and st.row_payload) in spilled mode.
void spill_add(BuildState &st, const void *vec, ItemPointer heap_tid);
// Builds and writes every tree of a spilled build; fills meta->roots and
// meta->dot_max_norm.
void build_spilled_trees(BuildState &st, int n_trees, MetaPageData *meta);

}  // namespace annoy::pg
