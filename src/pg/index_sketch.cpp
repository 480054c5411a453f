// Per-backend cache of index sketchers; see index_sketch.hpp.
#include "rng.hpp"
#include "sketch.hpp"

#include "index_sketch.hpp"

#include "buffer_hint.hpp"
#include "guard.hpp"

namespace annoy::pg {

namespace {

// Sketchers kept per backend (each is bits x dim floats: 400 kB for 128
// projections of 784 dimensions); the oldest is dropped for a new one.
constexpr int kCachedSketchers = 4;

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

// Builds the sketcher for these parameters into the oldest slot (deleting
// the sketcher there).
const core::Sketcher *cache_sketcher(Relation index, const core::Space &space, uint32 bits, uint32 seed,
                                     const TupleRef &center_ref, const float *center)
{
    CachedSketcher &slot = cache[next_slot];
    next_slot = (next_slot + 1) % kCachedSketchers;
    core::Sketcher *old = slot.sketcher;
    slot.sketcher = nullptr;
    core::Sketcher *made = nullptr;
    guarded([&] {
        delete old;
        made = new core::Sketcher(space, bits, sketch_seed(seed), center);
    });
    slot.node = index->rd_node;
    slot.dim = space.dim;
    slot.seed = seed;
    slot.bits = uint16(bits);
    slot.metric = uint8(space.metric);
    slot.center = center_ref;
    slot.sketcher = made;
    return made;
}

// The centre tuple's values, palloc'd; errors if the reference is bad.
float *read_center(Relation index, const TupleRef &ref, uint32 dim)
{
    Buffer buf = lock_ref_buffer(index, ref, BUFFER_LOCK_SHARE);
    Size size;
    auto *c = reinterpret_cast<CenterTupleHeader *>(tuple_at(index, BufferGetPage(buf), ref, &size));
    if (c == nullptr || c->kind != kCenterTuple || c->dim != dim ||
        size < sizeof(CenterTupleHeader) + Size(dim) * sizeof(float)) {
        UnlockReleaseBuffer(buf);
        ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
                        errmsg("index \"%s\" has a bad sketch centre tuple", RelationGetRelationName(index))));
    }
    auto *values = static_cast<float *>(palloc(Size(dim) * sizeof(float)));
    memcpy(values, c + 1, Size(dim) * sizeof(float));
    UnlockReleaseBuffer(buf);
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
    float *center = read_center(index, meta.center, meta.dim);
    const core::Sketcher *s = cache_sketcher(index, space, meta.sketch_bits, meta.seed, meta.center, center);
    pfree(center);
    return s;
}

namespace {

struct SketcherHolder {
    core::Sketcher *sketcher;
    MemoryContextCallback cb;
};

void free_sketcher(void *arg)
{
    auto *h = static_cast<SketcherHolder *>(arg);
    delete h->sketcher;  // noexcept
    h->sketcher = nullptr;
}

}  // namespace

const core::Sketcher *build_sketcher(MemoryContext cxt, const core::Space &space, uint32 bits, uint32 seed,
                                     const float *center)
{
    auto *h = static_cast<SketcherHolder *>(MemoryContextAllocZero(cxt, sizeof(SketcherHolder)));
    guarded([&] { h->sketcher = new core::Sketcher(space, bits, sketch_seed(seed), center); });
    h->cb.func = free_sketcher;
    h->cb.arg = h;
    MemoryContextRegisterResetCallback(cxt, &h->cb);
    return h->sketcher;
}

}  // namespace annoy::pg
