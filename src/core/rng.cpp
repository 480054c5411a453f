// splitmix64 (seeding, seed mixing) and xoshiro256** (the stream), both
// specified on integers only, so the same seed yields the same trees on every
// compiler and platform.
#include "rng.hpp"

namespace annoy::core {

// Rng expands a 64-bit seed into xoshiro's 256-bit state with it, which must
// not be all zeros (splitmix64's outputs never are, four in a row).
uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

namespace {

inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

}  // namespace

void Rng::reseed(uint64_t seed)
{
    uint64_t st = seed;
    for (uint64_t &w : s_)
        w = splitmix64(&st);
}

uint64_t Rng::next()
{
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
}

uint64_t Rng::below(uint64_t n)
{
    if (n <= 1)
        return 0;
    // Lemire's multiply-shift with rejection: unbiased, and usually a single
    // 64x64->128 multiply instead of a division.
    unsigned __int128 m = (unsigned __int128)next() * n;
    uint64_t low = uint64_t(m);
    if (low < n) {
        const uint64_t threshold = (0 - n) % n;  // 2^64 mod n
        while (low < threshold) {
            m = (unsigned __int128)next() * n;
            low = uint64_t(m);
        }
    }
    return uint64_t(m >> 64);
}

uint64_t mix_seed(uint64_t a, uint64_t b)
{
    // Two dependent splitmix rounds: (a, b) and (b, a) give unrelated seeds,
    // and consecutive tree numbers give unrelated streams.
    uint64_t st = a;
    uint64_t h = splitmix64(&st);
    st = h ^ (b * 0xD6E8FEB86659FD93ull + 0x632BE59BD9B4E019ull);
    return splitmix64(&st);
}

}  // namespace annoy::core
