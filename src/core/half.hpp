// IEEE 754 half precision (binary16) conversions, portable.  Split
// hyperplanes are stored in half precision: they only steer the search, a
// relative error of 2^-11 per component changes no routing that matters, and
// a 784-d hyperplane then fits beside two vectors on one 8 kB page.
#pragma once

#include "common.hpp"

#include <cstring>

namespace annoy::core {

inline uint16_t float_to_half(float f) noexcept
{
    uint32_t x;
    std::memcpy(&x, &f, 4);
    const uint32_t sign = (x >> 16) & 0x8000u;
    const uint32_t abs = x & 0x7FFFFFFFu;
    if (abs >= 0x7F800000u)  // Inf or NaN
        return uint16_t(sign | 0x7C00u | (abs > 0x7F800000u ? 0x200u : 0u));
    if (abs >= 0x477FF000u)  // rounds to >= 65520: overflow to infinity
        return uint16_t(sign | 0x7C00u);
    if (abs < 0x38800000u) {  // below the smallest normal half: subnormal or zero
        if (abs < 0x33000000u)
            return uint16_t(sign);
        const uint32_t mant = (abs & 0x7FFFFFu) | 0x800000u;
        const int shift = 126 - int(abs >> 23);  // 14..24
        uint32_t h = mant >> shift;
        const uint32_t rem = mant & ((1u << shift) - 1u), half = 1u << (shift - 1);
        h += (rem > half || (rem == half && (h & 1u))) ? 1u : 0u;
        return uint16_t(sign | h);
    }
    // Normal: rebias the exponent, round the mantissa to nearest even.
    uint32_t h = ((abs >> 13) - ((127u - 15u) << 10));
    const uint32_t rem = abs & 0x1FFFu;
    h += (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ? 1u : 0u;
    return uint16_t(sign | h);
}

inline float half_to_float(uint16_t h) noexcept
{
    const uint32_t sign = uint32_t(h & 0x8000u) << 16;
    const uint32_t exp = (h >> 10) & 0x1Fu, mant = h & 0x3FFu;
    uint32_t x;
    if (exp == 0) {
        if (mant == 0) {
            x = sign;
        } else {  // subnormal: normalise
            int e = -1;
            uint32_t m = mant;
            do {
                e++;
                m <<= 1;
            } while ((m & 0x400u) == 0);
            x = sign | (uint32_t(127 - 15 - e) << 23) | ((m & 0x3FFu) << 13);
        }
    } else if (exp == 0x1F) {
        x = sign | 0x7F800000u | (mant << 13);
    } else {
        x = sign | ((exp + 127u - 15u) << 23) | (mant << 13);
    }
    float f;
    std::memcpy(&f, &x, 4);
    return f;
}

}  // namespace annoy::core
