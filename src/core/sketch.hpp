// Sketches: a few bytes per item from which a query estimates the item's
// distance without reading its vector.
//
// A forest needs many more candidates than it returns, and scoring one means
// reading its whole vector (3 KB at 784 dimensions) from memory.  Leaves that
// carry a sketch of each item let the search rank many candidates cheaply and
// score exactly only the most promising ones.
//
// The sketch of y = x' - c keeps the signs of `bits` coordinates of y, plus
// |y| as a float, the code's alignment alpha = <s / sqrt(B), u> (u: the B
// kept coordinates, normalised; s: their signs) quantised to a byte, and for
// Dot <x, c>.  x' is x itself (Euclidean, Dot) or x / |x| (Angular); c is the
// data's center, the mean of the x' (real data is rarely centerd on the
// origin: pixel values are all positive, text embeddings share a common
// direction, and signs of uncenterd vectors say little).  Which coordinates:
//   - bits >= dim: RaBitQ's 1-bit code.  The coordinates of R y, R a random
//     rotation of R^M (M the smallest power of two >= bits; y padded with
//     zeros): three rounds of random sign flips and a fast Walsh-Hadamard
//     transform, O(M log M).  The query's rotated coordinates v stay exact,
//     and <v, s> / (sqrt(B) alpha) estimates <v, u> = <a, y> / |y| without
//     bias, with an error of order sqrt(1 - alpha^2) / (alpha sqrt(B));
//     dividing by the item's own alpha instead of its expectation
//     sqrt(2 / pi) is what makes it unbiased per item.
//   - bits < dim: `bits` random +-1 projections of y (a rotation truncated to
//     fewer coordinates than the vector has measured worse: on Fashion-MNIST,
//     784-d at 128 bits, dot_ops recall@10 at search_k 500 fell from 0.95 to
//     0.89), with the fixed factor sqrt(pi / 2) (E[p(a) sign(p(y))] =
//     sqrt(2 / pi) <a, y> / |y| for Gaussian-like projections); alpha is
//     stored but unused.
// Either way the rows come from a seed, so every backend rebuilds the same
// ones.  The estimate of <a, x' - c>, for a = q - c, q / |q| - c or q, gives:
//   Euclidean  |q - x|^2 = |q - c|^2 + |x - c|^2 - 2 <q - c, x - c>
//   Angular    cos(q, x) = <q' - c, x' - c> + <q', c> + <x', c> - |c|^2,
//              with <x', c> = (1 + |c|^2 - |x' - c|^2) / 2
//   Dot        <q, x>    = <q - c, x - c> + <q, c> + <x, c> - |c|^2,
//              with <x, c> stored too
// On 128-d clustered data (test_sketch.cpp) the true 10 nearest of 3,000
// items are among the best 60 estimates 0.97-0.99 of the time with the
// rotation, against 0.94-0.96 with 128 random +-1 projections.
//
// Estimates order candidates only: exact distances decide what is returned.
#pragma once

#include "common.hpp"

#include <memory>
#include <vector>

#include "space.hpp"

namespace annoy::core {

// Most projections a sketch may have.  Bounded so that a Query (below) is a
// fixed-size object that never allocates: the Postgres scan keeps one in
// memory that an error may abandon without running destructors.
constexpr uint32_t kMaxSketchBits = 512;
// sketch() and Query work on stack copies of a vector: sketches exist for
// spaces of at most this many dimensions (more than an index can hold).
constexpr uint32_t kMaxSketchDim = 4096;
// The rotation pads to a power of two: at most this many coordinates.
constexpr uint32_t kMaxRotated = 4096;
static_assert(kMaxRotated >= kMaxSketchDim && kMaxRotated >= kMaxSketchBits, "padding fits");
// Rounds of sign flips and Walsh-Hadamard transforms in the rotation (one
// round mixes poorly for inputs concentrated on few coordinates).
constexpr int kRotationRounds = 3;
// The width, in RaBitQ's error units, of Query::lower_bound's margin.
// 2.5 rather than RaBitQ's 1.9: on GloVe-100k (100-d, 128 bits) 2.0 cost
// recall@10 0.9936 -> 0.9928 at search_k 2000, 2.5 nothing (make bench's
// queries).
constexpr float kBoundSigmas = 2.5f;

class Sketcher {
public:
    // Sketches for `space` with `bits` projections (a multiple of 8), drawn
    // from `seed`, around `center` (space.dim floats, see center_of).
    Sketcher(const Space &space, uint32_t bits, uint64_t seed, const float *center);
    // The rotation or projections of `like` (shared, not drawn again) around
    // another center: the sketcher of another index built with the same
    // options, such as another partition of one partitioned index.
    Sketcher(const Sketcher &like, const float *center);

    // Whether this sketcher's rotation or projections are the ones
    // (space, bits, seed) would draw.
    bool draws(const Space &space, uint32_t bits, uint64_t seed) const
    {
        return space_.dim == space.dim && space_.metric == space.metric && bits_ == bits && seed_ == seed;
    }
    // Memory held: its own (center), and the rotation or projections it may
    // share with other sketchers.
    size_t own_bytes() const { return center_.size() * sizeof(float) + sizeof(*this); }
    size_t projection_bytes() const { return rows_->size() * sizeof(float); }
    const void *projection_id() const { return rows_.get(); }

    // The center for n vectors (stored contiguously): the mean of the x'
    // (unit vectors for Angular; zero vectors are skipped there).  Writes
    // space.dim floats to out.
    static void center_of(const Space &space, const void *vectors, size_t n, float *out);

    // The sketch size for these parameters (0 when bits is 0).
    static size_t sketch_bytes(const Space &space, uint32_t bits);
    size_t sketch_bytes() const { return sketch_bytes(space_, bits_); }
    const Space &space() const { return space_; }
    uint32_t bits() const { return bits_; }

    // Writes the sketch of vec (space.vector_bytes()) into out[sketch_bytes()].
    void sketch(const void *vec, uint8_t *out) const noexcept;

    // Precomputes a query's tables; estimate() then takes ~bits/8 lookups.
    // Trivially destructible and allocation-free (see kMaxSketchBits).
    class Query {
    public:
        Query() = default;
        Query(const Sketcher &sketcher, const void *query) { prepare(sketcher, query); }
        void prepare(const Sketcher &sketcher, const void *query) noexcept;
        // Estimated distance of the item with this sketch, on the scale of
        // Space::distance (squared for Euclidean); only the order matters.
        float estimate(const uint8_t *sketch) const noexcept;
        // With RaBitQ's codes (a bit for each rotated coordinate), the
        // estimate's error has a bound that holds with high probability:
        // |est <v, u> - <v, u>| <= eps0 sqrt(1 - alpha^2) / (alpha sqrt(M - 1))
        // for the item's alpha (eps0 = kBoundSigmas).  bounded() says whether
        // the code has one; lower_bound() is then the estimate minus that
        // error on the distance scale: the exact distance is below it only
        // rarely.  It is on the scale of Space::distance (the SQL operator's:
        // not squared for Euclidean).  Without a bound, lower_bound() is the
        // estimate itself on that scale.
        bool bounded() const noexcept { return bounded_; }
        float lower_bound(const uint8_t *sketch) const noexcept;
        // For the sketches at sketches + which[i] * stride (i < n): out[i] =
        // lower_bound() if `bounds` (and bounded()), else estimate().  One
        // call per leaf, its loop specialised for the default sketch size.
        void rank(const uint8_t *sketches, size_t stride, const uint16_t *which, size_t n, bool bounds,
                  float *out) const noexcept;

    private:
        float from_sum(const uint8_t *sketch, float sum) const noexcept;  // the estimate, given <v, s>
        float bound_of(const uint8_t *sketch, float estimate) const noexcept;

        Metric metric_ = Metric::Euclidean;
        uint32_t bytes_ = 0;                     // sign bytes
        float constant_ = 0.0f;                  // the query's terms of the formulas above
        float c_sq_ = 0.0f;                      // |c|^2 (Angular)
        bool bounded_ = false;                   // RaBitQ's code: error_[] is a bound
        float inv_alpha_[256];                   // scale / alpha for each quantised alpha (0 for 0)
        float error_[256];                       // bounded_: error on the distance per unit |x' - c|, by alpha
        float table_[kMaxSketchBits / 8 * 256];  // [byte][value]: sum of +-v over its 8 bits
    };

    // Whether sketches can be made for this space: float metrics whose
    // distance they estimate from inner products (not Manhattan).
    static bool supported(const Space &space);
    // Whether they help it (the default): supported, with vectors several
    // times the sketch's size.
    static bool useful(const Space &space);
    // The default number of projections for a space (0: no sketches).
    static uint32_t default_bits(const Space &space);

private:
    // The coordinates whose signs a code keeps, for a vector x: R (x' - c)
    // (padded_ values) when rotated_, else the bits_ projections of x' - c;
    // returns |x' - c|.
    float transform(const float *x, float *out) const noexcept;

    Space space_;
    uint32_t bits_;
    bool rotated_;     // bits_ >= dim: a rotation, else random projections
    uint32_t padded_;  // M: a power of two >= dim and >= bits (rotated_), else dim
    uint64_t seed_;
    // rotated_: kRotationRounds x M sign flips, entries +-1 / sqrt(M); else
    // bits_ x dim projections, entries +-1.  Shared by sketchers of one seed.
    std::shared_ptr<const std::vector<float>> rows_;
    std::vector<float> center_;  // dim
    float c_sq_ = 0.0f;          // |c|^2
};

}  // namespace annoy::core
