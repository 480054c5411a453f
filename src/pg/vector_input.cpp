// Input checks shared by the distance functions and the index.
#include "vector_input.hpp"

namespace annoy::pg {

FloatVector float_vector(ArrayType *array)
{
    if (ARR_ELEMTYPE(array) != FLOAT4OID)
        ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH), errmsg("vector must be an array of real")));
    if (ARR_NDIM(array) == 0)
        ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("vector must have at least 1 dimension")));
    if (ARR_NDIM(array) != 1)
        ereport(ERROR, (errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
                        errmsg("vector must be a one-dimensional array, not %d-dimensional", ARR_NDIM(array))));
    if (ARR_HASNULL(array) && array_contains_nulls(array))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("vector must not contain NULL elements")));

    FloatVector v{reinterpret_cast<const float *>(ARR_DATA_PTR(array)), ARR_DIMS(array)[0]};
    for (int i = 0; i < v.dim; i++) {
        if (!std::isfinite(v.data[i]))
            ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("vector must not contain NaN or infinity"),
                            errdetail("Element %d is %s.", i + 1, std::isnan(v.data[i]) ? "NaN" : "infinite")));
    }
    return v;
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

void check_nonzero_for_cosine(const float *data, int dim)
{
    for (int i = 0; i < dim; i++) {
        if (data[i] != 0.0f)
            return;
    }
    ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("cosine distance is undefined for a zero vector"),
                    errhint("Normalise vectors or exclude all-zero vectors before using <=> or angular_ops.")));
}

}  // namespace annoy::pg
