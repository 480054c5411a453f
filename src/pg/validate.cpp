// amvalidate: checks an annoy operator class is well formed.  Problems are
// reported as INFO messages (like the core access methods) and make the
// result false.
#include "am.hpp"
#include "filter.hpp"

extern "C" {
#include "access/amvalidate.h"
#include "access/htup_details.h"
#include "catalog/pg_amop.h"
#include "catalog/pg_amproc.h"
#include "catalog/pg_opclass.h"
#include "catalog/pg_type.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/syscache.h"
}

namespace annoy::pg {

namespace {

// A vector class: support functions 1 (the metric) and optionally 2 (the
// input format), both (internal) -> int4, and ordering operator 1.
bool validate_vector_class(Oid family, Oid type, const char *classname)
{
    bool ok = true;
    bool has_metric = false;
    CatCList *procs = SearchSysCacheList1(AMPROCNUM, ObjectIdGetDatum(family));
    for (int i = 0; i < procs->n_members; i++) {
        auto *proc = reinterpret_cast<Form_pg_amproc>(GETSTRUCT(&procs->members[i]->tuple));
        if (proc->amprocnum != 1 && proc->amprocnum != 2) {
            ereport(INFO, (errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
                           errmsg("annoy operator class \"%s\" has invalid support function number %d", classname,
                                  proc->amprocnum)));
            ok = false;
            continue;
        }
        if (!check_amproc_signature(proc->amproc, INT4OID, true, 1, 1, INTERNALOID)) {
            ereport(INFO, (errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
                           errmsg("annoy operator class \"%s\" support function %d must take internal and return "
                                  "integer",
                                  classname, proc->amprocnum)));
            ok = false;
        }
        has_metric = has_metric || proc->amprocnum == 1;
    }
    ReleaseSysCacheList(procs);
    if (!has_metric) {
        ereport(INFO, (errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
                       errmsg("annoy operator class \"%s\" is missing support function 1", classname)));
        ok = false;
    }

    // Operators: strategy 1, an ordering operator (type, type) -> float8
    // sorted by a btree family that can sort float8.
    bool has_order = false;
    CatCList *ops = SearchSysCacheList1(AMOPSTRATEGY, ObjectIdGetDatum(family));
    for (int i = 0; i < ops->n_members; i++) {
        auto *op = reinterpret_cast<Form_pg_amop>(GETSTRUCT(&ops->members[i]->tuple));
        if (op->amopstrategy != 1 || op->amoppurpose != AMOP_ORDER) {
            ereport(INFO, (errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
                           errmsg("annoy operator class \"%s\" may only contain ordering operator 1", classname)));
            ok = false;
            continue;
        }
        if (!opfamily_can_sort_type(op->amopsortfamily, FLOAT8OID)) {
            ereport(INFO, (errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
                           errmsg("annoy operator class \"%s\" operator %s must sort by float_ops", classname,
                                  format_operator(op->amopopr))));
            ok = false;
        }
        if (!check_amop_signature(op->amopopr, FLOAT8OID, type, type)) {
            ereport(INFO,
                    (errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
                     errmsg("annoy operator class \"%s\" operator %s must take (%s, %s) and return double "
                            "precision",
                            classname, format_operator(op->amopopr), format_type_be(type), format_type_be(type))));
            ok = false;
        }
        has_order = true;
    }
    ReleaseSysCacheList(ops);
    if (!has_order) {
        ereport(INFO, (errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
                       errmsg("annoy operator class \"%s\" is missing ordering operator 1", classname)));
        ok = false;
    }
    return ok;
}

// A filter class: support function 3 (the storage kind), (internal) -> int4,
// and search operators of the strategies of filter.hpp returning bool.
bool validate_filter_class(Oid family, const char *classname)
{
    bool ok = true;
    CatCList *procs = SearchSysCacheList1(AMPROCNUM, ObjectIdGetDatum(family));
    for (int i = 0; i < procs->n_members; i++) {
        auto *proc = reinterpret_cast<Form_pg_amproc>(GETSTRUCT(&procs->members[i]->tuple));
        if (proc->amprocnum != kFilterProc || !check_amproc_signature(proc->amproc, INT4OID, true, 1, 1, INTERNALOID)) {
            ereport(INFO, (errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
                           errmsg("annoy filter operator class \"%s\" may only have support function %d, taking "
                                  "internal and returning integer",
                                  classname, kFilterProc)));
            ok = false;
        }
    }
    ReleaseSysCacheList(procs);
    CatCList *ops = SearchSysCacheList1(AMOPSTRATEGY, ObjectIdGetDatum(family));
    for (int i = 0; i < ops->n_members; i++) {
        auto *op = reinterpret_cast<Form_pg_amop>(GETSTRUCT(&ops->members[i]->tuple));
        if (op->amopstrategy < 1 || op->amopstrategy > kFilterStrategies || op->amoppurpose != AMOP_SEARCH ||
            !check_amop_signature(op->amopopr, BOOLOID, op->amoplefttype, op->amoprighttype)) {
            ereport(INFO, (errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
                           errmsg("annoy filter operator class \"%s\" operator %s must be a search operator of "
                                  "strategy 1 to %d returning boolean",
                                  classname, format_operator(op->amopopr), kFilterStrategies)));
            ok = false;
        }
    }
    ReleaseSysCacheList(ops);
    return ok;
}

}  // namespace

bool validate(Oid opclassoid)
{
    bool ok;
    HeapTuple classtup = SearchSysCache1(CLAOID, ObjectIdGetDatum(opclassoid));
    if (!HeapTupleIsValid(classtup))
        elog(ERROR, "annoy: cache lookup failed for operator class %u", opclassoid);
    auto *classform = reinterpret_cast<Form_pg_opclass>(GETSTRUCT(classtup));
    Oid family = classform->opcfamily;
    Oid type = classform->opcintype;
    char *classname = pstrdup(NameStr(classform->opcname));
    ReleaseSysCache(classtup);

    // A filter class (support function 3, filter.hpp) or a vector class.
    bool filter_class = false;
    CatCList *procs = SearchSysCacheList1(AMPROCNUM, ObjectIdGetDatum(family));
    for (int i = 0; i < procs->n_members; i++) {
        auto *proc = reinterpret_cast<Form_pg_amproc>(GETSTRUCT(&procs->members[i]->tuple));
        filter_class = filter_class || proc->amprocnum == kFilterProc;
    }
    ReleaseSysCacheList(procs);
    ok = filter_class ? validate_filter_class(family, classname) : validate_vector_class(family, type, classname);
    return ok;
}

}  // namespace annoy::pg
