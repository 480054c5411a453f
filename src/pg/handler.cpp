// The access method handler: what annoy can do, and which function does it.
#include "am.hpp"

extern "C" {
#include "catalog/pg_type.h"
#include "utils/lsyscache.h"
}

namespace annoy::pg {

core::Metric opclass_metric(Relation index)
{
    // Cached with the relcache entry (rd_amcache is freed when it is rebuilt):
    // read_meta checks every meta page against it.
    if (index->rd_amcache != nullptr)
        return *static_cast<const core::Metric *>(index->rd_amcache);
    // CREATE OPERATOR CLASS accepts any function as support function 1;
    // calling one with the wrong signature would crash, so check it first.
    Oid procoid = index_getprocid(index, 1, 1);
    Oid *argtypes;
    int nargs;
    if (!OidIsValid(procoid) || get_func_signature(procoid, &argtypes, &nargs) != INT4OID || nargs != 1 ||
        argtypes[0] != INTERNALOID)
        ereport(ERROR, (errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
                        errmsg("annoy operator class support function 1 must take internal and return integer"),
                        errhint("Use one of the operator classes of the annoy extension.")));
    FmgrInfo *proc = index_getprocinfo(index, 1, 1);
    int32 metric = DatumGetInt32(FunctionCall1(proc, Int32GetDatum(0)));
    if (metric < int32(core::Metric::Euclidean) || metric > int32(core::Metric::Hamming))
        ereport(ERROR, (errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
                        errmsg("annoy operator class support function 1 returned unknown metric %d", metric)));
    auto *cached = static_cast<core::Metric *>(MemoryContextAlloc(index->rd_indexcxt, sizeof(core::Metric)));
    *cached = core::Metric(metric);
    index->rd_amcache = cached;
    return core::Metric(metric);
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

    am->amstrategies = 0;  // ordering operators only, no fixed strategy set
    am->amsupport = 1;     // 1: the opclass's metric
    am->amoptsprocnum = 0;
    am->amcanorder = false;
    am->amcanorderbyop = true;
    am->amcanbackward = false;
    am->amcanunique = false;
    am->amcanmulticol = false;
    am->amoptionalkey = true;
    am->amsearcharray = false;
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
