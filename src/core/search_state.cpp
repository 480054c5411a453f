// Binary heaps and an open-addressing set over a RawAllocator.  Entries are
// trivially copyable, so growth is alloc + memcpy + release, and nothing here
// throws except through the allocator.
#include "search_state.hpp"

#include <algorithm>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>

namespace annoy::core {

namespace {

void *heap_alloc(void *, size_t bytes)
{
    void *p = std::malloc(bytes ? bytes : 1);
    if (p == nullptr)
        throw std::bad_alloc();
    return p;
}

void heap_release(void *, void *p)
{
    std::free(p);
}

// NaN ranks last in both heaps, so a NaN priority or distance can neither
// break the heap invariant nor be served before a real number.
inline bool greater_priority(float a, float b)
{
    return a > b || (std::isnan(b) && !std::isnan(a));
}
inline bool smaller_distance(double a, double b)
{
    return a < b || (std::isnan(b) && !std::isnan(a));
}

// Grows a trivially copyable array to at least twice its capacity (16 at first).
template <typename T>
void grow_array(const RawAllocator &a, T *&data, size_t size, size_t &cap)
{
    const size_t new_cap = cap ? cap * 2 : 16;
    T *fresh = static_cast<T *>(a.alloc(a.ctx, new_cap * sizeof(T)));
    if (size)
        std::memcpy(static_cast<void *>(fresh), data, size * sizeof(T));
    if (data)
        a.release(a.ctx, data);
    data = fresh;
    cap = new_cap;
}

// Sift-up / sift-down for a binary heap whose root is the entry for which
// better(root, x) holds against every other x.
template <typename Entry, typename Better>
void sift_up(Entry *h, size_t i, Better better)
{
    const Entry e = h[i];
    while (i > 0) {
        const size_t parent = (i - 1) / 2;
        if (!better(e, h[parent]))
            break;
        h[i] = h[parent];
        i = parent;
    }
    h[i] = e;
}

template <typename Entry, typename Better>
void sift_down(Entry *h, size_t size, size_t i, Better better)
{
    const Entry e = h[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= size)
            break;
        if (child + 1 < size && better(h[child + 1], h[child]))
            child++;
        if (!better(h[child], e))
            break;
        h[i] = h[child];
        i = child;
    }
    h[i] = e;
}

// A 64-bit finaliser (xor-shift-multiply, as in splitmix64): item numbers
// and TIDs are sequential, and their low bits must spread over all slots.
inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xFF51AFD7ED558CCDull;
    x ^= x >> 29;
    x *= 0xC4CEB9FE1A85EC53ull;
    x ^= x >> 32;
    return x;
}

}  // namespace

RawAllocator heap_allocator()
{
    return RawAllocator{heap_alloc, heap_release, nullptr};
}

// ---- NodeQueue: max-heap by priority ----

NodeQueue::~NodeQueue()
{
    if (data_)
        alloc_.release(alloc_.ctx, data_);
}

void NodeQueue::push(float priority, uint64_t ref)
{
    if (size_ == cap_)
        grow_array(alloc_, data_, size_, cap_);
    data_[size_] = Entry{priority, ref};
    sift_up(data_, size_++, [](const Entry &a, const Entry &b) { return greater_priority(a.priority, b.priority); });
}

NodeQueue::Entry NodeQueue::pop()
{
    const Entry top = data_[0];
    if (--size_ > 0) {
        data_[0] = data_[size_];
        sift_down(data_, size_, 0,
                  [](const Entry &a, const Entry &b) { return greater_priority(a.priority, b.priority); });
    }
    return top;
}

// ---- CandidateQueue: min-heap by distance ----

CandidateArray::~CandidateArray()
{
    if (data_)
        alloc_.release(alloc_.ctx, data_);
}

void CandidateArray::grow()
{
    grow_array(alloc_, data_, size_, cap_);
}

void CandidateQueue::push(double distance, uint64_t ref)
{
    append(distance, ref);
    sift_up(data_, size_ - 1, [](const Entry &a, const Entry &b) { return smaller_distance(a.distance, b.distance); });
}

CandidateQueue::Entry CandidateQueue::pop()
{
    const Entry top = data_[0];
    if (--size_ > 0) {
        data_[0] = data_[size_];
        sift_down(data_, size_, 0,
                  [](const Entry &a, const Entry &b) { return smaller_distance(a.distance, b.distance); });
    }
    return top;
}

// ---- CandidatePool ----

size_t CandidatePool::take_smallest(size_t k, Entry *out)
{
    k = std::min(k, size_);
    if (k == 0)
        return 0;
    if (k <= kFewTaken && k < size_) {
        // A few of many: one pass keeping the best k positions in order,
        // instead of nth_element's moves of the whole pool.
        size_t pos[kFewTaken];
        size_t n = 0;
        for (size_t i = 0; i < size_; i++) {
            const double d = data_[i].distance;
            if (n == k && !smaller_distance(d, data_[pos[n - 1]].distance))
                continue;
            size_t j = n < k ? n++ : n - 1;
            for (; j > 0 && smaller_distance(d, data_[pos[j - 1]].distance); j--)
                pos[j] = pos[j - 1];
            pos[j] = i;
        }
        for (size_t j = 0; j < k; j++)
            out[j] = data_[pos[j]];
        // Remove them from the last position down: the tail entry moved into
        // a freed slot is never one still to be removed.
        std::sort(pos, pos + k);
        for (size_t j = k; j-- > 0;)
            data_[pos[j]] = data_[--size_];
        return k;
    }
    if (k < size_)
        std::nth_element(data_, data_ + k, data_ + size_,
                         [](const Entry &a, const Entry &b) { return smaller_distance(a.distance, b.distance); });
    std::memcpy(static_cast<void *>(out), data_, k * sizeof(Entry));
    remove_front(k);
    return k;
}

size_t CandidatePool::take_below(double limit, size_t k, Entry *out)
{
    Entry *below_end = std::partition(data_, data_ + size_, [limit](const Entry &e) { return e.distance < limit; });
    const size_t below = size_t(below_end - data_);
    if (below > k)
        std::nth_element(data_, data_ + k, below_end,
                         [](const Entry &a, const Entry &b) { return smaller_distance(a.distance, b.distance); });
    const size_t n = std::min(below, k);
    std::memcpy(static_cast<void *>(out), data_, n * sizeof(Entry));
    remove_front(n);
    return n;
}

void CandidatePool::remove_front(size_t n)
{
    const size_t rest = size_ - n;
    const size_t moved = std::min(n, rest);
    for (size_t i = 0; i < moved; i++)
        data_[i] = data_[size_ - 1 - i];
    size_ = rest;
}

// ---- KthSmallest ----

void KthSmallest::add(double v) noexcept
{
    if (std::isnan(v))
        return;  // ranks last: never among the k smallest
    const auto larger = [](double a, double b) { return a > b; };
    if (size_ < k_) {
        heap_[size_] = v;
        sift_up(heap_, size_t(size_++), larger);
    } else if (v < heap_[0]) {
        heap_[0] = v;
        sift_down(heap_, size_t(size_), 0, larger);
    }
}

double KthSmallest::value() const noexcept
{
    return size_ < k_ ? std::numeric_limits<double>::infinity() : heap_[0];
}

// ---- ItemSet: linear probing, load factor <= 1/2 ----

ItemSet::~ItemSet()
{
    if (slots_)
        alloc_.release(alloc_.ctx, slots_);
}

bool ItemSet::insert(uint64_t key)
{
    if (key == 0)  // reserved as the empty-slot marker; callers pass nonzero keys
        return false;
    if (2 * (size_ + 1) > cap_)
        grow();
    const size_t mask = cap_ - 1;
    for (size_t i = size_t(mix64(key)) & mask;; i = (i + 1) & mask) {
        if (slots_[i] == key)
            return false;
        if (slots_[i] == 0) {
            slots_[i] = key;
            size_++;
            return true;
        }
    }
}

bool ItemSet::contains(uint64_t key) const
{
    if (key == 0 || cap_ == 0)
        return false;
    const size_t mask = cap_ - 1;
    // Terminates: the load factor keeps at least half the slots empty.
    for (size_t i = size_t(mix64(key)) & mask;; i = (i + 1) & mask) {
        if (slots_[i] == key)
            return true;
        if (slots_[i] == 0)
            return false;
    }
}

void ItemSet::clear()
{
    if (slots_)
        std::memset(slots_, 0, cap_ * sizeof(uint64_t));
    size_ = 0;
}

void ItemSet::grow()
{
    const size_t new_cap = cap_ ? cap_ * 2 : 64;
    uint64_t *fresh = static_cast<uint64_t *>(alloc_.alloc(alloc_.ctx, new_cap * sizeof(uint64_t)));
    std::memset(fresh, 0, new_cap * sizeof(uint64_t));
    const size_t mask = new_cap - 1;
    for (size_t s = 0; s < cap_; s++) {
        const uint64_t key = slots_[s];
        if (key == 0)
            continue;
        size_t i = size_t(mix64(key)) & mask;
        while (fresh[i] != 0)
            i = (i + 1) & mask;
        fresh[i] = key;
    }
    if (slots_)
        alloc_.release(alloc_.ctx, slots_);
    slots_ = fresh;
    cap_ = new_cap;
}

// ---- DenseKeySet ----

DenseKeySet::~DenseKeySet()
{
    if (words_)
        alloc_.release(alloc_.ctx, words_);
    if (touched_)
        alloc_.release(alloc_.ctx, touched_);
}

void DenseKeySet::reset(uint64_t rows, uint32_t columns)
{
    uint32_t shift = 0;
    while (shift < 16 && (uint32_t(1) << shift) < columns)
        shift++;
    // At most kMaxWords words (8 MB: an index of 48 GB at 32 columns);
    // keys of later rows go to the overflow set.
    constexpr uint64_t kMaxWords = uint64_t(1) << 20;
    rows = std::min<uint64_t>(rows, (kMaxWords * 64) >> shift);
    const size_t words = size_t(((rows << shift) + 63) / 64);
    if (words != n_words_ || shift != col_shift_) {
        if (words_)
            alloc_.release(alloc_.ctx, words_);
        if (touched_)
            alloc_.release(alloc_.ctx, touched_);
        words_ = nullptr;
        touched_ = nullptr;
        n_words_ = 0;
        rows_ = 0;
        touched_cap_ = 0;
        if (words > 0) {
            words_ = static_cast<uint64_t *>(alloc_.alloc(alloc_.ctx, words * sizeof(uint64_t)));
            std::memset(words_, 0, words * sizeof(uint64_t));
            // Zeroing words one by one beats a memset of the whole bitmap
            // only while they are a small part of it.
            touched_cap_ = std::max<size_t>(words / 16, 1);
            touched_ = static_cast<uint32_t *>(alloc_.alloc(alloc_.ctx, touched_cap_ * sizeof(uint32_t)));
        }
        n_words_ = words;
        rows_ = rows;
        col_shift_ = shift;
        n_touched_ = 0;
        touched_overflowed_ = false;
        size_ = 0;
        overflow_.clear();
        return;
    }
    clear();
}

void DenseKeySet::note_touched(uint64_t word)
{
    if (n_touched_ < touched_cap_)
        touched_[n_touched_++] = uint32_t(word);
    else
        touched_overflowed_ = true;
}

bool DenseKeySet::insert_overflow(uint64_t key)
{
    if (!overflow_.insert(key))
        return false;
    size_++;
    return true;
}

bool DenseKeySet::contains(uint64_t key) const
{
    const uint64_t row = key >> 16, col = key & 0xFFFF;
    if (row < rows_ && col < (uint64_t(1) << col_shift_) && key != 0) {
        const uint64_t bit = (row << col_shift_) | col;
        return (words_[bit >> 6] >> (bit & 63)) & 1;
    }
    return overflow_.contains(key);
}

void DenseKeySet::clear()
{
    if (touched_overflowed_) {
        std::memset(words_, 0, n_words_ * sizeof(uint64_t));
    } else {
        for (size_t i = 0; i < n_touched_; i++)
            words_[touched_[i]] = 0;
    }
    n_touched_ = 0;
    touched_overflowed_ = false;
    size_ = 0;
    overflow_.clear();
}

}  // namespace annoy::core
