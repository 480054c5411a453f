// SQL distance functions on double precision[] (the operators <->, <=>,
// <#>, <+> on that type).  Same input rules as the real[] functions
// (vector_input.hpp).  They compute in double precision, the type's own:
// plain loops, rescaled when a sum overflows or underflows, so finite inputs
// give a finite answer unless the answer itself is beyond double's range,
// which is an error.
#include "vector_input.hpp"

using annoy::pg::DoubleVector;

namespace {

struct DoublePair {
    DoubleVector a, b;
};

DoublePair double_pair(FunctionCallInfo fcinfo)
{
    DoublePair p{annoy::pg::double_vector(PG_GETARG_ARRAYTYPE_P(0)),
                 annoy::pg::double_vector(PG_GETARG_ARRAYTYPE_P(1))};
    annoy::pg::check_same_dimensions(p.a.dim, p.b.dim);
    return p;
}

// A sum of squares or products that lost its meaning: overflowed, or so
// small that its terms may have underflowed.
bool unreliable(double sum)
{
    return !std::isfinite(sum) || std::fabs(sum) < 1e-290;
}

double max_abs(const DoubleVector &v)
{
    double m = 0;
    for (int i = 0; i < v.dim; i++)
        m = std::max(m, std::fabs(v.data[i]));
    return m;
}

double checked(double result)
{
    if (!std::isfinite(result))
        ereport(ERROR, (errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
                        errmsg("distance is out of range for type double precision")));
    return result;
}

double l2(const DoublePair &p)
{
    double s = 0;
    for (int i = 0; i < p.a.dim; i++)
        s += (p.a.data[i] - p.b.data[i]) * (p.a.data[i] - p.b.data[i]);
    if (!unreliable(s))
        return std::sqrt(s);
    // Differences of elements scaled into [-2, 2] neither overflow nor, for
    // the largest of them, underflow.
    double scale = std::max(max_abs(p.a), max_abs(p.b));
    if (scale == 0)
        return 0;
    s = 0;
    for (int i = 0; i < p.a.dim; i++) {
        double d = p.a.data[i] / scale - p.b.data[i] / scale;
        s += d * d;
    }
    return checked(std::sqrt(s) * scale);
}

double dot(const DoublePair &p)
{
    double s = 0;
    for (int i = 0; i < p.a.dim; i++)
        s += p.a.data[i] * p.b.data[i];
    if (!unreliable(s))
        return s;
    double sa = max_abs(p.a), sb = max_abs(p.b);
    if (sa == 0 || sb == 0)
        return 0;
    s = 0;
    for (int i = 0; i < p.a.dim; i++)
        s += (p.a.data[i] / sa) * (p.b.data[i] / sb);
    return checked(s * sa * sb);
}

double l1(const DoublePair &p)
{
    double s = 0;
    for (int i = 0; i < p.a.dim; i++)
        s += std::fabs(p.a.data[i] - p.b.data[i]);
    if (std::isfinite(s))
        return s;
    double scale = std::max(max_abs(p.a), max_abs(p.b));
    s = 0;
    for (int i = 0; i < p.a.dim; i++)
        s += std::fabs(p.a.data[i] / scale - p.b.data[i] / scale);
    return checked(s * scale);
}

// cos(a, b) of non-zero vectors.  Scale-invariant, so each vector is scaled
// by its largest element when a sum is unsafe.
double cosine(const DoublePair &p)
{
    double ab = 0, aa = 0, bb = 0;
    for (int i = 0; i < p.a.dim; i++) {
        ab += p.a.data[i] * p.b.data[i];
        aa += p.a.data[i] * p.a.data[i];
        bb += p.b.data[i] * p.b.data[i];
    }
    if (unreliable(aa) || unreliable(bb) || !std::isfinite(ab)) {
        double sa = max_abs(p.a), sb = max_abs(p.b);
        ab = aa = bb = 0;
        for (int i = 0; i < p.a.dim; i++) {
            double x = p.a.data[i] / sa, y = p.b.data[i] / sb;
            ab += x * y;
            aa += x * x;
            bb += y * y;
        }
    }
    return std::clamp(ab / std::sqrt(aa * bb), -1.0, 1.0);
}

DoublePair cosine_pair(FunctionCallInfo fcinfo)
{
    DoublePair p = double_pair(fcinfo);
    annoy::pg::check_nonzero_for_cosine(p.a.data, p.a.dim);
    annoy::pg::check_nonzero_for_cosine(p.b.data, p.b.dim);
    return p;
}

}  // namespace

extern "C" {

PG_FUNCTION_INFO_V1(annoy_l2_distance_float8);
PG_FUNCTION_INFO_V1(annoy_cosine_distance_float8);
PG_FUNCTION_INFO_V1(annoy_angular_distance_float8);
PG_FUNCTION_INFO_V1(annoy_inner_product_float8);
PG_FUNCTION_INFO_V1(annoy_negative_inner_product_float8);
PG_FUNCTION_INFO_V1(annoy_l1_distance_float8);

Datum annoy_l2_distance_float8(PG_FUNCTION_ARGS)
{
    PG_RETURN_FLOAT8(l2(double_pair(fcinfo)));
}

Datum annoy_cosine_distance_float8(PG_FUNCTION_ARGS)
{
    PG_RETURN_FLOAT8(1.0 - cosine(cosine_pair(fcinfo)));
}

Datum annoy_angular_distance_float8(PG_FUNCTION_ARGS)
{
    PG_RETURN_FLOAT8(std::sqrt(std::max(0.0, 2.0 - 2.0 * cosine(cosine_pair(fcinfo)))));
}

Datum annoy_inner_product_float8(PG_FUNCTION_ARGS)
{
    PG_RETURN_FLOAT8(dot(double_pair(fcinfo)));
}

Datum annoy_negative_inner_product_float8(PG_FUNCTION_ARGS)
{
    PG_RETURN_FLOAT8(-dot(double_pair(fcinfo)));
}

Datum annoy_l1_distance_float8(PG_FUNCTION_ARGS)
{
    PG_RETURN_FLOAT8(l1(double_pair(fcinfo)));
}

}  // extern "C"
