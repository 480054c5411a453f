// Building trees: the top levels of a group of trees together, one pass over
// the vectors per level, and each smaller node's subtree depth first.
#include "tree_build.hpp"

#include <algorithm>

#include "rng.hpp"
#include "split.hpp"

namespace annoy::core {

namespace {

constexpr uint32_t kNoNode = 0xFFFFFFFFu;
constexpr uint32_t kNoParent = 0xFFFFFFFFu;

// Polls `cancel` once every kPollEveryItems items reported.
class Poller {
public:
    explicit Poller(const CancelCheck &cancel) : cancel_(cancel) {}
    const CancelCheck &cancel() const { return cancel_; }
    void items(size_t count)
    {
        since_ += count;
        if (since_ < kPollEveryItems)
            return;
        since_ = 0;
        if (cancel_())
            throw Cancelled();
    }

private:
    const CancelCheck &cancel_;
    size_t since_ = 0;
};

// Appends a split with plane `plane` to `out`; children are linked later.
NodeRef emit_split(TreeFragment &out, const SplitPlane &plane, size_t plane_dim)
{
    out.splits.push_back(FlatForest::Split{{kLeafBit, kLeafBit}, plane.offset, plane.bit});
    if (plane_dim)
        out.planes.insert(out.planes.end(), plane.normal.begin(), plane.normal.end());
    return uint32_t(out.splits.size() - 1);
}

NodeRef emit_leaf(TreeFragment &out, const uint32_t *items, size_t count)
{
    out.leaves.push_back(FlatForest::Leaf{uint32_t(out.leaf_items.size()), uint32_t(count)});
    out.leaf_items.insert(out.leaf_items.end(), items, items + count);
    return kLeafBit | uint32_t(out.leaves.size() - 1);
}

void link(TreeFragment &out, uint32_t parent, int child, NodeRef ref)
{
    if (parent == kNoParent)
        out.root = ref;
    else
        out.splits[parent].child[child] = ref;
}

// Splits sets of items of one data set: whole subtrees depth first, or single
// nodes for the group's shared levels.  Holds the scratch buffers (sized for
// all n items) that both need.
class NodeSplitter {
public:
    NodeSplitter(const Space &space, const char *base, const float *extras, size_t n, uint32_t leaf_size,
                 Poller &poller)
        : space_(space),
          base_(base),
          extras_(extras),
          leaf_size_(leaf_size),
          vbytes_(space.vector_bytes()),
          plane_dim_(space.plane_dim()),
          poller_(poller),
          scratch_(n),
          vecs_(n),
          side_(n)
    {
        if (extras_ != nullptr)
            node_extras_.resize(n);
    }

    // Builds the subtree of items[0, count) (reordered in place) into `out`
    // and returns its root.  Explicit stack, depth first with child 0 first:
    // the order (and so the generator's stream) is fixed, and degenerate
    // data that peels off a few items per split cannot overflow the machine
    // stack.  Children are linked to their parent by index: splits may move
    // as the vector grows.
    NodeRef build_subtree(uint32_t *items, size_t count, Rng &rng, TreeFragment &out)
    {
        stack_.clear();
        stack_.push_back(Task{0, count, kNoParent, 0});
        NodeRef root = kLeafBit;
        while (!stack_.empty()) {
            const Task task = stack_.back();
            stack_.pop_back();
            const size_t size = task.end - task.begin;
            poller_.items(size);
            NodeRef ref;
            size_t zeros = 0;
            if (size <= leaf_size_) {
                ref = emit_leaf(out, items + task.begin, size);
            } else {
                zeros = split(items + task.begin, size, rng, plane_);
                ref = emit_split(out, plane_, plane_dim_);
            }
            if (task.parent == kNoParent)
                root = ref;
            else
                out.splits[task.parent].child[task.child] = ref;
            if (!is_leaf(ref)) {
                stack_.push_back(Task{task.begin + zeros, task.end, node_index(ref), 1});
                stack_.push_back(Task{task.begin, task.begin + zeros, node_index(ref), 0});
            }
        }
        return root;
    }

    // Splits items[0, count) with choose_split and partitions them in place,
    // side 0 first; returns the size of side 0.
    size_t split(uint32_t *items, size_t count, Rng &rng, SplitPlane &plane)
    {
        gather(items, count);
        choose_split(space_, vecs_.data(), node_extras(), count, rng, plane, side_.data(), poller_.cancel());
        return partition(items, count, [&](size_t i, uint32_t) { return side_[i]; });
    }

    // choose_plane over items[0, count).
    void plane(const uint32_t *items, size_t count, Rng &rng, SplitPlane &plane)
    {
        gather(items, count);
        choose_plane(space_, vecs_.data(), node_extras(), count, rng, plane);
    }

    // Stable partition of items[0, count) by side_of(position, item), side 0
    // first; returns the size of side 0.
    template <typename SideOf>
    size_t partition(uint32_t *items, size_t count, SideOf side_of)
    {
        size_t zeros = 0;
        for (size_t i = 0; i < count; i++)
            zeros += side_of(i, items[i]) == 0;
        size_t lo = 0, hi = zeros;
        for (size_t i = 0; i < count; i++)
            scratch_[side_of(i, items[i]) ? hi++ : lo++] = items[i];
        std::copy(scratch_.begin(), scratch_.begin() + ptrdiff_t(count), items);
        return zeros;
    }

private:
    struct Task {
        size_t begin, end;  // range of the items
        uint32_t parent;    // split index, or kNoParent
        int child;
    };

    void gather(const uint32_t *items, size_t count)
    {
        for (size_t i = 0; i < count; i++) {
            vecs_[i] = base_ + size_t(items[i]) * vbytes_;
            if (extras_ != nullptr)
                node_extras_[i] = extras_[items[i]];
        }
    }
    const float *node_extras() const { return extras_ ? node_extras_.data() : nullptr; }

    const Space &space_;
    const char *base_;
    const float *extras_;  // Dot only
    size_t leaf_size_;
    size_t vbytes_, plane_dim_;
    Poller &poller_;
    std::vector<uint32_t> scratch_;
    std::vector<const void *> vecs_;  // the current node's vectors
    std::vector<float> node_extras_;
    std::vector<uint8_t> side_;
    SplitPlane plane_;
    std::vector<Task> stack_;
};

// A node of the shared levels waiting to be built: a range of its tree's
// item order, and where to link it.
struct Pending {
    size_t begin, end;
    uint32_t parent;  // split index, or kNoParent
    int child;
};

// One tree's state during the shared levels.
struct SharedTree {
    uint64_t seed;
    Rng rng;
    std::vector<uint32_t> order;     // item numbers, partitioned node by node
    std::vector<Pending> frontier;   // this level's nodes
    std::vector<SplitPlane> planes;  // of the frontier nodes split in the shared pass
    std::vector<uint32_t> node_of;   // item -> its frontier node in the pass, or kNoNode
    std::vector<uint8_t> side;       // item -> side, set by the pass

    explicit SharedTree(uint64_t s) : seed(s), rng(s) {}
};

class GroupBuilder {
public:
    GroupBuilder(const Space &space, const char *base, const float *extras, size_t n, const BuildParams &params,
                 const CancelCheck &cancel)
        : space_(space),
          base_(base),
          extras_(extras),
          n_(n),
          leaf_size_(params.leaf_size),
          vbytes_(space.vector_bytes()),
          resident_bytes_(params.cache_resident_bytes),
          poller_(cancel),
          splitter_(space, base, extras, n, params.leaf_size, poller_)
    {
    }

    void build(const uint64_t *seeds, size_t count, TreeFragment *out)
    {
        // Only float metrics have passes worth sharing: a Hamming split
        // tests one bit, and choose_split picks the bit itself.
        const bool share = !is_bit_metric(space_.metric) && n_ * vbytes_ > resident_bytes_;
        std::vector<SharedTree> trees;
        trees.reserve(count);
        for (size_t t = 0; t < count; t++) {
            out[t] = TreeFragment();
            out[t].leaf_items.reserve(n_);
            trees.emplace_back(seeds[t]);
            SharedTree &tree = trees.back();
            tree.order.resize(n_);
            for (size_t i = 0; i < n_; i++)
                tree.order[i] = uint32_t(i);
            if (!share) {
                out[t].root = splitter_.build_subtree(tree.order.data(), n_, tree.rng, out[t]);
                continue;
            }
            tree.frontier.push_back(Pending{0, n_, kNoParent, 0});
            tree.node_of.assign(n_, kNoNode);
            tree.side.resize(n_);
        }
        if (!share)
            return;
        for (;;) {
            bool pass_needed = false;
            for (size_t t = 0; t < count; t++)
                pass_needed |= plan_level(trees[t], out[t]);
            if (!pass_needed)
                break;
            assign_sides(trees);
            for (size_t t = 0; t < count; t++)
                split_level(trees[t], out[t]);
        }
    }

private:
    // Builds this level's small nodes (leaves, subtrees from cache) and picks
    // the planes of the large ones, marking their items for the pass.
    // Returns whether any node awaits the pass.
    bool plan_level(SharedTree &tree, TreeFragment &out)
    {
        tree.planes.resize(tree.frontier.size());
        bool any = false;
        for (size_t k = 0; k < tree.frontier.size(); k++) {
            Pending &node = tree.frontier[k];
            uint32_t *items = tree.order.data() + node.begin;
            const size_t count = node.end - node.begin;
            poller_.items(count);
            if (count <= leaf_size_) {
                link(out, node.parent, node.child, emit_leaf(out, items, count));
                node.end = node.begin;  // done
            } else if (count * vbytes_ <= resident_bytes_) {
                link(out, node.parent, node.child, splitter_.build_subtree(items, count, tree.rng, out));
                node.end = node.begin;
            } else {
                splitter_.plane(items, count, tree.rng, tree.planes[k]);
                for (size_t i = 0; i < count; i++)
                    tree.node_of[items[i]] = uint32_t(k);
                any = true;
            }
        }
        return any;
    }

    // The shared pass: each vector is read once and gets its side in every
    // tree whose node holding it is being split.
    void assign_sides(std::vector<SharedTree> &trees)
    {
        for (size_t i = 0; i < n_; i++) {
            poller_.items(1);
            const char *vec = base_ + i * vbytes_;
            const float extra = extras_ ? extras_[i] : 0.0f;
            for (SharedTree &tree : trees) {
                const uint32_t k = tree.node_of[i];
                if (k == kNoNode)
                    continue;
                const float m = margin(space_, tree.planes[k].view(), vec, extra);
                // A margin of exactly 0 (or NaN) sends the item to a side
                // hashed from the tree, the node and the item, so that the
                // result does not depend on the order items are visited in.
                tree.side[i] = m > 0.0f   ? 1
                               : m < 0.0f ? 0
                                          : uint8_t(mix_seed(mix_seed(tree.seed, tree.frontier[k].begin), i) & 1);
            }
        }
    }

    // Partitions the nodes of the pass and queues their children as the next
    // level.  A node whose plane left one side too large is split again by
    // choose_split (retries, then the random fallback).
    void split_level(SharedTree &tree, TreeFragment &out)
    {
        std::vector<Pending> next;
        for (size_t k = 0; k < tree.frontier.size(); k++) {
            const Pending &node = tree.frontier[k];
            if (node.end == node.begin)
                continue;  // built in plan_level
            uint32_t *items = tree.order.data() + node.begin;
            const size_t count = node.end - node.begin;
            SplitPlane &plane = tree.planes[k];
            size_t ones = 0;
            for (size_t i = 0; i < count; i++) {
                ones += tree.side[items[i]];
                tree.node_of[items[i]] = kNoNode;
            }
            size_t zeros;
            if (split_too_unbalanced(std::max(ones, count - ones), count))
                zeros = splitter_.split(items, count, tree.rng, plane);
            else
                zeros = splitter_.partition(items, count, [&](size_t, uint32_t item) { return tree.side[item]; });
            const NodeRef ref = emit_split(out, plane, space_.plane_dim());
            link(out, node.parent, node.child, ref);
            next.push_back(Pending{node.begin, node.begin + zeros, node_index(ref), 0});
            next.push_back(Pending{node.begin + zeros, node.end, node_index(ref), 1});
        }
        tree.frontier.swap(next);
    }

    const Space &space_;
    const char *base_;
    const float *extras_;
    size_t n_;
    size_t leaf_size_;
    size_t vbytes_;
    size_t resident_bytes_;  // nodes up to this size are built depth first
    Poller poller_;
    NodeSplitter splitter_;
};

}  // namespace

void build_tree_group(const Space &space, const void *vectors, const float *extras, size_t n, const BuildParams &params,
                      const uint64_t *seeds, size_t count, const CancelCheck &cancel, TreeFragment *out)
{
    GroupBuilder(space, static_cast<const char *>(vectors), extras, n, params, cancel).build(seeds, count, out);
}

size_t tree_group_memory(const Space &space, size_t n, size_t count, const BuildParams &params)
{
    // NodeSplitter: scratch order, vector pointers, Dot extras, sides; the
    // planes and explicit stack are small.  Per tree of the group: its item
    // order, node_of and sides during the shared levels, and the planes of
    // one level's large nodes (at most n / leaf_size of them, bounded here by
    // the node count of a level whose nodes exceed cache_resident_bytes).
    const size_t vb = std::max<size_t>(space.vector_bytes(), 1);
    const size_t large_nodes = std::min(n, 2 * (n * vb / std::max<size_t>(params.cache_resident_bytes, 1) + 1));
    const size_t per_tree = n * (2 * sizeof(uint32_t) + 1) + large_nodes * space.plane_dim() * sizeof(float);
    return n * (sizeof(uint32_t) + sizeof(void *) + sizeof(float) + 1) + count * per_tree + 64 * 1024;
}

}  // namespace annoy::core
