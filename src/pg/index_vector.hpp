// Column values and query arguments as the index sees them: raw vector bytes
// in the index's space, checked once at the boundary.
#pragma once

#include "page.hpp"

namespace annoy::pg {

struct RawVector {
    const void *data;  // floats, or 64-bit words for Hamming
    int dim;           // floats, or bits
};

// Validates `value` (real[] or bit, per metric) for an index: the checks of
// vector_input.hpp, no zero vector under Angular, and the dimension limit of
// the page format.  Detoasts/copies into the current memory context.
RawVector index_vector(Relation index, core::Metric metric, Datum value);

// Errors unless dim equals the index's dimension (named in the message).
void check_index_dimension(Relation index, core::Metric metric, int index_dim, int dim);

}  // namespace annoy::pg
