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
// leaf_size.  With total <= own (no siblings) this is effective_search_k(own).
// Otherwise it is the scan's share of effective_search_k(total), but never
// less than what reaches about one leaf in every tree (below that the forest
// degenerates into one tree: leaf_size / 2 items per leaf, a leaf's worth of
// sketch-ranked candidates per item scored), and never more than the
// partition alone would get.
double partition_search_k(double own, double total, bool sketched, int n_trees, int leaf_size) noexcept;

// The planner's view: of the partitioned table the index's relation belongs
// to (as a partition scanned through its parent), the rows of all its leaf
// partitions that the query still scans after pruning; 0 when the index is
// not scanned as a partition.
double planned_sibling_rows(PlannerInfo *root, IndexOptInfo *index);

// The executor's view.  Scans of partitions register when they begin (in
// begin_scan, under the executor's query memory context) and leave when their
// memory context goes; a scan's siblings are the registered scans of indexes
// attached to the same partitioned index, begun in the same query context
// (the children of one Merge Append: the executor begins them all before it
// reads from any, and partitions pruned at run time never begin).
struct SiblingScan {
    Oid root_index;       // topmost partitioned index this index is attached to
    MemoryContext group;  // the query context the scan began in
    double items;
    SiblingScan *prev, *next;
    MemoryContextCallback on_end;
};

// Registers `s` (allocated in scan_cxt) when `index` is a partition of a
// partitioned index; otherwise leaves s->root_index invalid.
void sibling_scan_register(SiblingScan *s, Relation index, double items, MemoryContext scan_cxt);

// Items searched by `s` and its registered siblings together (s->items when
// it has none).
double sibling_scan_total(const SiblingScan *s) noexcept;

}  // namespace annoy::pg
