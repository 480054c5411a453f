// A scan's WHERE conditions on filter columns (filter.hpp), compiled from
// its scan keys into tests on leaf entries' payloads: the scan applies them
// to every candidate before ranking or scoring it, so rows that cannot
// match cost a few comparisons and never count toward the search budget.
//
// Per key: the column, the strategy and its operands (several for
// col = ANY(array): the entry passes if any operand does).  Integer columns
// compare exactly; hashes and array signatures are lossy (a hash collision,
// or signature bits that other elements set, lets a row through), so with
// such a key the executor rechecks the rows the scan returns.
#pragma once

#include "filter.hpp"

namespace annoy::pg {

struct FilterTest {
    int column;  // filter column (index column - 2)
    int strategy;
    int n;          // operands
    int64 *values;  // Integer: values (kEqual: sorted); Hash: sorted hashes; Array: signatures or element bits
};

struct ScanFilter {
    int n_tests;
    FilterTest *tests;
    int n_filters;  // filter columns of the index (where the NULL bitmap is)
    bool lossy;     // a key is tested on hashes or signatures: the executor must recheck
    bool never;     // a key no row can satisfy (a NULL operand, an empty ANY array)
};

// Compiles the scan keys (all on filter columns) into *out, allocating in
// the current memory context.
void prepare_scan_filter(const IndexColumns &cols, const ScanKeyData *keys, int nkeys, ScanFilter *out);

// Whether v is one of n sorted values.
inline bool in_sorted(const int64 *values, int n, int64 v) noexcept
{
    if (n <= 8) {
        for (int i = 0; i < n; i++) {
            if (values[i] == v)
                return true;
        }
        return false;
    }
    return std::binary_search(values, values + n, v);
}

// Whether a payload's value passes one test (inline, as filter_pass: the
// scan calls them for every leaf entry it reaches).
inline bool test_pass(const FilterTest &t, int64 v) noexcept
{
    switch (t.strategy) {
        case kLess:
            return v < t.values[0];
        case kLessEqual:
            return v <= t.values[0];
        case kEqual:
            return in_sorted(t.values, t.n, v);
        case kGreaterEqual:
            return v >= t.values[0];
        case kGreater:
            return v > t.values[0];
        case kOverlap:   // operands: the bits of each wanted element
        case kContains:  // operands: the signature of each wanted set
            for (int i = 0; i < t.n; i++) {
                if ((uint64(v) & uint64(t.values[i])) == uint64(t.values[i]))
                    return true;
            }
            return false;
        case kContainedBy:
            for (int i = 0; i < t.n; i++) {
                if ((uint64(v) & ~uint64(t.values[i])) == 0)
                    return true;
            }
            return false;
    }
    return false;
}

// Whether a leaf entry's payload passes every test.
inline bool filter_pass(const ScanFilter &f, const uint8 *payload) noexcept
{
    for (int i = 0; i < f.n_tests; i++) {
        const FilterTest &t = f.tests[i];
        // No filter operator is true for a NULL value.
        if (payload_null(payload, f.n_filters, t.column) || !test_pass(t, payload_value(payload, t.column)))
            return false;
    }
    return true;
}

}  // namespace annoy::pg
