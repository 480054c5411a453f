// Multi-page tree edits.
#include "tree_edit.hpp"

extern "C" {
#include "access/transam.h"
}

namespace annoy::pg {

LockedPages LockedPages::lock(Relation index, const BlockNumber *blocks, int count)
{
    LockedPages lp{};
    lp.index = index;
    for (int i = 0; i < count; i++) {
        bool seen = false;
        for (int j = 0; j < lp.n; j++)
            seen |= lp.blocks[j] == blocks[i];
        if (!seen) {
            if (lp.n == MAX_GENERIC_XLOG_PAGES)
                elog(ERROR, "annoy: too many pages in one tree edit");
            lp.blocks[lp.n++] = blocks[i];
        }
    }
    std::sort(lp.blocks, lp.blocks + lp.n);
    for (int i = 0; i < lp.n; i++) {
        lp.bufs[i] = ReadBuffer(index, lp.blocks[i]);
        LockBuffer(lp.bufs[i], BUFFER_LOCK_EXCLUSIVE);
        if (lp.blocks[i] != kMetaBlock)
            check_data_page(index, BufferGetPage(lp.bufs[i]), lp.blocks[i]);
    }
    lp.state = GenericXLogStart(index);
    for (int i = 0; i < lp.n; i++)
        lp.pages[i] = GenericXLogRegisterBuffer(lp.state, lp.bufs[i], 0);
    return lp;
}

LockedPages LockedPages::adopt(Relation index, Buffer buf)
{
    LockedPages lp{};
    lp.index = index;
    lp.state = GenericXLogStart(index);
    lp.add(buf, false);
    return lp;
}

Page LockedPages::add(Buffer buf, bool is_new)
{
    if (n == MAX_GENERIC_XLOG_PAGES)
        elog(ERROR, "annoy: too many pages in one tree edit");
    int i = n++;
    bufs[i] = buf;
    blocks[i] = BufferGetBlockNumber(buf);
    pages[i] = GenericXLogRegisterBuffer(state, buf, is_new ? GENERIC_XLOG_FULL_IMAGE : 0);
    if (is_new)
        init_data_page(pages[i]);
    return pages[i];
}

TupleRef LockedPages::place(const void *tuple, Size size)
{
    TupleRef ref;
    for (int i = 0; i < n; i++) {
        if (blocks[i] != kMetaBlock && PageGetFreeSpace(pages[i]) >= MAXALIGN(size)) {
            ItemPointerSet(&ref, blocks[i], add_tuple(index, pages[i], tuple, size));
            return ref;
        }
    }
    if (n == MAX_GENERIC_XLOG_PAGES)
        elog(ERROR, "annoy: too many pages in one tree edit");
    bool is_new;
    Buffer buf = page_with_room(index, size, bufs, n, &is_new);
    Page page = add(buf, is_new);
    ItemPointerSet(&ref, BufferGetBlockNumber(buf), add_tuple(index, page, tuple, size));
    return ref;
}

Page LockedPages::page(BlockNumber blkno) const
{
    for (int i = 0; i < n; i++) {
        if (blocks[i] == blkno)
            return pages[i];
    }
    elog(ERROR, "annoy: block %u is not locked for this edit", blkno);
    return nullptr;
}

void LockedPages::commit()
{
    GenericXLogFinish(state);
    for (int i = 0; i < n; i++) {
        if (blocks[i] != kMetaBlock)
            record_free_space(index, bufs[i]);
        UnlockReleaseBuffer(bufs[i]);
    }
}

void LockedPages::abandon()
{
    GenericXLogAbort(state);
    for (int i = 0; i < n; i++)
        UnlockReleaseBuffer(bufs[i]);
}

TupleRef *slot_ref_in(const LockedPages &pages, const Slot &slot, int tree, const IndexShape &shape)
{
    if (!ItemPointerIsValid(&slot.split))
        return &meta_data(pages.page(kMetaBlock))->roots[tree];
    NodeView v = node_in(pages, slot.split, tree, shape);
    return v.kind == kSplitTuple ? &v.split->child[slot.side] : nullptr;
}

NodeView node_in(const LockedPages &pages, const TupleRef &ref, int tree, const IndexShape &shape)
{
    return read_node(pages.index, pages.page(ItemPointerGetBlockNumber(&ref)), ref, tree, shape);
}

uint64 retirement_stamp()
{
    return U64FromFullTransactionId(ReadNextFullTransactionId());
}

void retire_to_forward(const LockedPages &pages, const TupleRef &ref, int tree, const TupleRef &target)
{
    ForwardTupleHeader fwd{};
    fwd.kind = kForwardTuple;
    fwd.tree = uint16(tree);
    fwd.target = target;
    fwd.set_retired(retirement_stamp());
    Page page = pages.page(ItemPointerGetBlockNumber(&ref));
    if (!PageIndexTupleOverwrite(page, ItemPointerGetOffsetNumber(&ref), reinterpret_cast<Item>(&fwd), sizeof(fwd)))
        elog(ERROR, "annoy: failed to retire node (%u,%u)", ItemPointerGetBlockNumber(&ref),
             ItemPointerGetOffsetNumber(&ref));
}

}  // namespace annoy::pg
