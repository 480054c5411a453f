// Input checks shared by the distance functions and the index.
#include "vector_input.hpp"

namespace annoy::pg {

// The checks every array input shares: element type, one dimension, no
// NULL elements.  Returns the number of elements.
static int check_array(ArrayType *array, Oid elemtype, const char *type_name)
{
    if (ARR_ELEMTYPE(array) != elemtype)
        ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH), errmsg("vector must be an array of %s", type_name)));
    if (ARR_NDIM(array) == 0)
        ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("vector must have at least 1 dimension")));
    if (ARR_NDIM(array) != 1)
        ereport(ERROR, (errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
                        errmsg("vector must be a one-dimensional array, not %d-dimensional", ARR_NDIM(array))));
    if (ARR_HASNULL(array) && array_contains_nulls(array))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("vector must not contain NULL elements")));
    return ARR_DIMS(array)[0];
}

template <class T>
void check_finite(const T *data, int dim)
{
    for (int i = 0; i < dim; i++) {
        if (!std::isfinite(data[i]))
            ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("vector must not contain NaN or infinity"),
                            errdetail("Element %d is %s.", i + 1, std::isnan(data[i]) ? "NaN" : "infinite")));
    }
}
template void check_finite<float>(const float *, int);
template void check_finite<double>(const double *, int);

FloatVector float_vector(ArrayType *array)
{
    int dim = check_array(array, FLOAT4OID, "real");
    FloatVector v{reinterpret_cast<const float *>(ARR_DATA_PTR(array)), dim};
    check_finite(v.data, v.dim);
    return v;
}

DoubleVector double_vector(ArrayType *array)
{
    int dim = check_array(array, FLOAT8OID, "double precision");
    DoubleVector v{reinterpret_cast<const double *>(ARR_DATA_PTR(array)), dim};
    check_finite(v.data, v.dim);
    return v;
}

FloatVector doubles_as_floats(const DoubleVector &v)
{
    auto *out = static_cast<float *>(palloc(size_t(v.dim) * sizeof(float)));
    for (int i = 0; i < v.dim; i++) {
        if (std::fabs(v.data[i]) > double(FLT_MAX))
            ereport(ERROR, (errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
                            errmsg("vector element %g is out of range for an annoy index", v.data[i]),
                            errdetail("Element %d: an index stores vectors in single precision (at most %g).", i + 1,
                                      double(FLT_MAX))));
        out[i] = float(v.data[i]);
    }
    return FloatVector{out, v.dim};
}

void bits_to_words(VarBit *bits, uint64_t *buf)
{
    size_t nwords = (size_t(VARBITLEN(bits)) + 63) / 64;
    memset(buf, 0, nwords * 8);
    // Postgres keeps the padding bits of the last byte zero, so whole bytes
    // can be copied; only the byte order inside a word differs from the bit
    // string's, which no bit count cares about.
    memcpy(buf, VARBITS(bits), VARBITBYTES(bits));
}

BitVector bit_vector(VarBit *bits)
{
    int nbits = VARBITLEN(bits);
    if (nbits == 0)
        ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("bit string must have at least 1 bit")));
    auto *words = static_cast<uint64_t *>(palloc(((size_t(nbits) + 63) / 64) * 8));
    bits_to_words(bits, words);
    return BitVector{words, nbits};
}

void check_same_dimensions(int a, int b)
{
    if (a != b)
        ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("vectors have different dimensions: %d and %d", a, b)));
}

void check_same_bit_lengths(int a, int b)
{
    if (a != b)
        ereport(ERROR, (errcode(ERRCODE_STRING_DATA_LENGTH_MISMATCH),
                        errmsg("bit strings have different lengths: %d and %d", a, b)));
}

template <class T>
void check_nonzero_for_cosine(const T *data, int dim)
{
    for (int i = 0; i < dim; i++) {
        if (data[i] != T(0))
            return;
    }
    ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("cosine distance is undefined for a zero vector"),
                    errhint("Normalise vectors or exclude all-zero vectors before using <=> or angular_ops.")));
}

template void check_nonzero_for_cosine<float>(const float *, int);
template void check_nonzero_for_cosine<double>(const double *, int);

}  // namespace annoy::pg
