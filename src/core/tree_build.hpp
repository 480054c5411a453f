// Building trees (internal to the core: forest.cpp drives it).
//
// Splitting a node is a pass over its vectors (one margin each), and a tree's
// top levels cover the whole data set: built one tree after another, every
// tree streams every vector from memory once per level, and the build is
// bound by memory bandwidth rather than arithmetic.  So the trees of a group
// are built together, level by level, while their nodes are larger than the
// CPU caches: one pass over the vectors per level computes the margins of
// all the group's trees.  Below that size each node's subtree is built depth
// first, its vectors staying in cache.
//
// Every tree uses only its own generator, seeded from (seed, tree), and items
// with margin exactly 0 take a side hashed from (tree, node, item): a tree
// comes out the same whichever group or thread builds it.
#pragma once

#include "common.hpp"

#include <vector>

#include "forest.hpp"

namespace annoy::core {

// One tree in the FlatForest layout, with indices local to the tree; the
// merge shifts them.
struct TreeFragment {
    NodeRef root = kLeafBit;
    std::vector<FlatForest::Split> splits;
    std::vector<float> planes;
    std::vector<FlatForest::Leaf> leaves;
    std::vector<uint32_t> leaf_items;
};

// Items handled between two polls of the cancel callback.  A split pass over
// 4096 items of dimension 1000 takes on the order of a millisecond.
constexpr size_t kPollEveryItems = 4096;

// Trees built together by one thread, at most this many (the passes over the
// vectors are shared between them; the state kept per tree during the top
// levels is about 9 bytes per item).
constexpr size_t kMaxTreesPerGroup = 16;

// Builds the trees whose seeds are given into out[0..count), over the n
// vectors at `vectors` (with their Dot extras, or nullptr).  `cancel` is
// polled; throws Cancelled, std::bad_alloc.
void build_tree_group(const Space &space, const void *vectors, const float *extras, size_t n, const BuildParams &params,
                      const uint64_t *seeds, size_t count, const CancelCheck &cancel, TreeFragment *out);

// Bytes build_tree_group needs beyond its output, for forest_memory_estimate.
size_t tree_group_memory(const Space &space, size_t n, size_t count, const BuildParams &params);

}  // namespace annoy::core
