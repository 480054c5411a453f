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

// The kernels accumulate in single precision: fast, and accurate for the
// values embeddings hold.  A sum that overflowed or underflowed (elements
// near 1e±19 and beyond) is recomputed in double precision, so the SQL
// functions never answer Infinity, NaN or 0 for finite inputs that have a
// finite, nonzero answer.  (Index scans keep single precision.)
bool unreliable(float sum)
{
    return !std::isfinite(sum) || std::fabs(sum) < 1e-30f;
}

double l2_squared_double(const float *a, const float *b, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    return s;
}

double dot_double(const float *a, const float *b, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += double(a[i]) * b[i];
    return s;
}

double l1_double(const float *a, const float *b, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += std::fabs(double(a[i]) - b[i]);
    return s;
}

// cos(a, b) for non-zero vectors, in double when the float sums are unsafe.
double cosine(const FloatPair &p)
{
    float ab, aa, bb;
    core::kernels().dot_norms(p.a.data, p.b.data, size_t(p.a.dim), &ab, &aa, &bb);
    double dab = ab, daa = aa, dbb = bb;
    if (unreliable(aa) || unreliable(bb) || !std::isfinite(ab)) {
        // Scale by the largest magnitude first: squares of 1e200 overflow
        // even a double.
        double scale = 0;
        for (int i = 0; i < p.a.dim; i++)
            scale = std::max({scale, std::fabs(double(p.a.data[i])), std::fabs(double(p.b.data[i]))});
        dab = daa = dbb = 0;
        for (int i = 0; i < p.a.dim; i++) {
            double x = p.a.data[i] / scale, y = p.b.data[i] / scale;
            dab += x * y;
            daa += x * x;
            dbb += y * y;
        }
    }
    return std::clamp(dab / std::sqrt(daa * dbb), -1.0, 1.0);
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
    float sum = core::l2_squared_distance(p.a.data, p.b.data, size_t(p.a.dim));
    PG_RETURN_FLOAT8(std::sqrt(unreliable(sum) ? l2_squared_double(p.a.data, p.b.data, p.a.dim) : double(sum)));
}

Datum annoy_cosine_distance(PG_FUNCTION_ARGS)
{
    FloatPair p = float_pair(fcinfo);
    annoy::pg::check_nonzero_for_cosine(p.a.data, p.a.dim);
    annoy::pg::check_nonzero_for_cosine(p.b.data, p.b.dim);
    PG_RETURN_FLOAT8(1.0 - cosine(p));
}

Datum annoy_angular_distance(PG_FUNCTION_ARGS)
{
    FloatPair p = float_pair(fcinfo);
    annoy::pg::check_nonzero_for_cosine(p.a.data, p.a.dim);
    annoy::pg::check_nonzero_for_cosine(p.b.data, p.b.dim);
    PG_RETURN_FLOAT8(std::sqrt(std::max(0.0, 2.0 - 2.0 * cosine(p))));
}

Datum annoy_inner_product(PG_FUNCTION_ARGS)
{
    FloatPair p = float_pair(fcinfo);
    float sum = core::inner_product(p.a.data, p.b.data, size_t(p.a.dim));
    PG_RETURN_FLOAT8(unreliable(sum) ? dot_double(p.a.data, p.b.data, p.a.dim) : double(sum));
}

Datum annoy_negative_inner_product(PG_FUNCTION_ARGS)
{
    FloatPair p = float_pair(fcinfo);
    float sum = core::inner_product(p.a.data, p.b.data, size_t(p.a.dim));
    PG_RETURN_FLOAT8(-(unreliable(sum) ? dot_double(p.a.data, p.b.data, p.a.dim) : double(sum)));
}

Datum annoy_l1_distance(PG_FUNCTION_ARGS)
{
    FloatPair p = float_pair(fcinfo);
    float sum = core::l1_distance(p.a.data, p.b.data, size_t(p.a.dim));
    PG_RETURN_FLOAT8(unreliable(sum) ? l1_double(p.a.data, p.b.data, p.a.dim) : double(sum));
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
