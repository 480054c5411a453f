// Sequential page filling for index builds: tuples are appended page after
// page without WAL; the caller logs the finished range with
// log_newpage_range (or log_newpage_buffer for the init fork).
#pragma once

#include "page.hpp"

namespace annoy::pg {

struct PageWriter {
    Relation index;
    ForkNumber fork;
    Buffer buf;  // current page, exclusively locked; InvalidBuffer if none

    static PageWriter start(Relation index, ForkNumber fork);
    // Appends a tuple, starting a new page when it does not fit.
    TupleRef add(const void *tuple, Size size);
    // Releases the current page.
    void finish();
};

// Writes the meta page into block 0 of `fork`, which must exist.
void write_meta_block(Relation index, ForkNumber fork, const MetaPageData &meta, bool log_it);

}  // namespace annoy::pg
