// Search budgets of scans over the partitions of one partitioned table.
//
// An ordered query on a partitioned table (index on the parent) runs one
// annoy scan per partition under a Merge Append.  Each scan needs to find
// only its partition's part of the answer, so the budget of the whole table,
// effective_search_k(total items), is shared among the scans in proportion
// to their partitions' items, instead of every partition paying the budget
// an index of its size would get alone (128 partitions: 128 budgets).  The
// planner costs each partition's scan with the same share (cost.cpp).
#pragma once

#include "pg.hpp"

extern "C" {
#include "nodes/pathnodes.h"
}

namespace annoy::pg {

// The budget of one scan over `own` of the `total` items that the sibling
// scans of one query search together, for an index of n_trees trees of
// leaf_size, ranking sketch_factor candidates per item scored (1: no sketch
// ranking; effective_sketch_factor resolves it).  With total <= own (no siblings) this is effective_search_k(own).
// Otherwise it is the scan's share of effective_search_k(total), but never
// less than what gathers leaf_size candidates from every tree (below that the
// forest degenerates into one tree; leaves are about half full, so that is
// about two leaves of each), and never more than the
// partition alone would get.
double partition_search_k(double own, double total, int sketch_factor, int n_trees, int leaf_size) noexcept;

// The planner's view: of the partitioned table the index's relation belongs
// to (as a partition scanned through its parent), the rows of all its leaf
// partitions that the query still scans after pruning; 0 when the index is
// not scanned as a partition.
double planned_sibling_rows(PlannerInfo *root, IndexOptInfo *index);

// The executor's view.  The executor begins an index scan only when it first
// reads from it, and a Merge Append reads its first child's first row before
// it begins the second, so a scan cannot count its siblings when it starts.
// Instead a hook after ExecutorStart (the executor is initialised, and
// partitions pruned at its start are gone) records, for each Merge Append
// over annoy index scans, which indexes it merges and how many items they
// hold together; a scan that begins later under that query's memory context
// finds its share there.
void install_executor_hook();

// The share of the items searched together that index `index_oid` holds,
// for a scan begun under `query_cxt`: 1 when it is not merged with others.
double merged_share(MemoryContext query_cxt, Oid index_oid) noexcept;

}  // namespace annoy::pg
