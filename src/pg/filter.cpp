// Filter columns: which operator classes an index's columns have, and how a
// row's filter values become the payload its leaf entries carry
// (filter.hpp).
#include "filter.hpp"

#include "am.hpp"

extern "C" {
#include "catalog/pg_index.h"
#include "catalog/pg_opclass.h"
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/typcache.h"
}

namespace annoy::pg {

namespace {

// Mixed into every stored hash, so the payload does not expose the plain
// hash values of the type (and a change of it is a layout change).
constexpr uint64 kHashSeed = 0x616E6E6F79463137ull;

const char *opclass_name(Relation index, int attno)
{
    bool isnull;
    Datum indclass = SysCacheGetAttr(INDEXRELID, index->rd_indextuple, Anum_pg_index_indclass, &isnull);
    if (isnull)
        return "?";
    Oid opclass = reinterpret_cast<oidvector *>(DatumGetPointer(indclass))->values[attno - 1];
    HeapTuple tup = SearchSysCache1(CLAOID, ObjectIdGetDatum(opclass));
    if (!HeapTupleIsValid(tup))
        return "?";
    const char *name = pstrdup(NameStr(reinterpret_cast<Form_pg_opclass>(GETSTRUCT(tup))->opcname));
    ReleaseSysCache(tup);
    return name;
}

// Calls support function `procnum` of column attno, an (internal) -> int4
// function naming a constant (metric or filter kind).  CREATE OPERATOR
// CLASS accepts any function there, and calling one with another signature
// would crash, so the signature is checked first.
int32 support_constant(Relation index, int attno, int procnum)
{
    Oid procoid = index_getprocid(index, AttrNumber(attno), uint16(procnum));
    Oid *argtypes;
    int nargs;
    if (!OidIsValid(procoid) || get_func_signature(procoid, &argtypes, &nargs) != INT4OID || nargs != 1 ||
        argtypes[0] != INTERNALOID)
        ereport(ERROR,
                (errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
                 errmsg("annoy operator class support function %d must take internal and return integer", procnum),
                 errhint("Use one of the operator classes of the annoy extension.")));
    FmgrInfo *proc = index_getprocinfo(index, AttrNumber(attno), uint16(procnum));
    return DatumGetInt32(FunctionCall1(proc, Int32GetDatum(0)));
}

// The extended hash function of `type` (for its default hash opclass), in
// the index's cache context.
void lookup_hash(Relation index, Oid type, FmgrInfo *out)
{
    TypeCacheEntry *tc = lookup_type_cache(type, TYPECACHE_HASH_EXTENDED_PROC);
    if (!OidIsValid(tc->hash_extended_proc))
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("annoy filter columns of type %s need an extended hash function, which it has not",
                               format_type_be(type))));
    fmgr_info_cxt(tc->hash_extended_proc, out, index->rd_indexcxt);
}

void read_filter_column(Relation index, int attno, FilterColumn *col)
{
    const int32 kind = support_constant(index, attno, kFilterProc);
    Form_pg_attribute att = TupleDescAttr(RelationGetDescr(index), attno - 1);
    *col = FilterColumn{};
    col->kind = FilterKind(kind);
    col->type = att->atttypid;
    col->collation = index->rd_indcollation[attno - 1];
    switch (col->kind) {
        case FilterKind::Integer:
            col->typlen = att->attlen;
            if (!att->attbyval || (col->typlen != 1 && col->typlen != 2 && col->typlen != 4 && col->typlen != 8))
                ereport(ERROR, (errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
                                errmsg("annoy operator class \"%s\" stores %s as an integer, which it is not",
                                       opclass_name(index, attno), format_type_be(col->type))));
            return;
        case FilterKind::Hash:
            lookup_hash(index, col->type, &col->hash);
            return;
        case FilterKind::Array:
            col->elem_type = get_element_type(col->type);
            if (!OidIsValid(col->elem_type))
                ereport(ERROR, (errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
                                errmsg("annoy operator class \"%s\" needs an array type, not %s",
                                       opclass_name(index, attno), format_type_be(col->type))));
            get_typlenbyvalalign(col->elem_type, &col->elem_len, &col->elem_byval, &col->elem_align);
            lookup_hash(index, col->elem_type, &col->hash);
            return;
    }
    ereport(ERROR, (errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
                    errmsg("annoy operator class \"%s\" support function %d returned unknown filter kind %d",
                           opclass_name(index, attno), kFilterProc, kind)));
}

}  // namespace

const IndexColumns &index_columns(Relation index)
{
    // Cached with the relcache entry (rd_amcache is freed when it is
    // rebuilt): read_meta checks every meta page against it.
    if (index->rd_amcache != nullptr)
        return *static_cast<const IndexColumns *>(index->rd_amcache);
    // Built in the current context, kept only once every column is checked.
    auto *cols = static_cast<IndexColumns *>(palloc0(sizeof(IndexColumns)));
    const int natts = IndexRelationGetNumberOfKeyAttributes(index);
    // Column 1 holds the vectors: a vector class has support function 1
    // (its metric, checked by support_constant) and no filter function.
    if (OidIsValid(index_getprocid(index, 1, kFilterProc)))
        ereport(ERROR, (errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
                        errmsg("the first column of an annoy index must have a vector operator class, not \"%s\"",
                               opclass_name(index, 1)),
                        errhint("Index the vector column first, then the filter columns: "
                                "USING annoy (embedding, tenant_id).")));
    int32 metric = support_constant(index, 1, 1);
    if (metric < int32(core::Metric::Euclidean) || metric > int32(core::Metric::Hamming))
        ereport(ERROR, (errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
                        errmsg("annoy operator class support function 1 returned unknown metric %d", metric)));
    cols->metric = core::Metric(metric);
    for (int attno = 2; attno <= natts; attno++) {
        if (OidIsValid(index_getprocid(index, AttrNumber(attno), 1)))
            ereport(ERROR, (errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
                            errmsg("column %d of an annoy index must have a filter operator class, not the vector "
                                   "operator class \"%s\"",
                                   attno, opclass_name(index, attno)),
                            errdetail("An annoy index orders by its first column; the others filter the candidates.")));
        if (!OidIsValid(index_getprocid(index, AttrNumber(attno), kFilterProc)))
            ereport(ERROR, (errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
                            errmsg("annoy operator class \"%s\" of column %d is not a filter operator class",
                                   opclass_name(index, attno), attno),
                            errhint("Filter operator classes have support function %d.", kFilterProc)));
        read_filter_column(index, attno, &cols->filters[attno - 2]);
    }
    cols->n_filters = natts - 1;
    cols->payload_bytes = filter_payload_bytes(cols->n_filters);
    auto *kept = static_cast<IndexColumns *>(MemoryContextAlloc(index->rd_indexcxt, sizeof(IndexColumns)));
    *kept = *cols;
    pfree(cols);
    index->rd_amcache = kept;
    return *kept;
}

IndexColumns *copy_index_columns(Relation index)
{
    const IndexColumns &cols = index_columns(index);
    auto *copy = static_cast<IndexColumns *>(palloc(sizeof(IndexColumns)));
    *copy = cols;  // the FmgrInfos too: their memory is the index's rd_indexcxt, which a flush keeps
    return copy;
}

uint64 filter_hash(const FilterColumn &col, Datum value)
{
    return DatumGetUInt64(
        FunctionCall2Coll(const_cast<FmgrInfo *>(&col.hash), col.collation, value, UInt64GetDatum(kHashSeed)));
}

uint64 element_bits(const FilterColumn &col, Datum element)
{
    // Two of 64 bits per element: a signature of a few labels rejects most
    // arrays that do not hold a wanted one.
    uint64 h = filter_hash(col, element);
    return (uint64(1) << (h & 63)) | (uint64(1) << ((h >> 6) & 63));
}

uint64 array_signature(const FilterColumn &col, Datum array)
{
    ArrayType *a = DatumGetArrayTypeP(array);
    if (ARR_ELEMTYPE(a) != col.elem_type)
        ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH),
                        errmsg("annoy filter: array of %s where %s was expected", format_type_be(ARR_ELEMTYPE(a)),
                               format_type_be(col.elem_type))));
    Datum *elems;
    bool *nulls;
    int n;
    deconstruct_array(a, col.elem_type, col.elem_len, col.elem_byval, col.elem_align, &elems, &nulls, &n);
    uint64 sig = 0;
    for (int i = 0; i < n; i++) {
        // NULL elements never make && or @> true: they are not stored.
        if (!nulls[i])
            sig |= element_bits(col, elems[i]);
    }
    pfree(elems);
    pfree(nulls);
    if (reinterpret_cast<Pointer>(a) != DatumGetPointer(array))
        pfree(a);
    return sig;
}

void encode_payload(const IndexColumns &cols, const Datum *values, const bool *isnull, uint8 *out)
{
    const int n = cols.n_filters;
    memset(out, 0, size_t(cols.payload_bytes));
    for (int k = 0; k < n; k++) {
        int64 v = 0;
        if (isnull[k]) {
            out[8 * n + k / 8] |= uint8(1 << (k % 8));
        } else {
            const FilterColumn &col = cols.filters[k];
            switch (col.kind) {
                case FilterKind::Integer:
                    v = integer_value(values[k], col.typlen);
                    break;
                case FilterKind::Hash:
                    v = int64(filter_hash(col, values[k]));
                    break;
                case FilterKind::Array:
                    v = int64(array_signature(col, values[k]));
                    break;
            }
        }
        memcpy(out + 8 * k, &v, sizeof(v));
    }
}

}  // namespace annoy::pg
