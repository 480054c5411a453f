// Chunk chains of vectors larger than a page (item_chain.hpp).
#include "item_chain.hpp"

#include "node_access.hpp"

namespace annoy::pg {

TupleRef write_chunks(TupleSink &sink, const char *vec, Size bytes, Size head_bytes, const ItemPointerData &owner)
{
    TupleRef next;
    ItemPointerSetInvalid(&next);
    if (bytes <= head_bytes)
        return next;
    Size cap = chunk_capacity();
    int n = int((bytes - head_bytes + cap - 1) / cap);
    auto *tuple = static_cast<ItemTupleHeader *>(palloc0(sizeof(ItemTupleHeader) + cap));
    for (int i = n - 1; i >= 0; i--) {
        Size begin = head_bytes + Size(i) * cap;
        Size len = std::min(cap, bytes - begin);
        memset(tuple, 0, sizeof(ItemTupleHeader));
        tuple->kind = kChunkTuple;
        tuple->seq = uint16(i + 1);
        tuple->heap_tid = owner;
        tuple->next = next;
        memcpy(item_vector(tuple), vec + begin, len);
        next = sink.add(tuple, sizeof(ItemTupleHeader) + len);
    }
    pfree(tuple);
    return next;
}

bool read_chunks(Relation index, const IndexShape &shape, TupleRef next, const ItemPointerData &owner, char *dst,
                 Size head_bytes, Size bytes)
{
    Size cap = chunk_capacity();
    Size done = head_bytes;
    for (uint16 seq = 1; done < bytes; seq++) {
        if (!ItemPointerIsValid(&next))
            return false;
        CHECK_FOR_INTERRUPTS();
        Size len = std::min(cap, bytes - done);
        Buffer buf = lock_ref_buffer(index, next, BUFFER_LOCK_SHARE);
        ItemTupleHeader *chunk = read_chunk(index, BufferGetPage(buf), next, shape);
        // Not this owner's chunk any more (VACUUM freed it and the slot was
        // reused): the owner is gone too.
        bool ok = chunk != nullptr && chunk->seq == seq &&
                  ItemPointerEquals(&chunk->heap_tid, const_cast<ItemPointer>(&owner)) &&
                  PageGetItemId(BufferGetPage(buf), ItemPointerGetOffsetNumber(&next))->lp_len ==
                      sizeof(ItemTupleHeader) + len;
        if (ok) {
            memcpy(dst + done, item_vector(chunk), len);
            next = chunk->next;
        }
        UnlockReleaseBuffer(buf);
        if (!ok)
            return false;
        done += len;
    }
    return true;
}

TupleRef write_item(TupleSink &sink, const core::Space &space, ItemTupleHeader *tuple, const void *vec,
                    const ItemPointerData &heap_tid)
{
    // The chunks first: the item tuple, written last, refers to them, so a
    // reader never finds an item whose chain is not complete yet.
    Size size = item_tuple_size(space), head = size - sizeof(ItemTupleHeader);
    memset(tuple, 0, sizeof(ItemTupleHeader));
    tuple->kind = kItemTuple;
    tuple->heap_tid = heap_tid;
    tuple->next = write_chunks(sink, static_cast<const char *>(vec), space.vector_bytes(), head, heap_tid);
    memcpy(item_vector(tuple), vec, head);
    return sink.add(tuple, size);
}

TupleRef LoggedSink::add(const void *tuple, Size size)
{
    bool is_new;
    Buffer buf = page_with_room(index, size, nullptr, 0, &is_new);
    GenericXLogState *state = GenericXLogStart(index);
    Page page = GenericXLogRegisterBuffer(state, buf, is_new ? GENERIC_XLOG_FULL_IMAGE : 0);
    if (is_new)
        init_data_page(page);
    TupleRef ref;
    ItemPointerSet(&ref, BufferGetBlockNumber(buf), add_tuple(index, page, tuple, size));
    GenericXLogFinish(state);
    // Keep the free space map truthful: a page it still believed roomy
    // after filling up would send later inserts on a chase through full
    // pages, and they would end up extending the index instead.
    record_free_space(index, buf);
    UnlockReleaseBuffer(buf);
    return ref;
}

}  // namespace annoy::pg
