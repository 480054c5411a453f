// amcostestimate: what an ordered scan costs, so the planner prefers the
// index over a full sort on large tables but not on tiny ones, and never
// uses it without ORDER BY <distance operator>.
#include "am.hpp"

extern "C" {
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "utils/selfuncs.h"
#include "utils/spccache.h"
}

namespace annoy::pg {

void cost_estimate(PlannerInfo *root, IndexPath *path, double loop_count, Cost *startup_cost, Cost *total_cost,
                   Selectivity *selectivity, double *correlation, double *pages)
{
    // Only ordered scans make sense: an annoy index answers "nearest first",
    // it cannot test a WHERE clause.
    // (DBL_MAX, not disable_cost: with enable_seqscan off a disabled
    // sequential scan must still win.)
    if (path->indexorderbys == NIL) {
        *startup_cost = *total_cost = DBL_MAX;
        *selectivity = 0;
        *correlation = 0;
        *pages = 0;
        return;
    }

    IndexOptInfo *index = path->indexinfo;
    double tuples = std::max(index->tuples, 1.0);
    Relation rel = index_open(index->indexoid, NoLock);
    IndexOptions opts = index_options(rel);
    index_close(rel, NoLock);

    // Items a scan scores before returning its first row (see scan.cpp).
    double examined = std::min(effective_search_k(tuples, false), tuples);
    // Nodes visited: about one split per tree level on the paths to the
    // leaves holding those items.
    double leaves = std::max(1.0, examined / std::max(1.0, opts.leaf_size / 2.0));
    double depth = std::max(1.0, std::log2(tuples / std::max(1.0, opts.leaf_size / 2.0)));
    double nodes = leaves * 2.0 + opts.n_trees * depth;

    // Every item and node is a page access, at random places in the index:
    // count them once each (index_pages_fetched), at the sequential page
    // cost, because an index that is used for this is normally cached
    // (charging random_page_cost made a 100,000-row index look costlier than
    // sorting the whole table, which is 20 times slower in fact).
    double spc_seq_page_cost;
    get_tablespace_page_costs(index->reltablespace, nullptr, &spc_seq_page_cost);
    double index_pages = std::max<double>(index->pages, 1.0);
    double fetched = index_pages_fetched(examined + nodes, BlockNumber(index_pages), index_pages, root);

    Cost cost = fetched * spc_seq_page_cost + (examined + nodes) * (cpu_index_tuple_cost + cpu_operator_cost);
    // All the work happens before the first row is returned.
    *startup_cost = cost;
    *total_cost = cost;
    *selectivity = 1.0;
    *correlation = 0;
    *pages = fetched;
    (void)loop_count;
}

}  // namespace annoy::pg
