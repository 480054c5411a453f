// The containers of a resumable best-first search: a max-queue of tree nodes
// by priority, a set of items already examined, and a min-queue of scored
// candidates.  They allocate through a RawAllocator instead of operator new
// so that the Postgres layer can back them with a memory context: their
// memory is released with the scan's context even if an error longjmps past
// them, and they never throw (a failing allocator must not return; Postgres's
// palloc raises its own error, the test allocator throws std::bad_alloc).
#pragma once

#include "common.hpp"

namespace annoy::core {

struct RawAllocator {
    void *(*alloc)(void *ctx, size_t bytes) = nullptr;  // never returns nullptr
    void (*release)(void *ctx, void *p) = nullptr;
    void *ctx = nullptr;
};

// malloc-backed allocator that throws std::bad_alloc (tests, core search).
RawAllocator heap_allocator();

// Max-heap of (priority, node reference).
class NodeQueue {
public:
    struct Entry {
        float priority;
        uint64_t ref;
    };
    explicit NodeQueue(RawAllocator a) noexcept : alloc_(a) {}
    ~NodeQueue();
    NodeQueue(const NodeQueue &) = delete;
    NodeQueue &operator=(const NodeQueue &) = delete;

    void push(float priority, uint64_t ref);
    Entry pop();                                   // precondition: !empty()
    const Entry &top() const { return data_[0]; }  // the next pop; precondition: !empty()
    bool empty() const { return size_ == 0; }
    size_t size() const { return size_; }
    void clear() { size_ = 0; }
    size_t capacity() const { return cap_; }

private:
    RawAllocator alloc_;
    Entry *data_ = nullptr;
    size_t size_ = 0, cap_ = 0;
};

// (distance, ref) entries in an array from a RawAllocator: the storage of
// CandidateQueue and CandidatePool.
class CandidateArray {
public:
    struct Entry {
        double distance;  // the exact distances of the SQL operators are double
        uint64_t ref;
    };
    explicit CandidateArray(RawAllocator a) noexcept : alloc_(a) {}
    ~CandidateArray();
    CandidateArray(const CandidateArray &) = delete;
    CandidateArray &operator=(const CandidateArray &) = delete;

    bool empty() const { return size_ == 0; }
    size_t size() const { return size_; }
    void clear() { size_ = 0; }
    size_t capacity() const { return cap_; }

protected:
    void append(double distance, uint64_t ref)
    {
        if (size_ == cap_)
            grow();
        data_[size_++] = Entry{distance, ref};
    }
    void grow();

    RawAllocator alloc_;
    Entry *data_ = nullptr;
    size_t size_ = 0, cap_ = 0;
};

// Min-heap of (distance, payload): candidates waiting to be returned.
class CandidateQueue : public CandidateArray {
public:
    explicit CandidateQueue(RawAllocator a) noexcept : CandidateArray(a) {}

    void push(double distance, uint64_t ref);
    Entry pop();  // the smallest; precondition: !empty()
    const Entry &top() const { return data_[0]; }
};

// Candidates waiting to be chosen in bulk: append in any order, then take
// the k smallest at once (a selection, O(n), where a heap costs O(log n) a
// push and a pop: a scan ranks thousands of candidates to score a few
// hundred).
class CandidatePool : public CandidateArray {
public:
    explicit CandidatePool(RawAllocator a) noexcept : CandidateArray(a) {}

    void push(double distance, uint64_t ref) { append(distance, ref); }
    // Removes the k entries of smallest distance (NaN last; all of them if
    // k >= size()) and writes them to out, in no particular order.  Returns
    // how many were taken.
    size_t take_smallest(size_t k, Entry *out);
    // Removes the entries of distance below `limit`, or the k smallest of
    // them if there are more, and writes them to out in no particular
    // order; returns how many.
    size_t take_below(double limit, size_t k, Entry *out);

private:
    // Up to this many entries are taken by a single pass over the pool.
    static constexpr size_t kFewTaken = 32;
    // Drops the first n entries, filling their slots from the tail.
    void remove_front(size_t n);
};

// The k-th smallest of the values added since the last clear (k fixed, at
// most kMaxK), or +infinity while fewer than k were added: the threshold a
// scan's candidates must beat to be worth scoring.
class KthSmallest {
public:
    static constexpr int kMaxK = 256;
    explicit KthSmallest(int k = 10) noexcept : k_(k < 1 ? 1 : k > kMaxK ? kMaxK : k) {}
    void clear() noexcept { size_ = 0; }
    void add(double v) noexcept;
    double value() const noexcept;

private:
    int k_;
    int size_ = 0;
    double heap_[kMaxK];  // max-heap of the k smallest
};

class ItemSet {
public:
    explicit ItemSet(RawAllocator a) noexcept : alloc_(a) {}
    ~ItemSet();
    ItemSet(const ItemSet &) = delete;
    ItemSet &operator=(const ItemSet &) = delete;

    // Inserts key; returns false if it was already present.
    bool insert(uint64_t key);
    bool contains(uint64_t key) const;
    size_t size() const { return size_; }
    size_t capacity() const { return cap_; }
    void clear();

private:
    void grow();
    RawAllocator alloc_;
    uint64_t *slots_ = nullptr;
    size_t size_ = 0, cap_ = 0;  // cap_ is a power of two
};

// A set of keys (row << 16) | column, as a bitmap over rows < rows() and
// columns < columns() and an ItemSet for the rest.  A scan marks every
// candidate it ranks, tens of thousands per query at high recall, and in a
// hash set of that size each insert missed the caches (a quarter of a
// GloVe query's time at recall 0.99); the bitmap of a 100,000-item index is
// tens of kilobytes.  Keys must be nonzero, as for ItemSet.  clear() zeroes
// only the words set since the last clear when they are few.
class DenseKeySet {
public:
    explicit DenseKeySet(RawAllocator a) noexcept : alloc_(a), overflow_(a) {}
    ~DenseKeySet();
    DenseKeySet(const DenseKeySet &) = delete;
    DenseKeySet &operator=(const DenseKeySet &) = delete;

    // Empties the set and covers rows x columns (columns rounded up to a
    // power of two, at most 65,536) with the bitmap; keeps the memory when
    // the shape is unchanged.
    void reset(uint64_t rows, uint32_t columns);
    // Inserts key; returns false if it was already present.
    bool insert(uint64_t key)
    {
        const uint64_t row = key >> 16, col = key & 0xFFFF;
        if (row < rows_ && col < (uint64_t(1) << col_shift_) && key != 0) {
            const uint64_t bit = (row << col_shift_) | col;
            uint64_t &w = words_[bit >> 6];
            const uint64_t m = uint64_t(1) << (bit & 63);
            if (w & m)
                return false;
            if (w == 0)
                note_touched(bit >> 6);
            w |= m;
            size_++;
            return true;
        }
        return insert_overflow(key);
    }
    bool contains(uint64_t key) const;
    size_t size() const { return size_; }
    // Bytes held by the bitmap, its bookkeeping and the overflow set.
    size_t capacity_bytes() const
    {
        return n_words_ * sizeof(uint64_t) + touched_cap_ * sizeof(uint32_t) + overflow_.capacity() * sizeof(uint64_t);
    }
    void clear();

private:
    bool insert_overflow(uint64_t key);
    void note_touched(uint64_t word);

    RawAllocator alloc_;
    uint64_t *words_ = nullptr;
    size_t n_words_ = 0;
    uint64_t rows_ = 0;
    uint32_t col_shift_ = 0;
    uint32_t *touched_ = nullptr;  // words set since the last clear, while few
    size_t n_touched_ = 0, touched_cap_ = 0;
    bool touched_overflowed_ = false;  // more than touched_cap_: clear all
    size_t size_ = 0;
    ItemSet overflow_;
};

}  // namespace annoy::core
