// Per-backend hints from (index, block) to the buffer that last held it; see
// buffer_hint.hpp.
#include "buffer_hint.hpp"

namespace annoy::pg {

namespace {

// Indexes with hints at once per backend (a query or insert touches one or a
// few); the least recently added is dropped for a new one.
constexpr int kHintTables = 8;

// Hints per index at most: 4 bytes per block, so 16 MB for a 32 GB index.
// Blocks beyond are read without hints.
constexpr BlockNumber kMaxHintedBlocks = BlockNumber(1) << 22;

struct HintTable {
    RelFileNode node;
    BlockNumber size;  // entries in hint, 0 for an unused table
    Buffer *hint;      // by block number; InvalidBuffer when unknown
};

HintTable tables[kHintTables];
int next_victim = 0;
HintTable *last_used = nullptr;

HintTable *hint_table(Relation index)
{
    if (last_used != nullptr && RelFileNodeEquals(last_used->node, index->rd_node))
        return last_used;
    for (HintTable &t : tables) {
        if (t.size > 0 && RelFileNodeEquals(t.node, index->rd_node))
            return last_used = &t;
    }
    HintTable &t = tables[next_victim];
    next_victim = (next_victim + 1) % kHintTables;
    if (t.hint != nullptr)
        pfree(t.hint);
    t.hint = nullptr;
    t.size = 0;
    t.node = index->rd_node;
    return last_used = &t;
}

// Makes room for a hint at blkno; false when the block is beyond the cap.
bool ensure_room(HintTable &t, BlockNumber blkno)
{
    if (blkno < t.size)
        return true;
    if (blkno >= kMaxHintedBlocks)
        return false;
    BlockNumber size = std::max<BlockNumber>(t.size, 1024);
    while (size <= blkno)
        size *= 2;
    size = std::min(size, kMaxHintedBlocks);
    // Allocate before touching the table, so an out-of-memory error leaves
    // it consistent.
    auto *grown = static_cast<Buffer *>(MemoryContextAllocZero(TopMemoryContext, sizeof(Buffer) * size));
    if (t.hint != nullptr) {
        memcpy(grown, t.hint, sizeof(Buffer) * t.size);
        pfree(t.hint);
    }
    t.hint = grown;
    t.size = size;
    return true;
}

}  // namespace

Buffer read_index_buffer(Relation index, BlockNumber blkno)
{
    // Temporary indexes live in local buffers, found without a shared lookup.
    if (RelationUsesLocalBuffers(index))
        return ReadBuffer(index, blkno);
    HintTable *t = hint_table(index);
    if (blkno < t->size) {
        Buffer hint = t->hint[blkno];
        if (hint != InvalidBuffer && ReadRecentBuffer(index->rd_node, MAIN_FORKNUM, blkno, hint)) {
            // Counted as ReadBuffer counts a hit (pg_statio_*_indexes).
            pgstat_count_buffer_read(index);
            pgstat_count_buffer_hit(index);
            return hint;
        }
    }
    Buffer buf = ReadBuffer(index, blkno);
    if (ensure_room(*t, blkno))
        t->hint[blkno] = buf;
    return buf;
}

void prefetch_index_tuple(Relation index, BlockNumber blkno, OffsetNumber offset)
{
    if (RelationUsesLocalBuffers(index))
        return;
    HintTable *t = hint_table(index);
    if (blkno >= t->size)
        return;
    const Buffer hint = t->hint[blkno];
    if (hint <= 0 || hint > NBuffers)
        return;
    const char *page = static_cast<const char *>(BufferGetBlock(hint));
    __builtin_prefetch(page, 0, 3);
    const size_t lp = SizeOfPageHeaderData + sizeof(ItemIdData) * size_t(std::max<int>(offset - 1, 0));
    if (lp + sizeof(ItemIdData) <= BLCKSZ)
        __builtin_prefetch(page + lp, 0, 3);
}

Buffer reread_index_buffer(Buffer held, Relation index, BlockNumber blkno)
{
    if (BufferIsValid(held)) {
        if (BufferGetBlockNumber(held) == blkno)
            return held;
        ReleaseBuffer(held);
    }
    return read_index_buffer(index, blkno);
}

}  // namespace annoy::pg
