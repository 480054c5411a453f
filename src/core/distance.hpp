// Distance kernels over float32 vectors and 64-bit bit-string words.
//
// Each float kernel exists in three variants (scalar, AVX2+FMA, AVX-512F),
// compiled with function-level target attributes so that the library runs on
// any x86-64 CPU; init_kernels() picks the best supported variant once (at
// library load) and every caller goes through that table.  On non-x86 builds
// only the scalar variant exists.
#pragma once

#include "common.hpp"

namespace annoy::core {

enum class Isa : uint8_t { Scalar = 0, Avx2 = 1, Avx512 = 2 };

// One variant's kernels.  n is the number of floats; n == 0 is allowed.
struct FloatKernels {
    float (*l2_squared)(const float *a, const float *b, size_t n) noexcept;
    float (*dot)(const float *a, const float *b, size_t n) noexcept;
    float (*l1)(const float *a, const float *b, size_t n) noexcept;
    // Computes a.b, a.a and b.b in one pass (cosine needs all three).
    void (*dot_norms)(const float *a, const float *b, size_t n, float *ab, float *aa, float *bb) noexcept;
    // Dot product of a half-precision vector (IEEE binary16) with a float one:
    // the margin of a stored split hyperplane.
    float (*dot_half)(const uint16_t *h, const float *b, size_t n) noexcept;
};

const char *isa_name(Isa isa);
bool isa_supported(Isa isa);               // compiled in and supported by this CPU
const FloatKernels &kernels_for(Isa isa);  // a specific variant (tests, benchmarks)

// Picks the best supported variant; idempotent, cheap, call before first use.
void init_kernels() noexcept;
Isa active_isa() noexcept;
const FloatKernels &kernels() noexcept;  // the active variant (init_kernels() first)

// Convenience forms on the active variant.  All return float.
inline float l2_squared_distance(const float *a, const float *b, size_t n) noexcept
{
    return kernels().l2_squared(a, b, n);
}
float l2_distance(const float *a, const float *b, size_t n) noexcept;
inline float inner_product(const float *a, const float *b, size_t n) noexcept
{
    return kernels().dot(a, b, n);
}
inline float l1_distance(const float *a, const float *b, size_t n) noexcept
{
    return kernels().l1(a, b, n);
}
// 1 - cos(a, b), clamped to [0, 2]; NaN when either vector has zero norm.
float cosine_distance(const float *a, const float *b, size_t n) noexcept;
// Annoy's angular distance sqrt(2 - 2 cos), clamped at 0; NaN for a zero vector.
float angular_distance(const float *a, const float *b, size_t n) noexcept;
// The distances of the SQL functions and operators, in double precision.
// The kernels sum in single precision (fast, and accurate for the values
// embeddings hold); a sum that overflowed or underflowed (elements near
// 1e+-19 and beyond, denormals) is recomputed in double, so finite inputs
// never give Infinity, NaN or 0 for a finite, nonzero answer.  Index scans
// rank with these too, so an index returns rows in the order of the
// operators.  The check that picks the slow path is one comparison of the
// float sum.
double exact_l2_distance(const float *a, const float *b, size_t n) noexcept;
double exact_inner_product(const float *a, const float *b, size_t n) noexcept;
double exact_l1_distance(const float *a, const float *b, size_t n) noexcept;
// cos(a, b) clamped to [-1, 1]; NaN when either vector is zero.
double exact_cosine(const float *a, const float *b, size_t n) noexcept;

// popcount(a xor b) over `words` 64-bit words (unused tail bits must be zero).
uint64_t hamming_distance(const uint64_t *a, const uint64_t *b, size_t words) noexcept;

}  // namespace annoy::core
