// Compiling and applying a scan's filter keys (scan_filter.hpp).
#include "scan_filter.hpp"

extern "C" {
#include "utils/array.h"
#include "utils/lsyscache.h"
}

namespace annoy::pg {

namespace {

// A key's operands as Datums: its argument, or the non-NULL elements of
// its array for col = ANY(array) (SK_SEARCHARRAY); *type is their type.
int key_operands(const ScanKeyData &key, Oid column_type, Datum **out, Oid *type)
{
    if (!(key.sk_flags & SK_SEARCHARRAY)) {
        *out = static_cast<Datum *>(palloc(sizeof(Datum)));
        (*out)[0] = key.sk_argument;
        *type = OidIsValid(key.sk_subtype) ? key.sk_subtype : column_type;
        return 1;
    }
    ArrayType *a = DatumGetArrayTypeP(key.sk_argument);
    *type = ARR_ELEMTYPE(a);
    int16 len;
    bool byval;
    char align;
    get_typlenbyvalalign(*type, &len, &byval, &align);
    Datum *elems;
    bool *nulls;
    int n;
    deconstruct_array(a, *type, len, byval, align, &elems, &nulls, &n);
    int kept = 0;
    for (int i = 0; i < n; i++) {
        // col = NULL is never true: NULL elements add no operand.
        if (!nulls[i])
            elems[kept++] = elems[i];
    }
    *out = elems;
    return kept;
}

void compile_key(const IndexColumns &cols, const ScanKeyData &key, ScanFilter *f)
{
    const int column = key.sk_attno - 2;
    if (column < 0 || column >= cols.n_filters)
        elog(ERROR, "annoy: scan key on column %d, which is not a filter column", int(key.sk_attno));
    if (key.sk_flags & SK_ISNULL) {
        f->never = true;  // a comparison with NULL
        return;
    }
    const FilterColumn &col = cols.filters[column];
    Datum *ops;
    Oid type;
    const int n = key_operands(key, col.type, &ops, &type);
    if (n == 0) {
        f->never = true;  // = ANY('{}'): no row
        return;
    }
    FilterTest &t = f->tests[f->n_tests++];
    t.column = column;
    t.strategy = key.sk_strategy;
    t.values = static_cast<int64 *>(palloc(sizeof(int64) * size_t(n)));
    t.n = n;
    switch (col.kind) {
        case FilterKind::Integer: {
            if (t.strategy < kLess || t.strategy > kGreater)
                elog(ERROR, "annoy: strategy %d on an integer filter column", t.strategy);
            const int len = get_typlen(type);
            for (int i = 0; i < n; i++)
                t.values[i] = integer_value(ops[i], len);
            if (t.strategy == kEqual)
                break;
            // A comparison with ANY(array) is one with its extreme value.
            int64 best = t.values[0];
            for (int i = 1; i < n; i++) {
                if (t.strategy == kLess || t.strategy == kLessEqual)
                    best = std::max(best, t.values[i]);
                else
                    best = std::min(best, t.values[i]);
            }
            t.values[0] = best;
            t.n = 1;
            break;
        }
        case FilterKind::Hash:
            if (t.strategy != kEqual)
                elog(ERROR, "annoy: strategy %d on a hashed filter column", t.strategy);
            for (int i = 0; i < n; i++)
                t.values[i] = int64(filter_hash(col, ops[i]));
            f->lossy = true;
            break;
        case FilterKind::Array: {
            if (t.strategy < kOverlap || t.strategy > kContainedBy)
                elog(ERROR, "annoy: strategy %d on an array filter column", t.strategy);
            if (t.strategy == kOverlap) {
                // Overlapping any operand = holding one of their elements:
                // the operands become every element's bits.
                int m = 0;
                for (int i = 0; i < n; i++) {
                    ArrayType *a = DatumGetArrayTypeP(ops[i]);
                    Datum *elems;
                    bool *nulls;
                    int ne;
                    deconstruct_array(a, col.elem_type, col.elem_len, col.elem_byval, col.elem_align, &elems, &nulls,
                                      &ne);
                    t.values = static_cast<int64 *>(repalloc(t.values, sizeof(int64) * size_t(m + ne + 1)));
                    for (int e = 0; e < ne; e++) {
                        if (!nulls[e])
                            t.values[m++] = int64(element_bits(col, elems[e]));
                    }
                }
                t.n = m;
                if (m == 0) {
                    f->never = true;  // && with an empty (or all-NULL) array
                    f->n_tests--;
                    return;
                }
            } else {
                for (int i = 0; i < n; i++)
                    t.values[i] = int64(array_signature(col, ops[i]));
            }
            f->lossy = true;
            break;
        }
    }
    if (t.strategy == kEqual && t.n > 1) {
        std::sort(t.values, t.values + t.n);
        t.n = int(std::unique(t.values, t.values + t.n) - t.values);
    }
}

}  // namespace

void prepare_scan_filter(const IndexColumns &cols, const ScanKeyData *keys, int nkeys, ScanFilter *out)
{
    *out = ScanFilter{};
    out->n_filters = cols.n_filters;
    out->tests = static_cast<FilterTest *>(palloc0(sizeof(FilterTest) * size_t(std::max(nkeys, 1))));
    for (int i = 0; i < nkeys && !out->never; i++)
        compile_key(cols, keys[i], out);
    if (out->never)
        out->n_tests = 0;  // the scan returns nothing
}

}  // namespace annoy::pg
