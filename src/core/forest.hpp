// The forest of random-projection trees, built in memory, in a flat layout
// (arrays of nodes, no pointers) that the Postgres layer writes to pages and
// the core's own search reads directly.
#pragma once

#include "common.hpp"

#include <vector>

#include "space.hpp"

namespace annoy::core {

// A node reference inside a FlatForest: split index, or leaf index with the
// top bit set.
using NodeRef = uint32_t;
constexpr NodeRef kLeafBit = 0x80000000u;
constexpr bool is_leaf(NodeRef r)
{
    return (r & kLeafBit) != 0;
}
constexpr uint32_t node_index(NodeRef r)
{
    return r & ~kLeafBit;
}

struct BuildParams {
    uint32_t n_trees = 10;
    uint32_t leaf_size = 64;  // a node with more items than this is split
    uint64_t seed = 0;
    unsigned threads = 1;  // worker threads (trees are independent)
    CancelCheck cancel;    // polled; throws Cancelled when it fires
    // Dot only: the largest item norm to reduce with (see item_extra).  A
    // negative value means "the largest norm among the vectors given"; a
    // build in parts (the Postgres layer's bounded-memory build) passes the
    // norm of the whole data set so all parts agree.
    float dot_max_norm = -1.0f;
    // Nodes whose vectors take more bytes than this are split level by
    // level, several trees per pass over the vectors; smaller ones depth
    // first (see tree_build.hpp).  A tuning knob for tests and experiments:
    // the trees come out alike either way, only the memory traffic differs.
    size_t cache_resident_bytes = size_t(4) << 20;
};

struct FlatForest {
    struct Split {
        NodeRef child[2];  // child[1] takes margin > 0
        float offset;
        uint32_t bit;  // Hamming
    };
    struct Leaf {
        uint32_t begin;  // into leaf_items
        uint32_t count;
    };

    Space space;
    float dot_max_norm = 0.0f;  // Dot: the largest item norm (see item_extra)
    size_t plane_dim = 0;
    std::vector<NodeRef> roots;  // one per tree
    std::vector<Split> splits;
    std::vector<float> planes;  // split i's normal at planes[i * plane_dim]
    std::vector<Leaf> leaves;
    std::vector<uint32_t> leaf_items;  // item numbers, 0..n-1

    PlaneView plane(uint32_t split) const noexcept
    {
        const Split &s = splits[split];
        return PlaneView{plane_dim ? planes.data() + size_t(split) * plane_dim : nullptr, s.offset, s.bit};
    }
};

// Builds params.n_trees trees over the n vectors stored contiguously at
// `vectors` (space.vector_bytes() each).  Tree t uses its own generator seeded
// from (seed, t), so the result does not depend on params.threads.  Every
// item appears in exactly one leaf of every tree; every leaf holds at most
// leaf_size items (n == 0 gives empty-leaf roots).  Throws Cancelled,
// std::bad_alloc.
FlatForest build_forest(const Space &space, const void *vectors, size_t n, const BuildParams &params);

// Bytes build_forest needs beyond the input vectors, an upper bound used to
// check maintenance_work_mem before starting.
size_t forest_memory_estimate(const Space &space, size_t n, const BuildParams &params);

struct Neighbor {
    uint32_t item;
    float distance;
};

// Best-first search over all trees (Annoy's query): examine up to search_k
// distinct items (search_k == 0: all), return the k nearest examined, nearest
// first.  For tests and the core benchmark; the Postgres scan drives the same
// steps over pages with the containers in search_state.hpp.
std::vector<Neighbor> search(const FlatForest &forest, const void *vectors, size_t n, const void *query, size_t k,
                             size_t search_k);

// Exact k nearest by brute force (ground truth for tests).
std::vector<Neighbor> exact_search(const Space &space, const void *vectors, size_t n, const void *query, size_t k);

}  // namespace annoy::core
