// Checked access to node and item tuples.
#include "half.hpp"

#include "node_access.hpp"

namespace annoy::pg {

NodeView view_node(const char *tuple, Size size, int tree)
{
    NodeView v;
    v.kind = 0;
    v.split = nullptr;
    if (tuple == nullptr || size < 1)
        return v;
    auto *raw = const_cast<char *>(tuple);
    switch (uint8(tuple[0])) {
        case kSplitTuple:
            if (size >= sizeof(SplitTupleHeader) && reinterpret_cast<SplitTupleHeader *>(raw)->tree == tree) {
                v.kind = kSplitTuple;
                v.split = reinterpret_cast<SplitTupleHeader *>(raw);
            }
            break;
        case kLeafTuple: {
            auto *leaf = reinterpret_cast<LeafTupleHeader *>(raw);
            if (size >= sizeof(LeafTupleHeader) && leaf->tree == tree && leaf->count <= leaf->capacity &&
                size >= leaf_tuple_size(leaf)) {
                v.kind = kLeafTuple;
                v.leaf = leaf;
            }
            break;
        }
        case kForwardTuple:
            if (size >= sizeof(ForwardTupleHeader) && reinterpret_cast<ForwardTupleHeader *>(raw)->tree == tree) {
                v.kind = kForwardTuple;
                v.forward = reinterpret_cast<ForwardTupleHeader *>(raw);
            }
            break;
        default:
            break;
    }
    return v;
}

void store_plane(const core::Space &space, SplitTupleHeader *split, const float *normal)
{
    uint16 *dst = split_plane(split);
    for (size_t i = 0; i < space.plane_dim(); i++)
        dst[i] = core::float_to_half(normal[i]);
}

TupleRef read_root(Relation index, int tree)
{
    Buffer buf = ReadBuffer(index, kMetaBlock);
    LockBuffer(buf, BUFFER_LOCK_SHARE);
    TupleRef root = meta_data(BufferGetPage(buf))->roots[tree];
    UnlockReleaseBuffer(buf);
    return root;
}

bool read_item_vector(Relation index, const TupleRef &ref, void *dst, size_t bytes, ItemPointer heap_tid)
{
    Buffer buf = lock_ref_buffer(index, ref, BUFFER_LOCK_SHARE);
    Size size;
    auto *item = reinterpret_cast<ItemTupleHeader *>(tuple_at(index, BufferGetPage(buf), ref, &size));
    bool ok = item != nullptr && item->kind == kItemTuple && !(item->flags & kItemDead) &&
              size >= sizeof(ItemTupleHeader) + bytes;
    if (ok) {
        memcpy(dst, item_vector(item), bytes);
        if (heap_tid != nullptr)
            *heap_tid = item->heap_tid;
    }
    UnlockReleaseBuffer(buf);
    return ok;
}

}  // namespace annoy::pg
