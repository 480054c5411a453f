// Space: distances per metric, hyperplane margins, the side an item takes
// and the search's child priorities.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "distance.hpp"
#include "space.hpp"
#include "split.hpp"

using namespace annoy::core;

TEST(Space, MarginAndChildPriority)
{
    init_kernels();
    Space e{Metric::Euclidean, 2};
    float normal[2] = {1.0f, 0.0f}, x[2] = {3.0f, 5.0f};
    EXPECT_FLOAT_EQ(margin(e, PlaneView{normal, -1.0f, 0}, x, 0.0f), 2.0f);
    Space d{Metric::Dot, 2};
    float normal3[3] = {1.0f, 0.0f, 2.0f};
    EXPECT_FLOAT_EQ(margin(d, PlaneView{normal3, 0.0f, 0}, x, 0.5f), 4.0f);
    // In the query's own cell: the smallest margin along the path.
    const float root = std::numeric_limits<float>::infinity();
    EXPECT_FLOAT_EQ(child_priority(e, root, 0.5f, 1), 0.5f);
    EXPECT_FLOAT_EQ(child_priority(e, 1.0f, 0.5f, 1), 0.5f);
    EXPECT_FLOAT_EQ(child_priority(e, 0.2f, 0.5f, 1), 0.2f);
    EXPECT_FLOAT_EQ(child_priority(e, 0.2f, -0.5f, 0), 0.2f);
    // The first wrong turn: minus its squared margin, below every node of
    // the own cell (also when the square underflows).
    EXPECT_FLOAT_EQ(child_priority(e, 1.0f, 0.5f, 0), -0.25f);
    EXPECT_FLOAT_EQ(child_priority(e, root, -2.0f, 1), -4.0f);
    EXPECT_LT(child_priority(e, 1.0f, 1e-30f, 0), 0.0f);
    // Further wrong turns add their squares, correct turns cost nothing.
    EXPECT_FLOAT_EQ(child_priority(e, -1.0f, 0.5f, 0), -1.25f);
    EXPECT_FLOAT_EQ(child_priority(e, -1.0f, 0.5f, 1), -1.0f);
    EXPECT_FLOAT_EQ(child_priority(e, -1.0f, -2.0f, 1), -5.0f);
    EXPECT_FLOAT_EQ(child_priority(e, -1.0f, -2.0f, 0), -1.0f);
    // On the plane, or NaN (NaN in a vector), is "on the query's side" and
    // never gives NaN; a square that overflows ranks last.
    EXPECT_FLOAT_EQ(child_priority(e, -1.0f, 0.0f, 0), -1.0f);
    EXPECT_FLOAT_EQ(child_priority(e, -1.0f, std::nanf(""), 1), -1.0f);
    EXPECT_FLOAT_EQ(child_priority(e, 0.5f, std::nanf(""), 0), 0.0f);
    EXPECT_EQ(child_priority(e, -1.0f, 1e30f, 0), -root);

    Space h{Metric::Hamming, 70};
    uint64_t bits[2] = {0, uint64_t(1) << 5};  // bit 69 set
    EXPECT_EQ(margin(h, PlaneView{nullptr, 0.0f, 69}, bits, 0.0f), 1.0f);
    EXPECT_EQ(margin(h, PlaneView{nullptr, 0.0f, 3}, bits, 0.0f), -1.0f);
    EXPECT_EQ(margin(h, PlaneView{nullptr, 0.0f, kNoBit}, bits, 0.0f), 0.0f);
    EXPECT_EQ(child_priority(h, -2.0f, 1.0f, 1), -2.0f);
    EXPECT_EQ(child_priority(h, -2.0f, 1.0f, 0), -3.0f);
    EXPECT_EQ(child_priority(h, -2.0f, -1.0f, 0), -2.0f);
    EXPECT_EQ(child_priority(h, -2.0f, 0.0f, 0), -2.0f);
    EXPECT_EQ(child_priority(h, -2.0f, 0.0f, 1), -2.0f);
    // Below a root (+inf) the wrong side must rank lower, not stay at inf.
    const float inf = std::numeric_limits<float>::infinity();
    EXPECT_GT(child_priority(h, inf, 1.0f, 1), child_priority(h, inf, 1.0f, 0));
}

TEST(Space, DistancePerMetric)
{
    init_kernels();
    float a[3] = {1.0f, 2.0f, 2.0f}, b[3] = {2.0f, 0.0f, 4.0f}, z[3] = {0, 0, 0};
    EXPECT_FLOAT_EQ((Space{Metric::Euclidean, 3}.distance(a, b)), 3.0f);
    EXPECT_FLOAT_EQ((Space{Metric::Manhattan, 3}.distance(a, b)), 5.0f);
    EXPECT_FLOAT_EQ((Space{Metric::Dot, 3}.distance(a, b)), -10.0f);
    EXPECT_NEAR((Space{Metric::Angular, 3}.distance(a, b)), 1.0f - 10.0f / (3.0f * std::sqrt(20.0f)), 1e-6);
    EXPECT_TRUE(std::isnan(Space{Metric::Angular, 3}.distance(a, z)));
    uint64_t x[2] = {0xFF, 1}, y[2] = {0x0F, 0};
    EXPECT_EQ((Space{Metric::Hamming, 65}.distance(x, y)), 5.0f);
    EXPECT_FLOAT_EQ(item_extra(Space{Metric::Dot, 3}, 5.0f, a), 4.0f);
    EXPECT_EQ(item_extra(Space{Metric::Euclidean, 3}, 5.0f, a), 0.0f);
}

TEST(Space, SideOfBreaksZeroMarginTiesByTheItem)
{
    EXPECT_EQ(side_of(0.5f, 0), 1);
    EXPECT_EQ(side_of(-0.5f, 1), 0);
    EXPECT_EQ(side_of(0.0f, 6), 0);
    EXPECT_EQ(side_of(-0.0f, 7), 1);
    EXPECT_EQ(side_of(std::numeric_limits<float>::quiet_NaN(), 3), 1);
}

TEST(Space, SquaredNormIsTheKernelsDot)
{
    init_kernels();
    float a[3] = {1.0f, 2.0f, 2.0f};
    EXPECT_FLOAT_EQ(squared_norm(Space{Metric::Dot, 3}, a), 9.0f);
}
