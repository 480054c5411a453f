// Per-metric vector operations of a Space.  All float arithmetic goes through
// the dispatched kernels of distance.hpp so that build, search and the SQL
// operators agree bit for bit on one machine.
#include "space.hpp"

#include <algorithm>
#include <cfloat>
#include <cmath>

#include "distance.hpp"
#include "half.hpp"
#include "split.hpp"

namespace annoy::core {

float Space::distance(const void *a, const void *b) const noexcept
{
    const float *fa = static_cast<const float *>(a);
    const float *fb = static_cast<const float *>(b);
    switch (metric) {
        case Metric::Euclidean:
            return std::sqrt(std::max(0.0f, kernels().l2_squared(fa, fb, dim)));
        case Metric::Angular:
            return cosine_distance(fa, fb, dim);
        case Metric::Dot:
            return -kernels().dot(fa, fb, dim);
        case Metric::Manhattan:
            return kernels().l1(fa, fb, dim);
        case Metric::Hamming:
            return float(hamming_distance(static_cast<const uint64_t *>(a), static_cast<const uint64_t *>(b), words()));
    }
    return NAN;  // unreachable for valid metrics
}

double Space::exact_distance(const void *a, const void *b) const noexcept
{
    const float *fa = static_cast<const float *>(a);
    const float *fb = static_cast<const float *>(b);
    switch (metric) {
        case Metric::Euclidean:
            return exact_l2_distance(fa, fb, dim);
        case Metric::Angular:
            return 1.0 - exact_cosine(fa, fb, dim);
        case Metric::Dot:
            return -exact_inner_product(fa, fb, dim);
        case Metric::Manhattan:
            return exact_l1_distance(fa, fb, dim);
        case Metric::Hamming:
            return double(
                hamming_distance(static_cast<const uint64_t *>(a), static_cast<const uint64_t *>(b), words()));
    }
    return NAN;  // unreachable for valid metrics
}

float item_extra(const Space &space, float dot_max_norm, const void *vec) noexcept
{
    if (space.metric != Metric::Dot)
        return 0.0f;
    const float sq = squared_norm(space, vec);
    // max(0, ...) because the largest item's own sq can exceed the square of
    // its (rounded) norm by an ulp.
    return std::sqrt(std::max(0.0f, dot_max_norm * dot_max_norm - sq));
}

float squared_norm(const Space &space, const void *vec) noexcept
{
    const float *v = static_cast<const float *>(vec);
    return kernels().dot(v, v, space.dim);
}

float margin(const Space &space, const PlaneView &plane, const void *vec, float extra) noexcept
{
    if (is_bit_metric(space.metric)) {
        // kNoBit (items were identical) and out-of-range bits test nothing:
        // margin 0 sends the search down both children with equal priority.
        if (plane.bit == kNoBit || plane.bit >= space.dim)
            return 0.0f;
        const uint64_t w = static_cast<const uint64_t *>(vec)[plane.bit / 64];
        return ((w >> (plane.bit % 64)) & 1) ? 1.0f : -1.0f;
    }
    const float *x = static_cast<const float *>(vec);
    if (plane.stored != nullptr) {
        float m = dot_stored_plane(plane.stored_codec, plane.stored, x, space.dim) + plane.offset;
        if (space.metric == Metric::Dot)
            m += stored_plane_coordinate(plane.stored_codec, plane.stored, space.plane_dim(), space.dim) * extra;
        return m;
    }
    if (plane.normal == nullptr)
        return plane.offset;
    float m = kernels().dot(plane.normal, x, space.dim) + plane.offset;
    if (space.metric == Metric::Dot)
        m += plane.normal[space.dim] * extra;
    return m;
}

float child_priority(const Space &space, float parent, float m, int side) noexcept
{
    // A NaN margin (NaN in a vector) must not reach the max-heap, whose
    // order it would break; treat it as "on the plane".
    if (std::isnan(m))
        m = 0.0f;
    if (is_bit_metric(space.metric)) {
        // Roots are pushed with +inf, and inf - 1 == inf would make every
        // node equally good; count wrong turns from 0 below a root instead.
        const float base = std::isinf(parent) && parent > 0 ? 0.0f : parent;
        if (m == 0.0f)
            return base;
        const int query_side = m > 0.0f ? 1 : 0;
        return side == query_side ? base : base - 1.0f;
    }
    const float towards = side == 1 ? m : -m;  // > 0: the side the query is on
    // In the query's own cell the priority stays >= 0; the first wrong turn
    // makes it < 0 (FLT_MIN keeps a square that underflows from giving -0,
    // which would read as >= 0), and a square that overflows gives -inf,
    // ranked last, never NaN.
    if (parent >= 0.0f)
        return towards >= 0.0f ? std::min(parent, towards) : -std::max(towards * towards, FLT_MIN);
    return towards >= 0.0f ? parent : parent - towards * towards;
}

}  // namespace annoy::core
