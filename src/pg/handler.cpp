// The access method handler: what annoy can do, and which function does it.
#include "am.hpp"
#include "filter.hpp"

extern "C" {
#include "catalog/pg_type.h"
#include "utils/lsyscache.h"
}

namespace annoy::pg {

core::Metric opclass_metric(Relation index)
{
    return index_columns(index).metric;
}

char *build_phase_name(int64 phase)
{
    switch (phase) {
        case kPhaseLoad:
            return const_cast<char *>("loading vectors");
        case kPhaseTrees:
            return const_cast<char *>("building trees");
        case kPhaseWrite:
            return const_cast<char *>("writing pages");
        default:
            return nullptr;
    }
}

}  // namespace annoy::pg

extern "C" {

PG_FUNCTION_INFO_V1(annoy_handler);

Datum annoy_handler(PG_FUNCTION_ARGS)
{
    using namespace annoy::pg;
    IndexAmRoutine *am = makeNode(IndexAmRoutine);

    // Vector classes: ordering operator 1; filter classes: the search
    // strategies of filter.hpp.
    am->amstrategies = kFilterStrategies;
    // 1: a vector class's metric, 2 (optional): its input format, 3: a
    // filter class's storage kind.
    am->amsupport = kFilterProc;
    am->amoptsprocnum = 0;
    am->amcanorder = false;
    am->amcanorderbyop = true;
    am->amcanbackward = false;
    am->amcanunique = false;
    am->amcanmulticol = true;  // the vector, then filter columns (filter.hpp)
    am->amoptionalkey = true;
    am->amsearcharray = true;  // col = ANY(array) on filter columns
    // No IS [NOT] NULL keys: the planner would then use the index for
    // `embedding IS NULL`, whose rows (NULL vectors) it does not hold.
    am->amsearchnulls = false;
    am->amstorage = false;
    am->amclusterable = false;
    am->ampredlocks = false;
    am->amcanparallel = false;
    am->amcaninclude = false;
    am->amusemaintenanceworkmem = true;
    am->amparallelvacuumoptions = VACUUM_OPTION_PARALLEL_BULKDEL;
    am->amkeytype = InvalidOid;

    am->ambuild = build;
    am->ambuildempty = build_empty;
    am->aminsert = insert;
    am->ambulkdelete = bulk_delete;
    am->amvacuumcleanup = vacuum_cleanup;
    am->amcanreturn = nullptr;
    am->amcostestimate = cost_estimate;
    am->amoptions = parse_options;
    am->amproperty = nullptr;
    am->ambuildphasename = build_phase_name;
    am->amvalidate = validate;
    am->amadjustmembers = nullptr;
    am->ambeginscan = begin_scan;
    am->amrescan = rescan;
    am->amgettuple = get_tuple;
    am->amgetbitmap = nullptr;
    am->amendscan = end_scan;
    am->ammarkpos = nullptr;
    am->amrestrpos = nullptr;
    am->amestimateparallelscan = nullptr;
    am->aminitparallelscan = nullptr;
    am->amparallelrescan = nullptr;

    PG_RETURN_POINTER(am);
}

}  // extern "C"
