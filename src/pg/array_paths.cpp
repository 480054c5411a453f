// col = ANY(array) conditions on filter columns in ordered annoy scans.
//
// PostgreSQL 15's planner never gives an ordered index scan a ScalarArrayOp
// condition on an index column after the first (build_index_paths treats
// such a scan as unordered, since a btree's order would not survive it), and
// an annoy index's filter columns always come after its vector.  The scan
// tests `col = ANY(array)` exactly as it tests `col = value` (an SK_SEARCHARRAY
// key, amsearcharray), so a set_rel_pathlist hook puts them back: each
// ordered annoy index path of a relation (not parameterized) is replaced by
// the same path with the relation's ANY conditions on its filter columns
// added to its index conditions.  Replaced, not offered beside it: the scan
// that tests the condition returns the true nearest matching rows, the other
// only those of the rows it happened to look at.
#include "am.hpp"

extern "C" {
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "optimizer/restrictinfo.h"
#include "utils/lsyscache.h"
}

namespace annoy::pg {

namespace {

set_rel_pathlist_hook_type prev_set_rel_pathlist = nullptr;

// The index column (0-based, a filter column) whose operator family holds
// the ANY condition `ri`, or -1.
int array_clause_column(PlannerInfo *root, IndexOptInfo *index, RestrictInfo *ri)
{
    if (ri->pseudoconstant || !IsA(ri->clause, ScalarArrayOpExpr))
        return -1;
    auto *saop = reinterpret_cast<ScalarArrayOpExpr *>(ri->clause);
    if (!saop->useOr || list_length(saop->args) != 2)
        return -1;
    Node *left = static_cast<Node *>(linitial(saop->args));
    Node *right = static_cast<Node *>(lsecond(saop->args));
    // The array: computable before the scan (no column of this relation).
    if (!bms_is_empty(pull_varnos(root, right)) || contain_volatile_functions(right))
        return -1;
    for (int col = 1; col < index->nkeycolumns; col++) {
        const Oid collation = index->indexcollations[col];
        if (match_index_to_operand(left, col, index) && (!OidIsValid(collation) || collation == saop->inputcollid) &&
            op_in_opfamily(saop->opno, index->opfamily[col]))
            return col;
    }
    return -1;
}

// The path with the relation's ANY conditions on filter columns added, or
// nullptr when there are none it lacks.
IndexPath *with_array_clauses(PlannerInfo *root, RelOptInfo *rel, IndexPath *path)
{
    IndexOptInfo *index = path->indexinfo;
    List *clauses = list_copy(path->indexclauses);
    bool added = false;
    ListCell *lc;
    foreach (lc, rel->baserestrictinfo) {
        auto *ri = static_cast<RestrictInfo *>(lfirst(lc));
        const int col = array_clause_column(root, index, ri);
        if (col < 0)
            continue;
        bool present = false;
        ListCell *c;
        foreach (c, clauses)
            present = present || static_cast<IndexClause *>(lfirst(c))->rinfo == ri;
        if (present)
            continue;
        IndexClause *ic = makeNode(IndexClause);
        ic->rinfo = ri;
        ic->indexquals = list_make1(ri);
        ic->lossy = false;
        ic->indexcol = AttrNumber(col);
        ic->indexcols = NIL;
        // Index clauses are listed in column order.
        int pos = 0;
        foreach (c, clauses) {
            if (static_cast<IndexClause *>(lfirst(c))->indexcol > col)
                break;
            pos++;
        }
        clauses = list_insert_nth(clauses, pos, ic);
        added = true;
    }
    if (!added)
        return nullptr;
    return create_index_path(root, index, clauses, path->indexorderbys, path->indexorderbycols, path->path.pathkeys,
                             path->indexscandir, false, nullptr, 1.0, false);
}

void set_rel_pathlist(PlannerInfo *root, RelOptInfo *rel, Index rti, RangeTblEntry *rte)
{
    if (prev_set_rel_pathlist != nullptr)
        prev_set_rel_pathlist(root, rel, rti, rte);
    if (rel->baserestrictinfo == NIL)
        return;
    List *replaced = NIL, *replacements = NIL;
    ListCell *lc;
    foreach (lc, rel->pathlist) {
        auto *path = static_cast<Path *>(lfirst(lc));
        if (!IsA(path, IndexPath) || PATH_REQ_OUTER(path) != nullptr)
            continue;
        auto *ip = reinterpret_cast<IndexPath *>(path);
        if (ip->indexorderbys == NIL || ip->indexinfo->amcostestimate != reinterpret_cast<void (*)()>(cost_estimate) ||
            ip->indexinfo->nkeycolumns < 2)
            continue;
        IndexPath *better = with_array_clauses(root, rel, ip);
        if (better != nullptr) {
            replaced = lappend(replaced, ip);
            replacements = lappend(replacements, better);
        }
    }
    foreach (lc, replaced)
        rel->pathlist = list_delete_ptr(rel->pathlist, lfirst(lc));
    foreach (lc, replacements)
        add_path(rel, static_cast<Path *>(lfirst(lc)));
}

}  // namespace

void install_path_hook()
{
    prev_set_rel_pathlist = set_rel_pathlist_hook;
    set_rel_pathlist_hook = set_rel_pathlist;
}

}  // namespace annoy::pg
