// pgvector's vector and halfvec values, read from their on-disk layout (no
// build-time dependency on pgvector): the operator classes of the companion
// extension annoy_vector (annoy_vector/) index these types.
#pragma once

#include "vector_input.hpp"

namespace annoy::pg {

// The layout both types share: a 4-byte varlena header, an int16 dimension,
// an int16 that is always zero, then dim elements (float4 for vector, IEEE
// half precision for halfvec), no padding.
struct PgVectorHeader {
    int32 vl_len_;
    int16 dim;
    int16 unused;
};
static_assert(sizeof(PgVectorHeader) == 8, "pgvector's header is 8 bytes");

// A view of a detoasted vector's elements, checked: the size matches the
// dimension, at least one dimension, finite elements (pgvector's input
// functions reject NaN and infinity, but a value can come from anywhere).
FloatVector pgvector_vector(const varlena *value);

// A halfvec's elements converted to floats (palloc'd), with the same checks.
FloatVector pgvector_halfvec(const varlena *value);

}  // namespace annoy::pg
