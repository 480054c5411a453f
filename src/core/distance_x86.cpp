// x86 SIMD variants of the float distance kernels (AVX2+FMA, AVX-512F) and
// the CPU/OS feature checks that decide whether they (and POPCNT) may run.
// Only function-level target attributes are used: this file is built without
// -mavx2/-march (the library must load on any x86-64 CPU, and PGXS also
// compiles it to LLVM bitcode for the JIT).  The dispatch tables are plain
// constant-initialised structs of function pointers; distance.cpp declares
// and selects them.
#if defined(__x86_64__) || defined(__i386__)

#include <cpuid.h>
#include <immintrin.h>

#include "distance.hpp"
#include "half.hpp"

namespace annoy::core::detail {

namespace {

// ---------------------------------------------------------------- AVX2+FMA
// 4 accumulators x 8 lanes per iteration: enough independent FMA chains to
// hide the 4-cycle latency at 2 loads/cycle.  Then one 8-wide step at a time,
// then a scalar tail (no masked loads in AVX2 for floats worth the trouble).

#define ANNOY_AVX2 __attribute__((target("avx2,fma")))

ANNOY_AVX2 inline float hsum256(__m256 v) noexcept
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

ANNOY_AVX2 inline __m256 abs256(__m256 v)
{
    return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v);
}

ANNOY_AVX2 float l2_squared_avx2(const float *a, const float *b, size_t n) noexcept
{
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
        __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
        __m256 d2 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16));
        __m256 d3 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24));
        s0 = _mm256_fmadd_ps(d0, d0, s0);
        s1 = _mm256_fmadd_ps(d1, d1, s1);
        s2 = _mm256_fmadd_ps(d2, d2, s2);
        s3 = _mm256_fmadd_ps(d3, d3, s3);
    }
    for (; i + 8 <= n; i += 8) {
        __m256 d = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
        s0 = _mm256_fmadd_ps(d, d, s0);
    }
    float tail = 0.0f;
    for (; i < n; ++i) {
        float d = a[i] - b[i];
        tail += d * d;
    }
    return hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3))) + tail;
}

ANNOY_AVX2 float dot_avx2(const float *a, const float *b, size_t n) noexcept
{
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
    }
    for (; i + 8 <= n; i += 8)
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    float tail = 0.0f;
    for (; i < n; ++i)
        tail += a[i] * b[i];
    return hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3))) + tail;
}

ANNOY_AVX2 float l1_avx2(const float *a, const float *b, size_t n) noexcept
{
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_add_ps(s0, abs256(_mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i))));
        s1 = _mm256_add_ps(s1, abs256(_mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8))));
        s2 = _mm256_add_ps(s2, abs256(_mm256_sub_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16))));
        s3 = _mm256_add_ps(s3, abs256(_mm256_sub_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24))));
    }
    for (; i + 8 <= n; i += 8)
        s0 = _mm256_add_ps(s0, abs256(_mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i))));
    float tail = 0.0f;
    for (; i < n; ++i)
        tail += __builtin_fabsf(a[i] - b[i]);
    return hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3))) + tail;
}

ANNOY_AVX2 void dot_norms_avx2(const float *a, const float *b, size_t n, float *ab, float *aa, float *bb) noexcept
{
    // 3 sums x 4 accumulators = 12 registers, plus the two loads: fits the 16.
    __m256 ab0 = _mm256_setzero_ps(), ab1 = _mm256_setzero_ps(), ab2 = _mm256_setzero_ps(), ab3 = _mm256_setzero_ps();
    __m256 aa0 = _mm256_setzero_ps(), aa1 = _mm256_setzero_ps(), aa2 = _mm256_setzero_ps(), aa3 = _mm256_setzero_ps();
    __m256 bb0 = _mm256_setzero_ps(), bb1 = _mm256_setzero_ps(), bb2 = _mm256_setzero_ps(), bb3 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256 x0 = _mm256_loadu_ps(a + i), y0 = _mm256_loadu_ps(b + i);
        __m256 x1 = _mm256_loadu_ps(a + i + 8), y1 = _mm256_loadu_ps(b + i + 8);
        ab0 = _mm256_fmadd_ps(x0, y0, ab0);
        aa0 = _mm256_fmadd_ps(x0, x0, aa0);
        bb0 = _mm256_fmadd_ps(y0, y0, bb0);
        ab1 = _mm256_fmadd_ps(x1, y1, ab1);
        aa1 = _mm256_fmadd_ps(x1, x1, aa1);
        bb1 = _mm256_fmadd_ps(y1, y1, bb1);
        __m256 x2 = _mm256_loadu_ps(a + i + 16), y2 = _mm256_loadu_ps(b + i + 16);
        __m256 x3 = _mm256_loadu_ps(a + i + 24), y3 = _mm256_loadu_ps(b + i + 24);
        ab2 = _mm256_fmadd_ps(x2, y2, ab2);
        aa2 = _mm256_fmadd_ps(x2, x2, aa2);
        bb2 = _mm256_fmadd_ps(y2, y2, bb2);
        ab3 = _mm256_fmadd_ps(x3, y3, ab3);
        aa3 = _mm256_fmadd_ps(x3, x3, aa3);
        bb3 = _mm256_fmadd_ps(y3, y3, bb3);
    }
    for (; i + 8 <= n; i += 8) {
        __m256 x = _mm256_loadu_ps(a + i), y = _mm256_loadu_ps(b + i);
        ab0 = _mm256_fmadd_ps(x, y, ab0);
        aa0 = _mm256_fmadd_ps(x, x, aa0);
        bb0 = _mm256_fmadd_ps(y, y, bb0);
    }
    float tab = 0.0f, taa = 0.0f, tbb = 0.0f;
    for (; i < n; ++i) {
        tab += a[i] * b[i];
        taa += a[i] * a[i];
        tbb += b[i] * b[i];
    }
    *ab = hsum256(_mm256_add_ps(_mm256_add_ps(ab0, ab1), _mm256_add_ps(ab2, ab3))) + tab;
    *aa = hsum256(_mm256_add_ps(_mm256_add_ps(aa0, aa1), _mm256_add_ps(aa2, aa3))) + taa;
    *bb = hsum256(_mm256_add_ps(_mm256_add_ps(bb0, bb1), _mm256_add_ps(bb2, bb3))) + tbb;
}

#undef ANNOY_AVX2

// ----------------------------------------------------------------- AVX-512F
// 4 accumulators x 16 lanes, then 16-wide steps, then one masked step for the
// last n % 16 floats (masked-off lanes are neither read nor faulted on).

// Half-precision hyperplanes: F16C converts 8 halves to floats per
// instruction (every AVX2 CPU has F16C; it is checked anyway).
__attribute__((target("avx2,fma,f16c"))) float dot_half_avx2(const uint16_t *h, const float *b, size_t n) noexcept
{
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 h0 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i *>(h + i)));
        __m256 h1 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i *>(h + i + 8)));
        s0 = _mm256_fmadd_ps(h0, _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(h1, _mm256_loadu_ps(b + i + 8), s1);
    }
    for (; i + 8 <= n; i += 8)
        s0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i *>(h + i))),
                             _mm256_loadu_ps(b + i), s0);
    float tail = 0.0f;
    for (; i < n; ++i)
        tail += half_to_float(h[i]) * b[i];
    return hsum256(_mm256_add_ps(s0, s1)) + tail;
}

#define ANNOY_AVX512 __attribute__((target("avx512f")))

// Horizontal sum by butterfly: after the four steps every lane holds the
// total.  Not _mm512_reduce_add_ps / _mm512_castps512_ps256: g++ 12 builds
// those on _mm*_undefined_*() and then warns about its own header
// (-Wuninitialized, GCC PR 105593); the merge-masked forms with an all-ones
// mask compile to the same unmasked shuffles without that.
ANNOY_AVX512 inline float hsum512(__m512 v) noexcept
{
    const __mmask16 all = 0xFFFF;
    v = _mm512_add_ps(v, _mm512_mask_shuffle_f32x4(v, all, v, v, _MM_SHUFFLE(1, 0, 3, 2)));  // 256-bit halves
    v = _mm512_add_ps(v, _mm512_mask_shuffle_f32x4(v, all, v, v, _MM_SHUFFLE(2, 3, 0, 1)));  // 128-bit lanes
    v = _mm512_add_ps(v, _mm512_mask_permute_ps(v, all, v, _MM_SHUFFLE(1, 0, 3, 2)));        // 64-bit pairs
    v = _mm512_add_ps(v, _mm512_mask_permute_ps(v, all, v, _MM_SHUFFLE(2, 3, 0, 1)));        // neighbours
    return _mm512_cvtss_f32(v);
}

ANNOY_AVX512 inline __mmask16 tail_mask(size_t rem)
{
    return static_cast<__mmask16>((1u << rem) - 1u);
}

ANNOY_AVX512 float l2_squared_avx512(const float *a, const float *b, size_t n) noexcept
{
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    __m512 s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
        __m512 d1 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));
        __m512 d2 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32));
        __m512 d3 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48));
        s0 = _mm512_fmadd_ps(d0, d0, s0);
        s1 = _mm512_fmadd_ps(d1, d1, s1);
        s2 = _mm512_fmadd_ps(d2, d2, s2);
        s3 = _mm512_fmadd_ps(d3, d3, s3);
    }
    for (; i + 16 <= n; i += 16) {
        __m512 d = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
        s0 = _mm512_fmadd_ps(d, d, s0);
    }
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        __m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i));
        s1 = _mm512_fmadd_ps(d, d, s1);
    }
    return hsum512(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

ANNOY_AVX512 float dot_avx512(const float *a, const float *b, size_t n) noexcept
{
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    __m512 s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
        s2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32), s2);
        s3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48), s3);
    }
    for (; i + 16 <= n; i += 16)
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s1);
    }
    return hsum512(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

ANNOY_AVX512 float l1_avx512(const float *a, const float *b, size_t n) noexcept
{
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    __m512 s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        s0 = _mm512_add_ps(s0, _mm512_abs_ps(_mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i))));
        s1 = _mm512_add_ps(s1, _mm512_abs_ps(_mm512_sub_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16))));
        s2 = _mm512_add_ps(s2, _mm512_abs_ps(_mm512_sub_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32))));
        s3 = _mm512_add_ps(s3, _mm512_abs_ps(_mm512_sub_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48))));
    }
    for (; i + 16 <= n; i += 16)
        s0 = _mm512_add_ps(s0, _mm512_abs_ps(_mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i))));
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        s1 = _mm512_add_ps(
            s1, _mm512_abs_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i))));
    }
    return hsum512(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

ANNOY_AVX512 void dot_norms_avx512(const float *a, const float *b, size_t n, float *ab, float *aa, float *bb) noexcept
{
    __m512 ab0 = _mm512_setzero_ps(), ab1 = _mm512_setzero_ps(), ab2 = _mm512_setzero_ps(), ab3 = _mm512_setzero_ps();
    __m512 aa0 = _mm512_setzero_ps(), aa1 = _mm512_setzero_ps(), aa2 = _mm512_setzero_ps(), aa3 = _mm512_setzero_ps();
    __m512 bb0 = _mm512_setzero_ps(), bb1 = _mm512_setzero_ps(), bb2 = _mm512_setzero_ps(), bb3 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        __m512 x0 = _mm512_loadu_ps(a + i), y0 = _mm512_loadu_ps(b + i);
        __m512 x1 = _mm512_loadu_ps(a + i + 16), y1 = _mm512_loadu_ps(b + i + 16);
        __m512 x2 = _mm512_loadu_ps(a + i + 32), y2 = _mm512_loadu_ps(b + i + 32);
        __m512 x3 = _mm512_loadu_ps(a + i + 48), y3 = _mm512_loadu_ps(b + i + 48);
        ab0 = _mm512_fmadd_ps(x0, y0, ab0);
        aa0 = _mm512_fmadd_ps(x0, x0, aa0);
        bb0 = _mm512_fmadd_ps(y0, y0, bb0);
        ab1 = _mm512_fmadd_ps(x1, y1, ab1);
        aa1 = _mm512_fmadd_ps(x1, x1, aa1);
        bb1 = _mm512_fmadd_ps(y1, y1, bb1);
        ab2 = _mm512_fmadd_ps(x2, y2, ab2);
        aa2 = _mm512_fmadd_ps(x2, x2, aa2);
        bb2 = _mm512_fmadd_ps(y2, y2, bb2);
        ab3 = _mm512_fmadd_ps(x3, y3, ab3);
        aa3 = _mm512_fmadd_ps(x3, x3, aa3);
        bb3 = _mm512_fmadd_ps(y3, y3, bb3);
    }
    for (; i + 16 <= n; i += 16) {
        __m512 x = _mm512_loadu_ps(a + i), y = _mm512_loadu_ps(b + i);
        ab0 = _mm512_fmadd_ps(x, y, ab0);
        aa0 = _mm512_fmadd_ps(x, x, aa0);
        bb0 = _mm512_fmadd_ps(y, y, bb0);
    }
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        __m512 x = _mm512_maskz_loadu_ps(m, a + i), y = _mm512_maskz_loadu_ps(m, b + i);
        ab1 = _mm512_fmadd_ps(x, y, ab1);
        aa1 = _mm512_fmadd_ps(x, x, aa1);
        bb1 = _mm512_fmadd_ps(y, y, bb1);
    }
    *ab = hsum512(_mm512_add_ps(_mm512_add_ps(ab0, ab1), _mm512_add_ps(ab2, ab3)));
    *aa = hsum512(_mm512_add_ps(_mm512_add_ps(aa0, aa1), _mm512_add_ps(aa2, aa3)));
    *bb = hsum512(_mm512_add_ps(_mm512_add_ps(bb0, bb1), _mm512_add_ps(bb2, bb3)));
}

ANNOY_AVX512 float dot_half_avx512(const uint16_t *h, const float *b, size_t n) noexcept
{
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 h0 = _mm512_maskz_cvtph_ps(0xFFFF, _mm256_loadu_si256(reinterpret_cast<const __m256i *>(h + i)));
        __m512 h1 = _mm512_maskz_cvtph_ps(0xFFFF, _mm256_loadu_si256(reinterpret_cast<const __m256i *>(h + i + 16)));
        s0 = _mm512_fmadd_ps(h0, _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(h1, _mm512_loadu_ps(b + i + 16), s1);
    }
    for (; i + 16 <= n; i += 16)
        s0 =
            _mm512_fmadd_ps(_mm512_maskz_cvtph_ps(0xFFFF, _mm256_loadu_si256(reinterpret_cast<const __m256i *>(h + i))),
                            _mm512_loadu_ps(b + i), s0);
    // (A masked 16-bit load would need AVX512BW: the tail is scalar.)
    float tail = 0.0f;
    for (; i < n; ++i)
        tail += half_to_float(h[i]) * b[i];
    return hsum512(_mm512_add_ps(s0, s1)) + tail;
}

#undef ANNOY_AVX512

// -------------------------------------------------------- feature checks
// XCR0 says which register states the OS saves on context switch; a CPU may
// support AVX/AVX-512 while the OS (or hypervisor) leaves it disabled.
// Recent libgcc/compiler-rt fold this into __builtin_cpu_supports, older
// ones do not, so it is checked here as well.
constexpr uint64_t kXcr0Sse = 1u << 1, kXcr0Avx = 1u << 2;
constexpr uint64_t kXcr0Avx512 = (1u << 5) | (1u << 6) | (1u << 7);  // opmask, ZMM0-15 upper, ZMM16-31

uint64_t os_enabled_xcr0()
{
    unsigned eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !(ecx & bit_OSXSAVE))
        return 0;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (uint64_t(hi) << 32) | lo;
}

bool os_saves(uint64_t bits)
{
    return (os_enabled_xcr0() & bits) == bits;
}

}  // namespace

extern const FloatKernels avx2_kernels = {l2_squared_avx2, dot_avx2, l1_avx2, dot_norms_avx2, dot_half_avx2};
extern const FloatKernels avx512_kernels = {l2_squared_avx512, dot_avx512, l1_avx512, dot_norms_avx512,
                                            dot_half_avx512};

bool cpu_has_avx2_fma()
{
    __builtin_cpu_init();
    // F16C for the half-precision kernel (present on every AVX2 CPU).
    unsigned eax, ebx, ecx, edx;
    bool f16c = __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & bit_F16C);
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && f16c && os_saves(kXcr0Sse | kXcr0Avx);
}

bool cpu_has_avx512f()
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && os_saves(kXcr0Sse | kXcr0Avx | kXcr0Avx512);
}

bool cpu_has_popcnt()
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("popcnt");
}

}  // namespace annoy::core::detail

#endif  // x86
