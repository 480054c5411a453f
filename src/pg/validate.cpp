// amvalidate: checks an annoy operator class is well formed.  Problems are
// reported as INFO messages (like the core access methods) and make the
// result false.
#include "am.hpp"

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

bool validate(Oid opclassoid)
{
    bool ok = true;

    HeapTuple classtup = SearchSysCache1(CLAOID, ObjectIdGetDatum(opclassoid));
    if (!HeapTupleIsValid(classtup))
        elog(ERROR, "annoy: cache lookup failed for operator class %u", opclassoid);
    auto *classform = reinterpret_cast<Form_pg_opclass>(GETSTRUCT(classtup));
    Oid family = classform->opcfamily;
    Oid type = classform->opcintype;
    char *classname = pstrdup(NameStr(classform->opcname));
    ReleaseSysCache(classtup);

    // Support functions: exactly function 1, (internal) -> int4.
    bool has_metric = false;
    CatCList *procs = SearchSysCacheList1(AMPROCNUM, ObjectIdGetDatum(family));
    for (int i = 0; i < procs->n_members; i++) {
        auto *proc = reinterpret_cast<Form_pg_amproc>(GETSTRUCT(&procs->members[i]->tuple));
        if (proc->amprocnum != 1) {
            ereport(INFO, (errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
                           errmsg("annoy operator class \"%s\" has invalid support function number %d", classname,
                                  proc->amprocnum)));
            ok = false;
            continue;
        }
        if (!check_amproc_signature(proc->amproc, INT4OID, true, 1, 1, INTERNALOID)) {
            ereport(INFO, (errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
                           errmsg("annoy operator class \"%s\" support function 1 must take internal and return "
                                  "integer",
                                  classname)));
            ok = false;
        }
        has_metric = true;
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

}  // namespace annoy::pg
