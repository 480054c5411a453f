// C++ objects and core containers whose lifetime is a Postgres memory
// context: they go away with the context, even when an error longjmps past
// every frame that used them (a longjmp runs no destructor, but a context's
// reset callbacks run on every reset and delete, an error's cleanup too).
#pragma once

#include "search_state.hpp"

#include "pg.hpp"

namespace annoy::pg {

// An allocator for core containers that lives in `cxt` (palloc raises the
// Postgres out-of-memory error itself, so the containers never throw).
core::RawAllocator context_allocator(MemoryContext cxt);

// Calls fn(arg) when `cxt` is next reset or deleted.  The callback record is
// allocated in `cxt` (a Postgres call: not from inside guarded()).
void at_context_reset(MemoryContext cxt, void (*fn)(void *), void *arg);

// A slot, allocated in a memory context, holding at most one T: the object
// lives in the slot itself and is destroyed by reset(), by the next
// emplace(), or when the context is reset or deleted.  Frames Postgres may
// longjmp through then hold only a plain pointer to the slot.
template <class T>
class ContextOwned {
public:
    // A new, empty slot in `cxt` (Postgres calls: not from inside guarded()).
    static ContextOwned *create(MemoryContext cxt)
    {
        auto *slot = static_cast<ContextOwned *>(MemoryContextAllocZero(cxt, sizeof(ContextOwned)));
        at_context_reset(cxt, destroy, slot);
        return slot;
    }

    // Destroys the object held, then constructs T(args...) in its place.  A
    // constructor that may throw must run inside guarded(); if it throws,
    // the slot is left empty.
    template <class... Args>
    T &emplace(Args &&...args)
    {
        reset();
        T *obj = new (storage_) T(std::forward<Args>(args)...);
        live_ = true;
        return *obj;
    }

    // The object held, nullptr if none.
    T *get() noexcept { return live_ ? std::launder(reinterpret_cast<T *>(storage_)) : nullptr; }

    void reset() noexcept
    {
        static_assert(std::is_nothrow_destructible_v<T>, "destroyed from a memory context callback");
        if (live_) {
            live_ = false;
            std::launder(reinterpret_cast<T *>(storage_))->~T();
        }
    }

private:
    static void destroy(void *slot) { static_cast<ContextOwned *>(slot)->reset(); }

    bool live_;
    alignas(T) unsigned char storage_[sizeof(T)];
};

// A T that `cxt` owns, constructed at once: for constructors that cannot
// throw (the others: ContextOwned::emplace inside guarded()).
template <class T, class... Args>
T *context_new(MemoryContext cxt, Args &&...args)
{
    static_assert(std::is_nothrow_constructible_v<T, Args...>, "a throwing constructor belongs inside guarded()");
    return &ContextOwned<T>::create(cxt)->emplace(std::forward<Args>(args)...);
}

}  // namespace annoy::pg
