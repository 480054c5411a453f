// Ordered index scans: Annoy's best-first search over all trees, resumable.
//
// The first call to amgettuple explores the forest until `budget` distinct
// items (annoy.search_k) have been scored, then returns them nearest first.
// When the index has sketches, the leaves' candidates are first ranked by
// their sketches: the scan gathers annoy.sketch_factor x budget of them and
// scores the `budget` most promising exactly (reading their vectors).  When
// the sketches' estimates have an error bound (RaBitQ's codes), it scores
// only those whose lower bound can still beat the batch's 10th best exact
// distance, up to `budget` (score_bounded).
// When the executor asks for more rows than that batch holds (a large LIMIT,
// rows filtered by WHERE), the search continues from its saved queue with
// another, larger batch, so the whole index can be read through a scan.
// Conditions on the index's filter columns (scan keys, scan_filter.hpp) are
// tested on each leaf entry before it is ranked or scored: only entries
// that pass count toward the budget.
//
// No C++ exceptions can arise here: the containers allocate with palloc
// (which raises Postgres errors itself) and the kernels and the sketch
// estimator are noexcept (asserted at each call).  So Postgres errors (interrupts, I/O)
// may longjmp through this code freely: everything a scan owns lives in its
// memory context, or in per-backend buffers (ScanBuffers) that a callback
// on that context hands back when it is deleted, by an error's cleanup too.
#include "search_state.hpp"
#include "sketch.hpp"

#include "am.hpp"
#include "buffer_hint.hpp"
#include "context_alloc.hpp"
#include "index_sketch.hpp"
#include "index_vector.hpp"
#include "node_access.hpp"
#include "partition_budget.hpp"
#include "scan_filter.hpp"

namespace annoy::pg {

namespace {

// Node keys in the queue carry their tree number above the 48-bit ref key,
// so a reader can tell a stale reference to another tree's node.
inline uint64 node_key(const TupleRef &ref, int tree)
{
    return ref_key(ref) | (uint64(tree) << 48);
}
// Set on the key of a node reached through a forward tuple.
constexpr uint64 kViaForward = uint64(1) << 63;
inline int key_tree(uint64 key)
{
    return int((key & ~kViaForward) >> 48);
}
inline TupleRef key_ref(uint64 key)
{
    return ref_from_key(key & ((uint64(1) << 48) - 1));
}
static_assert(kMaxTrees < (1 << 15), "tree numbers fit below kViaForward");

inline uint64 heap_key(const ItemPointerData &tid)
{
    return ref_key(tid);
}

// Items of one leaf that share a page.
struct ItemGroup {
    BlockNumber blkno;
    Buffer buf;      // pinned
    int begin, end;  // range in ScanState::todo
};

constexpr size_t kMaxRefs = kMaxTupleSize / sizeof(TupleRef);  // references in one leaf, at most

// What a scan works in, kept per backend and reused by later scans: the
// containers keep their capacity, and nothing here is allocated (large
// chunks are malloc'd, and freeing them every query made the C library give
// the memory back and fault it in again, 10% of a short query's time).
struct ScanBuffers {
    core::NodeQueue nodes;
    core::ItemSet expanded;  // node keys already expanded
    core::DenseKeySet seen;  // items ranked or scored (ref keys: block << 16 | offset)
    core::CandidateQueue candidates;
    core::CandidatePool pending;
    core::Sketcher::Query sketch_query;  // 64 kB of tables
    TupleRef leaf_copy[kMaxRefs];
    TupleRef todo[kMaxRefs];
    core::CandidatePool::Entry taken[kMaxRefs];  // candidates chosen from pending
    uint16 fresh[kMaxRefs];                      // rank_leaf: entries not seen before
    float ranks[kMaxRefs];                       // and their estimates (or bounds)
    ItemGroup groups[kMaxRefs];
    ScanBuffers *next_free;

    explicit ScanBuffers(core::RawAllocator a) : nodes(a), expanded(a), seen(a), candidates(a), pending(a) {}
};

// Spare buffers kept, and the container capacity beyond which a returned
// set gives its memory back (a scan of a huge search_k should not pin
// megabytes for the life of the backend).
constexpr int kSpareBuffers = 4;
constexpr size_t kKeepCapacity = size_t(1) << 16;

MemoryContext buffers_cxt = nullptr;
ScanBuffers *spare_buffers = nullptr;
int n_spare = 0;

void return_buffers(void *arg)
{
    auto *b = static_cast<ScanBuffers *>(arg);
    bool large = b->seen.capacity_bytes() > 2 * kKeepCapacity * sizeof(uint64) ||
                 b->expanded.capacity() > 2 * kKeepCapacity || b->nodes.capacity() > kKeepCapacity ||
                 b->candidates.capacity() > kKeepCapacity || b->pending.capacity() > kKeepCapacity;
    if (large || n_spare >= kSpareBuffers) {
        b->~ScanBuffers();  // releases the containers' memory (pfree)
        pfree(b);
        return;
    }
    b->next_free = spare_buffers;
    spare_buffers = b;
    n_spare++;
}

// Buffers for a scan whose memory context is `cxt`; they return to the
// spares when that context is deleted (end of scan, or an error's cleanup).
ScanBuffers *take_buffers(MemoryContext cxt)
{
    ScanBuffers *b = spare_buffers;
    if (b != nullptr) {
        spare_buffers = b->next_free;
        n_spare--;
    } else {
        if (buffers_cxt == nullptr)
            buffers_cxt = AllocSetContextCreate(TopMemoryContext, "annoy scan buffers", ALLOCSET_DEFAULT_SIZES);
        b = new (MemoryContextAlloc(buffers_cxt, sizeof(ScanBuffers))) ScanBuffers(context_allocator(buffers_cxt));
    }
    at_context_reset(cxt, return_buffers, b);
    return b;
}

struct ScanState {
    MemoryContext cxt;
    MetaPageData *meta;  // as begin_scan read it: tree roots, sketch parameters
    core::Space space;
    IndexShape shape;         // what the index's tuples look like (node_access.hpp)
    BlockNumber nblocks;      // blocks at the start of the scan
    BlockNumber heap_blocks;  // the table's blocks when last looked up (0: not yet)
    uint64 n_items;

    char *query;  // vector bytes; nullptr for a NULL query
    bool started;
    size_t budget;     // items scored per batch
    size_t examined;   // items scored so far
    size_t next_stop;  // end of the current batch

    // The queues, the set of items already scored (or ranked), and the
    // leaf arrays: per-backend buffers lent to this scan.
    ScanBuffers *buf;

    // Sketch ranking (use_sketch): candidates gathered from leaves wait in
    // buf->pending, with their estimated distances, until chosen for scoring.
    // With an error bound on the estimates (bounded), they wait with the
    // lower bound of their distance instead, and a batch stops scoring
    // (settled) once no pending candidate's bound is below the kSettleRank-th
    // best distance the batch scored (batch_best).
    bool use_sketch;
    bool bounded;
    bool settled;
    core::KthSmallest batch_best;
    size_t returned;  // rows the current batch has returned
    int sketch_bytes;
    size_t factor;       // candidates ranked per item scored (effective_sketch_factor)
    size_t gathered;     // candidates ranked so far
    size_t gather_stop;  // rank this many before scoring the batch

    Buffer pinned;  // last data page read, kept pinned

    // WHERE conditions on filter columns, tested on leaf entries before
    // they are ranked or scored (scan_filter.hpp); compiled by rescan in
    // key_cxt.
    MemoryContext key_cxt;
    const IndexColumns *columns;  // a copy (filter.hpp), in cxt; nullptr without filter columns
    ScanFilter filter;
    bool filtered;  // filter.n_tests > 0
    int payload_bytes;
    // Leaf entries the filter tested and passed so far, and what
    // fit_to_filter made of them: the walk narrowed to one tree, the
    // automatic budget fitted to the matching rows.
    size_t entries_tested, entries_passed;
    bool one_tree;
    bool budget_sized;

    // Each batch after the first scores twice as many items as the one
    // before, up to kMaxBatchGrowth times the budget: a query whose rows the
    // executor filters further (conditions the index does not hold) reaches
    // the rows it needs in fewer rounds.
    size_t batch;

    // Vectors larger than a page (chunk tuples): scored from a copy.
    bool chained;
    char *item_buf;  // vector_bytes, in cxt
    // The share of the items this scan searches among the scans a Merge
    // Append merges it with (1 alone): they share the budget
    // (partition_budget.hpp).
    double merged_share;
};

// Line pointers an item page can have: the columns of the seen set's bitmap
// (items elsewhere, as on pages added since the scan began, are hashed).
uint32 item_slots_per_page(const core::Space &space)
{
    const Size vector = std::min<Size>(space.vector_bytes(), kMaxTupleSize);
    const Size tuple = MAXALIGN(sizeof(ItemTupleHeader) + vector) + sizeof(ItemIdData);
    return uint32((BLCKSZ - SizeOfPageHeaderData) / tuple + 1);  // offsets start at 1
}

// The page of `blkno`, pinned (reusing the pin of the previous read).
Buffer pin_block(Relation index, ScanState *so, BlockNumber blkno)
{
    check_block_ref(index, blkno);
    so->pinned = reread_index_buffer(so->pinned, index, blkno);
    return so->pinned;
}

// Items in the index now: the count of the last build or VACUUM, scaled by
// how much the index has grown since (inserts do not update the meta page).
uint64 estimated_items(Relation index, const MetaPageData &meta, BlockNumber now)
{
    double n = double(meta.n_items);
    if (meta.counted_pages > 1)
        n *= std::max(1.0, double(now - 1) / double(meta.counted_pages - 1));
    n = std::max(n, double(std::max<float>(index->rd_rel->reltuples, 0.0f)));
    // No more than the index can hold (a damaged count must not turn the
    // automatic search_k into a read of everything).
    return uint64(std::min(n, double(max_tuples(now))));
}

// Hints the CPU to start loading memory we will read soon.
inline void prefetch(const void *p)
{
    __builtin_prefetch(p, 0, 3);
}

// score_leaf for vectors larger than a page: each is assembled from its
// item and chunk tuples (read_item_vector, one page lock at a time) and
// scored from the copy.
void score_chained(Relation index, ScanState *so, int count, bool check_seen)
{
    const TupleRef *refs = so->buf->leaf_copy;
    for (int i = 0; i < count; i++) {
        if (check_seen && !so->buf->seen.insert(ref_key(refs[i])))
            continue;
        ItemPointerData tid;
        if (!read_item_vector(index, refs[i], so->shape, so->item_buf, &tid))
            continue;  // dead, or freed by VACUUM since the leaf was read
        float d = so->query != nullptr ? so->space.distance(so->query, so->item_buf) : 0.0f;
        so->buf->candidates.push(d, heap_key(tid));
        so->batch_best.add(d);
        so->examined++;
    }
}

// Scores the items of one leaf (references copied to buf->leaf_copy), in
// two phases so that the memory accesses of different candidates overlap
// instead of forming one long chain of cache misses:
//   1. pin the page of every not-yet-scored item (references are sorted, so
//      items sharing a page share a pin) and prefetch each page's header;
//   2. score them page by page, prefetching the next page's first tuple
//      while computing on the current one.
void score_leaf(Relation index, ScanState *so, int count, bool check_seen = true)
{
    if (so->chained) {
        score_chained(index, so, count, check_seen);
        return;
    }
    const TupleRef *refs = so->buf->leaf_copy;
    TupleRef *todo = so->buf->todo;
    ItemGroup *groups = so->buf->groups;
    int n = 0, ngroups = 0;
    for (int i = 0; i < count; i++) {
        if (check_seen && !so->buf->seen.insert(ref_key(refs[i])))
            continue;  // already scored from another tree
        BlockNumber blkno = ItemPointerGetBlockNumberNoCheck(&refs[i]);
        if (ngroups == 0 || groups[ngroups - 1].blkno != blkno) {
            check_block_ref(index, blkno);
            Buffer buf = read_index_buffer(index, blkno);
            prefetch(BufferGetPage(buf));
            groups[ngroups++] = ItemGroup{blkno, buf, n, n};
        }
        todo[n++] = refs[i];
        groups[ngroups - 1].end = n;
    }

    for (int g = 0; g < ngroups; g++) {
        if (g + 1 < ngroups) {
            // The next page's first tuple: its line pointer was prefetched
            // with the page header.  Read without the page lock, so only
            // trust it as a hint, kept inside the page.
            Page next = BufferGetPage(groups[g + 1].buf);
            OffsetNumber off = ItemPointerGetOffsetNumberNoCheck(&todo[groups[g + 1].begin]);
            if (off <= PageGetMaxOffsetNumber(next)) {
                unsigned lp_off = ItemIdGetOffset(PageGetItemId(next, off));
                if (lp_off < BLCKSZ - 128) {
                    prefetch(next + lp_off);
                    prefetch(next + lp_off + 64);
                }
            }
        }
        const ItemGroup &grp = groups[g];
        LockBuffer(grp.buf, BUFFER_LOCK_SHARE);
        Page page = BufferGetPage(grp.buf);
        check_page_header(index, page, grp.blkno);
        for (int i = grp.begin; i < grp.end; i++) {
            ItemTupleHeader *item = read_item(index, page, todo[i], so->shape);
            if (item == nullptr)
                continue;  // dead, or freed by VACUUM since the leaf was read
            static_assert(noexcept(so->space.exact_distance(so->query, item)), "Postgres longjmps through scans");
            double d = so->query != nullptr ? so->space.exact_distance(so->query, item_vector(item)) : 0.0;
            so->buf->candidates.push(d, heap_key(item->heap_tid));
            so->batch_best.add(d);
            so->examined++;
        }
        UnlockReleaseBuffer(grp.buf);
    }
}

// Whether leaf entry i passes the scan's filter (always, without one),
// counting the entries tested and passed for fit_to_filter.
inline bool entry_passes(ScanState *so, const uint8 *payloads, int i)
{
    if (!so->filtered)
        return true;
    so->entries_tested++;
    if (!filter_pass(so->filter, payloads + size_t(i) * size_t(so->payload_bytes)))
        return false;
    so->entries_passed++;
    return true;
}

// Ranks the entries of a leaf (on a locked page) by their sketches: each
// new candidate waits in `pending` for its exact score.
void rank_leaf(ScanState *so, LeafTupleHeader *leaf)
{
    ScanBuffers &b = *so->buf;
    const TupleRef *refs = leaf_refs(leaf);
    const uint8 *sketches = leaf_sketches(leaf);
    const uint8 *payloads = leaf_payloads(leaf);
    static_assert(kMaxRefs <= PG_UINT16_MAX, "leaf entry numbers fit in uint16");
    size_t n = 0;
    for (int i = 0; i < leaf->count; i++) {
        // Rows the filter rejects cost no more than its test; rows already
        // ranked from another tree are not ranked again.
        if (entry_passes(so, payloads, i) && b.seen.insert(ref_key(refs[i])))
            b.fresh[n++] = uint16(i);
    }
    // All of the leaf's new entries in one call (their sketches are
    // contiguous on the page).
    static_assert(noexcept(b.sketch_query.rank(sketches, 0, b.fresh, 0, false, b.ranks)),
                  "Postgres longjmps through scans");
    b.sketch_query.rank(sketches, size_t(so->sketch_bytes), b.fresh, n, so->bounded, b.ranks);
    for (size_t j = 0; j < n; j++)
        b.pending.push(b.ranks[j], ref_key(refs[b.fresh[j]]));
    so->gathered += n;
}

// Pops one queued node: a split queues its children, a leaf's items are
// scored (or ranked by sketch).
void expand_one(Relation index, ScanState *so)
{
    core::NodeQueue::Entry e = so->buf->nodes.pop();
    int tree = key_tree(e.ref);
    if (unlikely(tree >= so->shape.n_trees))
        elog(ERROR, "annoy scan: node key of tree %d", tree);
    TupleRef ref = key_ref(e.ref);
    BlockNumber blkno = ItemPointerGetBlockNumberNoCheck(&ref);
    Buffer buf = pin_block(index, so, blkno);
    LockBuffer(buf, BUFFER_LOCK_SHARE);
    Page page = BufferGetPage(buf);
    check_page_header(index, page, blkno);
    NodeView node = read_node(index, page, ref, tree, so->shape);
    // Splits and forward tuples are expanded once.  One may be reached
    // twice when a way leads through a forward tuple (a scan that queued
    // both children of a split VACUUM then merged, and the merged leaf split
    // since, reaches it again through the forward tuple the sibling
    // became): the second time is skipped, its children are queued already.
    // Reached twice straight from split children or roots, it is a cycle or
    // a shared subtree, which no writer makes.  Leaves are read every time
    // they are reached (a merge may have added items since; their items are
    // scored once anyway), at most once per reference queued.
    if (node.kind != kLeafTuple) {
        const uint64 direct = e.ref & ~kViaForward;
        bool again;
        if (e.ref & kViaForward) {
            again = so->buf->expanded.contains(direct) || !so->buf->expanded.insert(e.ref);
        } else {
            if (unlikely(!so->buf->expanded.insert(direct))) {
                LockBuffer(buf, BUFFER_LOCK_UNLOCK);
                tuple_corrupted(index, ref, tree, "node reached twice (cycle or shared subtree)");
            }
            again = so->buf->expanded.contains(direct | kViaForward);
        }
        if (again) {
            LockBuffer(buf, BUFFER_LOCK_UNLOCK);
            return;
        }
    }
    int leaf_count = -1;
    switch (node.kind) {
        case kSplitTuple: {
            float m = 0.0f;
            static_assert(noexcept(core::margin(so->space, split_view(so->space, node.split), so->query,
                                                0.0f)) &&noexcept(core::child_priority(so->space, e.priority, m, 0)),
                          "Postgres longjmps through scans");
            if (so->query != nullptr) {
                m = core::margin(so->space, split_view(so->space, node.split), so->query, 0.0f);
            }
            for (int side = 0; side < 2; side++)
                so->buf->nodes.push(core::child_priority(so->space, e.priority, m, side),
                                    node_key(node.split->child[side], tree));
            break;
        }
        case kForwardTuple:
            so->buf->nodes.push(e.priority, node_key(node.forward->target, tree) | kViaForward);
            break;
        case kLeafTuple:
            if (so->use_sketch) {
                rank_leaf(so, node.leaf);
            } else if (!so->filtered) {
                leaf_count = node.leaf->count;
                memcpy(so->buf->leaf_copy, leaf_refs(node.leaf), size_t(leaf_count) * sizeof(TupleRef));
            } else {
                // Only the entries that pass the filter are scored.
                const TupleRef *refs = leaf_refs(node.leaf);
                const uint8 *payloads = leaf_payloads(node.leaf);
                leaf_count = 0;
                for (int i = 0; i < node.leaf->count; i++) {
                    if (entry_passes(so, payloads, i))
                        so->buf->leaf_copy[leaf_count++] = refs[i];
                }
            }
            break;
    }
    LockBuffer(buf, BUFFER_LOCK_UNLOCK);
    // The node popped next is most often the near child just queued: start
    // loading its page (each node is a page not yet in the CPU's caches).
    if (!so->buf->nodes.empty()) {
        const TupleRef next = key_ref(so->buf->nodes.top().ref);
        prefetch_index_tuple(index, ItemPointerGetBlockNumberNoCheck(&next), ItemPointerGetOffsetNumberNoCheck(&next));
    }
    if (leaf_count > 0)
        score_leaf(index, so, leaf_count);
}

// Scores the chosen candidates taken[begin, end), grouped by page.
void score_taken(Relation index, ScanState *so, size_t begin, size_t end)
{
    auto *keys = reinterpret_cast<uint64 *>(so->buf->groups);  // scratch: groups are rebuilt by score_leaf
    for (size_t i = begin; i < end; i++)
        keys[i - begin] = so->buf->taken[i].ref;
    const size_t count = end - begin;
    std::sort(keys, keys + count);
    for (size_t i = 0; i < count; i++)
        so->buf->leaf_copy[i] = ref_from_key(keys[i]);
    score_leaf(index, so, int(count), false);
}

// Scores exactly the `count` most promising ranked candidates.
void score_pending(Relation index, ScanState *so, size_t count)
{
    count = so->buf->pending.take_smallest(count, so->buf->taken);
    score_taken(index, so, 0, count);
}

// Scoring with bounds (bounded): the first kSettleRank candidates of a
// batch (by lower bound) are scored whatever their bounds, which makes
// every batch progress and gives it a threshold, the kSettleRank-th best
// distance scored; then only those whose bound is below the threshold,
// the lowest bounds first, in small chunks so that the threshold tightens
// as they are scored.  The others stay pending for later batches: a batch
// returns its rows nearest first once no pending bound is below its
// threshold (settled), or its budget is spent.  Rows past the kSettleRank-th
// are refined the same way as they are returned (refine_settled).
constexpr int kSettleRank = 10;
constexpr size_t kBoundedChunk = 32;

// Returns true when no pending candidate is below the threshold any more.
bool score_bounded(Relation index, ScanState *so, size_t want)
{
    core::CandidatePool::Entry *taken = so->buf->taken;
    double threshold = so->batch_best.value();
    if (std::isinf(threshold)) {
        // Not yet kSettleRank scored in this batch (dead items may make it
        // take more than one round).
        const size_t n = so->buf->pending.take_smallest(std::min(want, size_t(kSettleRank)), taken);
        score_taken(index, so, 0, n);
        return false;
    }
    const size_t n = so->buf->pending.take_below(threshold, want, taken);
    bool dry = n < want;  // nothing else pending is below the threshold
    std::sort(taken, taken + n, [](const auto &a, const auto &b) { return a.distance < b.distance; });
    size_t done = 0;
    while (done < n) {
        size_t end = std::min(n, done + kBoundedChunk);
        threshold = so->batch_best.value();
        size_t cut = done;
        while (cut < end && taken[cut].distance < threshold)
            cut++;
        score_taken(index, so, done, cut);
        done = cut;
        if (cut < end)
            break;  // the rest are above a tighter threshold
    }
    if (done < n) {
        dry = true;
        for (size_t i = done; i < n; i++)
            so->buf->pending.push(taken[i].distance, taken[i].ref);
    }
    return dry;
}

// Whether the current batch is complete: its rows can be returned.
bool batch_complete(const ScanState *so)
{
    return so->examined >= so->next_stop || so->settled;
}

// The automatic search_k of a filtered scan: a filtered query searches the
// matching rows only, so it gets the budget of an index of that many rows
// (as a partition alone would), decided once, during the first batch.
// Scoring the automatic budget of the whole index among a few thousand
// matching rows bought no recall and cost a walk through 1 / selectivity
// times as many leaves.
void fit_budget(ScanState *so, double matching)
{
    if (search_k_setting > 0 || so->examined >= so->budget || so->next_stop != so->budget)
        return;
    matching = std::max(matching, 1.0);
    const size_t fitted = size_t(partition_search_k(matching, matching / so->merged_share, int(so->factor),
                                                    int(so->meta->n_trees), int(so->meta->leaf_size)));
    if (fitted >= so->budget)
        return;
    so->budget = std::max(fitted, so->examined + 1);
    so->next_stop = so->budget;
    so->batch = 2 * so->budget;
    so->gather_stop = std::max(so->gathered, so->budget * so->factor);
}

// A selective filter can leave fewer matching rows than the scan still
// wants: the best-first walk over all trees would then read every tree to
// its end, finding each matching row once per tree.  Every tree holds every
// item, so once the rows still wanted outnumber the matching rows of the
// whole index (reading the rest of the forest at the pass rate seen would
// cost more than one whole tree), the walk continues through tree 0 alone,
// from its root, reaching every matching row once (items already ranked or
// scored are skipped as before).  A wrong guess (a pass rate near the query
// unlike the index's) costs at most one tree's walk, and finds more rows,
// not fewer.
void maybe_walk_one_tree(ScanState *so, double matching)
{
    const size_t want = so->use_sketch ? so->gather_stop : so->next_stop;
    const size_t got = so->use_sketch ? so->gathered : so->examined;
    if (want == SIZE_MAX || want <= got || double(want - got) <= matching)
        return;
    so->one_tree = true;
    // The whole tree is read anyway when few rows match, and gathering all
    // of its matching entries lets the sketches, not one tree's order,
    // choose which to score (stopping at gather_stop in one tree's order
    // cost recall: Fashion-MNIST, 10% filter, 0.977 -> 0.954).
    if (so->use_sketch)
        so->gather_stop = SIZE_MAX;
    so->buf->nodes.clear();
    so->buf->expanded.clear();  // tree 0's nodes are expanded again
    so->buf->nodes.push(std::numeric_limits<float>::infinity(), node_key(so->meta->roots[0], 0));
}

// Filtered scans: entries tested before the pass rate is trusted.
constexpr size_t kPassRateSample = 2048;

// What a filtered scan makes of the pass rate of the entries it tested:
// the matching rows of the index, from which its budget (fit_budget) and
// its walk (maybe_walk_one_tree).
void fit_to_filter(ScanState *so)
{
    if (!so->filtered || so->one_tree || so->entries_tested < kPassRateSample)
        return;
    const double matching = double(so->n_items) * double(so->entries_passed) / double(so->entries_tested);
    if (!so->budget_sized) {
        so->budget_sized = true;
        fit_budget(so, matching);
    }
    maybe_walk_one_tree(so, matching);
}

// Works until the batch's budget of scored items is reached, the batch
// settles (score_bounded), or the forest is exhausted.
void advance(Relation index, ScanState *so)
{
    size_t steps = 0;
    if (!so->use_sketch) {
        while (!so->buf->nodes.empty() && so->examined < so->next_stop) {
            if (++steps % 256 == 0)
                CHECK_FOR_INTERRUPTS();
            fit_to_filter(so);
            expand_one(index, so);
        }
        return;
    }
    // Rank candidates until gather_stop (or until the forest is exhausted),
    // then score the best of them; more nodes only when those run out.
    const size_t chunk = kMaxRefs;
    while (!batch_complete(so)) {
        if (++steps % 256 == 0)
            CHECK_FOR_INTERRUPTS();
        fit_to_filter(so);
        if (!so->buf->nodes.empty() && (so->gathered < so->gather_stop || so->buf->pending.empty())) {
            expand_one(index, so);
            continue;
        }
        if (so->buf->pending.empty())
            break;  // nothing left to rank or score
        size_t want = std::min({so->next_stop - so->examined, so->buf->pending.size(), chunk});
        if (!so->bounded) {
            score_pending(index, so, want);
            continue;
        }
        if (score_bounded(index, so, want))
            so->settled = true;
    }
}

// A settled batch is ordered by exact distance only up to its
// kSettleRank-th row: the candidates left pending have bounds above that
// row's distance, not above the next ones'.  Before a later row of distance
// d is returned, the pending candidates whose bound is below d are scored
// (within the batch's budget), so a query with a larger LIMIT gets its rows
// in the order the bounds justify, as the first kSettleRank.  Returns
// whether any were scored (the next row may have changed).
bool refine_settled(Relation index, ScanState *so)
{
    if (!so->bounded || !so->settled || so->returned < size_t(kSettleRank) || so->examined >= so->next_stop)
        return false;
    const double d = so->buf->candidates.top().distance;
    const size_t want = std::min(kBoundedChunk, so->next_stop - so->examined);
    const size_t n = so->buf->pending.take_below(d, want, so->buf->taken);
    if (n == 0)
        return false;
    score_taken(index, so, 0, n);
    return true;
}

bool exhausted(const ScanState *so)
{
    return so->buf->nodes.empty() && (!so->use_sketch || so->buf->pending.empty());
}

constexpr size_t kMaxBatchGrowth = 64;

// The next batch: score up to `batch` more items, after ranking
// sketch_factor times as many more; the batch after it is twice as large
// (see ScanState).
void next_batch(ScanState *so)
{
    const size_t batch = so->batch;
    so->next_stop = so->examined > SIZE_MAX - batch ? SIZE_MAX : so->examined + batch;
    const size_t cap = so->budget > SIZE_MAX / kMaxBatchGrowth ? SIZE_MAX : so->budget * kMaxBatchGrowth;
    so->batch = batch > cap / 2 ? cap : batch * 2;
    const size_t factor = so->factor;
    const size_t more = batch > SIZE_MAX / factor ? SIZE_MAX : batch * factor;
    const size_t base = std::max(so->gather_stop, so->gathered);
    so->gather_stop = base > SIZE_MAX - more ? SIZE_MAX : base + more;
    so->settled = false;
    so->returned = 0;
    so->batch_best.clear();
}

}  // namespace

IndexScanDesc begin_scan(Relation index, int nkeys, int norderbys)
{
    IndexScanDesc scan = RelationGetIndexScan(index, nkeys, norderbys);
    // The executor reads the distance of each returned row from here.
    scan->xs_orderbyvals = static_cast<Datum *>(palloc0(sizeof(Datum) * size_t(std::max(norderbys, 1))));
    scan->xs_orderbynulls = static_cast<bool *>(palloc(sizeof(bool) * size_t(std::max(norderbys, 1))));
    MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "annoy scan", ALLOCSET_DEFAULT_SIZES);
    auto *so = static_cast<ScanState *>(MemoryContextAllocZero(cxt, sizeof(ScanState)));
    so->cxt = cxt;
    so->pinned = InvalidBuffer;

    MetaPageData *meta = static_cast<MetaPageData *>(MemoryContextAllocZero(cxt, meta_size(kMaxTrees)));
    read_meta(index, meta);
    so->meta = meta;
    so->shape = index_shape(*meta);
    so->nblocks = RelationGetNumberOfBlocks(index);
    so->space.metric = core::Metric(meta->metric);
    so->space.dim = meta->dim;
    so->n_items = estimated_items(index, *meta, so->nblocks);
    so->merged_share = merged_share(MemoryContextGetParent(cxt), RelationGetRelid(index));

    so->buf = take_buffers(cxt);
    so->payload_bytes = so->shape.payload_bytes;
    if (so->payload_bytes > 0) {
        // Only indexes with filter columns pay for filtering.
        so->key_cxt = AllocSetContextCreate(cxt, "annoy scan keys", ALLOCSET_SMALL_SIZES);
        MemoryContext old = MemoryContextSwitchTo(cxt);
        so->columns = copy_index_columns(index);
        MemoryContextSwitchTo(old);
    }
    static_assert(sizeof(ItemGroup) >= sizeof(uint64), "score_taken uses groups as key scratch");
    scan->opaque = so;
    return scan;
}

void rescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys, int norderbys)
{
    auto *so = static_cast<ScanState *>(scan->opaque);
    Relation index = scan->indexRelation;
    if (keys != nullptr && nkeys > 0)
        memmove(scan->keyData, keys, sizeof(ScanKeyData) * size_t(nkeys));
    if (norderbys > 0)
        memmove(scan->orderByData, orderbys, sizeof(ScanKeyData) * size_t(norderbys));

    // The filter keys (the planner offers only filter columns' operators).
    if (so->columns != nullptr) {
        MemoryContextReset(so->key_cxt);
        MemoryContext old_cxt = MemoryContextSwitchTo(so->key_cxt);
        prepare_scan_filter(*so->columns, scan->keyData, scan->numberOfKeys, &so->filter);
        MemoryContextSwitchTo(old_cxt);
    } else if (scan->numberOfKeys > 0) {
        elog(ERROR, "annoy: scan keys on index \"%s\", which has no filter columns", RelationGetRelationName(index));
    }
    so->filtered = so->filter.n_tests > 0;  // (read_meta checked the payload size against the columns)

    so->buf->nodes.clear();
    so->buf->expanded.clear();
    so->buf->seen.reset(so->nblocks, item_slots_per_page(so->space));
    so->buf->candidates.clear();
    so->buf->pending.clear();
    so->gathered = 0;
    so->entries_tested = so->entries_passed = 0;
    so->one_tree = false;
    so->budget_sized = false;
    so->gather_stop = 0;
    so->use_sketch = false;
    so->bounded = false;
    so->settled = false;
    so->batch_best = core::KthSmallest(kSettleRank);
    so->started = false;
    so->examined = 0;
    so->query = nullptr;

    // The query: ORDER BY col <op> $1.  A NULL query (or none: the planner
    // never picks this index without ORDER BY, but a forced plan may) orders
    // nothing; the scan then returns every indexed row, distance NULL.
    if (scan->numberOfOrderBys > 0 && !(scan->orderByData[0].sk_flags & SK_ISNULL)) {
        MemoryContext old = MemoryContextSwitchTo(so->cxt);
        RawVector v = index_vector(index, so->space.metric, scan->orderByData[0].sk_argument);
        if (so->space.dim != 0)
            check_index_dimension(index, so->space.metric, int(so->space.dim), v.dim);
        so->space.dim = uint32(v.dim);
        so->shape.space.dim = so->space.dim;  // an empty index gets it from its first row, as the query
        so->query = static_cast<char *>(palloc(so->space.vector_bytes()));
        memcpy(so->query, v.data, so->space.vector_bytes());
        so->chained = item_chunks(so->space) > 0;
        if (so->chained && so->item_buf == nullptr)
            so->item_buf = static_cast<char *>(palloc(so->space.vector_bytes()));
        MemoryContextSwitchTo(old);
    }
    // Sketch ranking, if the index has sketches and it is not turned off.
    so->factor = 1;
    const int factor = effective_sketch_factor(so->meta->sketch_bits, so->space.dim);
    if (so->query != nullptr && factor > 1) {
        const core::Sketcher *sketcher = index_sketcher(index, *so->meta);
        if (sketcher != nullptr && sketcher->space().dim == so->space.dim) {
            so->factor = size_t(factor);
            static_assert(std::is_trivially_destructible_v<core::Sketcher::Query>,
                          "an error may abandon a prepared query without destroying it");
            static_assert(noexcept(so->buf->sketch_query.prepare(*sketcher, so->query)),
                          "Postgres longjmps through scans");
            so->buf->sketch_query.prepare(*sketcher, so->query);
            so->sketch_bytes = int(sketcher->sketch_bytes());
            so->use_sketch = true;
        }
    }
    // A partition's scan merged with its siblings' takes its share of their
    // budget (partition_budget.hpp).
    so->budget = so->query == nullptr
                     ? SIZE_MAX
                     : size_t(partition_search_k(double(so->n_items), double(so->n_items) / so->merged_share,
                                                 int(so->factor), int(so->meta->n_trees), int(so->meta->leaf_size)));
    so->batch = so->budget;
    // Scoring by bounds, unless the budget covers the whole index: that asks
    // for an exact scan, every item scored in the first batch and all rows
    // in order.
    so->bounded = so->use_sketch && so->buf->sketch_query.bounded() && so->budget < so->n_items;
}

bool get_tuple(IndexScanDesc scan, ScanDirection dir)
{
    auto *so = static_cast<ScanState *>(scan->opaque);
    if (dir != ForwardScanDirection)
        elog(ERROR, "annoy: index scans only go forward");

    if (so->filter.never)
        return false;  // a key no row satisfies
    if (!so->started) {
        so->started = true;
        // Tree roots are explored first (Annoy's +infinity priority), in
        // order of the trees.
        for (int t = 0; t < so->meta->n_trees; t++)
            so->buf->nodes.push(std::numeric_limits<float>::infinity(), node_key(so->meta->roots[t], t));
        next_batch(so);
    }
    for (;;) {
        if (!so->buf->candidates.empty() && (batch_complete(so) || exhausted(so))) {
            if (refine_settled(scan->indexRelation, so))
                continue;
            so->returned++;
            core::CandidateQueue::Entry e = so->buf->candidates.pop();
            ItemPointerData tid = ref_from_key(e.ref);
            // A heap TID past the table's end would make the executor's
            // fetch fail with a misleading error.
            BlockNumber heap_block = ItemPointerGetBlockNumber(&tid);
            if (unlikely(heap_block >= so->heap_blocks) && scan->heapRelation != nullptr) {
                so->heap_blocks = RelationGetNumberOfBlocks(scan->heapRelation);
                if (heap_block >= so->heap_blocks)
                    ereport(ERROR,
                            (errcode(ERRCODE_INDEX_CORRUPTED),
                             errmsg("index \"%s\" has an item for heap row (%u,%u), past the end of table "
                                    "\"%s\"",
                                    RelationGetRelationName(scan->indexRelation), heap_block,
                                    ItemPointerGetOffsetNumber(&tid), RelationGetRelationName(scan->heapRelation))));
            }
            scan->xs_heaptid = tid;
            scan->xs_recheck = so->filter.lossy;  // hashes and signatures let other rows through
            scan->xs_recheckorderby = false;
            if (scan->numberOfOrderBys > 0) {
                scan->xs_orderbyvals[0] = Float8GetDatum(e.distance);
                scan->xs_orderbynulls[0] = so->query == nullptr;
            }
            return true;
        }
        if (exhausted(so))
            return false;
        if (batch_complete(so))
            next_batch(so);
        advance(scan->indexRelation, so);
    }
}

void end_scan(IndexScanDesc scan)
{
    auto *so = static_cast<ScanState *>(scan->opaque);
    if (BufferIsValid(so->pinned))
        ReleaseBuffer(so->pinned);
    MemoryContextDelete(so->cxt);
    scan->opaque = nullptr;
}

}  // namespace annoy::pg
