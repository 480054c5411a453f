// Forest build (one generator per tree, optional worker threads, flat
// output) and the core's own in-memory search.
#include "forest.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <exception>
#include <limits>
#include <mutex>
#include <system_error>
#include <thread>

#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#include <signal.h>
#define ANNOY_BLOCK_SIGNALS 1
#endif

#include "distance.hpp"
#include "rng.hpp"
#include "search_state.hpp"
#include "split.hpp"
#include "tree_build.hpp"

namespace annoy::core {

namespace {

// Shared by the threads of one build: the first error stops everybody.
//
// Only the calling thread runs the caller's cancel callback (Postgres's
// interrupt check must not run on another thread, and may itself throw);
// workers poll the stop flag, which the caller sets when the callback fires.
struct BuildControl {
    CancelCheck cancel;  // the caller's
    std::atomic<bool> stop{false};
    std::mutex mutex;
    std::condition_variable worker_done;
    size_t workers_running = 0;  // guarded by mutex
    std::exception_ptr error;    // the first failure, rethrown by the caller

    void fail(std::exception_ptr e)
    {
        std::lock_guard<std::mutex> lock(mutex);
        if (!error)
            error = e;
        stop.store(true, std::memory_order_relaxed);
    }

    // What the loops poll.  A stop raises Cancelled in the other threads,
    // which fail() drops: it keeps the first error.
    static bool stop_requested(void *ctx)
    {
        return static_cast<BuildControl *>(ctx)->stop.load(std::memory_order_relaxed);
    }
    static bool caller_stop_requested(void *ctx)
    {
        BuildControl *self = static_cast<BuildControl *>(ctx);
        return self->stop.load(std::memory_order_relaxed) || self->cancel();
    }
    CancelCheck worker_check() { return CancelCheck{stop_requested, this}; }
    CancelCheck caller_check() { return CancelCheck{caller_stop_requested, this}; }
};

// Appends one tree to the forest, shifting its local indices.
void append_tree(FlatForest &forest, const TreeFragment &tree)
{
    const uint32_t split_base = uint32_t(forest.splits.size());
    const uint32_t leaf_base = uint32_t(forest.leaves.size());
    const uint32_t item_base = uint32_t(forest.leaf_items.size());
    auto shift = [&](NodeRef r) { return is_leaf(r) ? (kLeafBit | (node_index(r) + leaf_base)) : r + split_base; };
    forest.roots.push_back(shift(tree.root));
    for (FlatForest::Split s : tree.splits) {
        s.child[0] = shift(s.child[0]);
        s.child[1] = shift(s.child[1]);
        forest.splits.push_back(s);
    }
    forest.planes.insert(forest.planes.end(), tree.planes.begin(), tree.planes.end());
    for (FlatForest::Leaf l : tree.leaves) {
        l.begin += item_base;
        forest.leaves.push_back(l);
    }
    forest.leaf_items.insert(forest.leaf_items.end(), tree.leaf_items.begin(), tree.leaf_items.end());
}

// Blocks all signals in the calling thread for its lifetime and restores the
// mask after: threads started meanwhile inherit the full mask, so signals
// (Postgres's SIGINT, SIGUSR1, ...) are only ever delivered to the caller,
// whose handlers expect to run there.
class SignalBlock {
public:
    SignalBlock()
    {
#ifdef ANNOY_BLOCK_SIGNALS
        sigset_t all;
        sigfillset(&all);
        blocked_ = pthread_sigmask(SIG_BLOCK, &all, &saved_) == 0;
#endif
    }
    ~SignalBlock()
    {
#ifdef ANNOY_BLOCK_SIGNALS
        if (blocked_)
            pthread_sigmask(SIG_SETMASK, &saved_, nullptr);
#endif
    }
    SignalBlock(const SignalBlock &) = delete;
    SignalBlock &operator=(const SignalBlock &) = delete;

private:
#ifdef ANNOY_BLOCK_SIGNALS
    sigset_t saved_;
    bool blocked_ = false;
#endif
};

// Which trees group g of `groups` builds: every groups-th tree from g on.
size_t group_trees(const BuildParams &params, size_t groups, size_t g, std::vector<uint64_t> &seeds,
                   std::vector<uint32_t> &numbers)
{
    seeds.clear();
    numbers.clear();
    for (size_t t = g; t < params.n_trees; t += groups) {
        seeds.push_back(mix_seed(params.seed, t));
        numbers.push_back(uint32_t(t));
    }
    return numbers.size();
}

// Thread body: builds groups next_group++ until none are left.  Never throws.
void build_groups(const Space &space, const void *vectors, const float *extras, size_t n, const BuildParams &params,
                  size_t groups, BuildControl &control, CancelCheck check, std::atomic<uint32_t> &next_group,
                  std::vector<TreeFragment> &trees) noexcept
{
    try {
        std::vector<uint64_t> seeds;
        std::vector<uint32_t> numbers;
        std::vector<TreeFragment> built;
        for (;;) {
            if (control.stop.load(std::memory_order_relaxed))
                return;
            const uint32_t g = next_group.fetch_add(1);
            if (g >= groups)
                return;
            const size_t count = group_trees(params, groups, g, seeds, numbers);
            built.resize(count);
            build_tree_group(space, vectors, extras, n, params, seeds.data(), count, check, built.data());
            for (size_t i = 0; i < count; i++)
                trees[numbers[i]] = std::move(built[i]);
        }
    } catch (...) {
        control.fail(std::current_exception());
    }
}

void worker_main(const Space &space, const void *vectors, const float *extras, size_t n, const BuildParams &params,
                 size_t groups, BuildControl &control, std::atomic<uint32_t> &next_group,
                 std::vector<TreeFragment> &trees) noexcept
{
    build_groups(space, vectors, extras, n, params, groups, control, control.worker_check(), next_group, trees);
    std::lock_guard<std::mutex> lock(control.mutex);
    control.workers_running--;
    control.worker_done.notify_all();
}

// The caller, done with its own trees, keeps servicing the cancel callback
// until the workers finish (so Ctrl-C is not delayed by a tree in progress).
void wait_for_workers(BuildControl &control)
{
    constexpr auto kPollInterval = std::chrono::milliseconds(10);
    std::unique_lock<std::mutex> lock(control.mutex);
    while (control.workers_running > 0) {
        if (control.worker_done.wait_for(lock, kPollInterval, [&] { return control.workers_running == 0; }))
            break;
        if (control.stop.load(std::memory_order_relaxed))
            continue;
        lock.unlock();
        try {
            if (control.cancel())
                throw Cancelled();
        } catch (...) {
            control.fail(std::current_exception());
        }
        lock.lock();
    }
}

void check_params(const Space &space, const void *vectors, size_t n, const BuildParams &params)
{
    if (params.leaf_size == 0)
        throw std::invalid_argument("leaf_size must be at least 1");
    if (n > 0 && vectors == nullptr)
        throw std::invalid_argument("no vectors");
    if (space.metric > Metric::Hamming)
        throw std::invalid_argument("unknown metric");
    if (n >= size_t(kLeafBit))
        throw std::invalid_argument("too many items for one forest (limit 2^31)");
    // Leaf::begin and leaf_items are 32-bit, node references 31-bit: each
    // tree has at most max(n, 1) leaves and n - 1 splits.
    if (uint64_t(params.n_trees) * std::max<uint64_t>(n, 1) >= uint64_t(kLeafBit))
        throw std::invalid_argument("too many items x trees for one forest (limit 2^31)");
}

// Tree groups of a build: one per thread, each at most kMaxTreesPerGroup trees.
size_t tree_groups(const BuildParams &params)
{
    const size_t per_group = (params.n_trees + kMaxTreesPerGroup - 1) / kMaxTreesPerGroup;
    return std::min<size_t>(params.n_trees, std::max<size_t>({size_t(std::max(1u, params.threads)), per_group, 1}));
}

// Rough node count of one tree, see forest_memory_estimate.
size_t estimated_splits(size_t n, uint32_t leaf_size)
{
    return std::min(n, 2 * (n / leaf_size + 1));
}

// Orders (distance, item) with NaN distances after all others and ties by item number,
// so results are deterministic.
bool closer(const Neighbor &a, const Neighbor &b)
{
    const bool an = std::isnan(a.distance), bn = std::isnan(b.distance);
    if (an != bn)
        return bn;
    if (!an && a.distance != b.distance)
        return a.distance < b.distance;
    return a.item < b.item;
}

// Bounded max-heap of the k best neighbours seen.
class TopK {
public:
    explicit TopK(size_t k) : k_(k) { heap_.reserve(k); }
    void offer(Neighbor nb)
    {
        if (heap_.size() < k_) {
            heap_.push_back(nb);
            std::push_heap(heap_.begin(), heap_.end(), closer);
        } else if (closer(nb, heap_.front())) {
            std::pop_heap(heap_.begin(), heap_.end(), closer);
            heap_.back() = nb;
            std::push_heap(heap_.begin(), heap_.end(), closer);
        }
    }
    std::vector<Neighbor> sorted()
    {
        std::sort_heap(heap_.begin(), heap_.end(), closer);
        return std::move(heap_);
    }

private:
    size_t k_;
    std::vector<Neighbor> heap_;
};

}  // namespace

FlatForest build_forest(const Space &space, const void *vectors, size_t n, const BuildParams &params)
{
    check_params(space, vectors, n, params);
    init_kernels();  // here, before any worker thread starts (kernels() would also do it lazily)

    FlatForest forest;
    forest.space = space;
    forest.plane_dim = space.plane_dim();
    if (params.n_trees == 0)
        return forest;
    BuildControl control;
    control.cancel = params.cancel;

    // Dot's reduction to angular needs the largest norm before any split.
    std::vector<float> extras;
    if (space.metric == Metric::Dot && n > 0) {
        const size_t vb = space.vector_bytes();
        const char *base = static_cast<const char *>(vectors);
        float max_sq = 0.0f;
        for (size_t i = 0; i < n; i++) {
            if (i % kPollEveryItems == kPollEveryItems - 1 && params.cancel())
                throw Cancelled();
            max_sq = std::max(max_sq, squared_norm(space, base + i * vb));
        }
        forest.dot_max_norm = params.dot_max_norm >= 0.0f ? params.dot_max_norm : std::sqrt(max_sq);
        extras.resize(n);
        for (size_t i = 0; i < n; i++)
            extras[i] = item_extra(space, forest.dot_max_norm, base + i * vb);
    }
    const float *extras_ptr = extras.empty() ? nullptr : extras.data();
    const size_t n_trees = params.n_trees;
    const size_t groups = tree_groups(params);
    const size_t threads = std::min<size_t>(std::max(1u, params.threads), groups);

    std::vector<TreeFragment> trees(n_trees);
    std::atomic<uint32_t> next_group{0};
    std::vector<std::thread> workers;
    workers.reserve(threads - 1);
    try {
        SignalBlock block;
        for (size_t w = 1; w < threads; w++) {
            {
                std::lock_guard<std::mutex> lock(control.mutex);
                control.workers_running++;
            }
            try {
                workers.emplace_back(worker_main, std::cref(space), vectors, extras_ptr, n, std::cref(params), groups,
                                     std::ref(control), std::ref(next_group), std::ref(trees));
            } catch (...) {
                std::lock_guard<std::mutex> lock(control.mutex);
                control.workers_running--;
                throw;
            }
        }
    } catch (const std::system_error &) {
        // Could not start a thread (resource limits): the threads already
        // running and this one share the remaining trees.
    } catch (...) {
        control.fail(std::current_exception());
    }
    // This thread works too; all workers are joined before any error is rethrown.
    build_groups(space, vectors, extras_ptr, n, params, groups, control, control.caller_check(), next_group, trees);
    wait_for_workers(control);
    for (std::thread &w : workers)
        w.join();
    if (control.error)
        std::rethrow_exception(control.error);

    // Merge in tree order (deterministic), releasing each tree once copied.
    size_t splits = 0, leaves = 0;
    for (const TreeFragment &tree : trees) {
        splits += tree.splits.size();
        leaves += tree.leaves.size();
    }
    forest.splits.reserve(splits);
    forest.planes.reserve(splits * forest.plane_dim);
    forest.leaves.reserve(leaves);
    forest.leaf_items.reserve(n * n_trees);
    forest.roots.reserve(n_trees);
    for (TreeFragment &tree : trees) {
        append_tree(forest, tree);
        tree = TreeFragment();
    }
    return forest;
}

size_t forest_memory_estimate(const Space &space, size_t n, const BuildParams &params)
{
    // Not a hard bound: a tree's node count depends on the data (the guard in
    // choose_split only promises non-empty sides, so a pathological tree
    // could have n - 1 splits).  Measured trees have about 1.45 * n /
    // leaf_size splits (clustered 32-d data, Fashion-MNIST); we budget
    // 2 * n / leaf_size (a margin of 40% over that), capped at n.
    const size_t leaf_size = std::max<uint32_t>(params.leaf_size, 1);
    const size_t trees = params.n_trees;
    const size_t groups = std::max<size_t>(tree_groups(params), 1);
    const size_t threads = std::min<size_t>(std::max(1u, params.threads), groups);
    const size_t splits = estimated_splits(n, uint32_t(leaf_size));
    const size_t leaves = splits + 1;
    const size_t node_bytes =
        splits * (sizeof(FlatForest::Split) + space.plane_dim() * sizeof(float)) + leaves * sizeof(FlatForest::Leaf);
    const size_t tree_bytes = node_bytes + n * sizeof(uint32_t) + sizeof(NodeRef);

    // The forest itself, and every tree's fragment until the merge (vectors
    // hold up to about 1.5 times their size while growing).
    size_t bytes = trees * tree_bytes;
    bytes += trees * (tree_bytes + node_bytes / 2 + n * sizeof(uint32_t) / 2);
    // Per thread: its group's working state.
    const size_t per_group = (trees + groups - 1) / groups;
    bytes += threads * tree_group_memory(space, n, per_group, params);
    if (space.metric == Metric::Dot)
        bytes += n * sizeof(float);
    return bytes;
}

std::vector<Neighbor> search(const FlatForest &forest, const void *vectors, size_t n, const void *query, size_t k,
                             size_t search_k)
{
    if (k == 0 || n == 0)
        return {};
    if (vectors == nullptr || query == nullptr)
        throw std::invalid_argument("search needs vectors and a query");
    const Space &space = forest.space;
    const size_t vb = space.vector_bytes();
    const char *base = static_cast<const char *>(vectors);
    const size_t budget = search_k == 0 ? n : std::min(search_k, n);

    RawAllocator heap = heap_allocator();
    NodeQueue nodes(heap);
    ItemSet seen(heap);
    TopK best(std::min(k, n));
    for (NodeRef root : forest.roots)
        nodes.push(std::numeric_limits<float>::infinity(), root);

    size_t scored = 0;
    while (scored < budget && !nodes.empty()) {
        const NodeQueue::Entry e = nodes.pop();
        const NodeRef ref = NodeRef(e.ref);
        if (is_leaf(ref)) {
            const FlatForest::Leaf &leaf = forest.leaves[node_index(ref)];
            for (uint32_t i = 0; i < leaf.count && scored < budget; i++) {
                const uint32_t item = forest.leaf_items[leaf.begin + i];
                if (item >= n)
                    throw std::invalid_argument("forest refers to an item beyond n");
                if (!seen.insert(uint64_t(item) + 1))  // ItemSet keys are nonzero
                    continue;
                best.offer(Neighbor{item, space.distance(query, base + size_t(item) * vb)});
                scored++;
            }
            continue;
        }
        const uint32_t s = node_index(ref);
        // Queries have no Dot extra: the reduction appends 0 to them.
        const float m = margin(space, forest.plane(s), query, 0.0f);
        const FlatForest::Split &split = forest.splits[s];
        nodes.push(child_priority(space, e.priority, m, 1), split.child[1]);
        nodes.push(child_priority(space, e.priority, m, 0), split.child[0]);
    }
    return best.sorted();
}

std::vector<Neighbor> exact_search(const Space &space, const void *vectors, size_t n, const void *query, size_t k)
{
    if (k == 0 || n == 0)
        return {};
    if (vectors == nullptr || query == nullptr)
        throw std::invalid_argument("exact_search needs vectors and a query");
    const size_t vb = space.vector_bytes();
    const char *base = static_cast<const char *>(vectors);
    TopK best(std::min(k, n));
    for (size_t i = 0; i < n; i++)
        best.offer(Neighbor{uint32_t(i), space.distance(query, base + i * vb)});
    return best.sorted();
}

}  // namespace annoy::core
