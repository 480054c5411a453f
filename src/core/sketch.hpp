// Sketches: a few bytes per item from which a query estimates the item's
// distance without reading its vector.
//
// A forest needs many more candidates than it returns, and scoring one means
// reading its whole vector (3 KB at 784 dimensions) from memory.  Leaves that
// carry a sketch of each item let the search rank many candidates cheaply and
// score exactly only the most promising ones.
//
// The sketch of x is the signs of `bits` random projections of x - c (c: a
// centre for Euclidean, the data's mean; the origin otherwise), with
// |x - c| (a float) for the metrics that need it.  The projections
// are rows of random +-1 entries drawn from a seed, so every backend rebuilds
// the same ones.  The query side is asymmetric: the query's projections stay
// exact, and for Gaussian-like projections E[p(q) sign(p(x))] =
// sqrt(2/pi) <q, x> / |x|, which estimates <q - c, x - c> from the signs
// alone (the estimator of 1-bit quantisation schemes such as RaBitQ).
//
// Estimates order candidates only: exact distances decide what is returned.
#pragma once

#include <vector>

#include "space.hpp"

namespace annoy::core {

class Sketcher {
public:
    // Sketches for `space` with `bits` projections (a multiple of 8), drawn
    // from `seed`; `center` (space.dim floats) only for Euclidean.
    Sketcher(const Space &space, uint32_t bits, uint64_t seed, const float *center);

    // The sketch size for these parameters (0 when bits is 0).
    static size_t code_bytes(const Space &space, uint32_t bits);
    size_t code_bytes() const { return code_bytes(space_, bits_); }

    // Writes the sketch of vec (space.vector_bytes()) into code[code_bytes()].
    void encode(const void *vec, uint8_t *code) const;

    // Precomputes a query's tables; estimate() then takes ~bits/8 lookups.
    class Query {
    public:
        Query() = default;
        Query(const Sketcher &sketcher, const void *query);
        // Estimated distance of the item with this sketch, on the scale of
        // Space::distance for Euclidean (squared), Angular and Dot; only the
        // order matters.
        float estimate(const uint8_t *code) const;

    private:
        Metric metric_ = Metric::Euclidean;
        uint32_t bytes_ = 0;        // sign bytes
        float scale_ = 0.0f;        // sqrt(pi/2) / bits
        float query_sq_ = 0.0f;     // |q - c|^2 (Euclidean)
        float query_norm_ = 0.0f;   // |q| (Angular)
        std::vector<float> table_;  // [byte][value]: sum of +-p(q) over its 8 bits
    };

    // Whether sketches help this space: float metrics whose distance they
    // estimate (not Manhattan) with vectors several times the sketch's size.
    static bool useful(const Space &space);
    // The default number of projections for a space (0: no sketches).
    static uint32_t default_bits(const Space &space);

private:
    void project(const float *x, float *out) const;  // bits_ projections of x - c

    Space space_;
    uint32_t bits_;
    std::vector<float> rows_;       // bits_ x dim, entries +-1
    std::vector<float> center_;     // dim (Euclidean), else empty
    std::vector<float> row_dot_c_;  // rows . c
};

}  // namespace annoy::core
