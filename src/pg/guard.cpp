// Raising Postgres errors for exceptions caught at the guarded line.
#include "guard.hpp"

namespace annoy::pg {

void raise_captured(int kind, const char *message, ErrorData *edata)
{
    switch (kind) {
        case kPostgres:
            ReThrowError(edata);
        case kOutOfMemory:
            ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory in annoy")));
        case kCancelled:
            // The core stopped because an interrupt was pending; service it.
            // If it turns out not to be an error (e.g. a barrier), still stop.
            CHECK_FOR_INTERRUPTS();
            ereport(ERROR, (errcode(ERRCODE_QUERY_CANCELED), errmsg("canceling annoy operation")));
        default:
            ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("annoy: %s", message)));
    }
    pg_unreachable();
}

static bool check_interrupts(void *)
{
    if (INTERRUPTS_PENDING_CONDITION())
        pg_call([] { CHECK_FOR_INTERRUPTS(); });
    return false;
}

core::CancelCheck interrupt_check()
{
    core::CancelCheck check;
    check.fn = check_interrupts;
    return check;
}

}  // namespace annoy::pg
