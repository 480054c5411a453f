// Vectors larger than a page: the head tuple (an item, or the sketch
// center) keeps the first bytes of the vector and refers to a chain of chunk
// tuples holding the rest, a full page each (page.hpp: ItemTupleHeader).
// Chunks carry their position in the chain and their owner's heap TID, so a
// reader that raced with VACUUM (which flags and frees chunks by that TID,
// as it does items) recognises a chunk that is no longer its owner's.
//
// Everything that reads a vector goes through read_item_vector()
// (node_access.hpp), which assembles it; only the head is read under the
// head's page lock, and no two page locks are held at once.
#pragma once

#include "page.hpp"
#include "page_writer.hpp"

namespace annoy::pg {

// Adds one tuple somewhere in the index and returns its reference (a build's
// PageWriter, or a WAL-logged insert).
struct TupleSink {
    virtual TupleRef add(const void *tuple, Size size) = 0;

protected:
    ~TupleSink() = default;
};

// Writes the chunk tuples of vec[head_bytes, bytes) (last chunk first, so
// each knows its successor) for the owner with heap TID `owner` (invalid
// for the center); returns the first chunk's reference, invalid if there is
// none.
TupleRef write_chunks(TupleSink &sink, const char *vec, Size bytes, Size head_bytes, const ItemPointerData &owner);

// Reads the chain starting at `next` into dst[head_bytes, bytes).  False if
// a chunk is missing, flagged dead, of the wrong size or position, or not
// the owner's: the item was removed by VACUUM after the caller read it.
struct IndexShape;
bool read_chunks(Relation index, const IndexShape &shape, TupleRef next, const ItemPointerData &owner, char *dst,
                 Size head_bytes, Size bytes);

// A WAL-logged sink for inserts: each tuple on a page with room (one
// GenericXLog record each).
struct LoggedSink final : TupleSink {
    Relation index;
    explicit LoggedSink(Relation r) : index(r) {}
    TupleRef add(const void *tuple, Size size) override;
};

// A build's sink: tuples appended by its PageWriter (no WAL yet).
struct WriterSink final : TupleSink {
    PageWriter &writer;
    explicit WriterSink(PageWriter &w) : writer(w) {}
    TupleRef add(const void *tuple, Size size) override { return writer.add(tuple, size); }
};

// Writes an item: its chunks (if the vector is larger than a page), then the
// item tuple, through `sink`; `tuple` is a buffer of item_tuple_size(space)
// bytes.  Returns the item's reference.
TupleRef write_item(TupleSink &sink, const core::Space &space, ItemTupleHeader *tuple, const void *vec,
                    const ItemPointerData &heap_tid);

}  // namespace annoy::pg
