// Small deterministic PRNG (splitmix64 seeding + xoshiro256**): the same seed
// gives the same trees on every platform, unlike std:: distributions whose
// output is implementation-defined.
#pragma once

#include "common.hpp"

namespace annoy::core {

class Rng {
public:
    explicit Rng(uint64_t seed) { reseed(seed); }
    void reseed(uint64_t seed);
    uint64_t next();
    // Uniform in [0, n); n > 0.
    uint64_t below(uint64_t n);
    bool coin() { return (next() >> 63) != 0; }
    // Uniform in [0, 1).
    float unit() { return float(next() >> 40) * (1.0f / 16777216.0f); }

private:
    uint64_t s_[4];
};

// Mixes two values into a new seed (per-tree and per-split seeds).
uint64_t mix_seed(uint64_t a, uint64_t b);

// One splitmix64 step: advances *state and returns a well-mixed output.  It
// seeds Rng; alone it is a generator with 8 bytes of state, enough for a
// reservoir sample.
uint64_t splitmix64(uint64_t *state);

}  // namespace annoy::core
