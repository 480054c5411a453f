// Pinning index pages without the shared buffer table lookup.
//
// Every candidate a scan scores and every node an insert passes is a page to
// pin, and ReadBuffer finds a page's buffer through the shared buffer
// mapping table: a hash probe into a table with an entry per buffer (a cache
// miss at any realistic shared_buffers) under a partition lock (two atomic
// operations on a cache line all backends share).  Profiles of scans put
// that lookup at a fifth of the time.
//
// So each backend remembers, per index and block, the buffer that last held
// the block, and pins it with ReadRecentBuffer, which checks the buffer's
// tag before trusting it.  A stale hint (the page was evicted, the index
// rewritten) only costs the fallback to ReadBuffer, which refreshes it.
#pragma once

#include "pg.hpp"

namespace annoy::pg {

// ReadBuffer(index, blkno), through the backend's hint when it is right.
Buffer read_index_buffer(Relation index, BlockNumber blkno);

// Starts loading into the CPU's caches the page header and line pointer
// `offset` of `blkno`, if the backend knows the buffer that held it (no pin is
// taken: the memory is only read by the prefetch, whatever it holds now).
void prefetch_index_tuple(Relation index, BlockNumber blkno, OffsetNumber offset);

// Releases `held` (if valid) and pins `blkno`; keeps the pin when `held`
// already is that block (ReleaseAndReadBuffer through the hint).
Buffer reread_index_buffer(Buffer held, Relation index, BlockNumber blkno);

}  // namespace annoy::pg
