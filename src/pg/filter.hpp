// Filter columns: the columns after the vector in a multi-column annoy index
//   CREATE INDEX ON docs USING annoy (embedding, tenant_id, labels);
// whose values every leaf entry carries, so that a scan applies WHERE
// conditions on them to candidates before ranking and scoring them
// (scan_filter.hpp) and its search budget counts only rows that pass.
//
// An operator class is a filter class when it has support function 3
// (kFilterProc), which names how its values are stored (FilterKind); vector
// classes have support function 1 (the metric) instead.  Each filter column
// takes 8 bytes of an entry's payload, then one bit per column says NULL:
//   Integer  integers, bool, date, timestamp[tz]: the value as int64,
//            exact (comparisons need no recheck)
//   Hash     text, uuid, enums: a 64-bit hash with the type's extended hash
//            function and the column's collation (= only; lossy, rechecked)
//   Array    arrays of a hashable element type: a 64-bit signature, each
//            non-NULL element setting two bits chosen by its hash (&&, @>,
//            <@; lossy, rechecked)
#pragma once

#include "page.hpp"

namespace annoy::pg {

constexpr int kFilterProc = 3;

enum class FilterKind : int32 {
    Integer = 1,
    Hash = 2,
    Array = 3,
};

// Operator strategies of the filter classes (btree's numbers for the
// comparisons).
enum FilterStrategy : int {
    kLess = 1,
    kLessEqual = 2,
    kEqual = 3,
    kGreaterEqual = 4,
    kGreater = 5,
    kOverlap = 6,      // &&
    kContains = 7,     // @>
    kContainedBy = 8,  // <@
};
constexpr int kFilterStrategies = 8;

struct FilterColumn {
    FilterKind kind;
    Oid type;       // the column's (opclass input) type
    int16 typlen;   // Integer: 1, 2, 4 or 8 (by value)
    Oid collation;  // Hash, Array: the column's collation
    // Hash: the type's extended hash function; Array: the element type's.
    FmgrInfo hash;
    Oid elem_type;  // Array
    int16 elem_len;
    bool elem_byval;
    char elem_align;
};

// The columns of an index, read from its operator classes once per
// relcache entry (rd_amcache).
struct IndexColumns {
    core::Metric metric;  // column 1's operator class
    int n_filters;        // columns 2..
    int payload_bytes;    // filter_payload_bytes(n_filters)
    FilterColumn filters[INDEX_MAX_KEYS];
};

// 8 bytes a column, then the NULL bitmap.
constexpr int filter_payload_bytes(int n_filters)
{
    return n_filters == 0 ? 0 : 8 * n_filters + (n_filters + 7) / 8;
}
static_assert(filter_payload_bytes(INDEX_MAX_KEYS - 1) <= 255, "the payload size fits the meta page's byte");

// The index's columns; errors (42P17) unless column 1 has a vector operator
// class and every other column a filter class.  The reference is to the
// relcache entry's cache, which a relcache flush frees: any catalog access
// (a hash function looking up its collation) may process one, so code that
// encodes values keeps its own copy (copy_index_columns).
const IndexColumns &index_columns(Relation index);
// A palloc'd copy in the current memory context.
IndexColumns *copy_index_columns(Relation index);

// Writes a row's filter payload (cols.payload_bytes bytes): values[k] and
// isnull[k] are filter column k's (the index's column k + 2).
void encode_payload(const IndexColumns &cols, const Datum *values, const bool *isnull, uint8 *out);

// An integer Datum of `typlen` bytes (1: bool, 2, 4: int4 and date, 8:
// int8 and timestamps) as int64, as Integer columns store it.
inline int64 integer_value(Datum d, int typlen)
{
    switch (typlen) {
        case 1:
            return int64(uint8(DatumGetChar(d)));
        case 2:
            return DatumGetInt16(d);
        case 4:
            return DatumGetInt32(d);
        default:
            return DatumGetInt64(d);
    }
}

// A filter value's 8 bytes, and whether column k is NULL, in a payload.
inline int64 payload_value(const uint8 *payload, int k)
{
    int64 v;
    memcpy(&v, payload + 8 * k, sizeof(v));
    return v;
}
inline bool payload_null(const uint8 *payload, int n_filters, int k)
{
    return (payload[8 * n_filters + k / 8] >> (k % 8)) & 1;
}

// The 64-bit hash of a value of a Hash column, and the signature bits of one
// array element (Array), as stored; the scan computes its keys with them.
uint64 filter_hash(const FilterColumn &col, Datum value);
uint64 element_bits(const FilterColumn &col, Datum element);
// The signature of an array (OR of its non-NULL elements' bits).
uint64 array_signature(const FilterColumn &col, Datum array);

}  // namespace annoy::pg
