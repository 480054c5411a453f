// The index access method callbacks, one file per phase (build.cpp,
// insert.cpp, scan.cpp, vacuum.cpp, cost.cpp, validate.cpp), wired together
// by handler.cpp.
#pragma once

#include "page.hpp"
#include "options.hpp"

namespace annoy::pg {

// Build
IndexBuildResult *build(Relation heap, Relation index, IndexInfo *info);
void build_empty(Relation index);

// Insert
bool insert(Relation index, Datum *values, bool *isnull, ItemPointer heap_tid, Relation heap,
            IndexUniqueCheck check_unique, bool index_unchanged, IndexInfo *info);

// Scan
IndexScanDesc begin_scan(Relation index, int nkeys, int norderbys);
void rescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys, int norderbys);
bool get_tuple(IndexScanDesc scan, ScanDirection dir);
void end_scan(IndexScanDesc scan);

// Vacuum
IndexBulkDeleteResult *bulk_delete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
                                   IndexBulkDeleteCallback callback, void *callback_state);
IndexBulkDeleteResult *vacuum_cleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats);

// Planner
void cost_estimate(PlannerInfo *root, IndexPath *path, double loop_count, Cost *startup_cost, Cost *total_cost,
                   Selectivity *selectivity, double *correlation, double *pages);

// Operator class checks
bool validate(Oid opclassoid);

// Puts col = ANY(array) conditions on filter columns into ordered annoy
// index paths (array_paths.cpp); installed by _PG_init.
void install_path_hook();

// The metric of the index's operator class (support function 1).
core::Metric opclass_metric(Relation index);

// Build progress sub-phases (pg_stat_progress_create_index.phase).
enum BuildPhase {
    kPhaseLoad = 1,
    kPhaseTrees = 2,
    kPhaseWrite = 3,
};
char *build_phase_name(int64 phase);

}  // namespace annoy::pg
