// Distance kernels: every variant this CPU supports against a double
// precision reference, plus the derived distances and the dispatch.
#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <vector>

#include "distance.hpp"
#include "half.hpp"

using namespace annoy::core;

namespace {

// ------------------------------------------------------------ reference
// Exact-enough value of a float kernel plus the scale its rounding error is
// proportional to: the sum of |term|.  Every term (a-b)^2, a*b, |a-b| of
// float inputs is exact in double, and summing <= 16000 of them in double
// adds a relative error ~1e-12, far below the float tolerance below.
struct Ref {
    double value = 0.0;
    double sum_abs = 0.0;
};

Ref ref_l2_squared(const float *a, const float *b, size_t n)
{
    Ref r;
    for (size_t i = 0; i < n; ++i) {
        double d = double(a[i]) - double(b[i]);
        r.value += d * d;
    }
    r.sum_abs = r.value;
    return r;
}

Ref ref_dot(const float *a, const float *b, size_t n)
{
    Ref r;
    for (size_t i = 0; i < n; ++i) {
        double t = double(a[i]) * double(b[i]);
        r.value += t;
        r.sum_abs += std::fabs(t);
    }
    return r;
}

Ref ref_l1(const float *a, const float *b, size_t n)
{
    Ref r;
    for (size_t i = 0; i < n; ++i)
        r.value += std::fabs(double(a[i]) - double(b[i]));
    r.sum_abs = r.value;
    return r;
}

// ------------------------------------------------------------ tolerance
// Float summation error.  With u = FLT_EPSILON / 2 (unit roundoff), a term
// that passes through D additions on its way into the result carries a
// relative error of at most about D*u, and forming the term itself costs at
// most 3u ((a-b) rounded, then squared and rounded; FMA only does better), so
// to first order
//     |computed - exact| <= (D + 3) * u * sum|term|  (+ u*|result| at the end).
// D depends on how many independent accumulators a kernel keeps.  Every
// variant here keeps at least 8 lanes (scalar 8, AVX2 4x8, AVX-512 4x16), so a
// term sees at most n/8 additions in its lane, plus fewer than 64 for the
// tail loop and the final lane reduction; and never more than n in total.
// We allow twice that bound:
//     tol = (min(n, n/8 + 64) + 4) * FLT_EPSILON * sum|term|.
// It is a worst-case bound (no flaky failures from unlucky random data).  On
// uniform [-1, 1] data it is ~4e-4 at n = 70 (a typical term is ~0.5), so a
// lost element is visible there, but at n = 16000 it is ~1, the size of one
// term: random data alone cannot prove the tails right.  Hence the spike
// tests: one element of size 1 over a 1e-3 background, at every position of
// the short lengths and the head/tail of the long ones; they assert tol < 1/4
// of that element's contribution, so a kernel that drops, repeats or shifts
// an element fails, and DetectsAnOffByOneKernel shows the check firing.
double tolerance(size_t n, double sum_abs)
{
    double depth = std::min(double(n), double(n) / 8.0 + 64.0);
    return (depth + 4.0) * double(FLT_EPSILON) * sum_abs;
}

::testing::AssertionResult matches(const char *what, size_t n, float got, const Ref &want)
{
    double tol = tolerance(n, want.sum_abs);
    double err = std::fabs(double(got) - want.value);
    if (err <= tol)
        return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << what << " n=" << n << ": got " << got << ", want " << want.value
                                         << " (error " << err << " > tolerance " << tol << ")";
}

// ------------------------------------------------------------ test data
enum class Kind {
    Unit,    // uniform in [-1, 1]
    Wide,    // random sign, magnitude 2^U(-20, 20): terms spanning 24 orders
    Offset,  // 1000 + U(-1, 1): a - b cancels, norms are large
};

float draw(Kind kind, std::mt19937 &rng)
{
    std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
    switch (kind) {
        case Kind::Unit:
            return unit(rng);
        case Kind::Wide: {
            std::uniform_real_distribution<float> exponent(-20.0f, 20.0f);
            float magnitude = std::exp2(exponent(rng));
            return unit(rng) < 0 ? -magnitude : magnitude;
        }
        case Kind::Offset:
            return 1000.0f + unit(rng);
    }
    return 0.0f;
}

// A vector of n floats starting `misalign` floats into its buffer, so the
// kernels' unaligned loads and tails are exercised at every offset.
struct Vec {
    std::vector<float> buf;
    size_t misalign = 0;
    float *data() { return buf.data() + misalign; }
    float &operator[](size_t i) { return buf[misalign + i]; }
};

Vec random_vec(size_t n, Kind kind, std::mt19937 &rng, size_t misalign)
{
    Vec v;
    v.misalign = misalign;
    v.buf.assign(n + misalign, 0.0f);
    for (size_t i = 0; i < n; ++i)
        v[i] = draw(kind, rng);
    return v;
}

std::vector<size_t> lengths()
{
    std::vector<size_t> out;
    for (size_t n = 1; n <= 70; ++n)
        out.push_back(n);
    for (size_t n : {127, 128, 129, 255, 256, 257, 784, 1000, 1023, 1536, 4097, 16000})
        out.push_back(n);
    return out;
}

// --------------------------------------------------- per-variant kernels
class KernelTest : public ::testing::TestWithParam<Isa> {
protected:
    void SetUp() override
    {
        if (!isa_supported(GetParam()))
            GTEST_SKIP() << isa_name(GetParam()) << " is not supported by this CPU";
        k = &kernels_for(GetParam());
    }

    // Checks all four kernels on one pair of vectors.
    void check_all(float *a, float *b, size_t n)
    {
        EXPECT_TRUE(matches("l2_squared", n, k->l2_squared(a, b, n), ref_l2_squared(a, b, n)));
        EXPECT_TRUE(matches("dot", n, k->dot(a, b, n), ref_dot(a, b, n)));
        EXPECT_TRUE(matches("l1", n, k->l1(a, b, n), ref_l1(a, b, n)));
        float ab = NAN, aa = NAN, bb = NAN;
        k->dot_norms(a, b, n, &ab, &aa, &bb);
        EXPECT_TRUE(matches("dot_norms.ab", n, ab, ref_dot(a, b, n)));
        EXPECT_TRUE(matches("dot_norms.aa", n, aa, ref_dot(a, a, n)));
        EXPECT_TRUE(matches("dot_norms.bb", n, bb, ref_dot(b, b, n)));
        // dot_half: a, scaled into [-1, 1] like a unit hyperplane normal,
        // rounded to half precision; the reference uses the same rounded
        // values, so only the kernel's summation is judged.
        float scale = 0.0f;
        for (size_t i = 0; i < n; ++i)
            scale = std::max(scale, std::fabs(a[i]));
        std::vector<uint16_t> h(n);
        std::vector<float> ah(n);
        for (size_t i = 0; i < n; ++i) {
            h[i] = float_to_half(scale > 0.0f ? a[i] / scale : 0.0f);
            ah[i] = half_to_float(h[i]);
        }
        EXPECT_TRUE(matches("dot_half", n, k->dot_half(h.data(), b, n), ref_dot(ah.data(), b, n)));
    }

    const FloatKernels *k = nullptr;
};

TEST_P(KernelTest, MatchesDoubleReference)
{
    std::mt19937 rng(12345);
    for (Kind kind : {Kind::Unit, Kind::Wide, Kind::Offset}) {
        for (size_t n : lengths()) {
            int trials = n <= 70 ? 4 : 1;
            for (int t = 0; t < trials; ++t) {
                Vec a = random_vec(n, kind, rng, size_t(t) % 4);
                Vec b = random_vec(n, kind, rng, size_t(t + 1) % 4);
                SCOPED_TRACE(::testing::Message() << "values kind " << int(kind) << ", trial " << t);
                check_all(a.data(), b.data(), n);
            }
        }
    }
}

// One large term at position p over a background of tiny ones, for every
// position of every short length and the head/tail/random positions of the
// long ones: an element that a kernel skips, repeats or misreads moves the
// result by about one whole term, which the tolerance is asserted to see.
TEST_P(KernelTest, EveryElementCounts)
{
    std::mt19937 rng(777);
    for (size_t n : lengths()) {
        Vec a = random_vec(n, Kind::Unit, rng, 1);
        Vec b = random_vec(n, Kind::Unit, rng, 0);
        for (size_t i = 0; i < n; ++i) {
            a[i] *= 1e-3f;
            b[i] *= 1e-3f;
        }
        std::vector<size_t> positions;
        for (size_t p = 0; p < n; ++p) {
            if (n <= 70 || p < 16 || p + 80 >= n || rng() % 128 == 0)
                positions.push_back(p);
        }
        for (size_t p : positions) {
            float saved_a = a[p], saved_b = b[p];
            a[p] = 1.0f;
            b[p] = -1.0f;
            // Spike contributions: l2 4, dot -1, l1 2, aa 1, bb 1; all >= 1.
            for (const Ref &r : {ref_l2_squared(a.data(), b.data(), n), ref_dot(a.data(), b.data(), n),
                                 ref_l1(a.data(), b.data(), n), ref_dot(a.data(), a.data(), n)})
                ASSERT_LT(tolerance(n, r.sum_abs), 0.25) << "tolerance too loose to see one element, n=" << n;
            SCOPED_TRACE(::testing::Message() << "spike at " << p);
            check_all(a.data(), b.data(), n);
            a[p] = saved_a;
            b[p] = saved_b;
        }
    }
}

// The check above must actually fail for a kernel that is off by one
// element: feed the real kernel n-1 (drops the last element) or n+1 (reads
// one past the end) floats and compare with the reference over n.  The
// inputs are those of EveryElementCounts (last element a spike).
TEST_P(KernelTest, DetectsAnOffByOneKernel)
{
    std::mt19937 rng(4242);
    for (size_t n : lengths()) {
        Vec a = random_vec(n + 1, Kind::Unit, rng, 0);
        Vec b = random_vec(n + 1, Kind::Unit, rng, 0);
        for (size_t i = 0; i <= n; ++i) {
            a[i] *= 1e-3f;
            b[i] *= 1e-3f;
        }
        a[n - 1] = 1.0f;
        b[n - 1] = -1.0f;
        a[n] = 1.0f;
        b[n] = -1.0f;
        Ref want = ref_l2_squared(a.data(), b.data(), n);
        EXPECT_FALSE(matches("l2_squared", n, k->l2_squared(a.data(), b.data(), n - 1), want)) << "n=" << n;
        EXPECT_FALSE(matches("l2_squared", n, k->l2_squared(a.data(), b.data(), n + 1), want)) << "n=" << n;
        Ref want_l1 = ref_l1(a.data(), b.data(), n);
        EXPECT_FALSE(matches("l1", n, k->l1(a.data(), b.data(), n - 1), want_l1)) << "n=" << n;
        EXPECT_FALSE(matches("l1", n, k->l1(a.data(), b.data(), n + 1), want_l1)) << "n=" << n;
    }
}

TEST_P(KernelTest, ZeroLength)
{
    float x = 1.0f, y = 2.0f;
    for (const float *p : {static_cast<const float *>(nullptr), static_cast<const float *>(&x)}) {
        const float *q = p ? &y : nullptr;
        EXPECT_EQ(k->l2_squared(p, q, 0), 0.0f);
        EXPECT_EQ(k->dot(p, q, 0), 0.0f);
        EXPECT_EQ(k->l1(p, q, 0), 0.0f);
        float ab = NAN, aa = NAN, bb = NAN;
        k->dot_norms(p, q, 0, &ab, &aa, &bb);
        EXPECT_EQ(ab, 0.0f);
        EXPECT_EQ(aa, 0.0f);
        EXPECT_EQ(bb, 0.0f);
    }
}

// A NaN in the last (tail) element must reach the result.
TEST_P(KernelTest, NanInTailPropagates)
{
    std::mt19937 rng(99);
    for (size_t n : lengths()) {
        Vec a = random_vec(n, Kind::Unit, rng, 0);
        Vec b = random_vec(n, Kind::Unit, rng, 0);
        a[n - 1] = NAN;
        EXPECT_TRUE(std::isnan(k->l2_squared(a.data(), b.data(), n))) << n;
        EXPECT_TRUE(std::isnan(k->dot(a.data(), b.data(), n))) << n;
        EXPECT_TRUE(std::isnan(k->l1(a.data(), b.data(), n))) << n;
        float ab, aa, bb;
        k->dot_norms(a.data(), b.data(), n, &ab, &aa, &bb);
        EXPECT_TRUE(std::isnan(ab) && std::isnan(aa) && !std::isnan(bb)) << n;
    }
}

INSTANTIATE_TEST_SUITE_P(Variants, KernelTest, ::testing::Values(Isa::Scalar, Isa::Avx2, Isa::Avx512),
                         [](const ::testing::TestParamInfo<Isa> &p) { return std::string(isa_name(p.param)); });

// ------------------------------------------------------------- dispatch
TEST(Dispatch, PicksBestSupportedIsa)
{
    init_kernels();
    init_kernels();  // idempotent
    Isa active = active_isa();
    EXPECT_TRUE(isa_supported(active));
    EXPECT_TRUE(isa_supported(Isa::Scalar));
    Isa best = isa_supported(Isa::Avx512) ? Isa::Avx512 : isa_supported(Isa::Avx2) ? Isa::Avx2 : Isa::Scalar;
    EXPECT_EQ(active, best);
    EXPECT_EQ(&kernels(), &kernels_for(active));
    std::printf("[          ] active distance kernels: %s\n", isa_name(active));
}

TEST(Dispatch, IsaNames)
{
    EXPECT_STREQ(isa_name(Isa::Scalar), "scalar");
    EXPECT_STREQ(isa_name(Isa::Avx2), "avx2");
    EXPECT_STREQ(isa_name(Isa::Avx512), "avx512");
}

// ---------------------------------------------------- derived distances
TEST(Distances, EuclideanIsRootOfSquared)
{
    std::mt19937 rng(5);
    for (size_t n : lengths()) {
        Vec a = random_vec(n, Kind::Unit, rng, 0);
        Vec b = random_vec(n, Kind::Unit, rng, 0);
        Ref r = ref_l2_squared(a.data(), b.data(), n);
        // sqrt halves the relative error of its argument.
        double tol = 0.5 * tolerance(n, r.sum_abs) / std::sqrt(r.value) + FLT_EPSILON * std::sqrt(r.value);
        EXPECT_NEAR(l2_distance(a.data(), b.data(), n), std::sqrt(r.value), tol) << n;
        EXPECT_EQ(l2_squared_distance(a.data(), b.data(), n), kernels().l2_squared(a.data(), b.data(), n));
        EXPECT_EQ(inner_product(a.data(), b.data(), n), kernels().dot(a.data(), b.data(), n));
        EXPECT_EQ(l1_distance(a.data(), b.data(), n), kernels().l1(a.data(), b.data(), n));
    }
}

TEST(Distances, CosineAndAngularOfZeroVectorAreNaN)
{
    std::vector<float> zero(16, 0.0f), one(16, 1.0f);
    EXPECT_TRUE(std::isnan(cosine_distance(zero.data(), one.data(), 16)));
    EXPECT_TRUE(std::isnan(cosine_distance(one.data(), zero.data(), 16)));
    EXPECT_TRUE(std::isnan(cosine_distance(zero.data(), zero.data(), 16)));
    EXPECT_TRUE(std::isnan(cosine_distance(nullptr, nullptr, 0)));
    EXPECT_TRUE(std::isnan(angular_distance(zero.data(), one.data(), 16)));
    EXPECT_TRUE(std::isnan(angular_distance(one.data(), zero.data(), 16)));
    EXPECT_TRUE(std::isnan(angular_distance(zero.data(), zero.data(), 16)));
    EXPECT_TRUE(std::isnan(angular_distance(nullptr, nullptr, 0)));
}

TEST(Distances, CosineAndAngularSpecialDirections)
{
    std::mt19937 rng(11);
    for (size_t n : lengths()) {
        Vec a = random_vec(n, Kind::Unit, rng, 0);
        Vec neg = a, scaled = a;
        for (size_t i = 0; i < n; ++i) {
            neg[i] = -a[i];
            scaled[i] = 3.0f * a[i];
        }
        // Same direction: a.a and a.a are the same float sum, so cos is 1.
        EXPECT_NEAR(cosine_distance(a.data(), a.data(), n), 0.0f, 1e-6f) << n;
        EXPECT_NEAR(cosine_distance(a.data(), scaled.data(), n), 0.0f, 1e-6f) << n;
        EXPECT_NEAR(cosine_distance(a.data(), neg.data(), n), 2.0f, 1e-6f) << n;
        // sqrt(2 - 2cos) has slope -> infinity at cos = 1: 1e-6 there is 1.4e-3.
        EXPECT_NEAR(angular_distance(a.data(), a.data(), n), 0.0f, 2e-3f) << n;
        EXPECT_NEAR(angular_distance(a.data(), scaled.data(), n), 0.0f, 2e-3f) << n;
        EXPECT_NEAR(angular_distance(a.data(), neg.data(), n), 2.0f, 1e-6f) << n;
    }
    float x[2] = {1.0f, 0.0f}, y[2] = {0.0f, 5.0f};
    EXPECT_FLOAT_EQ(cosine_distance(x, y, 2), 1.0f);
    EXPECT_FLOAT_EQ(angular_distance(x, y, 2), std::sqrt(2.0f));
}

TEST(Distances, CosineAndAngularMatchReference)
{
    std::mt19937 rng(21);
    for (Kind kind : {Kind::Unit, Kind::Wide, Kind::Offset}) {
        for (size_t n : lengths()) {
            Vec a = random_vec(n, kind, rng, 0);
            Vec b = random_vec(n, kind, rng, 0);
            Ref ab = ref_dot(a.data(), b.data(), n), aa = ref_dot(a.data(), a.data(), n),
                bb = ref_dot(b.data(), b.data(), n);
            double cos = ab.value / std::sqrt(aa.value * bb.value);
            // First-order propagation of the three sums' tolerances through
            // ab / sqrt(aa bb), plus the final rounding to float.
            double tol_cos =
                tolerance(n, ab.sum_abs) / std::sqrt(aa.value * bb.value) +
                0.5 * std::fabs(cos) * (tolerance(n, aa.sum_abs) / aa.value + tolerance(n, bb.sum_abs) / bb.value) +
                2 * FLT_EPSILON;
            float got_cos = cosine_distance(a.data(), b.data(), n);
            EXPECT_GE(got_cos, 0.0f);
            EXPECT_LE(got_cos, 2.0f);
            EXPECT_NEAR(got_cos, 1.0 - std::clamp(cos, -1.0, 1.0), tol_cos) << "n=" << n << " kind " << int(kind);
            double ang = std::sqrt(std::max(0.0, 2.0 - 2.0 * cos));
            float got_ang = angular_distance(a.data(), b.data(), n);
            if (ang > 0.1)  // d ang / d cos = -1 / ang
                EXPECT_NEAR(got_ang, ang, tol_cos / ang + 2 * FLT_EPSILON) << "n=" << n << " kind " << int(kind);
            else
                EXPECT_LE(got_ang, std::sqrt(2.0 * (1.0 - cos + tol_cos)) + 1e-6) << "n=" << n;
        }
    }
}

// --------------------------------------------------------------- hamming
uint64_t naive_hamming(const std::vector<uint64_t> &a, const std::vector<uint64_t> &b)
{
    uint64_t count = 0;
    for (size_t w = 0; w < a.size(); ++w)
        for (int bit = 0; bit < 64; ++bit)
            count += ((a[w] >> bit) & 1u) != ((b[w] >> bit) & 1u);
    return count;
}

TEST(Hamming, MatchesNaiveBitLoop)
{
    std::mt19937_64 rng(3);
    std::vector<size_t> word_counts;
    for (size_t w = 0; w <= 70; ++w)
        word_counts.push_back(w);
    for (size_t w : {127, 128, 129, 250, 1000})
        word_counts.push_back(w);
    for (size_t words : word_counts) {
        for (int trial = 0; trial < 3; ++trial) {
            std::vector<uint64_t> a(words), b(words);
            for (size_t i = 0; i < words; ++i) {
                a[i] = rng();
                // trial 1: sparse differences, trial 2: dense.
                b[i] = trial == 0 ? rng() : trial == 1 ? a[i] ^ (uint64_t(1) << (rng() % 64)) : ~a[i] ^ (rng() & rng());
            }
            EXPECT_EQ(hamming_distance(a.data(), b.data(), words), naive_hamming(a, b)) << words << "/" << trial;
        }
        std::vector<uint64_t> zeros(words, 0), ones(words, ~uint64_t(0));
        EXPECT_EQ(hamming_distance(zeros.data(), ones.data(), words), 64 * words);
        EXPECT_EQ(hamming_distance(ones.data(), ones.data(), words), 0u);
    }
    EXPECT_EQ(hamming_distance(nullptr, nullptr, 0), 0u);
}

}  // namespace

// ------------------------------------------------------ half precision
TEST(HalfPrecision, EveryHalfRoundTrips)
{
    for (uint32_t h = 0; h <= 0xFFFF; ++h) {
        float f = half_to_float(uint16_t(h));
        if (std::isnan(f))
            continue;
        ASSERT_EQ(float_to_half(f), uint16_t(h)) << "half 0x" << std::hex << h;
    }
}

TEST(HalfPrecision, RoundsToNearestWithinHalfAnUlp)
{
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> mag(-14.0f, 15.0f);
    for (int i = 0; i < 200000; ++i) {
        float f = std::ldexp(1.0f + float(rng() % 1024) / 1024.0f + 1e-4f * float(rng() % 100), int(mag(rng)));
        if (rng() & 1)
            f = -f;
        float g = half_to_float(float_to_half(f));
        // Normal halves carry 11 significant bits: error <= 2^-11 relative.
        ASSERT_LE(std::fabs(g - f), std::ldexp(std::fabs(f), -11)) << f;
    }
    EXPECT_EQ(half_to_float(float_to_half(1e6f)), INFINITY);
    EXPECT_EQ(half_to_float(float_to_half(-1e6f)), -INFINITY);
    EXPECT_EQ(half_to_float(float_to_half(1e-9f)), 0.0f);
    EXPECT_EQ(float_to_half(0.5f), 0x3800);
    EXPECT_EQ(float_to_half(-2.0f), 0xC000);
}
