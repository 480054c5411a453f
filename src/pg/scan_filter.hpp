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

// Whether a leaf entry's payload passes every test.
bool filter_pass(const ScanFilter &f, const uint8 *payload) noexcept;

}  // namespace annoy::pg
