// Column values and query arguments as the index sees them: raw vector bytes
// in the index's space, checked once at the boundary.
#pragma once

#include "page.hpp"

namespace annoy::pg {

// How the indexed column's values are laid out.  The operator classes of
// annoy's own types (real[], double precision[], bit) are recognised by
// their type; those of types annoy does not know by OID (pgvector's) name
// their format with support function 2.
enum class InputFormat : int32 {
    RealArray = 1,
    DoubleArray = 2,
    PgVector = 3,   // pgvector's vector
    PgHalfVec = 4,  // pgvector's halfvec
    BitString = 5,
};
constexpr uint16 kInputFormatProc = 2;

InputFormat input_format(Relation index, core::Metric metric);

struct RawVector {
    const void *data;  // floats, or 64-bit words for Hamming
    int dim;           // floats, or bits
};

// The one way column values and query arguments enter the index: validates
// `value` (of the index's input format) with the checks of vector_input.hpp,
// no zero vector under Angular, and the dimension limit of the page format,
// and returns it as floats (or bit words).  Detoasts/copies into the current
// memory context.
RawVector index_vector(Relation index, core::Metric metric, Datum value);

// Errors unless dim equals the index's dimension (named in the message).
void check_index_dimension(Relation index, core::Metric metric, int index_dim, int dim);

}  // namespace annoy::pg
