// The search containers against the standard library on random data, and
// their use of the RawAllocator (every block allocated is released).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <unordered_set>
#include <vector>

#include "rng.hpp"
#include "search_state.hpp"

using namespace annoy::core;

namespace {

// Counts live blocks so tests can check growth releases the old arrays and
// destructors release the last one.
struct CountingHeap {
    long live = 0;
    long allocations = 0;
    static void *alloc(void *ctx, size_t bytes)
    {
        auto *self = static_cast<CountingHeap *>(ctx);
        self->live++;
        self->allocations++;
        void *p = std::malloc(bytes);
        if (!p)
            throw std::bad_alloc();
        return p;
    }
    static void release(void *ctx, void *p)
    {
        static_cast<CountingHeap *>(ctx)->live--;
        std::free(p);
    }
    RawAllocator allocator() { return RawAllocator{alloc, release, this}; }
};

float random_float(Rng &rng)
{
    return rng.unit() * 200.0f - 100.0f;
}

}  // namespace

TEST(NodeQueue, PopsInDescendingPriorityOrder)
{
    Rng rng(1);
    for (size_t n : {1, 2, 15, 16, 17, 1000, 5000}) {
        NodeQueue q(heap_allocator());
        std::vector<std::pair<float, uint64_t>> ref;
        for (size_t i = 0; i < n; i++) {
            // Few distinct values so ties are exercised too.
            const float p = float(rng.below(50)) - 25.0f;
            q.push(p, i);
            ref.emplace_back(p, i);
        }
        EXPECT_EQ(q.size(), n);
        std::sort(ref.begin(), ref.end(), [](auto &a, auto &b) { return a.first > b.first; });
        std::vector<bool> popped(n, false);
        for (size_t i = 0; i < n; i++) {
            ASSERT_FALSE(q.empty());
            NodeQueue::Entry e = q.pop();
            EXPECT_EQ(e.priority, ref[i].first);
            ASSERT_LT(e.ref, n);
            EXPECT_FALSE(popped[e.ref]);
            popped[e.ref] = true;
        }
        EXPECT_TRUE(q.empty());
    }
}

TEST(NodeQueue, InterleavedPushPopMatchesSortedModel)
{
    Rng rng(7);
    NodeQueue q(heap_allocator());
    std::vector<float> model;  // kept sorted ascending; max at back
    for (int step = 0; step < 20000; step++) {
        if (model.empty() || rng.below(3) != 0) {
            const float p = random_float(rng);
            q.push(p, uint64_t(step));
            model.insert(std::upper_bound(model.begin(), model.end(), p), p);
        } else {
            EXPECT_EQ(q.pop().priority, model.back());
            model.pop_back();
        }
        ASSERT_EQ(q.size(), model.size());
    }
}

TEST(NodeQueue, InfinityAndNanPriorities)
{
    NodeQueue q(heap_allocator());
    const float inf = std::numeric_limits<float>::infinity();
    q.push(1.0f, 1);
    q.push(std::nanf(""), 2);
    q.push(inf, 3);
    q.push(-inf, 4);
    q.push(0.0f, 5);
    EXPECT_EQ(q.pop().ref, 3u);
    EXPECT_EQ(q.pop().ref, 1u);
    EXPECT_EQ(q.pop().ref, 5u);
    EXPECT_EQ(q.pop().ref, 4u);
    EXPECT_EQ(q.pop().ref, 2u);  // NaN ranks last
    EXPECT_TRUE(q.empty());
}

TEST(CandidateQueue, PopsInAscendingDistanceOrder)
{
    Rng rng(2);
    for (size_t n : {1, 3, 16, 17, 1000, 5000}) {
        CandidateQueue q(heap_allocator());
        std::vector<float> ref;
        for (size_t i = 0; i < n; i++) {
            const float d = random_float(rng);
            q.push(d, i);
            ref.push_back(d);
        }
        std::sort(ref.begin(), ref.end());
        for (size_t i = 0; i < n; i++) {
            ASSERT_FALSE(q.empty());
            EXPECT_EQ(q.top().distance, ref[i]);
            EXPECT_EQ(q.pop().distance, ref[i]);
        }
        EXPECT_TRUE(q.empty());
    }
}

TEST(CandidateQueue, ClearAndReuse)
{
    CandidateQueue q(heap_allocator());
    for (int i = 0; i < 100; i++)
        q.push(float(i), uint64_t(i));
    q.clear();
    EXPECT_TRUE(q.empty());
    q.push(5.0f, 50);
    q.push(std::nanf(""), 60);
    q.push(-1.0f, 10);
    EXPECT_EQ(q.pop().ref, 10u);
    EXPECT_EQ(q.pop().ref, 50u);
    EXPECT_EQ(q.pop().ref, 60u);
}

TEST(CandidatePool, TakesTheSmallestInBatches)
{
    Rng rng(3);
    for (size_t n : {1, 7, 100, 5000}) {
        for (size_t k : {1, 3, 64, 10000}) {
            CandidatePool pool(heap_allocator());
            std::vector<float> dist(n + 1);  // by ref; NaN sorts last, as +inf here
            std::vector<float> model;
            for (size_t i = 0; i < n; i++) {
                const float d = i % 97 == 5 ? std::nanf("") : random_float(rng);
                pool.push(d, i + 1);
                dist[i + 1] = std::isnan(d) ? std::numeric_limits<float>::infinity() : d;
                model.push_back(dist[i + 1]);
            }
            std::sort(model.begin(), model.end());
            std::vector<CandidatePool::Entry> out(std::max<size_t>(k, 1));
            std::vector<bool> taken(n + 1, false);
            size_t done = 0;
            while (!pool.empty()) {
                const size_t got = pool.take_smallest(k, out.data());
                ASSERT_EQ(got, std::min(k, n - done));
                // The batch holds the next `got` distances of the sorted model
                // (ties may split either way, so distances are compared), each
                // ref once over all batches.
                std::vector<float> have;
                for (size_t i = 0; i < got; i++) {
                    const uint64_t ref = out[i].ref;
                    ASSERT_GE(ref, 1u);
                    ASSERT_LE(ref, n);
                    ASSERT_FALSE(taken[ref]) << "ref " << ref << " taken twice";
                    taken[ref] = true;
                    have.push_back(dist[ref]);
                }
                std::sort(have.begin(), have.end());
                std::vector<float> want(model.begin() + ptrdiff_t(done), model.begin() + ptrdiff_t(done + got));
                ASSERT_EQ(have, want) << "n " << n << " k " << k << " after " << done;
                done += got;
            }
            EXPECT_EQ(done, n);
        }
    }
}

TEST(ItemSet, MatchesUnorderedSetAcrossGrowth)
{
    Rng rng(3);
    ItemSet set(heap_allocator());
    std::unordered_set<uint64_t> ref;
    for (int step = 0; step < 200000; step++) {
        // Mix of small sequential-ish keys (item numbers, TIDs) and wide
        // random ones; many repeats.
        uint64_t key = rng.coin() ? rng.below(50000) + 1 : rng.next() | 1;
        if (step % 5 == 0 && !ref.empty())
            key = *ref.begin();
        const bool inserted = set.insert(key);
        EXPECT_EQ(inserted, ref.insert(key).second) << "key " << key;
        ASSERT_EQ(set.size(), ref.size());
    }
    for (uint64_t key : ref)
        EXPECT_TRUE(set.contains(key));
    for (int i = 0; i < 10000; i++) {
        const uint64_t key = rng.next() | 1;
        EXPECT_EQ(set.contains(key), ref.count(key) == 1);
    }
}

TEST(ItemSet, ClearEmptiesAndKeepsWorking)
{
    ItemSet set(heap_allocator());
    EXPECT_FALSE(set.contains(1));
    for (uint64_t k = 1; k <= 1000; k++)
        EXPECT_TRUE(set.insert(k));
    EXPECT_FALSE(set.insert(500));
    set.clear();
    EXPECT_EQ(set.size(), 0u);
    for (uint64_t k = 1; k <= 1000; k++)
        EXPECT_FALSE(set.contains(k));
    EXPECT_TRUE(set.insert(500));
    EXPECT_TRUE(set.contains(500));
    EXPECT_FALSE(set.contains(0));  // 0 is reserved and never a member
}

TEST(SearchState, AllocatorBlocksAreReleased)
{
    CountingHeap heap;
    {
        NodeQueue nq(heap.allocator());
        CandidateQueue cq(heap.allocator());
        ItemSet set(heap.allocator());
        for (uint64_t i = 1; i <= 10000; i++) {
            nq.push(float(i), i);
            cq.push(float(i), i);
            set.insert(i * 7919);
        }
        // Growth frees the old array each time: one live block per container.
        EXPECT_EQ(heap.live, 3);
        EXPECT_GT(heap.allocations, 3);
    }
    EXPECT_EQ(heap.live, 0);
}

TEST(DenseKeySet, MatchesUnorderedSetInAndOutsideTheBitmap)
{
    Rng rng(5);
    DenseKeySet set(heap_allocator());
    for (int round = 0; round < 3; round++) {
        // Shapes change between rounds (another index), and repeat (reuse).
        const uint64_t rows = round == 1 ? 37 : 1000;
        const uint32_t cols = round == 1 ? 5 : 20;  // rounded up to 8 and 32
        set.reset(rows, cols);
        EXPECT_EQ(set.size(), 0u);
        std::unordered_set<uint64_t> ref;
        for (int step = 0; step < 50000; step++) {
            // Mostly keys the bitmap covers, some past its rows or columns.
            uint64_t row = rng.below(rows + rows / 4), col = rng.below(cols + 8) + (rng.below(50) == 0 ? 60000 : 0);
            uint64_t key = (row << 16) | col;
            if (key == 0)
                continue;
            const bool inserted = set.insert(key);
            ASSERT_EQ(inserted, ref.insert(key).second) << "row " << row << " col " << col;
            ASSERT_EQ(set.size(), ref.size());
        }
        for (uint64_t key : ref)
            EXPECT_TRUE(set.contains(key));
        for (int i = 0; i < 2000; i++) {
            const uint64_t key = ((rng.below(2 * rows)) << 16) | rng.below(64);
            EXPECT_EQ(set.contains(key), key != 0 && ref.count(key) == 1);
        }
        // A few keys, then clear: the touched words alone are zeroed.
        set.clear();
        for (uint64_t key : ref)
            ASSERT_FALSE(set.contains(key));
        EXPECT_TRUE(set.insert((3 << 16) | 4));
        EXPECT_FALSE(set.insert((3 << 16) | 4));
        set.clear();
        EXPECT_FALSE(set.contains((3 << 16) | 4));
        EXPECT_FALSE(set.insert(0));  // reserved, as for ItemSet
    }
}

TEST(DenseKeySet, EmptyShapeUsesTheOverflowSetOnly)
{
    DenseKeySet set(heap_allocator());
    EXPECT_FALSE(set.contains(1));
    EXPECT_TRUE(set.insert(1));  // before any reset
    set.reset(0, 0);
    EXPECT_FALSE(set.contains(1));
    EXPECT_TRUE(set.insert((uint64_t(9) << 16) | 1));
    EXPECT_TRUE(set.contains((uint64_t(9) << 16) | 1));
    EXPECT_EQ(set.size(), 1u);
}

// Fills a pool with n entries (refs 1..n) of the distances gen() draws;
// returns the distances.
template <typename Gen>
std::vector<double> fill_pool(CandidatePool &pool, size_t n, Gen gen)
{
    std::vector<double> all;
    for (size_t i = 0; i < n; i++) {
        all.push_back(gen());
        pool.push(all.back(), i + 1);
    }
    return all;
}

TEST(CandidatePool, TakeBelowTakesTheSmallestUnderTheLimitAndKeepsTheRest)
{
    Rng rng(11);
    for (int round = 0; round < 50; round++) {
        CandidatePool pool(heap_allocator());
        const size_t n = rng.below(300) + 1;
        std::vector<double> all = fill_pool(pool, n, [&] { return double(rng.below(1000)) / 10.0; });
        const double limit = double(rng.below(1100)) / 10.0;
        const size_t k = rng.below(n + 5);
        std::vector<CandidatePool::Entry> out(n);
        const size_t got = pool.take_below(limit, k, out.data());
        std::vector<double> below;
        for (double d : all)
            if (d < limit)
                below.push_back(d);
        std::sort(below.begin(), below.end());
        ASSERT_EQ(got, std::min(k, below.size()));
        std::vector<double> taken;
        for (size_t i = 0; i < got; i++)
            taken.push_back(out[i].distance);
        std::sort(taken.begin(), taken.end());
        EXPECT_EQ(taken, std::vector<double>(below.begin(), below.begin() + ptrdiff_t(got)));
        EXPECT_EQ(pool.size(), n - got);
        // The rest are all still there: entries, not just a count.
        std::vector<CandidatePool::Entry> rest(n);
        EXPECT_EQ(pool.take_smallest(n, rest.data()), n - got);
        std::vector<double> left;
        for (size_t i = 0; i < n - got; i++)
            left.push_back(rest[i].distance);
        left.insert(left.end(), taken.begin(), taken.end());
        std::sort(left.begin(), left.end());
        std::sort(all.begin(), all.end());
        EXPECT_EQ(left, all);
    }
}

TEST(KthSmallest, IsTheKthOfWhatWasAdded)
{
    Rng rng(12);
    KthSmallest kth(10);
    std::vector<double> seen;
    for (int i = 0; i < 500; i++) {
        if (i == 100)
            kth.add(std::nan(""));  // ignored
        const double v = double(rng.below(10000));
        kth.add(v);
        seen.push_back(v);
        std::vector<double> sorted = seen;
        std::sort(sorted.begin(), sorted.end());
        const double want = sorted.size() < 10 ? std::numeric_limits<double>::infinity() : sorted[9];
        ASSERT_EQ(kth.value(), want) << "after " << i + 1;
    }
    kth.clear();
    EXPECT_EQ(kth.value(), std::numeric_limits<double>::infinity());
}

TEST(CandidatePool, TakingAFewEntriesTakesTheSmallestAndKeepsTheRest)
{
    Rng rng(13);
    for (int round = 0; round < 200; round++) {
        CandidatePool pool(heap_allocator());
        const size_t n = rng.below(200) + 1;
        // Ties and NaN (which ranks last) included.
        std::vector<double> all =
            fill_pool(pool, n, [&] { return rng.below(20) == 0 ? std::nan("") : double(rng.below(50)); });
        const size_t k = rng.below(40);
        std::vector<CandidatePool::Entry> out(n + 40);
        const size_t got = pool.take_smallest(k, out.data());
        ASSERT_EQ(got, std::min(k, n));
        std::vector<double> want = all;
        std::sort(want.begin(), want.end(),
                  [](double a, double b) { return a < b || (std::isnan(b) && !std::isnan(a)); });
        std::vector<double> taken;
        std::vector<uint64_t> refs;
        for (size_t i = 0; i < got; i++) {
            taken.push_back(out[i].distance);
            refs.push_back(out[i].ref);
        }
        std::sort(taken.begin(), taken.end(),
                  [](double a, double b) { return a < b || (std::isnan(b) && !std::isnan(a)); });
        for (size_t i = 0; i < got; i++) {
            if (std::isnan(want[i]))
                EXPECT_TRUE(std::isnan(taken[i]));
            else
                EXPECT_EQ(taken[i], want[i]);
        }
        // Every ref is either taken or still in the pool, once.
        std::vector<CandidatePool::Entry> rest(n);
        const size_t left = pool.take_smallest(n, rest.data());
        EXPECT_EQ(left, n - got);
        for (size_t i = 0; i < left; i++)
            refs.push_back(rest[i].ref);
        std::sort(refs.begin(), refs.end());
        for (size_t i = 0; i < n; i++)
            ASSERT_EQ(refs[i], i + 1);
    }
}
