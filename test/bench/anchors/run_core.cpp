// Our core (src/core) in memory: the forest the extension builds, searched
// by the core's best-first search(), and the same forest with the sketches
// the extension stores in its leaves, searched the way the index scan does
// (src/pg/scan.cpp): rank sketch_factor x search_k candidates by their
// sketches, score the search_k most promising exactly.
#include <algorithm>
#include <limits>
#include <memory>

#include "anchors.hpp"
#include "distance.hpp"
#include "forest.hpp"
#include "rng.hpp"
#include "search_state.hpp"
#include "sketch.hpp"

namespace anchors {

namespace {

namespace core = annoy::core;

// The annoy.sketch_factor default.
constexpr size_t kSketchFactor = 6;

// A forest with a sketch for every leaf entry, laid out as the index's
// leaves hold them: entry e of leaf_items has its code at codes[e * bytes].
struct SketchedForest {
    const core::FlatForest &forest;
    std::unique_ptr<core::Sketcher> sketcher;
    std::vector<uint8_t> codes;
};

SketchedForest sketch_forest(const core::FlatForest &forest, const DataSet &d)
{
    const core::Space &space = forest.space;
    std::vector<float> center(space.dim);
    core::Sketcher::center_of(space, d.base.data(), d.n, center.data());
    SketchedForest s{forest,
                     std::make_unique<core::Sketcher>(space, core::Sketcher::default_bits(space),
                                                      core::mix_seed(42, 0x736B65746368ull), center.data()),
                     {}};
    const size_t bytes = s.sketcher->sketch_bytes();
    std::vector<uint8_t> item_codes(d.n * bytes);
    for (size_t i = 0; i < d.n; i++)
        s.sketcher->sketch(d.row(i), &item_codes[i * bytes]);
    s.codes.resize(forest.leaf_items.size() * bytes);
    for (size_t e = 0; e < forest.leaf_items.size(); e++)
        std::copy_n(&item_codes[size_t(forest.leaf_items[e]) * bytes], bytes, &s.codes[e * bytes]);
    return s;
}

// The sketched search: best-first over all trees, every new item of a popped
// leaf ranked by its estimate, until sketch_factor x search_k are ranked;
// then the search_k best scored exactly and the k nearest returned.
size_t sketched_search(const SketchedForest &s, core::Sketcher::Query &sq, const DataSet &d, const float *query,
                       size_t search_k, uint32_t *out)
{
    const core::FlatForest &f = s.forest;
    const size_t bytes = s.sketcher->sketch_bytes();
    sq.prepare(*s.sketcher, query);
    const core::RawAllocator heap = core::heap_allocator();
    core::NodeQueue nodes(heap);
    core::ItemSet seen(heap);
    core::CandidatePool pool(heap);
    for (core::NodeRef root : f.roots)
        nodes.push(std::numeric_limits<float>::infinity(), root);
    const size_t gather = kSketchFactor * search_k;
    while (pool.size() < gather && !nodes.empty()) {
        const core::NodeQueue::Entry e = nodes.pop();
        const core::NodeRef ref = core::NodeRef(e.ref);
        if (core::is_leaf(ref)) {
            const core::FlatForest::Leaf &leaf = f.leaves[core::node_index(ref)];
            for (uint32_t i = leaf.begin; i < leaf.begin + leaf.count; i++)
                if (seen.insert(uint64_t(f.leaf_items[i]) + 1))
                    pool.push(sq.estimate(&s.codes[size_t(i) * bytes]), f.leaf_items[i]);
            continue;
        }
        const uint32_t split = core::node_index(ref);
        const float m = core::margin(f.space, f.plane(split), query, 0.0f);
        for (int side = 0; side < 2; side++)
            nodes.push(core::child_priority(f.space, e.priority, m, side), f.splits[split].child[side]);
    }
    std::vector<core::CandidatePool::Entry> chosen(std::min(search_k, pool.size()));
    chosen.resize(pool.take_smallest(chosen.size(), chosen.data()));
    std::vector<core::Neighbor> scored;
    scored.reserve(chosen.size());
    for (const core::CandidatePool::Entry &c : chosen)
        scored.push_back(core::Neighbor{uint32_t(c.ref), f.space.distance(query, d.row(c.ref))});
    const size_t k = std::min(kK, scored.size());
    std::partial_sort(scored.begin(), scored.begin() + ptrdiff_t(k), scored.end(),
                      [](const core::Neighbor &a, const core::Neighbor &b) { return a.distance < b.distance; });
    for (size_t i = 0; i < k; i++)
        out[i] = scored[i].item;
    return k;
}

std::string label(size_t search_k)
{
    return "search_k " + std::to_string(search_k);
}

}  // namespace

void run_core(Bench &bench)
{
    const DataSet &d = bench.data();
    const core::Space space{d.metric == Metric::L2 ? core::Metric::Euclidean : core::Metric::Angular, uint32_t(d.dim)};
    const double vector_bytes = double(d.base.size()) * sizeof(float);
    const std::vector<size_t> plain_k = {250, 500, 750, 1000, 1500, 2000, 3000, 5000, 10000, 20000};
    const std::vector<size_t> sketch_k = {50, 100, 150, 200, 300, 400, 500, 700, 1000, 1500, 2000, 5000};
    auto sq = std::make_unique<core::Sketcher::Query>();  // 64 kB of tables, reused by every query
    for (uint32_t trees : {10u, 50u}) {
        core::BuildParams params;
        params.n_trees = trees;
        params.leaf_size = 64;
        params.seed = 42;
        params.threads = 1;
        std::unique_ptr<core::FlatForest> forest;
        const std::string config = std::to_string(trees) + " trees, leaf 64";
        Row &plain = bench.build(
            "core forest", config,
            [&] { forest = std::make_unique<core::FlatForest>(core::build_forest(space, d.base.data(), d.n, params)); },
            vector_bytes);
        bench.sweep<size_t>(plain, plain_k, label, [&](const size_t &search_k) -> QueryFn {
            return [&, search_k](const float *q, uint32_t *out) {
                const std::vector<core::Neighbor> nn = core::search(*forest, d.base.data(), d.n, q, kK, search_k);
                for (size_t i = 0; i < nn.size(); i++)
                    out[i] = nn[i].item;
                return nn.size();
            };
        });
        if (!core::Sketcher::useful(space))
            continue;
        std::unique_ptr<SketchedForest> sketched;
        Row &with = bench.build("core forest + sketches",
                                config + ", " + std::to_string(core::Sketcher::default_bits(space)) +
                                    "-bit sketches x" + std::to_string(kSketchFactor),
                                [&] { sketched = std::make_unique<SketchedForest>(sketch_forest(*forest, d)); });
        with.build_s += plain.build_s;  // the forest is shared: building this index costs both
        with.build_wall_s += plain.build_wall_s;
        with.memory_bytes += plain.memory_bytes;
        bench.sweep<size_t>(with, sketch_k, label, [&](const size_t &search_k) -> QueryFn {
            return [&, search_k](const float *q, uint32_t *out) {
                return sketched_search(*sketched, *sq, d, q, search_k, out);
            };
        });
    }
}

}  // namespace anchors
