// Per-backend cache of index sketchers; see index_sketch.hpp.
#include "rng.hpp"
#include "search_state.hpp"
#include "sketch.hpp"

#include "index_sketch.hpp"

#include "buffer_hint.hpp"
#include "context_alloc.hpp"
#include "guard.hpp"
#include "node_access.hpp"

namespace annoy::pg {

namespace {

// Sketchers kept per backend.  A sketcher holds bits x dim floats of
// projections (400 kB for 128 projections of 784 dimensions), but sketchers
// drawn with the same options share them, and then each costs only its
// centre: the partitions of one partitioned index (a query over 128
// partitions scans 128 indexes) all fit.  The oldest sketchers are dropped
// when there are more than kCachedSketchers, or when they hold more than
// kCacheBytes together.
constexpr int kCachedSketchers = 256;
constexpr size_t kCacheBytes = size_t(8) << 20;

struct CachedSketcher {
    RelFileNode node;
    uint32 dim;
    uint32 seed;
    uint16 bits;
    uint8 metric;
    TupleRef center;
    core::Sketcher *sketcher;  // nullptr: unused slot
};

CachedSketcher cache[kCachedSketchers];
int next_slot = 0;

bool matches(const CachedSketcher &c, const RelFileNode &node, const core::Space &space, uint32 bits, uint32 seed,
             const TupleRef &center)
{
    return c.sketcher != nullptr && RelFileNodeEquals(c.node, node) && c.dim == space.dim &&
           c.metric == uint8(space.metric) && c.bits == bits && c.seed == seed && ref_key(c.center) == ref_key(center);
}

// Memory the cached sketchers hold, each set of projections counted once.
size_t cache_bytes()
{
    size_t bytes = 0;
    for (int i = 0; i < kCachedSketchers; i++) {
        const core::Sketcher *s = cache[i].sketcher;
        if (s == nullptr)
            continue;
        bytes += s->own_bytes();
        bool first = true;
        for (int j = 0; j < i && first; j++)
            first = cache[j].sketcher == nullptr || cache[j].sketcher->projection_id() != s->projection_id();
        if (first)
            bytes += s->projection_bytes();
    }
    return bytes;
}

// A cached sketcher whose projections these parameters would draw.
const core::Sketcher *same_projections(const core::Space &space, uint32 bits, uint32 seed)
{
    for (const CachedSketcher &c : cache)
        if (c.sketcher != nullptr && c.sketcher->draws(space, bits, sketch_seed(seed)))
            return c.sketcher;
    return nullptr;
}

// Deletes the sketcher in the oldest slot (noexcept: the destructor only
// frees memory) and returns that slot.
CachedSketcher &take_oldest_slot()
{
    CachedSketcher &slot = cache[next_slot];
    next_slot = (next_slot + 1) % kCachedSketchers;
    delete slot.sketcher;
    slot.sketcher = nullptr;
    return slot;
}

// Builds the sketcher for these parameters into the oldest slot, sharing
// the projections of a cached sketcher drawn alike, then drops the oldest
// others while the cache holds too much.
const core::Sketcher *cache_sketcher(Relation index, const core::Space &space, uint32 bits, uint32 seed,
                                     const TupleRef &center_ref, const float *center)
{
    CachedSketcher &slot = take_oldest_slot();
    const core::Sketcher *like = same_projections(space, bits, seed);
    core::Sketcher *made = nullptr;
    guarded([&] {
        made = like != nullptr ? new core::Sketcher(*like, center)
                               : new core::Sketcher(space, bits, sketch_seed(seed), center);
    });
    slot.node = index->rd_node;
    slot.dim = space.dim;
    slot.seed = seed;
    slot.bits = uint16(bits);
    slot.metric = uint8(space.metric);
    slot.center = center_ref;
    slot.sketcher = made;
    while (cache_bytes() > kCacheBytes && &cache[next_slot] != &slot)
        take_oldest_slot();
    return made;
}

// The center tuple's values, palloc'd; errors if the reference or the
// tuple is bad (a non-finite center would make every estimate NaN).
float *read_center(Relation index, const MetaPageData &meta)
{
    const TupleRef &ref = meta.center;
    Buffer buf = lock_ref_buffer(index, ref, BUFFER_LOCK_SHARE);
    Page page = BufferGetPage(buf);
    OffsetNumber off = ItemPointerGetOffsetNumberNoCheck(&ref);
    if (off < FirstOffsetNumber || off > PageGetMaxOffsetNumber(page))
        tuple_corrupted(index, ref, -1, "sketch center reference to a missing tuple");
    Size size;
    char *tuple = checked_tuple(index, page, ItemPointerGetBlockNumber(&ref), off, index_shape(meta), &size);
    if (tuple == nullptr || uint8(tuple[0]) != kCenterTuple)
        tuple_corrupted(index, ref, -1, "sketch center reference to a tuple that is not the center");
    auto *values = static_cast<float *>(palloc(Size(meta.dim) * sizeof(float)));
    memcpy(values, tuple + sizeof(CenterTupleHeader), Size(meta.dim) * sizeof(float));
    UnlockReleaseBuffer(buf);
    for (uint32 d = 0; d < meta.dim; d++) {
        if (!std::isfinite(values[d]))
            tuple_corrupted(index, ref, -1, "sketch center with a non-finite value");
    }
    return values;
}

}  // namespace

uint64 sketch_seed(uint32 seed)
{
    return core::mix_seed(uint64(seed), 0x736B65746368ull);  // "sketch"
}

const core::Sketcher *index_sketcher(Relation index, const MetaPageData &meta)
{
    if (meta.sketch_bits == 0 || meta.dim == 0)
        return nullptr;
    core::Space space{core::Metric(meta.metric), meta.dim};
    for (const CachedSketcher &c : cache) {
        if (matches(c, index->rd_node, space, meta.sketch_bits, meta.seed, meta.center))
            return c.sketcher;
    }
    float *center = read_center(index, meta);
    const core::Sketcher *s = cache_sketcher(index, space, meta.sketch_bits, meta.seed, meta.center, center);
    pfree(center);
    return s;
}

const core::Sketcher *build_sketcher(MemoryContext cxt, const core::Space &space, uint32 bits, uint32 seed,
                                     const float *center)
{
    auto *slot = ContextOwned<core::Sketcher>::create(cxt);
    guarded([&] { slot->emplace(space, bits, sketch_seed(seed), center); });
    return slot->get();
}

}  // namespace annoy::pg
