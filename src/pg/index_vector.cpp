// Checks on vectors entering the index (rows and queries).
#include "index_vector.hpp"

#include "vector_input.hpp"

namespace annoy::pg {

static void check_dimension_limit(Relation index, core::Metric metric, int dim)
{
    int limit = max_dimensions(metric);
    if (dim > limit)
        ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                        errmsg(core::is_bit_metric(metric)
                                   ? "bit string has %d bits, more than the %d an annoy index can hold"
                                   : "vector has %d dimensions, more than the %d an annoy index can hold",
                               dim, limit),
                        errdetail("Index \"%s\": each vector and each split hyperplane must fit in one %d-byte page.",
                                  RelationGetRelationName(index), BLCKSZ)));
}

RawVector index_vector(Relation index, core::Metric metric, Datum value)
{
    RawVector v;
    if (core::is_bit_metric(metric)) {
        BitVector b = bit_vector(DatumGetVarBitP(value));
        v = RawVector{b.words, b.bits};
    } else {
        FloatVector f = float_vector(DatumGetArrayTypeP(value));
        if (metric == core::Metric::Angular)
            check_nonzero_for_cosine(f.data, f.dim);
        v = RawVector{f.data, f.dim};
    }
    check_dimension_limit(index, metric, v.dim);
    return v;
}

void check_index_dimension(Relation index, core::Metric metric, int index_dim, int dim)
{
    if (index_dim == dim)
        return;
    if (core::is_bit_metric(metric))
        ereport(ERROR,
                (errcode(ERRCODE_STRING_DATA_LENGTH_MISMATCH), errmsg("bit string has %d bits, but index \"%s\" has %d",
                                                                      dim, RelationGetRelationName(index), index_dim)));
    ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("vector has %d dimensions, but index \"%s\" has %d", dim,
                                                            RelationGetRelationName(index), index_dim)));
}

}  // namespace annoy::pg
