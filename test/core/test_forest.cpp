// build_forest: tree structure invariants, determinism across seeds and
// threads, cancellation; search: recall against exact_search per metric.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>

#include "distance.hpp"
#include "forest.hpp"
#include "test_data.hpp"

using namespace annoy::core;
using annoy::core::testing::bit_mixture;
using annoy::core::testing::gaussian_mixture;

namespace {

const Metric kAllMetrics[] = {Metric::Euclidean, Metric::Angular, Metric::Dot, Metric::Manhattan, Metric::Hamming};

const char *metric_name(Metric m)
{
    switch (m) {
        case Metric::Euclidean:
            return "euclidean";
        case Metric::Angular:
            return "angular";
        case Metric::Dot:
            return "dot";
        case Metric::Manhattan:
            return "manhattan";
        case Metric::Hamming:
            return "hamming";
    }
    return "?";
}

// Vectors of either kind, stored contiguously as the forest expects.
struct DataSet {
    Space space;
    size_t n = 0;
    std::vector<float> floats;
    std::vector<uint64_t> bits;
    const void *data() const
    {
        return space.metric == Metric::Hamming ? static_cast<const void *>(bits.data()) : floats.data();
    }
    const void *vec(size_t i) const { return static_cast<const char *>(data()) + i * space.vector_bytes(); }
};

// Clustered data: by default a 20-component mixture of tight clusters
// (Hamming: 20 centres, 10% of bits flipped).
DataSet clustered(Metric metric, size_t n, uint32_t dim, uint64_t seed, size_t clusters = 20, float sigma = 0.3f,
                  float flip = 0.1f)
{
    DataSet d;
    d.space = Space{metric, dim};
    d.n = n;
    if (metric == Metric::Hamming)
        d.bits = bit_mixture(n, dim, clusters, flip, seed);
    else
        d.floats = gaussian_mixture(n, dim, clusters, sigma, seed);
    return d;
}

// Walks every tree and checks: each item 0..n-1 in exactly one leaf per
// tree, leaves within leaf_size, every node used exactly once, and each item
// on the side of every plane above it that its margin says (margin 0 may go
// either way).
void check_structure(const FlatForest &f, const DataSet &d, size_t n_trees, uint32_t leaf_size)
{
    ASSERT_EQ(f.roots.size(), n_trees);
    ASSERT_EQ(f.plane_dim, d.space.plane_dim());
    ASSERT_EQ(f.planes.size(), f.splits.size() * f.plane_dim);
    std::vector<int> split_uses(f.splits.size()), leaf_uses(f.leaves.size());
    size_t items_seen = 0;
    for (size_t t = 0; t < n_trees; t++) {
        std::vector<int> count(d.n, 0);
        // (node, the planes above it with the side taken)
        struct Step {
            NodeRef node;
            std::vector<std::pair<uint32_t, int>> path;
        };
        std::vector<Step> stack{{f.roots[t], {}}};
        while (!stack.empty()) {
            Step s = std::move(stack.back());
            stack.pop_back();
            if (!is_leaf(s.node)) {
                const uint32_t i = node_index(s.node);
                ASSERT_LT(i, f.splits.size());
                split_uses[i]++;
                for (int side = 0; side < 2; side++) {
                    Step child{f.splits[i].child[side], s.path};
                    child.path.emplace_back(i, side);
                    stack.push_back(std::move(child));
                }
                continue;
            }
            const uint32_t li = node_index(s.node);
            ASSERT_LT(li, f.leaves.size());
            leaf_uses[li]++;
            const FlatForest::Leaf &leaf = f.leaves[li];
            EXPECT_LE(leaf.count, leaf_size);
            if (d.n > 0) {
                EXPECT_GT(leaf.count, 0u) << "empty leaf in a non-empty tree";
            }
            ASSERT_LE(size_t(leaf.begin) + leaf.count, f.leaf_items.size());
            for (uint32_t k = 0; k < leaf.count; k++) {
                const uint32_t item = f.leaf_items[leaf.begin + k];
                ASSERT_LT(item, d.n);
                count[item]++;
                items_seen++;
                const float extra = item_extra(d.space, f.dot_max_norm, d.vec(item));
                for (auto [split, side] : s.path) {
                    const float m = margin(d.space, f.plane(split), d.vec(item), extra);
                    if (m != 0.0f) {
                        ASSERT_EQ(side, m > 0.0f ? 1 : 0) << "item " << item << " split " << split;
                    }
                }
            }
        }
        for (size_t i = 0; i < d.n; i++)
            ASSERT_EQ(count[i], 1) << "tree " << t << " item " << i;
    }
    EXPECT_EQ(items_seen, f.leaf_items.size());
    for (int u : split_uses)
        EXPECT_EQ(u, 1);
    for (int u : leaf_uses)
        EXPECT_EQ(u, 1);
}

// The test data sets are far smaller than the CPU caches, which would build
// every tree depth first; a small cache_resident_bytes makes the tests cover
// the shared top levels (nodes above ~2 KB of vectors) as well.
constexpr size_t kSharedAbove = 2048;
constexpr size_t kNeverShared = SIZE_MAX;

FlatForest build(const DataSet &d, uint32_t n_trees, uint32_t leaf_size, uint64_t seed, unsigned threads = 1,
                 size_t resident_bytes = kSharedAbove)
{
    BuildParams p;
    p.n_trees = n_trees;
    p.leaf_size = leaf_size;
    p.seed = seed;
    p.threads = threads;
    p.cache_resident_bytes = resident_bytes;
    return build_forest(d.space, d.data(), d.n, p);
}

bool same_forest(const FlatForest &a, const FlatForest &b)
{
    auto same_bytes = [](const auto &x, const auto &y) {
        return x.size() == y.size() && (x.empty() || std::memcmp(x.data(), y.data(), x.size() * sizeof(x[0])) == 0);
    };
    return a.dot_max_norm == b.dot_max_norm && a.plane_dim == b.plane_dim && a.roots == b.roots &&
           same_bytes(a.splits, b.splits) && same_bytes(a.planes, b.planes) && same_bytes(a.leaves, b.leaves) &&
           a.leaf_items == b.leaf_items;
}

// Recall@k with ties: a returned item counts if its distance is within the
// true k-th distance (Hamming has many ties).
double recall_at(const DataSet &d, const FlatForest &f, const DataSet &queries, size_t k, size_t search_k)
{
    double hits = 0;
    for (size_t q = 0; q < queries.n; q++) {
        std::vector<Neighbor> truth = exact_search(d.space, d.data(), d.n, queries.vec(q), k);
        std::vector<Neighbor> got = search(f, d.data(), d.n, queries.vec(q), k, search_k);
        const float kth = truth.back().distance;
        for (const Neighbor &nb : got)
            hits += nb.distance <= kth;
    }
    return hits / double(queries.n * k);
}

}  // namespace

TEST(Forest, StructureEveryMetric)
{
    for (Metric metric : kAllMetrics) {
        for (uint32_t leaf_size : {1u, 5u, 64u}) {
            SCOPED_TRACE(std::string(metric_name(metric)) + " leaf_size " + std::to_string(leaf_size));
            DataSet d = clustered(metric, 700, 24, 1);
            FlatForest f = build(d, 4, leaf_size, 7);
            EXPECT_EQ(f.space.metric, metric);
            check_structure(f, d, 4, leaf_size);
            check_structure(build(d, 4, leaf_size, 7, 1, kNeverShared), d, 4, leaf_size);
            if (metric == Metric::Dot) {
                EXPECT_GT(f.dot_max_norm, 0.0f);
            }
        }
    }
}

TEST(Forest, DegenerateData)
{
    // Duplicates, zero vectors (angular), all-identical bit strings: the
    // build must terminate with valid trees even at leaf_size 1.
    for (Metric metric : kAllMetrics) {
        SCOPED_TRACE(metric_name(metric));
        DataSet d = clustered(metric, 300, 16, 2);
        if (metric == Metric::Hamming) {
            for (size_t i = 0; i < d.bits.size(); i++)
                d.bits[i] = i < 150 ? 0xABCDull : 0;  // two distinct strings
        } else {
            for (size_t i = 0; i < d.n; i++)
                for (size_t c = 0; c < 16; c++)
                    d.floats[i * 16 + c] = i < 150 ? 0.0f : 1.0f;  // two distinct vectors, one of them 0
        }
        for (uint32_t leaf_size : {1u, 3u, 100u}) {
            check_structure(build(d, 3, leaf_size, 3), d, 3, leaf_size);
            check_structure(build(d, 3, leaf_size, 3, 1, kNeverShared), d, 3, leaf_size);
        }
    }
}

TEST(Forest, EmptyAndSingleItem)
{
    for (Metric metric : kAllMetrics) {
        DataSet d = clustered(metric, 1, 8, 1);
        FlatForest one = build(d, 3, 10, 1);
        check_structure(one, d, 3, 10);
        EXPECT_TRUE(one.splits.empty());
        std::vector<Neighbor> r = search(one, d.data(), 1, d.vec(0), 5, 0);
        ASSERT_EQ(r.size(), 1u);
        EXPECT_EQ(r[0].item, 0u);

        d.n = 0;
        FlatForest none = build(d, 3, 10, 1);
        ASSERT_EQ(none.roots.size(), 3u);
        for (NodeRef root : none.roots) {
            ASSERT_TRUE(is_leaf(root));
            EXPECT_EQ(none.leaves[node_index(root)].count, 0u);
        }
        EXPECT_TRUE(search(none, d.data(), 0, d.vec(0), 5, 0).empty());
    }
}

TEST(Forest, DeterministicAcrossThreads)
{
    for (Metric metric : kAllMetrics) {
        SCOPED_TRACE(metric_name(metric));
        DataSet d = clustered(metric, 2000, 16, 4);
        FlatForest a = build(d, 7, 16, 99, 1);
        FlatForest b = build(d, 7, 16, 99, 1);
        FlatForest c = build(d, 7, 16, 99, 3);
        FlatForest e = build(d, 7, 16, 99, 16);  // more threads than trees
        EXPECT_TRUE(same_forest(a, b));
        EXPECT_TRUE(same_forest(a, c));
        EXPECT_TRUE(same_forest(a, e));
        // 40 trees: single-threaded builds split them into groups of at
        // most kMaxTreesPerGroup, so trees share passes with different
        // partners than in a 3-thread build.
        EXPECT_TRUE(same_forest(build(d, 40, 16, 99, 1), build(d, 40, 16, 99, 3)));
        check_structure(c, d, 7, 16);
        FlatForest other = build(d, 7, 16, 100, 1);
        EXPECT_FALSE(same_forest(a, other));
        EXPECT_NE(a.leaf_items, other.leaf_items);
    }
}

TEST(Forest, TreesOfOneForestDiffer)
{
    DataSet d = clustered(Metric::Euclidean, 1000, 16, 5);
    FlatForest f = build(d, 2, 10, 1);
    const size_t half = f.leaf_items.size() / 2;
    EXPECT_FALSE(std::equal(f.leaf_items.begin(), f.leaf_items.begin() + half, f.leaf_items.begin() + half));
}

namespace {
struct CancelAfter {
    std::atomic<int> calls{0};
    int limit;
    static bool check(void *ctx)
    {
        auto *self = static_cast<CancelAfter *>(ctx);
        return self->calls.fetch_add(1) + 1 > self->limit;
    }
};
}  // namespace

TEST(Forest, CancelThrowsCancelled)
{
    DataSet d = clustered(Metric::Euclidean, 20000, 16, 6);
    for (unsigned threads : {1u, 3u}) {
        for (int limit : {0, 5}) {
            CancelAfter c;
            c.limit = limit;
            BuildParams p;
            p.n_trees = 20;
            p.leaf_size = 10;
            p.threads = threads;
            p.cancel = CancelCheck{CancelAfter::check, &c};
            EXPECT_THROW(build_forest(d.space, d.data(), d.n, p), Cancelled);
            EXPECT_GT(c.calls.load(), limit);
            // Others stop soon after: far fewer polls than a full build makes
            // (20 trees x 20000 items x ~11 levels / 4096 ~ 1000).
            EXPECT_LT(c.calls.load(), limit + 100);
        }
    }
    // A callback that never fires does not disturb the build.
    CancelAfter never;
    never.limit = 1 << 30;
    BuildParams p;
    p.n_trees = 2;
    p.cache_resident_bytes = kSharedAbove;
    p.cancel = CancelCheck{CancelAfter::check, &never};
    FlatForest f = build_forest(d.space, d.data(), d.n, p);
    EXPECT_GT(never.calls.load(), 0);
    EXPECT_TRUE(same_forest(f, build(d, 2, p.leaf_size, p.seed)));
}

namespace {
// Like Postgres's interrupt check: throws its own exception type (instead of
// returning true), and records whether it ever ran off the calling thread.
struct ThrowingCheck {
    struct Interrupted {};
    std::thread::id caller = std::this_thread::get_id();
    std::atomic<int> calls{0};
    std::atomic<bool> foreign_thread{false};
    int limit = 3;
    static bool check(void *ctx)
    {
        auto *self = static_cast<ThrowingCheck *>(ctx);
        if (std::this_thread::get_id() != self->caller)
            self->foreign_thread = true;
        if (self->calls.fetch_add(1) + 1 > self->limit)
            throw Interrupted();
        return false;
    }
};
}  // namespace

TEST(Forest, CancelCallbackRunsOnCallingThreadOnly)
{
    DataSet d = clustered(Metric::Angular, 20000, 16, 6);
    for (unsigned threads : {1u, 2u, 4u}) {
        ThrowingCheck c;
        BuildParams p;
        p.n_trees = 8;
        p.leaf_size = 10;
        p.threads = threads;
        p.cancel = CancelCheck{ThrowingCheck::check, &c};
        // The callback's own exception comes back unchanged.
        EXPECT_THROW(build_forest(d.space, d.data(), d.n, p), ThrowingCheck::Interrupted);
        EXPECT_FALSE(c.foreign_thread) << threads << " threads";
        // A callback that never fires is still only called here.
        ThrowingCheck quiet;
        quiet.limit = 1 << 30;
        p.cancel = CancelCheck{ThrowingCheck::check, &quiet};
        FlatForest f = build_forest(d.space, d.data(), d.n, p);
        EXPECT_GT(quiet.calls.load(), 0);
        EXPECT_FALSE(quiet.foreign_thread) << threads << " threads";
        EXPECT_EQ(f.roots.size(), 8u);
    }
}

TEST(Forest, RejectsBadParameters)
{
    DataSet d = clustered(Metric::Euclidean, 10, 4, 1);
    BuildParams p;
    p.leaf_size = 0;
    EXPECT_THROW(build_forest(d.space, d.data(), d.n, p), std::invalid_argument);
    p.leaf_size = 10;
    EXPECT_THROW(build_forest(d.space, nullptr, d.n, p), std::invalid_argument);
}

TEST(Forest, MemoryEstimateCoversTheForest)
{
    for (Metric metric : kAllMetrics) {
        for (uint32_t leaf_size : {1u, 8u, 64u}) {
            DataSet d = clustered(metric, 5000, 32, 8);
            BuildParams p;
            p.n_trees = 5;
            p.leaf_size = leaf_size;
            FlatForest f = build_forest(d.space, d.data(), d.n, p);
            const size_t used = f.roots.size() * sizeof(NodeRef) + f.splits.size() * sizeof(FlatForest::Split) +
                                f.planes.size() * sizeof(float) + f.leaves.size() * sizeof(FlatForest::Leaf) +
                                f.leaf_items.size() * sizeof(uint32_t);
            const size_t estimate = forest_memory_estimate(d.space, d.n, p);
            EXPECT_GE(estimate, used) << metric_name(metric) << " leaf_size " << leaf_size;
            // Upper bound, but not absurdly loose.
            EXPECT_LE(estimate, 8 * used + (1 << 20)) << metric_name(metric) << " leaf_size " << leaf_size;
        }
    }
}

// search() against exact_search() on 5000 x 32 data from a mixture of 100
// overlapping gaussians (sigma 1, centres N(0, 1): tight clusters would make
// any search_k above the cluster size trivially exact); Hamming: 5000 x 256
// bits, 100 centres, 25% of bits flipped.  10 trees, leaf_size 32, 200
// held-out queries from the same mixture.  Examining items at random would
// give recall search_k / 5000 (0.1 at 500).
//
// Measured (build seeds 5..8, min-max), bars set a little below the minimum:
//              search_k 500     search_k 2000
//   euclidean  0.918 - 0.930    0.994 - 0.997
//   angular    0.942 - 0.956    0.997 - 0.999
//   dot        0.911 - 0.929    0.993 - 0.996
//   manhattan  0.898 - 0.910    0.987 - 0.991
//   hamming    0.529 - 0.555    0.950 - 0.955
TEST(Search, RecallPerMetric)
{
    struct Case {
        Metric metric;
        uint32_t dim;
        double min_recall_500;   // search_k 500
        double min_recall_2000;  // search_k 2000
    };
    const Case cases[] = {
        {Metric::Euclidean, 32, 0.89, 0.98}, {Metric::Angular, 32, 0.91, 0.98},  {Metric::Dot, 32, 0.88, 0.98},
        {Metric::Manhattan, 32, 0.87, 0.97}, {Metric::Hamming, 256, 0.49, 0.93},
    };
    for (const Case &c : cases) {
        DataSet d = clustered(c.metric, 5000, c.dim, 11, 100, 1.0f, 0.25f);
        DataSet q = clustered(c.metric, 200, c.dim, 12, 100, 1.0f, 0.25f);
        FlatForest f = build(d, 10, 32, 5);
        const double r500 = recall_at(d, f, q, 10, 500), r2000 = recall_at(d, f, q, 10, 2000);
        std::printf("recall@10 %-9s search_k 500: %.3f  2000: %.3f\n", metric_name(c.metric), r500, r2000);
        EXPECT_GE(r2000, c.min_recall_2000) << metric_name(c.metric);
        EXPECT_GE(r500, c.min_recall_500) << metric_name(c.metric);
    }
}

// Splitting the top levels in shared passes changes which random numbers
// each split sees, not how it splits: recall stays that of depth-first trees.
TEST(Search, SharedLevelsKeepRecall)
{
    for (Metric metric : {Metric::Euclidean, Metric::Angular, Metric::Dot}) {
        DataSet d = clustered(metric, 5000, 32, 11, 100, 1.0f, 0.25f);
        DataSet q = clustered(metric, 200, 32, 12, 100, 1.0f, 0.25f);
        double shared = 0, depth_first = 0;
        for (uint64_t seed : {1, 2, 3}) {
            shared += recall_at(d, build(d, 10, 32, seed), q, 10, 500) / 3;
            depth_first += recall_at(d, build(d, 10, 32, seed, 1, kNeverShared), q, 10, 500) / 3;
        }
        std::printf("recall@10 %-9s search_k 500: shared levels %.3f, depth first %.3f\n", metric_name(metric), shared,
                    depth_first);
        EXPECT_NEAR(shared, depth_first, 0.02) << metric_name(metric);
    }
}

TEST(Search, LargerSearchKNeverLowersRecall)
{
    for (Metric metric : kAllMetrics) {
        DataSet d = clustered(metric, 3000, 32, 21);
        DataSet q = clustered(metric, 50, 32, 22);
        FlatForest f = build(d, 5, 16, 9);
        double previous = 0.0;
        for (size_t search_k : {10, 50, 200, 800, 3000}) {
            const double r = recall_at(d, f, q, 10, search_k);
            EXPECT_GE(r, previous) << metric_name(metric) << " search_k " << search_k;
            previous = r;
        }
        EXPECT_EQ(previous, 1.0) << metric_name(metric) << ": search_k = n must be exact";
    }
}

TEST(Search, SearchKZeroIsExact)
{
    for (Metric metric : kAllMetrics) {
        SCOPED_TRACE(metric_name(metric));
        DataSet d = clustered(metric, 2000, 20, 31);
        DataSet q = clustered(metric, 20, 20, 32);
        FlatForest f = build(d, 3, 8, 1);
        for (size_t i = 0; i < q.n; i++) {
            std::vector<Neighbor> exact = exact_search(d.space, d.data(), d.n, q.vec(i), 15);
            std::vector<Neighbor> got = search(f, d.data(), d.n, q.vec(i), 15, 0);
            ASSERT_EQ(got.size(), exact.size());
            for (size_t j = 0; j < got.size(); j++) {
                EXPECT_EQ(got[j].distance, exact[j].distance);
                // Ties are broken by item number in both.
                EXPECT_EQ(got[j].item, exact[j].item);
                if (j > 0) {
                    EXPECT_LE(got[j - 1].distance, got[j].distance);
                }
            }
        }
    }
}

TEST(Search, BudgetCountsDistinctItems)
{
    DataSet d = clustered(Metric::Euclidean, 1000, 8, 41);
    FlatForest f = build(d, 10, 10, 1);
    // k larger than the budget: exactly search_k distinct items come back.
    std::vector<Neighbor> r = search(f, d.data(), d.n, d.vec(3), 1000, 37);
    EXPECT_EQ(r.size(), 37u);
    std::vector<bool> seen(d.n, false);
    for (const Neighbor &nb : r) {
        EXPECT_FALSE(seen[nb.item]);
        seen[nb.item] = true;
    }
    // The query item itself is found first (distance 0).
    EXPECT_EQ(r[0].item, 3u);
    EXPECT_EQ(r[0].distance, 0.0f);
    EXPECT_EQ(search(f, d.data(), d.n, d.vec(3), 2000, 0).size(), d.n);
}
