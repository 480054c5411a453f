// Memory-context allocator for the core's containers, and context callbacks.
#include "search_state.hpp"

#include "context_alloc.hpp"

namespace annoy::pg {

static void *context_alloc(void *ctx, size_t bytes)
{
    return MemoryContextAllocExtended(static_cast<MemoryContext>(ctx), bytes, MCXT_ALLOC_HUGE);
}

static void context_release(void *, void *p)
{
    pfree(p);
}

core::RawAllocator context_allocator(MemoryContext cxt)
{
    core::RawAllocator a;
    a.alloc = context_alloc;
    a.release = context_release;
    a.ctx = cxt;
    return a;
}

void at_context_reset(MemoryContext cxt, void (*fn)(void *), void *arg)
{
    auto *cb = static_cast<MemoryContextCallback *>(MemoryContextAlloc(cxt, sizeof(MemoryContextCallback)));
    cb->func = fn;
    cb->arg = arg;
    MemoryContextRegisterResetCallback(cxt, cb);
}

}  // namespace annoy::pg
