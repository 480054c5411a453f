// Stored hyperplanes (plane_codec.hpp): sizes, margins against the float
// normal, coordinates, and the degenerate zero normal.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "distance.hpp"
#include "plane_codec.hpp"

using namespace annoy::core;

namespace {

std::vector<float> gaussian(size_t n, unsigned seed)
{
    std::mt19937 rng(seed);
    std::normal_distribution<float> g(0.0f, 1.0f);
    std::vector<float> v(n);
    for (float &x : v)
        x = g(rng);
    return v;
}

double cosine(const std::vector<float> &a, const std::vector<float> &b)
{
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < a.size(); i++) {
        ab += double(a[i]) * b[i];
        aa += double(a[i]) * a[i];
        bb += double(b[i]) * b[i];
    }
    return ab / std::sqrt(aa * bb);
}

std::vector<float> decoded(PlaneCodec codec, const std::vector<uint8_t> &stored, size_t n)
{
    std::vector<float> v(n);
    for (size_t i = 0; i < n; i++)
        v[i] = stored_plane_coordinate(codec, stored.data(), n, i);
    return v;
}

}  // namespace

TEST(PlaneCodec, Sizes)
{
    EXPECT_EQ(plane_bytes(PlaneCodec::Half, 784), 1568u);
    EXPECT_EQ(plane_bytes(PlaneCodec::Int8, 4096), 4100u);
    EXPECT_EQ(plane_bytes(PlaneCodec::Int4, 16001), 8005u);  // 16,000-d Dot plane
}

// The stored normal keeps the float normal's direction, and the margin
// computed from it matches the margin of its decoded coordinates.
TEST(PlaneCodec, MarginsFollowTheNormal)
{
    init_kernels();
    const struct {
        PlaneCodec codec;
        size_t n;
        double min_cosine;
    } cases[] = {{PlaneCodec::Half, 1000, 0.99999},
                 {PlaneCodec::Int8, 4096, 0.9999},
                 {PlaneCodec::Int4, 16000, 0.99},
                 {PlaneCodec::Int4, 7, 0.9}};
    for (const auto &c : cases) {
        std::vector<float> normal = gaussian(c.n, 1), x = gaussian(c.n, 2);
        std::vector<uint8_t> stored(plane_bytes(c.codec, c.n));
        encode_plane(c.codec, normal.data(), c.n, stored.data());
        std::vector<float> back = decoded(c.codec, stored, c.n);
        EXPECT_GE(cosine(normal, back), c.min_cosine) << "codec " << int(c.codec) << ", n " << c.n;
        double want = 0;
        for (size_t i = 0; i < c.n; i++)
            want += double(back[i]) * x[i];
        float got = dot_stored_plane(c.codec, stored.data(), x.data(), c.n);
        EXPECT_NEAR(got, want, 1e-3 * std::sqrt(double(c.n))) << "codec " << int(c.codec) << ", n " << c.n;
    }
}

// Int4 clips a lone outlier instead of spending its levels on it.
TEST(PlaneCodec, Int4ClipsOutliers)
{
    std::vector<float> normal(1000, 1.0f);
    normal[0] = 100.0f;
    std::vector<uint8_t> stored(plane_bytes(PlaneCodec::Int4, normal.size()));
    encode_plane(PlaneCodec::Int4, normal.data(), normal.size(), stored.data());
    std::vector<float> back = decoded(PlaneCodec::Int4, stored, normal.size());
    EXPECT_GT(back[1], 0.0f);  // with max-abs scaling it would round to 0
    EXPECT_LT(back[0], 100.0f);
}

TEST(PlaneCodec, ExtremesAndZero)
{
    init_kernels();
    for (PlaneCodec codec : {PlaneCodec::Int8, PlaneCodec::Int4}) {
        std::vector<float> normal = {-3.0f, 0.0f, 3.0f, 1.5f, -1.5f};
        std::vector<uint8_t> stored(plane_bytes(codec, normal.size()));
        encode_plane(codec, normal.data(), normal.size(), stored.data());
        std::vector<float> back = decoded(codec, stored, normal.size());
        // The extremes are kept (2.7 RMS = 5.7 is beyond them: no clipping).
        const float top = 3.0f;
        EXPECT_NEAR(back[0], -top, 1e-5);
        EXPECT_FLOAT_EQ(back[1], 0.0f);
        EXPECT_NEAR(back[2], top, 1e-5);
        EXPECT_NEAR(back[3], 1.5f, top / (codec == PlaneCodec::Int8 ? 127 : 7));
        // A zero normal stays zero: margins are the offset alone.
        std::vector<float> zero(9, 0.0f), x(9, 1.0f);
        std::vector<uint8_t> z(plane_bytes(codec, zero.size()));
        encode_plane(codec, zero.data(), zero.size(), z.data());
        EXPECT_EQ(dot_stored_plane(codec, z.data(), x.data(), zero.size()), 0.0f);
    }
}
