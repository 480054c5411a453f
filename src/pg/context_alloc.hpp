// Core containers backed by a Postgres memory context: their memory goes
// away with the context, even when an error longjmps past them.
#pragma once

#include "search_state.hpp"

#include "pg.hpp"

namespace annoy::pg {

// An allocator for core containers that lives in `cxt` (palloc raises the
// Postgres out-of-memory error itself, so the containers never throw).
core::RawAllocator context_allocator(MemoryContext cxt);

}  // namespace annoy::pg
