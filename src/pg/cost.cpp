// amcostestimate: what an ordered scan costs, so the planner prefers the
// index over a full sort on large tables but not on tiny ones, and never
// uses it without ORDER BY <distance operator>.
//
// WHERE conditions on filter columns (columns 2.. of a multi-column index)
// are index quals: the scan tests them on each leaf entry it walks and counts
// only the entries that pass against its budget.  So a selective filter does
// not change how many vectors are scored, but the walk reads about
// 1 / selectivity times as many entries to find them, up to one whole tree;
// past some selectivity a btree on the filter column plus a sort of the
// matching rows is cheaper, and the planner should take it.
#include "am.hpp"
#include "partition_budget.hpp"

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
    MetaPageData *meta = alloc_meta();
    read_meta(rel, meta);
    index_close(rel, NoLock);
    // The scan ranks candidates by their sketches when the index has them
    // (scan.cpp): it then scores `budget` items but gathers sketch_factor
    // times as many from the leaves.
    const int factor =
        meta->sketch_bits > 0 && meta->dim > 0 ? effective_sketch_factor(meta->sketch_bits, meta->dim) : 1;
    pfree(meta);

    // Items a scan scores before returning its first row; a partition's scan
    // under its parent shares the budget of all the partitions scanned
    // (partition_budget.hpp), as it will when it runs.
    double siblings = planned_sibling_rows(root, index);
    double budget = partition_search_k(tuples, std::max(siblings, tuples), factor, opts.n_trees, opts.leaf_size);
    // Filter quals: the fraction of the index's rows that pass them (the
    // scan's budget counts those only), and the fraction of the table's rows
    // the path returns (with a partial index's predicate, as
    // genericcostestimate computes it).  Without quals the path claims every
    // row, as it always did.
    List *quals = get_quals_from_indexclauses(path->indexclauses);
    Selectivity filter_sel = 1.0;
    Selectivity table_sel = 1.0;
    if (quals != NIL) {
        filter_sel = clauselist_selectivity(root, quals, index->rel->relid, JOIN_INNER, nullptr);
        table_sel = clauselist_selectivity(root, add_predicate_to_index_quals(index, quals), index->rel->relid,
                                           JOIN_INNER, nullptr);
    }
    filter_sel = std::clamp(filter_sel, 1.0 / tuples, 1.0);
    const double passing = std::max(1.0, tuples * filter_sel);
    const double forest_entries = std::max(1, opts.n_trees) * tuples;

    // With the automatic search_k a filtered scan gets the budget of an
    // index of the matching rows (fit_budget in scan.cpp).
    if (quals != NIL && search_k_setting <= 0)
        budget = std::min(budget, partition_search_k(passing, passing * std::max(siblings, tuples) / tuples, factor,
                                                     opts.n_trees, opts.leaf_size));
    double examined = std::min(budget, passing);
    double gathered = std::min(examined * factor, passing);
    // Leaf entries the walk reads to gather that many passing candidates:
    // about gathered / selectivity, but never much more than one whole tree:
    // when fewer rows pass than the scan wants, it walks one tree to its end
    // (maybe_walk_one_tree in scan.cpp).
    double walked = quals == NIL                 ? gathered
                    : budget * factor >= passing ? tuples
                                                 : std::min(forest_entries, gathered / filter_sel);
    // Nodes visited: the leaves holding the entries walked (about half
    // full) and their parents, plus one split per tree level on the paths to
    // them.
    double leaves = std::max(1.0, walked / std::max(1.0, opts.leaf_size / 2.0));
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

    // Each item scored and node visited costs a tuple; each candidate
    // ranked by its sketch an operator, and so does each filter qual on
    // each entry walked.
    Cost cost = fetched * spc_seq_page_cost + (examined + nodes) * (cpu_index_tuple_cost + cpu_operator_cost) +
                (factor > 1 ? gathered * cpu_operator_cost : 0.0) + walked * list_length(quals) * cpu_operator_cost;
    // All the work happens before the first row is returned.
    *startup_cost = cost;
    *total_cost = cost;
    *selectivity = table_sel;
    *correlation = 0;
    *pages = fetched;
    (void)loop_count;
}

}  // namespace annoy::pg
