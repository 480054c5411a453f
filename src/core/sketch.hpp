// Sketches: a few bytes per item from which a query estimates the item's
// distance without reading its vector.
//
// A forest needs many more candidates than it returns, and scoring one means
// reading its whole vector (3 KB at 784 dimensions) from memory.  Leaves that
// carry a sketch of each item let the search rank many candidates cheaply and
// score exactly only the most promising ones.
//
// The sketch of x is the signs of `bits` random projections of x' - c, and
// |x' - c| as a float (and <x, c> for Dot).  x' is x itself (Euclidean, Dot) or x / |x|
// (Angular); c is the data's center, the mean of the x' (real data is rarely
// centered on the origin: pixel values are all positive, text embeddings
// share a common direction, and signs of projections of uncentered vectors
// say little).  The projections are rows of random +-1 entries drawn from a
// seed, so every backend rebuilds the same ones.  The query side is
// asymmetric: the query's projections stay exact, and for Gaussian-like
// projections E[p(a) sign(p(y))] = sqrt(2/pi) <a, y> / |y|, which estimates
// <a, x' - c> from the signs alone (the estimator of 1-bit quantisation
// schemes such as RaBitQ), a being q - c, q / |q| - c or q:
//   Euclidean  |q - x|^2 = |q - c|^2 + |x - c|^2 - 2 <q - c, x - c>
//   Angular    cos(q, x) = <q' - c, x' - c> + <q', c> + <x', c> - |c|^2,
//              with <x', c> = (1 + |c|^2 - |x' - c|^2) / 2
//   Dot        <q, x>    = <q - c, x - c> + <q, c> + <x, c> - |c|^2,
//              with <x, c> stored too
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

class Sketcher {
public:
    // Sketches for `space` with `bits` projections (a multiple of 8), drawn
    // from `seed`, around `center` (space.dim floats, see center_of).
    Sketcher(const Space &space, uint32_t bits, uint64_t seed, const float *center);
    // The projections of `like` (shared, not drawn again) around another
    // center: the sketcher of another index built with the same options,
    // such as another partition of one partitioned index.
    Sketcher(const Sketcher &like, const float *center);

    // Whether this sketcher's projections are the ones (space, bits, seed)
    // would draw.
    bool draws(const Space &space, uint32_t bits, uint64_t seed) const
    {
        return space_.dim == space.dim && space_.metric == space.metric && bits_ == bits && seed_ == seed;
    }
    // Memory held: its own (center and tables), and the projections it
    // may share with other sketchers.
    size_t own_bytes() const { return (center_.size() + row_dot_c_.size()) * sizeof(float) + sizeof(*this); }
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

    private:
        Metric metric_ = Metric::Euclidean;
        uint32_t bytes_ = 0;                     // sign bytes
        float scale_ = 0.0f;                     // sqrt(pi/2) / bits
        float constant_ = 0.0f;                  // the query's terms of the formulas above
        float c_sq_ = 0.0f;                      // |c|^2 (Angular)
        float table_[kMaxSketchBits / 8 * 256];  // [byte][value]: sum of +-p(q) over its 8 bits
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
    // The bits_ projections of y (minus those of c when centered).
    void project(const float *y, bool centered, float *out) const noexcept;
    // x' (see above): x itself, or x / |x| written to buf for Angular.
    const float *prime(const float *x, float *buf) const noexcept;

    void set_center(const float *center);

    Space space_;
    uint32_t bits_;
    uint64_t seed_;
    std::shared_ptr<const std::vector<float>> rows_;  // bits_ x dim, entries +-1
    std::vector<float> center_;                       // dim
    std::vector<float> row_dot_c_;                    // rows . c
    float c_sq_ = 0.0f;                               // |c|^2
};

}  // namespace annoy::core
