// Sequential page filling for builds.
#include "page_writer.hpp"

extern "C" {
#include "access/xloginsert.h"
}

namespace annoy::pg {

PageWriter PageWriter::start(Relation index, ForkNumber fork) { return PageWriter{index, fork, InvalidBuffer}; }

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
