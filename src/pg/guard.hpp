// The guarded line between C++ and Postgres error handling.
//
// Postgres raises errors with longjmp, which skips C++ destructors; a C++
// exception that reaches Postgres's C frames terminates the backend (and the
// postmaster then restarts the whole cluster).  So:
//
//  * Postgres -> C++: an entry point runs its C++ work inside guarded(),
//    which catches every exception, leaves the catch block, and only then
//    raises the matching Postgres error.  Nothing with a destructor may be
//    alive in the entry point's own frame at that moment.
//  * C++ -> Postgres: a Postgres call made from code that has live C++
//    objects goes through pg_call(), which catches the Postgres error with
//    PG_TRY and rethrows it as PgError; guarded() re-raises it unchanged
//    (SQLSTATE, message, detail, location survive).
#pragma once

#include "pg.hpp"

namespace annoy::pg {

// A Postgres error in flight through C++ frames.  `data` is a palloc'd copy
// made in the caller's memory context.
struct PgError {
    ErrorData *data;
};

// Raises the Postgres error for the exception captured by guarded().
// Internal errors (elog, and exceptions other than the ones named here)
// carry the prefix "annoy: ".
[[noreturn]] void raise_captured(int kind, const char *message, ErrorData *edata);

enum CapturedKind { kNone = 0, kOutOfMemory, kCancelled, kPostgres, kOther };

template <class Fn>
void guarded(Fn &&fn)
{
    int kind = kNone;
    ErrorData *edata = nullptr;
    char message[256];
    message[0] = '\0';
    try {
        fn();
    } catch (const PgError &e) {
        kind = kPostgres;
        edata = e.data;
    } catch (const std::bad_alloc &) {
        kind = kOutOfMemory;
    } catch (const core::Cancelled &) {
        kind = kCancelled;
    } catch (const std::exception &e) {
        kind = kOther;
        strlcpy(message, e.what(), sizeof(message));
    } catch (...) {
        kind = kOther;
        strlcpy(message, "unknown C++ exception", sizeof(message));
    }
    if (kind != kNone)
        raise_captured(kind, message, edata);
}

// Runs fn (which calls Postgres) and turns a Postgres error into PgError.
// fn must not throw; keep it to plain Postgres calls.
template <class Fn>
void pg_call(Fn &&fn)
{
    MemoryContext volatile caller_cxt = CurrentMemoryContext;
    ErrorData *volatile edata = nullptr;
    PG_TRY();
    {
        fn();
    }
    PG_CATCH();
    {
        MemoryContextSwitchTo(caller_cxt);
        edata = CopyErrorData();
        FlushErrorState();
    }
    PG_END_TRY();
    if (edata != nullptr)
        throw PgError{edata};
}

// A core::CancelCheck that services Postgres interrupts from inside long
// core loops (main thread only): a pending cancel or timeout surfaces as the
// usual Postgres error, carried through the core as PgError.
core::CancelCheck interrupt_check();

}  // namespace annoy::pg
