// Budgets of sibling partition scans: see partition_budget.hpp.
#include "partition_budget.hpp"

#include "options.hpp"

extern "C" {
#include "catalog/partition.h"
#include "parser/parsetree.h"
#include "utils/lsyscache.h"
}

namespace annoy::pg {

double partition_search_k(double own, double total, bool sketched, int n_trees, int leaf_size) noexcept
{
    own = std::max(own, 1.0);
    double alone = effective_search_k(own, sketched);
    if (total <= own)
        return alone;
    double share = effective_search_k(total, sketched) * own / total;
    double leaf_items = std::max(1.0, leaf_size / 2.0);
    double one_leaf_per_tree = n_trees * leaf_items / (sketched ? std::max(1, sketch_factor_setting) : 1);
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

// The registered scans of this backend (few at a time: those of the queries
// running, and of open cursors).
SiblingScan *registered = nullptr;

void unregister(void *arg)
{
    auto *s = static_cast<SiblingScan *>(arg);
    if (s->prev != nullptr)
        s->prev->next = s->next;
    else
        registered = s->next;
    if (s->next != nullptr)
        s->next->prev = s->prev;
}

}  // namespace

void sibling_scan_register(SiblingScan *s, Relation index, double items, MemoryContext scan_cxt)
{
    s->root_index = InvalidOid;
    s->items = items;
    if (!index->rd_rel->relispartition)
        return;
    List *ancestors = get_partition_ancestors(RelationGetRelid(index));
    if (ancestors == NIL)
        return;
    s->root_index = llast_oid(ancestors);
    list_free(ancestors);
    // The scan's context is a child of the context it began in, which is the
    // executor's per-query context for a scan the executor runs.
    s->group = MemoryContextGetParent(scan_cxt);
    s->prev = nullptr;
    s->next = registered;
    if (registered != nullptr)
        registered->prev = s;
    registered = s;
    s->on_end.func = unregister;
    s->on_end.arg = s;
    MemoryContextRegisterResetCallback(scan_cxt, &s->on_end);
}

double sibling_scan_total(const SiblingScan *s) noexcept
{
    if (s->root_index == InvalidOid)
        return s->items;
    double total = 0;
    for (const SiblingScan *o = registered; o != nullptr; o = o->next)
        if (o->root_index == s->root_index && o->group == s->group)
            total += o->items;
    return total;
}

}  // namespace annoy::pg
