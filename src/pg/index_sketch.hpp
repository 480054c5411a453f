// The sketches of an index (core/sketch.hpp): which Sketcher its meta page
// describes, built once per backend and kept.
#pragma once

#include "sketch.hpp"

#include "page.hpp"

namespace annoy::pg {

// The seed of an index's projections, derived from its `seed` option.
uint64 sketch_seed(uint32 seed);

// The projections and center an index's sketches use; nullptr when it has
// none.  Cached per backend (building one draws bits x dim random signs);
// reads the center tuple on a cache miss.  Valid until the next call: use
// it at once (sketch an item, prepare a query), do not keep it.
const core::Sketcher *index_sketcher(Relation index, const MetaPageData &meta);

// A sketcher for an index being built (its meta page is not written yet),
// owned by memory context `cxt` (deleted when the context is), around the
// center `center` (space.dim floats).
const core::Sketcher *build_sketcher(MemoryContext cxt, const core::Space &space, uint32 bits, uint32 seed,
                                     const float *center);

// The sketch bytes of an index's leaves: 0 without sketches.
inline int leaf_sketch_bytes(const MetaPageData &meta)
{
    return meta.sketch_bits == 0
               ? 0
               : int(core::Sketcher::sketch_bytes(core::Space{core::Metric(meta.metric), meta.dim}, meta.sketch_bits));
}

}  // namespace annoy::pg
