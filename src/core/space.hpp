// A vector space: the metric and dimension an index was built for, and the
// operations the forest needs on raw vectors (distance, hyperplane margin).
//
// Vectors are raw bytes: `dim` floats for the float metrics, ceil(dim/64)
// 64-bit words for Hamming (dim is then the number of bits, unused tail bits
// zero).  Keeping them untyped lets one forest implementation serve all five
// metrics, the way Annoy's annoylib.h keeps one template per metric.
#pragma once

#include "common.hpp"
#include "plane_codec.hpp"

namespace annoy::core {

struct Space {
    Metric metric = Metric::Euclidean;
    uint32_t dim = 0;  // floats, or bits for Hamming

    size_t words() const { return (dim + 63) / 64; }
    // Bytes one vector occupies.
    size_t vector_bytes() const { return is_bit_metric(metric) ? words() * 8 : size_t(dim) * 4; }
    // Floats in a split hyperplane: dim, plus one for Dot (the extra
    // coordinate of the inner-product -> angular reduction); 0 for Hamming,
    // which splits on a single bit.
    size_t plane_dim() const
    {
        return is_bit_metric(metric) ? 0 : metric == Metric::Dot ? size_t(dim) + 1 : size_t(dim);
    }

    // The distance the SQL operator returns: euclidean sqrt(sum d^2), angular
    // 1 - cos (NaN for a zero vector), dot -(a.b), manhattan sum |d|,
    // hamming the number of differing bits.  Smaller is closer.
    float distance(const void *a, const void *b) const noexcept;
    // The same as the SQL operators compute it (distance.hpp: exact_*), in
    // double precision: what index scans rank by.
    double exact_distance(const void *a, const void *b) const noexcept;
};

// A split node's hyperplane.  Float metrics: side(x) = margin(x) > 0 with
// margin(x) = normal . x' + offset, where x' is x for Euclidean, Angular and
// Manhattan and (x, extra) for Dot.  Hamming: margin(x) = bit `bit` of x
// ? +1 : -1 (offset and normal unused).
struct PlaneView {
    const float *normal = nullptr;  // plane_dim floats (nullptr for Hamming)
    float offset = 0.0f;
    uint32_t bit = 0;
    // The normal as stored on pages (plane_codec.hpp: plane_dim
    // coordinates in `stored_codec`); used instead of `normal` when set.
    const void *stored = nullptr;
    PlaneCodec stored_codec = PlaneCodec::Half;
};

// The extra coordinate Dot appends to every stored item so that inner-product
// search becomes angular search (Bachrach et al. 2014):
// sqrt(max(0, max_norm^2 - |x|^2)).  Queries use 0.  Other metrics: 0.
float item_extra(const Space &space, float dot_max_norm, const void *vec) noexcept;
// |x|^2 of a float vector, the norm the Dot reduction takes its maximum of.
float squared_norm(const Space &space, const void *vec) noexcept;

float margin(const Space &space, const PlaneView &plane, const void *vec, float extra) noexcept;

// The child an item is routed to from a split where its margin is m: 1 for
// m > 0, 0 for m < 0, and for a margin of exactly 0 (or NaN) the low bit of
// `tie`, a number fixed for the item and the split (mix_seed of both), so an
// item on the plane goes the same way every time it is routed, and items on
// a zero plane (the split of items no hyperplane divides, such as identical
// vectors) spread over both subtrees at every level instead of following
// one path down a chain.
inline int side_of(float m, uint64_t tie) noexcept
{
    return m > 0.0f ? 1 : m < 0.0f ? 0 : int(tie & 1);
}

// Priority of a child in the best-first search, larger = explored earlier:
// a signed distance from the query to the node's cell, from its path.
//   - No wrong turn yet (a turn to the side the query is not on): the
//     query's own cell, priority >= 0, the smallest margin along the path
//     (its depth inside the cell, as Annoy ranks every node).  A small
//     budget reads the home leaves of the trees that separate the query's
//     neighbourhood best first.
//   - Otherwise minus the sum of the squared margins of the wrong turns:
//     with unit normals that are near orthogonal, as the splits along a
//     path of a high-dimensional tree are, the squared distance from the
//     query to the cell.  Annoy's min(parent, -m) charges only the nearest
//     plane crossed; the sum explores the cells near the query better where
//     recall is high (make bench, GloVe-100k, 5 trees: recall@10 at
//     search_k 500 0.970 -> 0.982; make bench-anchors: Fashion-MNIST as
//     before or better).
// Roots are pushed with +inf.  Hamming: parent minus one for the side the
// query's bit does not take (from 0 below a root).
float child_priority(const Space &space, float parent, float m, int side) noexcept;

}  // namespace annoy::core
