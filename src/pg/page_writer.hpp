// Sequential page filling for index builds: tuples are appended page after
// page without WAL; the caller logs the finished range with
// log_newpage_range (or log_newpage_buffer for the init fork).
#pragma once

#include "page.hpp"

namespace annoy::pg {

struct PageWriter {
    // A page left with free space, for add_in_gap().
    struct Gap {
        BlockNumber blkno;
        Size free;
    };

    Relation index;
    ForkNumber fork;
    Buffer buf;  // current page, exclusively locked; InvalidBuffer if none
    // Pages finished with at least `min_gap` bytes free (when recording).
    Gap *gaps;
    int ngaps, gaps_cap, next_gap;
    Size min_gap;

    static PageWriter start(Relation index, ForkNumber fork);
    // Appends a tuple, starting a new page when it does not fit.
    TupleRef add(const void *tuple, Size size);
    // Releases the current page.
    void finish();

    // From now on, remember finished pages with >= min_gap bytes free.
    void record_gaps(Size min_gap_bytes);
    // Puts a tuple into the space left on a recorded page (first fit among
    // the next few), else appends it like add().  Large vectors leave
    // room on their pages (two 784-d vectors fill 6.3 of 8 kB): tree nodes
    // written there cost no pages of their own.
    TupleRef add_in_gap(const void *tuple, Size size);
};

// Writes the meta page into block 0 of `fork`, which must exist.
void write_meta_block(Relation index, ForkNumber fork, const MetaPageData &meta, bool log_it);

}  // namespace annoy::pg
