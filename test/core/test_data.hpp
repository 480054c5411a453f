// Synthetic data for the core tests, generated with the core's own Rng so
// that the data (and the recall figures measured on it) are the same on
// every platform, unlike std:: distributions.
#pragma once

#include <cmath>
#include <vector>

#include "rng.hpp"
#include "space.hpp"

namespace annoy::core::testing {

inline float gaussian(Rng &rng)
{
    // Box-Muller; 1 - unit() is in (0, 1], so the log is finite.
    const float u = 1.0f - rng.unit(), v = rng.unit();
    return std::sqrt(-2.0f * std::log(u)) * std::cos(6.2831853f * v);
}

// n vectors of dimension dim drawn from a mixture of `clusters` gaussians
// with centres ~ N(0, 1) per coordinate and spread `sigma` around them.
// Queries come from the same mixture when generated with another seed but
// the same centre_seed.
inline std::vector<float> gaussian_mixture(size_t n, size_t dim, size_t clusters, float sigma, uint64_t seed,
                                           uint64_t centre_seed = 12345)
{
    Rng crng(centre_seed);
    std::vector<float> centres(clusters * dim);
    for (float &c : centres)
        c = gaussian(crng);
    Rng rng(seed);
    std::vector<float> out(n * dim);
    for (size_t i = 0; i < n; i++) {
        const float *c = &centres[rng.below(clusters) * dim];
        for (size_t d = 0; d < dim; d++)
            out[i * dim + d] = c[d] + sigma * gaussian(rng);
    }
    return out;
}

// n bit strings of `bits` bits (ceil(bits/64) words each, tail bits zero):
// random cluster centres, each bit flipped with probability `flip`.
inline std::vector<uint64_t> bit_mixture(size_t n, size_t bits, size_t clusters, float flip, uint64_t seed,
                                         uint64_t centre_seed = 12345)
{
    const size_t words = (bits + 63) / 64;
    Rng crng(centre_seed);
    std::vector<uint64_t> centres(clusters * words);
    for (uint64_t &w : centres)
        w = crng.next();
    Rng rng(seed);
    std::vector<uint64_t> out(n * words, 0);
    for (size_t i = 0; i < n; i++) {
        const uint64_t *c = &centres[rng.below(clusters) * words];
        for (size_t b = 0; b < bits; b++) {
            const bool bit = ((c[b / 64] >> (b % 64)) & 1) != (rng.unit() < flip);
            out[i * words + b / 64] |= uint64_t(bit) << (b % 64);
        }
    }
    return out;
}

// Pointers to each of the n vectors stored contiguously at data.
inline std::vector<const void *> pointers(const Space &space, const void *data, size_t n)
{
    std::vector<const void *> p(n);
    for (size_t i = 0; i < n; i++)
        p[i] = static_cast<const char *>(data) + i * space.vector_bytes();
    return p;
}

}  // namespace annoy::core::testing
