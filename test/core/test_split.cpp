// choose_split: non-empty sides on any data, sides agreeing with the plane,
// meaningful planes on clustered data, determinism.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "distance.hpp"
#include "split.hpp"
#include "test_data.hpp"

using namespace annoy::core;
using annoy::core::testing::bit_mixture;
using annoy::core::testing::gaussian_mixture;
using annoy::core::testing::pointers;

namespace {

const Metric kFloatMetrics[] = {Metric::Euclidean, Metric::Angular, Metric::Dot, Metric::Manhattan};

// Dot extras as the forest computes them (max norm over the set).
std::vector<float> dot_extras(const Space &space, const std::vector<const void *> &vecs)
{
    std::vector<float> extras(vecs.size(), 0.0f);
    if (space.metric != Metric::Dot)
        return extras;
    float max_norm = 0.0f;
    for (const void *v : vecs) {
        const float *f = static_cast<const float *>(v);
        max_norm = std::max(max_norm, std::sqrt(inner_product(f, f, space.dim)));
    }
    for (size_t i = 0; i < vecs.size(); i++)
        extras[i] = item_extra(space, max_norm, vecs[i]);
    return extras;
}

struct SplitResult {
    SplitPlane plane;
    std::vector<uint8_t> side;
    size_t ones = 0;
};

SplitResult run_split(const Space &space, const std::vector<const void *> &vecs, uint64_t seed)
{
    init_kernels();
    std::vector<float> extras = dot_extras(space, vecs);
    SplitResult r;
    r.side.assign(vecs.size(), 7);
    Rng rng(seed);
    choose_split(space, vecs.data(), extras.data(), vecs.size(), rng, r.plane, r.side.data());
    for (uint8_t s : r.side) {
        EXPECT_LE(s, 1);
        r.ones += s;
    }
    return r;
}

// Both sides non-empty, normal of the right size, and side[i] == 1 exactly
// when the margin is positive (margin 0 may go either way).
void expect_valid(const Space &space, const std::vector<const void *> &vecs, const SplitResult &r)
{
    const size_t n = vecs.size();
    EXPECT_GT(r.ones, 0u);
    EXPECT_LT(r.ones, n);
    EXPECT_EQ(r.plane.normal.size(), space.plane_dim());
    std::vector<float> extras = dot_extras(space, vecs);
    for (size_t i = 0; i < n; i++) {
        const float m = margin(space, r.plane.view(), vecs[i], extras[i]);
        if (m > 0.0f) {
            EXPECT_EQ(r.side[i], 1) << "item " << i << " margin " << m;
        } else if (m < 0.0f) {
            EXPECT_EQ(r.side[i], 0) << "item " << i << " margin " << m;
        }
    }
}

}  // namespace

TEST(Split, RandomDataAllFloatMetrics)
{
    for (Metric metric : kFloatMetrics) {
        for (size_t n : {2, 3, 10, 65, 500}) {
            Space space{metric, 16};
            std::vector<float> data = gaussian_mixture(n, 16, 4, 0.5f, n);
            std::vector<const void *> vecs = pointers(space, data.data(), n);
            for (uint64_t seed = 0; seed < 5; seed++) {
                SCOPED_TRACE(::testing::Message() << "metric " << int(metric) << " n " << n << " seed " << seed);
                SplitResult r = run_split(space, vecs, seed);
                expect_valid(space, vecs, r);
                if (n >= 10) {  // a real plane, not the random fallback
                    EXPECT_TRUE(
                        std::any_of(r.plane.normal.begin(), r.plane.normal.end(), [](float f) { return f != 0.0f; }));
                }
            }
        }
    }
}

TEST(Split, IdenticalVectorsStillSplit)
{
    for (Metric metric : kFloatMetrics) {
        for (size_t n : {2, 3, 100, 1000}) {
            Space space{metric, 8};
            std::vector<float> data(n * 8);
            for (size_t i = 0; i < data.size(); i++)
                data[i] = float(i % 8) - 3.5f;
            std::vector<const void *> vecs = pointers(space, data.data(), n);
            for (uint64_t seed = 0; seed < 10; seed++) {
                SCOPED_TRACE(::testing::Message() << "metric " << int(metric) << " n " << n << " seed " << seed);
                SplitResult r = run_split(space, vecs, seed);
                expect_valid(space, vecs, r);
                // No plane separates identical vectors: all margins equal,
                // so the split must be the random one with a zero plane.
                for (float f : r.plane.normal)
                    EXPECT_EQ(f, 0.0f);
                EXPECT_EQ(r.plane.offset, 0.0f);
                if (n >= 100) {  // random halves, not 1 vs n-1
                    EXPECT_GT(std::min(r.ones, n - r.ones), n / 4);
                }
            }
        }
    }
}

TEST(Split, AllZeroVectorsUnderAngular)
{
    for (Metric metric : {Metric::Angular, Metric::Dot}) {
        for (size_t n : {2, 5, 200}) {
            Space space{metric, 4};
            std::vector<float> data(n * 4, 0.0f);
            std::vector<const void *> vecs = pointers(space, data.data(), n);
            for (uint64_t seed = 0; seed < 10; seed++) {
                SplitResult r = run_split(space, vecs, seed);
                expect_valid(space, vecs, r);
            }
        }
    }
}

TEST(Split, ZeroVectorsMixedWithRealOnes)
{
    // Half zero vectors: two-means must skip them and still find the two
    // directions the non-zero half points in.
    Space space{Metric::Angular, 2};
    const size_t n = 200;
    std::vector<float> data(n * 2, 0.0f);
    for (size_t i = 100; i < n; i++) {
        data[i * 2] = i % 2 ? 1.0f : -1.0f;
        data[i * 2 + 1] = 0.01f * float(i % 7);
    }
    std::vector<const void *> vecs = pointers(space, data.data(), n);
    for (uint64_t seed = 0; seed < 10; seed++) {
        SplitResult r = run_split(space, vecs, seed);
        expect_valid(space, vecs, r);
        for (size_t i = 101; i < n; i += 2)
            EXPECT_EQ(r.side[i], r.side[101]);
        for (size_t i = 100; i < n; i += 2)
            EXPECT_NE(r.side[i], r.side[101]);
    }
}

TEST(Split, NanVectorsDoNotBreakIt)
{
    for (Metric metric : kFloatMetrics) {
        Space space{metric, 4};
        const size_t n = 50;
        std::vector<float> data = gaussian_mixture(n, 4, 2, 0.3f, 3);
        for (size_t i = 0; i < n; i += 3)
            data[i * 4 + 1] = std::numeric_limits<float>::quiet_NaN();
        std::vector<const void *> vecs = pointers(space, data.data(), n);
        SplitResult r = run_split(space, vecs, 1);
        EXPECT_GT(r.ones, 0u);
        EXPECT_LT(r.ones, n);
    }
}

TEST(Split, SeparatesTwoClusters)
{
    // Two tight, far-apart clusters: every metric's split must put each
    // cluster wholly on one side (Angular/Dot: clusters in opposite directions).
    for (Metric metric : kFloatMetrics) {
        const size_t dim = 10, n = 300;
        Space space{metric, uint32_t(dim)};
        annoy::core::Rng rng(99);
        std::vector<float> data(n * dim);
        std::vector<int> cluster(n);
        for (size_t i = 0; i < n; i++) {
            cluster[i] = i < 100 ? 0 : 1;  // 1:2 imbalance on purpose
            for (size_t d = 0; d < dim; d++)
                data[i * dim + d] = (cluster[i] ? 10.0f : -10.0f) + annoy::core::testing::gaussian(rng);
        }
        std::vector<const void *> vecs = pointers(space, data.data(), n);
        for (uint64_t seed = 0; seed < 10; seed++) {
            SCOPED_TRACE(::testing::Message() << "metric " << int(metric) << " seed " << seed);
            SplitResult r = run_split(space, vecs, seed);
            expect_valid(space, vecs, r);
            for (size_t i = 0; i < n; i++)
                EXPECT_EQ(r.side[i] == r.side[0], cluster[i] == 0) << "item " << i;
        }
    }
}

TEST(Split, HammingPicksADividingBit)
{
    // All strings equal except bit 77, set in a third of them.
    Space space{Metric::Hamming, 130};
    const size_t n = 90, words = space.words();
    std::vector<uint64_t> data(n * words);
    for (size_t i = 0; i < n; i++) {
        data[i * words] = 0xDEADBEEFCAFEF00Dull;
        data[i * words + 1] = 0x0123456789ABCDEFull & ~(uint64_t(1) << 13);
        data[i * words + 2] = 0x3;  // bits 128, 129; tail bits zero
        if (i % 3 == 0)
            data[i * words + 1] |= uint64_t(1) << 13;  // bit 64 + 13 = 77
    }
    std::vector<const void *> vecs = pointers(space, data.data(), n);
    for (uint64_t seed = 0; seed < 10; seed++) {
        SplitResult r = run_split(space, vecs, seed);
        EXPECT_EQ(r.plane.bit, 77u);
        EXPECT_TRUE(r.plane.normal.empty());
        for (size_t i = 0; i < n; i++)
            EXPECT_EQ(r.side[i], i % 3 == 0 ? 1 : 0);
    }
}

TEST(Split, HammingRandomDataIsBalancedAndConsistent)
{
    for (size_t bits : {1, 64, 100, 256}) {
        Space space{Metric::Hamming, uint32_t(bits)};
        const size_t n = 400;
        std::vector<uint64_t> data = bit_mixture(n, bits, 3, 0.3f, bits);
        std::vector<const void *> vecs = pointers(space, data.data(), n);
        for (uint64_t seed = 0; seed < 5; seed++) {
            SplitResult r = run_split(space, vecs, seed);
            expect_valid(space, vecs, r);
            ASSERT_LT(r.plane.bit, bits);
            for (size_t i = 0; i < n; i++) {
                const bool set = (static_cast<const uint64_t *>(vecs[i])[r.plane.bit / 64] >> (r.plane.bit % 64)) & 1;
                EXPECT_EQ(r.side[i], set ? 1 : 0);
            }
            if (bits >= 64) {  // with many bits, the most balanced of the probes is close to half
                EXPECT_GT(std::min(r.ones, n - r.ones), n / 5);
            }
        }
    }
}

TEST(Split, HammingSkewedBitsScanFindsTheBalancedOne)
{
    // 200 bits each set in exactly one item, and one bit set in half the
    // items: random probes almost surely hit 1-vs-n bits, the scan must
    // still find the balanced bit.
    Space space{Metric::Hamming, 256};
    const size_t n = 200, words = space.words();
    std::vector<uint64_t> data(n * words, 0);
    for (size_t i = 0; i < n; i++) {
        data[i * words + i / 64] |= uint64_t(1) << (i % 64);
        if (i % 2)
            data[i * words + 3] |= uint64_t(1) << 63;  // bit 255
    }
    std::vector<const void *> vecs = pointers(space, data.data(), n);
    SplitResult r = run_split(space, vecs, 5);
    EXPECT_EQ(r.plane.bit, 255u);
    EXPECT_EQ(r.ones, n / 2);
}

TEST(Split, HammingIdenticalUsesNoBit)
{
    Space space{Metric::Hamming, 70};
    for (size_t n : {2, 50}) {
        std::vector<uint64_t> data(n * 2);
        for (size_t i = 0; i < n; i++) {
            data[i * 2] = 0xF0F0F0F0F0F0F0F0ull;
            data[i * 2 + 1] = 0x2A;
        }
        std::vector<const void *> vecs = pointers(space, data.data(), n);
        for (uint64_t seed = 0; seed < 10; seed++) {
            SplitResult r = run_split(space, vecs, seed);
            EXPECT_EQ(r.plane.bit, kNoBit);
            EXPECT_GT(r.ones, 0u);
            EXPECT_LT(r.ones, n);
            EXPECT_EQ(margin(space, r.plane.view(), vecs[0], 0.0f), 0.0f);
        }
    }
}

TEST(Split, SameSeedSameSplit)
{
    for (Metric metric : {Metric::Euclidean, Metric::Angular, Metric::Dot, Metric::Manhattan, Metric::Hamming}) {
        Space space{metric, 64};
        const size_t n = 300;
        std::vector<float> fdata = gaussian_mixture(n, 64, 5, 0.5f, 1);
        std::vector<uint64_t> bdata = bit_mixture(n, 64, 5, 0.2f, 1);
        const void *data = metric == Metric::Hamming ? static_cast<const void *>(bdata.data()) : fdata.data();
        std::vector<const void *> vecs = pointers(space, data, n);
        SplitResult a = run_split(space, vecs, 42), b = run_split(space, vecs, 42);
        EXPECT_EQ(a.side, b.side);
        EXPECT_EQ(a.plane.normal, b.plane.normal);
        EXPECT_EQ(a.plane.offset, b.plane.offset);
        EXPECT_EQ(a.plane.bit, b.plane.bit);
        // And a different seed gives a different split (sanity of the test).
        SplitResult c = run_split(space, vecs, 43);
        EXPECT_TRUE(c.side != a.side || c.plane.normal != a.plane.normal || c.plane.bit != a.plane.bit);
    }
}

TEST(Split, RejectsFewerThanTwo)
{
    Space space{Metric::Euclidean, 2};
    float v[2] = {1, 2};
    const void *vecs[1] = {v};
    uint8_t side[1];
    SplitPlane plane;
    Rng rng(1);
    EXPECT_THROW(choose_split(space, vecs, nullptr, 1, rng, plane, side), std::invalid_argument);
    EXPECT_THROW(choose_split(space, vecs, nullptr, 0, rng, plane, side), std::invalid_argument);
}

TEST(Split, CancelCallbackIsPolled)
{
    init_kernels();
    for (Metric metric : {Metric::Euclidean, Metric::Hamming}) {
        Space space{metric, 64};
        const size_t n = 20000;
        std::vector<float> fdata = gaussian_mixture(n, 64, 5, 0.5f, 1);
        std::vector<uint64_t> bdata = bit_mixture(n, 64, 5, 0.2f, 1);
        const void *data = metric == Metric::Hamming ? static_cast<const void *>(bdata.data()) : fdata.data();
        std::vector<const void *> vecs = pointers(space, data, n);
        std::vector<uint8_t> side(n);
        SplitPlane plane;
        Rng rng(1);
        int calls = 0;
        auto fire = [](void *ctx) { return ++*static_cast<int *>(ctx) > 0; };
        EXPECT_THROW(choose_split(space, vecs.data(), nullptr, n, rng, plane, side.data(), CancelCheck{fire, &calls}),
                     Cancelled);
        EXPECT_EQ(calls, 1);
    }
}
