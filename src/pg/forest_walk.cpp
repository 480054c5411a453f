// Tree walks for the check and info functions.
#include "half.hpp"
#include "search_state.hpp"

#include "forest_walk.hpp"

#include "am.hpp"
#include "node_access.hpp"

extern "C" {
#include "access/relation.h"
}

namespace annoy::pg {

Relation open_annoy_index(Oid indexoid, LOCKMODE lockmode)
{
    Relation index = relation_open(indexoid, lockmode);
    if (index->rd_rel->relkind != RELKIND_INDEX || index->rd_indam == nullptr || index->rd_indam->ambuild != build)
        ereport(ERROR, (errcode(ERRCODE_WRONG_OBJECT_TYPE),
                        errmsg("\"%s\" is not an annoy index", RelationGetRelationName(index))));
    return index;
}

void walk_tree(Relation index, const MetaPageData &meta, int tree, WalkVisitor &visitor)
{
    struct Frame {
        TupleRef ref;
        int depth;
    };
    const IndexShape shape = index_shape(meta);
    MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "annoy walk", ALLOCSET_DEFAULT_SIZES);
    MemoryContext old = MemoryContextSwitchTo(cxt);
    auto *visited = context_new<core::ItemSet>(cxt, context_allocator(cxt));
    size_t cap = 1024, top = 0;
    auto *stack = static_cast<Frame *>(palloc(cap * sizeof(Frame)));
    auto *items = static_cast<TupleRef *>(palloc(kMaxTupleSize));
    auto *payloads = static_cast<uint8 *>(palloc(kMaxTupleSize));
    stack[top++] = Frame{meta.roots[tree], 0};
    BlockNumber nblocks = RelationGetNumberOfBlocks(index);

    while (top > 0) {
        CHECK_FOR_INTERRUPTS();
        Frame f = stack[--top];
        BlockNumber blkno = ItemPointerGetBlockNumberNoCheck(&f.ref);
        if (blkno == kMetaBlock || blkno >= nblocks)
            tuple_corrupted(index, f.ref, tree, "reference to a block outside the index");
        if (!visited->insert(ref_key(f.ref)))
            tuple_corrupted(index, f.ref, tree, "node reached twice (cycle or shared subtree)");

        Buffer buf = lock_ref_buffer(index, f.ref, BUFFER_LOCK_SHARE);
        NodeView node = read_node(index, BufferGetPage(buf), f.ref, tree, shape);
        if (top + 2 >= cap) {
            cap *= 2;
            stack = static_cast<Frame *>(repalloc_huge(stack, cap * sizeof(Frame)));
        }
        if (node.kind == kSplitTuple) {
            SplitTupleHeader header = *node.split;
            bool finite = std::isfinite(header.offset);
            const void *plane = split_plane(node.split);
            const core::PlaneCodec codec = plane_codec(shape.space);
            const size_t plane_dim = shape.space.plane_dim();
            for (size_t i = 0; i < plane_dim && finite; i++)
                finite = std::isfinite(core::stored_plane_coordinate(codec, plane, plane_dim, i));
            UnlockReleaseBuffer(buf);
            if (!finite)
                tuple_corrupted(index, f.ref, tree, "split node with a non-finite hyperplane");
            visitor.split(f.ref, header, f.depth);
            stack[top++] = Frame{header.child[1], f.depth + 1};
            stack[top++] = Frame{header.child[0], f.depth + 1};
        } else if (node.kind == kForwardTuple) {
            ForwardTupleHeader header = *node.forward;
            UnlockReleaseBuffer(buf);
            visitor.forward(f.ref, header);
            stack[top++] = Frame{header.target, f.depth};
        } else {
            int count = node.leaf->count, capacity = node.leaf->capacity;
            memcpy(items, leaf_refs(node.leaf), size_t(count) * sizeof(TupleRef));
            memcpy(payloads, leaf_payloads(node.leaf), size_t(count) * size_t(shape.payload_bytes));
            UnlockReleaseBuffer(buf);
            visitor.leaf(f.ref, items, payloads, count, capacity, f.depth);
        }
    }
    MemoryContextSwitchTo(old);
    MemoryContextDelete(cxt);
}

}  // namespace annoy::pg
