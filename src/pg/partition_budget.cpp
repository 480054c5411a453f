// Budgets of sibling partition scans: see partition_budget.hpp.
#include "partition_budget.hpp"

#include "am.hpp"
#include "options.hpp"

extern "C" {
#include "executor/executor.h"
#include "nodes/execnodes.h"
#include "nodes/nodeFuncs.h"
}

namespace annoy::pg {

double partition_search_k(double own, double total, int sketch_factor, int n_trees, int leaf_size) noexcept
{
    const bool sketched = sketch_factor > 1;
    own = std::max(own, 1.0);
    double alone = effective_search_k(own, sketched);
    if (total <= own)
        return alone;
    double share = effective_search_k(total, sketched) * own / total;
    // Candidates ranked: a full leaf's worth per tree (leaves are half full, so
    // about two leaves of each tree), whatever the sketch factor.
    double one_leaf_per_tree = n_trees * std::max(1.0, double(leaf_size)) / std::max(1, sketch_factor);
    return std::max(1.0, std::min(alone, std::max(share, one_leaf_per_tree)));
}

double planned_sibling_rows(PlannerInfo *root, IndexOptInfo *index)
{
    RelOptInfo *rel = index->rel;
    if (rel->reloptkind != RELOPT_OTHER_MEMBER_REL || bms_membership(rel->top_parent_relids) != BMS_SINGLETON)
        return 0;
    int top = bms_singleton_member(rel->top_parent_relids);
    RangeTblEntry *top_rte = root->simple_rte_array[top];
    if (top_rte->rtekind != RTE_RELATION || top_rte->relkind != RELKIND_PARTITIONED_TABLE)
        return 0;
    // Leaf partitions left after pruning (pruned ones get no RelOptInfo;
    // ones excluded by constraints are dummies).  Intermediate partitioned
    // tables hold no rows.
    double rows = 0;
    for (int i = 1; i < root->simple_rel_array_size; i++) {
        RelOptInfo *r = root->simple_rel_array[i];
        if (r == nullptr || r->reloptkind != RELOPT_OTHER_MEMBER_REL ||
            !bms_equal(r->top_parent_relids, rel->top_parent_relids))
            continue;
        if (root->simple_rte_array[i]->relkind == RELKIND_PARTITIONED_TABLE || IS_DUMMY_REL(r))
            continue;
        rows += std::max(r->tuples, 0.0);
    }
    return rows;
}

namespace {

// One Merge Append's annoy scans: which indexes, the size of each.
struct MergedScans {
    MemoryContext query_cxt;
    int n;
    Oid *index_oids;
    double *items;
    double total;
    MergedScans *next;
};

// Those of the queries running in this backend (nested queries, cursors).
MergedScans *recorded = nullptr;
ExecutorStart_hook_type prev_executor_start = nullptr;

void forget(void *arg)
{
    auto *m = static_cast<MergedScans *>(arg);
    for (MergedScans **p = &recorded; *p != nullptr; p = &(*p)->next) {
        if (*p == m) {
            *p = m->next;
            return;
        }
    }
}

bool is_annoy_scan(PlanState *ps)
{
    if (!IsA(ps, IndexScanState))
        return false;
    Relation index = castNode(IndexScanState, ps)->iss_RelationDesc;
    return index != nullptr && index->rd_indam != nullptr && index->rd_indam->ambeginscan == begin_scan;
}

void record_merge(MergeAppendState *ma, MemoryContext query_cxt)
{
    int n = 0;
    for (int i = 0; i < ma->ms_nplans; i++)
        n += is_annoy_scan(ma->mergeplans[i]) ? 1 : 0;
    if (n < 2)
        return;
    MemoryContext old = MemoryContextSwitchTo(query_cxt);
    auto *m = static_cast<MergedScans *>(palloc0(sizeof(MergedScans)));
    m->query_cxt = query_cxt;
    m->index_oids = static_cast<Oid *>(palloc(sizeof(Oid) * size_t(n)));
    m->items = static_cast<double *>(palloc(sizeof(double) * size_t(n)));
    for (int i = 0; i < ma->ms_nplans; i++) {
        if (!is_annoy_scan(ma->mergeplans[i]))
            continue;
        Relation index = castNode(IndexScanState, ma->mergeplans[i])->iss_RelationDesc;
        m->index_oids[m->n] = RelationGetRelid(index);
        // Sizes in pages: the partitions of one partitioned index share its
        // options, so pages are proportional to items, and unlike reltuples
        // they are current (reltuples waits for the next VACUUM, and is -1
        // for an index built on an empty partition that has filled since).
        m->items[m->n] = std::max<double>(RelationGetNumberOfBlocks(index), 1.0);
        m->total += m->items[m->n];
        m->n++;
    }
    auto *cb = static_cast<MemoryContextCallback *>(palloc0(sizeof(MemoryContextCallback)));
    cb->func = forget;
    cb->arg = m;
    MemoryContextRegisterResetCallback(query_cxt, cb);
    MemoryContextSwitchTo(old);
    m->next = recorded;
    recorded = m;
}

bool find_merges(PlanState *ps, void *query_cxt)
{
    if (ps == nullptr)
        return false;
    if (IsA(ps, MergeAppendState))
        record_merge(castNode(MergeAppendState, ps), static_cast<MemoryContext>(query_cxt));
    // nodeFuncs.h declares walkers as bool (*)() (C without prototypes).
    return planstate_tree_walker(ps, reinterpret_cast<bool (*)()>(reinterpret_cast<void (*)()>(find_merges)),
                                 query_cxt);
}

void executor_start(QueryDesc *query, int eflags)
{
    if (prev_executor_start != nullptr)
        prev_executor_start(query, eflags);
    else
        standard_ExecutorStart(query, eflags);
    if ((eflags & EXEC_FLAG_EXPLAIN_ONLY) == 0 && query->planstate != nullptr)
        find_merges(query->planstate, query->estate->es_query_cxt);
}

}  // namespace

void install_executor_hook()
{
    prev_executor_start = ExecutorStart_hook;
    ExecutorStart_hook = executor_start;
}

double merged_share(MemoryContext query_cxt, Oid index_oid) noexcept
{
    for (const MergedScans *m = recorded; m != nullptr; m = m->next) {
        if (m->query_cxt != query_cxt)
            continue;
        for (int i = 0; i < m->n; i++)
            if (m->index_oids[i] == index_oid)
                return m->items[i] / m->total;
    }
    return 1.0;
}

}  // namespace annoy::pg
