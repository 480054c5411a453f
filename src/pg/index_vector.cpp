// Checks on vectors entering the index (rows and queries).
#include "index_vector.hpp"

#include "pgvector_input.hpp"

extern "C" {
#include "catalog/pg_type.h"
#include "utils/lsyscache.h"
}

namespace annoy::pg {

static void check_dimension_limit(Relation index, core::Metric metric, int dim)
{
    int limit = max_dimensions(metric);
    if (dim > limit)
        ereport(
            ERROR,
            (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
             errmsg(core::is_bit_metric(metric) ? "bit string has %d bits, more than the %d an annoy index can hold"
                                                : "vector has %d dimensions, more than the %d an annoy index can hold",
                    dim, limit),
             core::is_bit_metric(metric) ? errdetail("Index \"%s\": each bit string must fit in one %d-byte page.",
                                                     RelationGetRelationName(index), BLCKSZ)
                                         : errdetail("Index \"%s\": %d dimensions is the limit (pgvector's too).",
                                                     RelationGetRelationName(index), limit)));
}

InputFormat input_format(Relation index, core::Metric metric)
{
    if (core::is_bit_metric(metric))
        return InputFormat::BitString;
    Oid proc = index_getprocid(index, 1, kInputFormatProc);
    if (OidIsValid(proc)) {
        // As for support function 1: check the signature before calling.
        Oid *argtypes;
        int nargs;
        if (get_func_signature(proc, &argtypes, &nargs) != INT4OID || nargs != 1 || argtypes[0] != INTERNALOID)
            ereport(ERROR, (errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
                            errmsg("annoy operator class support function 2 must take internal and return integer")));
        int32 format = DatumGetInt32(FunctionCall1(index_getprocinfo(index, 1, kInputFormatProc), Int32GetDatum(0)));
        if (format < int32(InputFormat::RealArray) || format >= int32(InputFormat::BitString))
            ereport(ERROR,
                    (errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
                     errmsg("annoy operator class support function 2 returned unknown input format %d", format)));
        return InputFormat(format);
    }
    return index->rd_opcintype[0] == FLOAT8ARRAYOID ? InputFormat::DoubleArray : InputFormat::RealArray;
}

static FloatVector float_input(InputFormat format, Datum value)
{
    switch (format) {
        case InputFormat::DoubleArray:
            return doubles_as_floats(double_vector(DatumGetArrayTypeP(value)));
        case InputFormat::PgVector:
            return pgvector_vector(PG_DETOAST_DATUM(value));
        case InputFormat::PgHalfVec:
            return pgvector_halfvec(PG_DETOAST_DATUM(value));
        default:
            return float_vector(DatumGetArrayTypeP(value));
    }
}

RawVector index_vector(Relation index, core::Metric metric, Datum value)
{
    RawVector v;
    InputFormat format = input_format(index, metric);
    if (format == InputFormat::BitString) {
        BitVector b = bit_vector(DatumGetVarBitP(value));
        v = RawVector{b.words, b.bits};
    } else {
        FloatVector f = float_input(format, value);
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
