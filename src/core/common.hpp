// Shared vocabulary of the pure C++ core: metrics and the core's exceptions.
//
// Nothing under src/core may include a PostgreSQL header: the core is unit
// tested without a server, and Postgres's macros (Min, Max, printf, ...)
// would leak into it.  The check below makes an accidental include fail to
// compile instead of silently coupling the layers.
//
// The check sits outside the include guard, so it runs every time this file
// is included, and every core header includes this file first: a core header
// that src/pg includes for the first time after postgres.h (the order pg.hpp
// prescribes is standard and core headers first) fails here too.

#ifdef POSTGRES_H
#error "core headers must come before postgres.h (src/core must not include PostgreSQL headers)"
#endif

#ifndef ANNOY_CORE_COMMON_HPP
#define ANNOY_CORE_COMMON_HPP

#include <cstddef>
#include <cstdint>
#include <stdexcept>

namespace annoy::core {

// On-disk values: never renumber.
enum class Metric : uint8_t {
    Euclidean = 0,  // <->  sqrt(sum (x-y)^2)
    Angular = 1,    // <=>  1 - cos(x, y)
    Dot = 2,        // <#>  -(x . y)
    Manhattan = 3,  // <+>  sum |x-y|
    Hamming = 4,    // <~>  popcount(x xor y), on 64-bit words
};

constexpr bool is_bit_metric(Metric m)
{
    return m == Metric::Hamming;
}

// Thrown by long core loops when the caller's cancel callback says stop
// (Ctrl-C, statement_timeout).  The Postgres layer turns it back into the
// pending interrupt.
struct Cancelled : std::runtime_error {
    Cancelled() : std::runtime_error("canceled") {}
};

// Polled every few thousand iterations by long loops; returns true to stop.
// A plain function pointer + context so it is trivially copyable and can be
// called from worker threads (it must only read an atomic flag there).
struct CancelCheck {
    bool (*fn)(void *ctx) = nullptr;
    void *ctx = nullptr;
    bool operator()() const { return fn != nullptr && fn(ctx); }
};

}  // namespace annoy::core

#endif  // ANNOY_CORE_COMMON_HPP
