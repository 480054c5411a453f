// Scalar distance kernels, the choice of the active variant, and the
// distances derived from the kernels (euclidean, cosine, angular) plus
// Hamming.  The SIMD variants live in distance_x86.cpp.
//
// No global object here needs dynamic initialisation: the kernel tables are
// constant-initialised structs of function pointers and the active choice is
// an atomic pointer (constexpr-constructible, trivially destructible), so the
// library is safe to use from static initialisers and from worker threads.
#include "distance.hpp"
#include "half.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>

namespace annoy::core {

#if defined(__x86_64__) || defined(__i386__)
#define ANNOY_X86 1
namespace detail {
// Defined in distance_x86.cpp.
extern const FloatKernels avx2_kernels;
extern const FloatKernels avx512_kernels;
bool cpu_has_avx2_fma();
bool cpu_has_avx512f();
bool cpu_has_popcnt();
}  // namespace detail
#endif

namespace {

// ------------------------------------------------------------------ scalar
// Eight independent accumulators: float addition is not associative, so
// without them the compiler may not vectorise a reduction (no -ffast-math
// here); with them each block of 8 is two SSE2 vectors the SLP vectoriser
// can map one-to-one, and the 8 chains hide the add latency either way.
constexpr size_t kLanes = 8;

inline float sum_lanes(const float (&s)[kLanes]) noexcept
{
    return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}

float l2_squared_scalar(const float *a, const float *b, size_t n) noexcept
{
    float s[kLanes] = {};
    size_t i = 0;
    for (; i + kLanes <= n; i += kLanes) {
        for (size_t j = 0; j < kLanes; ++j) {
            float d = a[i + j] - b[i + j];
            s[j] += d * d;
        }
    }
    float tail = 0.0f;
    for (; i < n; ++i) {
        float d = a[i] - b[i];
        tail += d * d;
    }
    return sum_lanes(s) + tail;
}

float dot_scalar(const float *a, const float *b, size_t n) noexcept
{
    float s[kLanes] = {};
    size_t i = 0;
    for (; i + kLanes <= n; i += kLanes) {
        for (size_t j = 0; j < kLanes; ++j)
            s[j] += a[i + j] * b[i + j];
    }
    float tail = 0.0f;
    for (; i < n; ++i)
        tail += a[i] * b[i];
    return sum_lanes(s) + tail;
}

float l1_scalar(const float *a, const float *b, size_t n) noexcept
{
    float s[kLanes] = {};
    size_t i = 0;
    for (; i + kLanes <= n; i += kLanes) {
        for (size_t j = 0; j < kLanes; ++j)
            s[j] += std::fabs(a[i + j] - b[i + j]);
    }
    float tail = 0.0f;
    for (; i < n; ++i)
        tail += std::fabs(a[i] - b[i]);
    return sum_lanes(s) + tail;
}

void dot_norms_scalar(const float *a, const float *b, size_t n, float *ab, float *aa, float *bb) noexcept
{
    float sab[kLanes] = {}, saa[kLanes] = {}, sbb[kLanes] = {};
    size_t i = 0;
    for (; i + kLanes <= n; i += kLanes) {
        // Three separate lane loops: g++ then keeps all 24 lanes in six SSE
        // registers; one fused loop body makes it vectorise over j with the
        // accumulators left in memory.
        for (size_t j = 0; j < kLanes; ++j)
            sab[j] += a[i + j] * b[i + j];
        for (size_t j = 0; j < kLanes; ++j)
            saa[j] += a[i + j] * a[i + j];
        for (size_t j = 0; j < kLanes; ++j)
            sbb[j] += b[i + j] * b[i + j];
    }
    float tab = 0.0f, taa = 0.0f, tbb = 0.0f;
    for (; i < n; ++i) {
        tab += a[i] * b[i];
        taa += a[i] * a[i];
        tbb += b[i] * b[i];
    }
    *ab = sum_lanes(sab) + tab;
    *aa = sum_lanes(saa) + taa;
    *bb = sum_lanes(sbb) + tbb;
}

float dot_half_scalar(const uint16_t *h, const float *b, size_t n) noexcept
{
    float s[kLanes] = {};
    size_t i = 0;
    for (; i + kLanes <= n; i += kLanes) {
        for (size_t j = 0; j < kLanes; ++j)
            s[j] += half_to_float(h[i + j]) * b[i + j];
    }
    float tail = 0.0f;
    for (; i < n; ++i)
        tail += half_to_float(h[i]) * b[i];
    return sum_lanes(s) + tail;
}

constexpr FloatKernels scalar_kernels = {l2_squared_scalar, dot_scalar, l1_scalar, dot_norms_scalar, dot_half_scalar};

// ----------------------------------------------------------------- hamming
// One body, compiled twice: plain (the builtin becomes a bit-twiddling
// sequence) and with POPCNT enabled (one instruction per word).
using HammingFn = uint64_t (*)(const uint64_t *, const uint64_t *, size_t) noexcept;

__attribute__((always_inline)) inline uint64_t hamming_words(const uint64_t *a, const uint64_t *b,
                                                             size_t words) noexcept
{
    uint64_t c0 = 0, c1 = 0, c2 = 0, c3 = 0;
    size_t i = 0;
    for (; i + 4 <= words; i += 4) {
        c0 += __builtin_popcountll(a[i] ^ b[i]);
        c1 += __builtin_popcountll(a[i + 1] ^ b[i + 1]);
        c2 += __builtin_popcountll(a[i + 2] ^ b[i + 2]);
        c3 += __builtin_popcountll(a[i + 3] ^ b[i + 3]);
    }
    for (; i < words; ++i)
        c0 += __builtin_popcountll(a[i] ^ b[i]);
    return (c0 + c1) + (c2 + c3);
}

uint64_t hamming_generic(const uint64_t *a, const uint64_t *b, size_t words) noexcept
{
    return hamming_words(a, b, words);
}

#ifdef ANNOY_X86
__attribute__((target("popcnt"))) uint64_t hamming_popcnt(const uint64_t *a, const uint64_t *b, size_t words) noexcept
{
    return hamming_words(a, b, words);
}
#endif

// ---------------------------------------------------------------- dispatch
// Null until init_kernels(); the tables are immutable and constant
// initialised, so relaxed loads/stores suffice (every thread that races on
// the lazy init stores the same value).
std::atomic<const FloatKernels *> active_float{nullptr};
std::atomic<HammingFn> active_hamming{nullptr};

// cos(a, b) from the float sums, in double; clamped to [-1, 1] (rounding can
// push it slightly outside).  NaN for a zero vector; NaN inputs stay NaN.
double cosine_from_sums(float ab, float aa, float bb) noexcept
{
    if (aa == 0.0f || bb == 0.0f)
        return std::numeric_limits<double>::quiet_NaN();
    double c = double(ab) / std::sqrt(double(aa) * double(bb));
    return c < -1.0 ? -1.0 : c > 1.0 ? 1.0 : c;
}

}  // namespace

const char *isa_name(Isa isa)
{
    switch (isa) {
        case Isa::Scalar:
            return "scalar";
        case Isa::Avx2:
            return "avx2";
        case Isa::Avx512:
            return "avx512";
    }
    return "unknown";
}

bool isa_supported(Isa isa)
{
    switch (isa) {
        case Isa::Scalar:
            return true;
#ifdef ANNOY_X86
        case Isa::Avx2:
            return detail::cpu_has_avx2_fma();
        case Isa::Avx512:
            return detail::cpu_has_avx512f();
#endif
        default:
            return false;
    }
}

const FloatKernels &kernels_for(Isa isa)
{
    switch (isa) {
        case Isa::Scalar:
            return scalar_kernels;
#ifdef ANNOY_X86
        case Isa::Avx2:
            return detail::avx2_kernels;
        case Isa::Avx512:
            return detail::avx512_kernels;
#endif
        default:
            throw std::invalid_argument("annoy: distance kernel variant not compiled in");
    }
}

void init_kernels() noexcept
{
    const FloatKernels *k = &scalar_kernels;
    HammingFn h = hamming_generic;
#ifdef ANNOY_X86
    if (detail::cpu_has_avx512f())
        k = &detail::avx512_kernels;
    else if (detail::cpu_has_avx2_fma())
        k = &detail::avx2_kernels;
    if (detail::cpu_has_popcnt())
        h = hamming_popcnt;
#endif
    active_hamming.store(h, std::memory_order_relaxed);
    active_float.store(k, std::memory_order_relaxed);
}

const FloatKernels &kernels() noexcept
{
    const FloatKernels *k = active_float.load(std::memory_order_relaxed);
    if (__builtin_expect(k == nullptr, 0)) {
        init_kernels();
        k = active_float.load(std::memory_order_relaxed);
    }
    return *k;
}

Isa active_isa() noexcept
{
    const FloatKernels *k = &kernels();
#ifdef ANNOY_X86
    if (k == &detail::avx512_kernels)
        return Isa::Avx512;
    if (k == &detail::avx2_kernels)
        return Isa::Avx2;
#endif
    (void)k;
    return Isa::Scalar;
}

float l2_distance(const float *a, const float *b, size_t n) noexcept
{
    return std::sqrt(kernels().l2_squared(a, b, n));
}

namespace {

// Whether a float sum may have lost the answer: overflowed, or so small that
// its terms may have underflowed.
inline bool unreliable(float sum)
{
    return !std::isfinite(sum) || std::fabs(sum) < 1e-30f;
}

}  // namespace

double exact_l2_distance(const float *a, const float *b, size_t n) noexcept
{
    const float sum = kernels().l2_squared(a, b, n);
    if (__builtin_expect(!unreliable(sum), 1))
        return std::sqrt(double(sum));
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    return std::sqrt(s);
}

double exact_inner_product(const float *a, const float *b, size_t n) noexcept
{
    const float sum = kernels().dot(a, b, n);
    if (__builtin_expect(!unreliable(sum), 1))
        return double(sum);
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += double(a[i]) * b[i];
    return s;
}

double exact_l1_distance(const float *a, const float *b, size_t n) noexcept
{
    const float sum = kernels().l1(a, b, n);
    if (__builtin_expect(!unreliable(sum), 1))
        return double(sum);
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += std::fabs(double(a[i]) - b[i]);
    return s;
}

double exact_cosine(const float *a, const float *b, size_t n) noexcept
{
    float ab, aa, bb;
    kernels().dot_norms(a, b, n, &ab, &aa, &bb);
    double dab = ab, daa = aa, dbb = bb;
    if (__builtin_expect(unreliable(aa) || unreliable(bb) || !std::isfinite(ab), 0)) {
        // Scale by the largest magnitude first: squares of 1e200 overflow
        // even a double.
        double scale = 0;
        for (size_t i = 0; i < n; i++)
            scale = std::max({scale, std::fabs(double(a[i])), std::fabs(double(b[i]))});
        dab = daa = dbb = 0;
        for (size_t i = 0; i < n; i++) {
            const double x = a[i] / scale, y = b[i] / scale;
            dab += x * y;
            daa += x * x;
            dbb += y * y;
        }
    }
    const double c = dab / std::sqrt(daa * dbb);
    return std::isnan(c) ? c : std::clamp(c, -1.0, 1.0);
}

float cosine_distance(const float *a, const float *b, size_t n) noexcept
{
    float ab, aa, bb;
    kernels().dot_norms(a, b, n, &ab, &aa, &bb);
    return float(1.0 - cosine_from_sums(ab, aa, bb));
}

float angular_distance(const float *a, const float *b, size_t n) noexcept
{
    float ab, aa, bb;
    kernels().dot_norms(a, b, n, &ab, &aa, &bb);
    // cos is clamped, so 2 - 2 cos is in [0, 4] and the sqrt is real.
    return float(std::sqrt(2.0 - 2.0 * cosine_from_sums(ab, aa, bb)));
}

uint64_t hamming_distance(const uint64_t *a, const uint64_t *b, size_t words) noexcept
{
    HammingFn h = active_hamming.load(std::memory_order_relaxed);
    if (__builtin_expect(h == nullptr, 0)) {
        init_kernels();
        h = active_hamming.load(std::memory_order_relaxed);
    }
    return h(a, b, words);
}

}  // namespace annoy::core
