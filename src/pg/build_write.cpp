// Writing built forests to pages.
#include "forest.hpp"
#include "search_state.hpp"
#include "sketch.hpp"

#include "build_write.hpp"

#include "guard.hpp"
#include "item_chain.hpp"
#include "node_access.hpp"

extern "C" {
#include "commands/progress.h"
#include "pgstat.h"
#include "utils/backend_progress.h"
}

namespace annoy::pg {

const core::FlatForest &build_into(ContextOwned<core::FlatForest> *slot, const core::Space &space, const void *vectors,
                                   size_t n, const core::BuildParams &params)
{
    guarded([&] {
        slot->reset();  // the previous forest's memory first
        slot->emplace(core::build_forest(space, vectors, n, params));
    });
    return *slot->get();
}

static core::NodeRef *node_stack(const core::FlatForest &f)
{
    size_t n_nodes = f.splits.size() + f.leaves.size();
    return static_cast<core::NodeRef *>(palloc_extended((n_nodes + 2) * sizeof(core::NodeRef), MCXT_ALLOC_HUGE));
}

TupleRef *write_items(PageWriter &w, const core::Space &space, const core::FlatForest &f, core::NodeRef root,
                      const char *vectors, const ItemPointerData *heap_tids, size_t n)
{
    auto *refs = static_cast<TupleRef *>(palloc_extended(std::max<size_t>(n, 1) * sizeof(TupleRef), MCXT_ALLOC_HUGE));
    size_t bytes = space.vector_bytes();
    auto *tuple = static_cast<ItemTupleHeader *>(palloc0(item_tuple_size(space)));
    WriterSink sink(w);
    core::NodeRef *stack = node_stack(f);
    size_t top = 0, written = 0;
    stack[top++] = root;
    while (top > 0) {
        core::NodeRef r = stack[--top];
        if (!core::is_leaf(r)) {
            const core::FlatForest::Split &s = f.splits[core::node_index(r)];
            stack[top++] = s.child[1];
            stack[top++] = s.child[0];
            continue;
        }
        const core::FlatForest::Leaf &leaf = f.leaves[core::node_index(r)];
        for (uint32_t i = 0; i < leaf.count; i++) {
            uint32_t item = f.leaf_items[leaf.begin + i];
            refs[item] = write_item(sink, space, tuple, vectors + size_t(item) * bytes, heap_tids[item]);
            if (++written % 1024 == 0) {
                CHECK_FOR_INTERRUPTS();
                pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, int64(written));
            }
        }
    }
    pfree(stack);
    pfree(tuple);
    return refs;
}

uint8 *sketch_items(const core::Sketcher &sketcher, const char *vectors, size_t n)
{
    size_t sketch_bytes = sketcher.sketch_bytes();
    size_t vb = sketcher.space().vector_bytes();
    auto *sketches = static_cast<uint8 *>(palloc_extended(std::max<size_t>(n * sketch_bytes, 1), MCXT_ALLOC_HUGE));
    for (size_t i = 0; i < n; i++) {
        if (i % 1024 == 1023)
            CHECK_FOR_INTERRUPTS();
        static_assert(noexcept(sketcher.sketch(vectors, sketches)), "called outside guarded()");
        sketcher.sketch(vectors + i * vb, sketches + i * sketch_bytes);
    }
    return sketches;
}

float *sketch_center(const core::Space &space, const char *vectors, size_t n)
{
    auto *center = static_cast<float *>(palloc(sizeof(float) * space.dim));
    guarded([&] { core::Sketcher::center_of(space, vectors, n, center); });
    return center;
}

TupleRef write_center(PageWriter &w, const float *center, uint32 dim)
{
    // Larger than a page: the rest in chunk tuples (owner TID invalid: the
    // center lives as long as the index).
    Size bytes = Size(dim) * sizeof(float);
    Size head = vector_head_bytes(bytes, sizeof(CenterTupleHeader));
    Size size = sizeof(CenterTupleHeader) + head;
    auto *t = static_cast<CenterTupleHeader *>(palloc0(size));
    t->kind = kCenterTuple;
    t->dim = dim;
    ItemPointerData none;
    ItemPointerSetInvalid(&none);
    WriterSink sink(w);
    t->next = write_chunks(sink, reinterpret_cast<const char *>(center), bytes, head, none);
    memcpy(t + 1, center, head);
    TupleRef ref = w.add(t, size);
    pfree(t);
    return ref;
}

TupleRef write_tree(PageWriter &w, const core::FlatForest &f, core::NodeRef root, uint16 tree, const TreeLeaves &leaves)
{
    const core::Space &space = f.space;
    const TupleRef *item_refs = leaves.item_refs;
    const uint8 *item_sketches = leaves.item_sketches;
    const uint8 *item_payloads = leaves.item_payloads;
    const int leaf_capacity = leaves.capacity, sketch_bytes = leaves.sketch_bytes;
    const int payload_bytes = leaves.payload_bytes;
    Size lsize = leaf_tuple_size(leaf_capacity, sketch_bytes, payload_bytes);
    auto *leaf = static_cast<LeafTupleHeader *>(palloc0(lsize));
    auto *order = static_cast<uint32 *>(palloc(sizeof(uint32) * size_t(std::max(leaf_capacity, 1))));
    Size ssize = split_tuple_size(space);
    auto *split = static_cast<SplitTupleHeader *>(palloc0(ssize));

    // Post-order with an explicit stack: a split is pushed once unexpanded
    // and again (expanded) below its children, so it is written after them.
    size_t n_nodes = f.splits.size() + f.leaves.size();
    core::NodeRef *stack = node_stack(f);
    auto *expanded = static_cast<bool *>(palloc0(n_nodes + 2));
    auto *written = static_cast<TupleRef *>(palloc_extended((n_nodes + 1) * sizeof(TupleRef), MCXT_ALLOC_HUGE));
    auto ref_of = [&](core::NodeRef r) -> TupleRef & {
        return core::is_leaf(r) ? written[core::node_index(r)] : written[f.leaves.size() + core::node_index(r)];
    };
    size_t top = 0;
    stack[top] = root;
    expanded[top++] = false;
    while (top > 0) {
        core::NodeRef r = stack[--top];
        bool children_done = expanded[top];
        if (core::is_leaf(r)) {
            uint32_t idx = core::node_index(r);
            if (leaves.subtrees != nullptr) {
                ref_of(r) = leaves.subtrees[idx];
                continue;
            }
            const core::FlatForest::Leaf &l = f.leaves[idx];
            memset(leaf, 0, lsize);
            leaf->kind = kLeafTuple;
            leaf->sketch_bytes = uint8(sketch_bytes);
            leaf->tree = tree;
            leaf->count = uint16(l.count);
            leaf->capacity = uint16(leaf_capacity);
            // Entries in page order lets a scan reuse one pin for neighbours.
            const uint32_t *items = f.leaf_items.data() + l.begin;
            for (uint32_t i = 0; i < l.count; i++)
                order[i] = i;
            std::sort(order, order + l.count, [&](uint32 a, uint32 b) {
                return ItemPointerCompare(const_cast<ItemPointer>(&item_refs[items[a]]),
                                          const_cast<ItemPointer>(&item_refs[items[b]])) < 0;
            });
            for (uint32_t i = 0; i < l.count; i++) {
                uint32_t item = items[order[i]];
                set_leaf_entry(leaf, int(i), item_refs[item], item_sketches + size_t(item) * size_t(sketch_bytes),
                               item_payloads + size_t(item) * size_t(payload_bytes), payload_bytes);
            }
            ref_of(r) = w.add_in_gap(leaf, lsize);
        } else if (!children_done) {
            const core::FlatForest::Split &s = f.splits[core::node_index(r)];
            stack[top] = r;
            expanded[top++] = true;
            stack[top] = s.child[1];
            expanded[top++] = false;
            stack[top] = s.child[0];
            expanded[top++] = false;
        } else {
            uint32_t idx = core::node_index(r);
            const core::FlatForest::Split &s = f.splits[idx];
            split->kind = kSplitTuple;
            split->tree = tree;
            split->bit = s.bit;
            split->offset = s.offset;
            split->child[0] = ref_of(s.child[0]);
            split->child[1] = ref_of(s.child[1]);
            if (f.plane_dim > 0)
                store_plane(space, split, f.planes.data() + size_t(idx) * f.plane_dim);
            ref_of(r) = w.add_in_gap(split, ssize);
            CHECK_FOR_INTERRUPTS();
        }
    }
    TupleRef root_ref = ref_of(root);
    pfree(written);
    pfree(expanded);
    pfree(stack);
    pfree(split);
    pfree(leaf);
    pfree(order);
    return root_ref;
}

}  // namespace annoy::pg
