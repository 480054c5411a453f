// annoy_index_info(index regclass): the shape of an index: items, trees,
// nodes, depths, leaf fill, pages by content, free space and options.
#include "search_state.hpp"

#include "am.hpp"
#include "forest_walk.hpp"

extern "C" {
#include "access/relation.h"
#include "funcapi.h"
}

namespace annoy::pg {

namespace {

const char *metric_name(core::Metric m)
{
    switch (m) {
        case core::Metric::Euclidean:
            return "euclidean";
        case core::Metric::Angular:
            return "angular";
        case core::Metric::Dot:
            return "dot";
        case core::Metric::Manhattan:
            return "manhattan";
        case core::Metric::Hamming:
            return "hamming";
    }
    return "unknown";
}

struct ShapeVisitor final : WalkVisitor {
    int64 leaves = 0, splits = 0, forwards = 0;
    int min_depth = INT_MAX, max_depth = 0;
    double depth_sum = 0, fill_sum = 0;

    void leaf(const TupleRef &, const TupleRef *, const uint8 *, int count, int capacity, int depth) override
    {
        leaves++;
        min_depth = std::min(min_depth, depth);
        max_depth = std::max(max_depth, depth);
        depth_sum += depth;
        fill_sum += capacity > 0 ? double(count) / capacity : 0.0;
    }
    void split(const TupleRef &, const SplitTupleHeader &, int) override { splits++; }
    void forward(const TupleRef &, const ForwardTupleHeader &) override { forwards++; }
};
static_assert(std::is_trivially_destructible_v<ShapeVisitor>, "alive across Postgres calls that may longjmp");

}  // namespace

}  // namespace annoy::pg

extern "C" {

PG_FUNCTION_INFO_V1(annoy_index_info);

Datum annoy_index_info(PG_FUNCTION_ARGS)
{
    using namespace annoy::pg;
    Relation index = open_annoy_index(PG_GETARG_OID(0), AccessShareLock);

    TupleDesc desc;
    if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
        elog(ERROR, "annoy: annoy_index_info must return a composite type");

    MetaPageData *meta = alloc_meta();
    read_meta(index, meta);

    const IndexShape tuples = index_shape(*meta);
    int64 items = 0, item_pages = 0, node_pages = 0, mixed_pages = 0, empty_pages = 0, free_bytes = 0;
    walk_pages(index, [&](Page page, BlockNumber blkno) {
        bool has_items = false, has_nodes = false;
        for_each_checked_tuple(index, page, blkno, tuples, [&](OffsetNumber, char *tuple, Size) {
            auto *item = reinterpret_cast<const ItemTupleHeader *>(tuple);
            if (item->kind == kItemTuple) {
                items += !(item->flags & kItemDead);  // live items only
                has_items = true;
            } else if (item->kind == kChunkTuple) {
                has_items = true;  // the rest of a vector larger than a page
            } else {
                has_nodes = true;
            }
        });
        item_pages += has_items && !has_nodes;
        node_pages += has_nodes && !has_items;
        mixed_pages += has_items && has_nodes;
        empty_pages += !has_items && !has_nodes;
        free_bytes += int64(PageGetExactFreeSpace(page));
    });

    ShapeVisitor shape;
    for (int t = 0; t < meta->n_trees; t++)
        walk_tree(index, *meta, t, shape);

    Datum values[20];
    bool nulls[20] = {false};
    int i = 0;
    values[i++] = CStringGetTextDatum(metric_name(annoy::core::Metric(meta->metric)));
    values[i++] = Int32GetDatum(int32(meta->dim));
    values[i++] = Int32GetDatum(meta->n_trees);
    values[i++] = Int32GetDatum(int32(meta->leaf_size));
    values[i++] = Int32GetDatum(int32(meta->seed));
    values[i++] = Int64GetDatum(items);
    values[i++] = Int64GetDatum(shape.leaves);
    values[i++] = Int64GetDatum(shape.splits);
    values[i++] = Int64GetDatum(shape.forwards);
    values[i++] = Int32GetDatum(shape.leaves ? shape.min_depth : 0);
    values[i++] = Float8GetDatum(shape.leaves ? shape.depth_sum / double(shape.leaves) : 0.0);
    values[i++] = Int32GetDatum(shape.max_depth);
    values[i++] = Float8GetDatum(shape.leaves ? shape.fill_sum / double(shape.leaves) : 0.0);
    values[i++] = Int64GetDatum(int64(RelationGetNumberOfBlocks(index)));
    values[i++] = Int64GetDatum(item_pages);
    values[i++] = Int64GetDatum(node_pages);
    values[i++] = Int64GetDatum(mixed_pages);
    values[i++] = Int64GetDatum(empty_pages);
    values[i++] = Int64GetDatum(free_bytes);
    values[i++] = Int32GetDatum(int32(meta->sketch_bits));
    relation_close(index, AccessShareLock);
    PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}

}  // extern "C"
