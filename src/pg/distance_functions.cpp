// SQL distance functions and the operators built on them (<->, <=>, <#>,
// <+>, <~>).  They call the core's SIMD kernels on the array data in place.
#include "vector_input.hpp"

namespace core = annoy::core;
using annoy::pg::FloatVector;

namespace {

// Both arguments as validated vectors of equal length.
struct FloatPair {
    FloatVector a, b;
};

FloatPair float_pair(FunctionCallInfo fcinfo)
{
    FloatPair p{annoy::pg::float_vector(PG_GETARG_ARRAYTYPE_P(0)), annoy::pg::float_vector(PG_GETARG_ARRAYTYPE_P(1))};
    annoy::pg::check_same_dimensions(p.a.dim, p.b.dim);
    return p;
}

}  // namespace

extern "C" {

PG_FUNCTION_INFO_V1(annoy_l2_distance);
PG_FUNCTION_INFO_V1(annoy_cosine_distance);
PG_FUNCTION_INFO_V1(annoy_angular_distance);
PG_FUNCTION_INFO_V1(annoy_inner_product);
PG_FUNCTION_INFO_V1(annoy_negative_inner_product);
PG_FUNCTION_INFO_V1(annoy_l1_distance);
PG_FUNCTION_INFO_V1(annoy_hamming_distance);

Datum annoy_l2_distance(PG_FUNCTION_ARGS)
{
    FloatPair p = float_pair(fcinfo);
    PG_RETURN_FLOAT8(core::exact_l2_distance(p.a.data, p.b.data, size_t(p.a.dim)));
}

Datum annoy_cosine_distance(PG_FUNCTION_ARGS)
{
    FloatPair p = float_pair(fcinfo);
    annoy::pg::check_nonzero_for_cosine(p.a.data, p.a.dim);
    annoy::pg::check_nonzero_for_cosine(p.b.data, p.b.dim);
    PG_RETURN_FLOAT8(1.0 - core::exact_cosine(p.a.data, p.b.data, size_t(p.a.dim)));
}

Datum annoy_angular_distance(PG_FUNCTION_ARGS)
{
    FloatPair p = float_pair(fcinfo);
    annoy::pg::check_nonzero_for_cosine(p.a.data, p.a.dim);
    annoy::pg::check_nonzero_for_cosine(p.b.data, p.b.dim);
    PG_RETURN_FLOAT8(std::sqrt(std::max(0.0, 2.0 - 2.0 * core::exact_cosine(p.a.data, p.b.data, size_t(p.a.dim)))));
}

Datum annoy_inner_product(PG_FUNCTION_ARGS)
{
    FloatPair p = float_pair(fcinfo);
    PG_RETURN_FLOAT8(core::exact_inner_product(p.a.data, p.b.data, size_t(p.a.dim)));
}

Datum annoy_negative_inner_product(PG_FUNCTION_ARGS)
{
    FloatPair p = float_pair(fcinfo);
    PG_RETURN_FLOAT8(-core::exact_inner_product(p.a.data, p.b.data, size_t(p.a.dim)));
}

Datum annoy_l1_distance(PG_FUNCTION_ARGS)
{
    FloatPair p = float_pair(fcinfo);
    PG_RETURN_FLOAT8(core::exact_l1_distance(p.a.data, p.b.data, size_t(p.a.dim)));
}

Datum annoy_hamming_distance(PG_FUNCTION_ARGS)
{
    VarBit *a = PG_GETARG_VARBIT_P(0);
    VarBit *b = PG_GETARG_VARBIT_P(1);
    annoy::pg::check_same_bit_lengths(VARBITLEN(a), VARBITLEN(b));
    annoy::pg::BitVector va = annoy::pg::bit_vector(a);
    annoy::pg::BitVector vb = annoy::pg::bit_vector(b);
    PG_RETURN_FLOAT8(double(core::hamming_distance(va.words, vb.words, (size_t(va.bits) + 63) / 64)));
}

}  // extern "C"
