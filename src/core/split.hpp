// Choosing a split hyperplane for a set of vectors (Annoy's two-means, with
// an imbalance guard).  Used by the forest build and, in the Postgres layer,
// to split a leaf that outgrows leaf_size after inserts: the same rule both
// times, so an index grown by INSERT has the shape of a freshly built one.
#pragma once

#include "common.hpp"

#include <vector>

#include "rng.hpp"
#include "space.hpp"

namespace annoy::core {

constexpr uint32_t kNoBit = 0xFFFFFFFFu;  // Hamming plane that tests no bit: margin 0

struct SplitPlane {
    std::vector<float> normal;  // plane_dim floats (empty for Hamming)
    float offset = 0.0f;
    uint32_t bit = 0;  // Hamming only; kNoBit = identical items, split at random
    PlaneView view() const { return PlaneView{normal.empty() ? nullptr : normal.data(), offset, bit}; }
};

// Splits the n >= 2 vectors `vecs` (with their Dot extras in `extras`, may be
// nullptr for other metrics) into two non-empty sides.  On return `plane`
// holds the hyperplane and side[i] in {0, 1} says where vecs[i] goes.
//
// Float metrics: two-means on a sample picks centroids p, q; normal =
// normalise(p - q); Euclidean/Manhattan put the plane through the midpoint,
// Angular/Dot through the origin.  Items with margin exactly 0 go to a random
// side.  If one side gets more than 95% of the items the choice is retried
// (up to 3 times); if still more than 99%, sides are assigned at random and
// the plane is reset to zero (so margins are 0 and search explores both).
// Hamming: picks a bit that divides the set (random probes, then a scan);
// identical bit strings fall back to a random assignment.
void choose_split(const Space &space, const void *const *vecs, const float *extras, size_t n, Rng &rng,
                  SplitPlane &plane, uint8_t *side);

// The same, polling `cancel` every few thousand items (a split of millions of
// long vectors takes seconds); throws Cancelled when it fires.
void choose_split(const Space &space, const void *const *vecs, const float *extras, size_t n, Rng &rng,
                  SplitPlane &plane, uint8_t *side, const CancelCheck &cancel);

// Float metrics only: the hyperplane of choose_split's first two-means
// attempt, without assigning sides.  The forest build assigns the sides of
// many nodes (of several trees) in one pass over the vectors, and calls
// choose_split itself only for a node this plane leaves too unbalanced.
void choose_plane(const Space &space, const void *const *vecs, const float *extras, size_t n, Rng &rng,
                  SplitPlane &plane);

// Whether choose_split would retry a plane that puts `larger` of the n items
// on one side.
bool split_too_unbalanced(size_t larger, size_t n);

}  // namespace annoy::core
