// Sequential page filling for builds.
#include "page_writer.hpp"

extern "C" {
#include "access/xloginsert.h"
}

namespace annoy::pg {

PageWriter PageWriter::start(Relation index, ForkNumber fork)
{
    PageWriter w{};
    w.index = index;
    w.fork = fork;
    w.buf = InvalidBuffer;
    return w;
}

void PageWriter::record_gaps(Size min_gap_bytes)
{
    min_gap = min_gap_bytes;
    if (gaps == nullptr) {
        gaps_cap = 1024;
        gaps = static_cast<Gap *>(palloc(sizeof(Gap) * size_t(gaps_cap)));
    }
}

TupleRef PageWriter::add_in_gap(const void *tuple, Size size)
{
    Size need = MAXALIGN(size);
    // Skip gaps too small for any node from now on.
    while (next_gap < ngaps && gaps[next_gap].free < min_gap)
        next_gap++;
    for (int g = next_gap; g < ngaps && g < next_gap + 8; g++) {
        if (gaps[g].free < need)
            continue;
        Buffer gbuf = ReadBufferExtended(index, fork, gaps[g].blkno, RBM_NORMAL, nullptr);
        LockBuffer(gbuf, BUFFER_LOCK_EXCLUSIVE);
        Page page = BufferGetPage(gbuf);
        OffsetNumber off = add_tuple(index, page, tuple, size);
        gaps[g].free = PageGetFreeSpace(page);
        MarkBufferDirty(gbuf);
        UnlockReleaseBuffer(gbuf);
        TupleRef ref;
        ItemPointerSet(&ref, gaps[g].blkno, off);
        return ref;
    }
    return add(tuple, size);
}

static Buffer extend_fork(Relation index, ForkNumber fork)
{
    Buffer buf = ReadBufferExtended(index, fork, P_NEW, RBM_NORMAL, nullptr);
    LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
    return buf;
}

TupleRef PageWriter::add(const void *tuple, Size size)
{
    if (BufferIsValid(buf) && PageGetFreeSpace(BufferGetPage(buf)) < MAXALIGN(size))
        finish();
    if (!BufferIsValid(buf)) {
        buf = extend_fork(index, fork);
        init_data_page(BufferGetPage(buf));
    }
    OffsetNumber off = add_tuple(index, BufferGetPage(buf), tuple, size);
    TupleRef ref;
    ItemPointerSet(&ref, BufferGetBlockNumber(buf), off);
    return ref;
}

void PageWriter::finish()
{
    if (!BufferIsValid(buf))
        return;
    if (gaps != nullptr && min_gap > 0 && PageGetFreeSpace(BufferGetPage(buf)) >= min_gap) {
        if (ngaps == gaps_cap) {
            gaps_cap *= 2;
            gaps = static_cast<Gap *>(repalloc_huge(gaps, sizeof(Gap) * size_t(gaps_cap)));
        }
        gaps[ngaps++] = Gap{BufferGetBlockNumber(buf), PageGetFreeSpace(BufferGetPage(buf))};
    }
    MarkBufferDirty(buf);
    if (fork == INIT_FORKNUM)
        log_newpage_buffer(buf, true);
    UnlockReleaseBuffer(buf);
    buf = InvalidBuffer;
}

void write_meta_block(Relation index, ForkNumber fork, const MetaPageData &meta, bool log_it)
{
    Buffer buf = ReadBufferExtended(index, fork, kMetaBlock, RBM_NORMAL, nullptr);
    LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
    init_meta_page(BufferGetPage(buf), meta);
    MarkBufferDirty(buf);
    if (log_it)
        log_newpage_buffer(buf, true);
    UnlockReleaseBuffer(buf);
}

}  // namespace annoy::pg
