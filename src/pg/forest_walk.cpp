// Tree walks for the check and info functions.
#include "half.hpp"
#include "search_state.hpp"

#include "forest_walk.hpp"

#include "node_access.hpp"

namespace annoy::pg {

[[noreturn]] static void corrupted(Relation index, int tree, const TupleRef &ref, const char *what)
{
    ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
                    errmsg("index \"%s\" tree %d: %s at (%u,%u)", RelationGetRelationName(index), tree, what,
                           ItemPointerGetBlockNumberNoCheck(&ref), ItemPointerGetOffsetNumberNoCheck(&ref))));
}

void walk_tree(Relation index, const MetaPageData &meta, int tree, WalkVisitor &visitor)
{
    struct Frame {
        TupleRef ref;
        int depth;
    };
    MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "annoy walk", ALLOCSET_DEFAULT_SIZES);
    MemoryContext old = MemoryContextSwitchTo(cxt);
    auto *visited = new (palloc(sizeof(core::ItemSet))) core::ItemSet(context_allocator(cxt));
    size_t cap = 1024, top = 0;
    auto *stack = static_cast<Frame *>(palloc(cap * sizeof(Frame)));
    auto *items = static_cast<TupleRef *>(palloc(kMaxTupleSize));
    stack[top++] = Frame{meta.roots[tree], 0};
    BlockNumber nblocks = RelationGetNumberOfBlocks(index);

    while (top > 0) {
        CHECK_FOR_INTERRUPTS();
        Frame f = stack[--top];
        BlockNumber blkno = ItemPointerGetBlockNumberNoCheck(&f.ref);
        if (blkno == kMetaBlock || blkno >= nblocks)
            corrupted(index, tree, f.ref, "reference to a block outside the index");
        if (!visited->insert(ref_key(f.ref)))
            corrupted(index, tree, f.ref, "node reached twice (cycle or shared subtree)");

        Buffer buf = lock_ref_buffer(index, f.ref, BUFFER_LOCK_SHARE);
        Size size;
        char *tuple = tuple_at(index, BufferGetPage(buf), f.ref, &size);
        NodeView node = view_node(tuple, size, tree);
        if (node.kind == 0) {
            UnlockReleaseBuffer(buf);
            corrupted(
                index, tree, f.ref,
                tuple == nullptr ? "reference to a free slot" : "reference to a tuple that is not a node of this tree");
        }
        if (top + 2 >= cap) {
            cap *= 2;
            stack = static_cast<Frame *>(repalloc(stack, cap * sizeof(Frame)));
        }
        if (node.kind == kSplitTuple) {
            SplitTupleHeader header = *node.split;
            if (size != split_tuple_size(core::Space{core::Metric(meta.metric), meta.dim})) {
                UnlockReleaseBuffer(buf);
                corrupted(index, tree, f.ref, "split node of the wrong size");
            }
            const uint16 *plane = split_plane(node.split);
            size_t plane_dim = core::Space{core::Metric(meta.metric), meta.dim}.plane_dim();
            for (size_t i = 0; i < plane_dim; i++) {
                if (!std::isfinite(core::half_to_float(plane[i]))) {
                    UnlockReleaseBuffer(buf);
                    corrupted(index, tree, f.ref, "split node with a non-finite hyperplane");
                }
            }
            UnlockReleaseBuffer(buf);
            visitor.split(f.ref, header, f.depth);
            stack[top++] = Frame{header.child[1], f.depth + 1};
            stack[top++] = Frame{header.child[0], f.depth + 1};
        } else if (node.kind == kForwardTuple) {
            TupleRef target = node.forward->target;
            UnlockReleaseBuffer(buf);
            visitor.forward(f.ref);
            stack[top++] = Frame{target, f.depth};
        } else {
            int count = node.leaf->count, capacity = node.leaf->capacity;
            memcpy(items, leaf_refs(node.leaf), size_t(count) * sizeof(TupleRef));
            UnlockReleaseBuffer(buf);
            visitor.leaf(f.ref, items, count, capacity, f.depth);
        }
    }
    MemoryContextSwitchTo(old);
    MemoryContextDelete(cxt);
}

}  // namespace annoy::pg
