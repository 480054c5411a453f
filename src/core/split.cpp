// Split choice: two-means hyperplanes for the float metrics, a dividing bit
// for Hamming, and the imbalance guard that keeps every split useful and
// every side non-empty whatever the data (duplicates, zero vectors, NaN).
#include "split.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "distance.hpp"

namespace annoy::core {

namespace {

// Annoy runs 200 two-means steps on every node.  Near the leaves a node holds
// only leaf_size..2*leaf_size items, where 200 steps (each two distances and
// a centroid update) cost more than the margin pass over the whole node,
// while sampling each item more than once no longer moves the centroids
// much.  So: 200 steps, but at most one per item.  On Fashion-MNIST (10
// trees, leaf_size 64) one step per item instead of two left recall@10 at
// search_k 500 and 1000 unchanged (0.948 / 0.983-0.985) and saved about 8%
// of the build; a flat cap of 20 steps saved 30% but cost 0.02 recall at
// search_k 500, so it is not used.
constexpr size_t kMaxTwoMeansSteps = 200;
constexpr size_t kStepsPerItem = 1;

constexpr int kRetries = 3;              // extra two-means attempts when a side is too large
constexpr unsigned kRetryPercent = 95;   // retry while the larger side holds more than this
constexpr unsigned kRandomPercent = 99;  // then fall back to random sides above this

constexpr int kBitProbes = 20;  // Hamming: random dividing bits tried before a full scan

// Loops over the items poll the cancel callback once per this many items.
constexpr size_t kPollMask = 4096 - 1;

inline void poll(const CancelCheck &cancel, size_t i)
{
    if ((i & kPollMask) == kPollMask && cancel())
        throw Cancelled();
}

bool larger_side_exceeds(size_t larger, size_t n, unsigned percent)
{
    return larger * 100 > size_t(percent) * n;
}

bool uses_cosine(Metric m)
{
    return m == Metric::Angular || m == Metric::Dot;
}

// Random sides with both non-empty (n >= 2): the fallback for data no plane
// divides (identical vectors, all-zero vectors under Angular).
void random_sides(size_t n, Rng &rng, uint8_t *side)
{
    size_t ones = 0;
    for (size_t i = 0; i < n; i++) {
        side[i] = rng.coin() ? 1 : 0;
        ones += side[i];
    }
    if (ones == 0 || ones == n)
        side[rng.below(n)] ^= 1;
}

// Two-means over the working vectors x' = scale * (x, extra): the item itself
// (Euclidean, Manhattan: scale 1, no extra), normalised (Angular), or
// (x, extra) normalised (Dot, whose extended vectors all have the same norm:
// the angular reduction).  Samples are never copied: distances run on the
// stored vector (cosine is scale invariant, the extra coordinate is added by
// hand) and only the centroid update applies the scale.
class TwoMeans {
public:
    TwoMeans(const Space &space, const void *const *vecs, const float *extras, size_t n)
        : vecs_(vecs),
          extras_(space.metric == Metric::Dot ? extras : nullptr),
          n_(n),
          dim_(space.dim),
          plane_dim_(space.plane_dim()),
          metric_(space.metric),
          cosine_(uses_cosine(space.metric)),
          buf_(2 * plane_dim_)
    {
    }

    // Runs two-means and writes the resulting hyperplane into plane.
    void run(Rng &rng, SplitPlane &plane)
    {
        float *p = buf_.data(), *q = p + plane_dim_;
        plane.normal.assign(plane_dim_, 0.0f);
        plane.offset = 0.0f;
        plane.bit = 0;

        const size_t i = usable_from(rng.below(n_), n_);
        if (i == n_)
            return;  // no usable item (all zero under Angular/Dot): zero plane, random sides
        size_t j = rng.below(n_ - 1);
        j += (j >= i);
        j = usable_from(j, i);
        if (j == n_)
            j = i;  // a single usable item: p == q, zero plane
        set_to(p, i);
        set_to(q, j);

        const FloatKernels &k = kernels();
        size_t pc = 1, qc = 1;
        const size_t steps = std::min(kMaxTwoMeansSteps, kStepsPerItem * n_);
        for (size_t step = 0; step < steps; step++) {
            const size_t s = rng.below(n_);
            const float scale = working_scale(k, s);
            if (scale == 0.0f)
                continue;  // zero vector: no direction to learn from
            // Distances weighted by cluster size, as Annoy: the bigger
            // cluster attracts less, which keeps the two halves balanced.
            const float dp = float(pc) * dist(k, p, s), dq = float(qc) * dist(k, q, s);
            if (dp < dq)
                move_towards(p, s, scale, pc++);
            else if (dq < dp)
                move_towards(q, s, scale, qc++);
        }

        float *normal = plane.normal.data();
        for (size_t d = 0; d < plane_dim_; d++)
            normal[d] = p[d] - q[d];
        const float len = std::sqrt(k.dot(normal, normal, plane_dim_));
        if (!(len > 0.0f) || !std::isfinite(len)) {
            std::fill(plane.normal.begin(), plane.normal.end(), 0.0f);
            return;
        }
        const float inv = 1.0f / len;
        for (size_t d = 0; d < plane_dim_; d++)
            normal[d] *= inv;
        if (!cosine_)  // through the midpoint of p and q
            plane.offset = -0.5f * (k.dot(normal, p, plane_dim_) + k.dot(normal, q, plane_dim_));
    }

private:
    const float *vec(size_t i) const { return static_cast<const float *>(vecs_[i]); }
    float extra(size_t i) const { return extras_ ? extras_[i] : 0.0f; }

    // The factor that turns item i into its working vector; 0 if it has no
    // direction (zero or non-finite norm under Angular/Dot).
    float working_scale(const FloatKernels &k, size_t i) const
    {
        if (!cosine_)
            return 1.0f;
        const float e = extra(i);
        const float len = std::sqrt(k.dot(vec(i), vec(i), dim_) + e * e);
        return len > 0.0f && std::isfinite(len) ? 1.0f / len : 0.0f;
    }

    // The first item from `start` on (cyclically, skipping `skip`) that has a
    // direction; n_ if there is none.
    size_t usable_from(size_t start, size_t skip) const
    {
        if (!cosine_)
            return start;
        const FloatKernels &k = kernels();
        for (size_t t = 0; t < n_; t++) {
            const size_t i = (start + t) % n_;
            if (i != skip && working_scale(k, i) != 0.0f)
                return i;
        }
        return n_;
    }

    void set_to(float *c, size_t i) const
    {
        const float scale = working_scale(kernels(), i);
        const float *x = vec(i);
        for (size_t d = 0; d < dim_; d++)
            c[d] = x[d] * scale;
        if (plane_dim_ > dim_)
            c[dim_] = extra(i) * scale;
    }

    float dist(const FloatKernels &k, const float *c, size_t i) const
    {
        switch (metric_) {
            case Metric::Manhattan:
                return k.l1(c, vec(i), dim_);
            case Metric::Angular:
            case Metric::Dot: {
                // 2 - 2 cos(c, x').  NaN for a zero centroid makes both
                // comparisons false: the sample is skipped.
                float ab, aa, bb;
                k.dot_norms(c, vec(i), dim_, &ab, &aa, &bb);
                if (plane_dim_ > dim_) {
                    const float e = extra(i);
                    ab += c[dim_] * e;
                    aa += c[dim_] * c[dim_];
                    bb += e * e;
                }
                return 2.0f - 2.0f * ab / std::sqrt(aa * bb);
            }
            default:
                return k.l2_squared(c, vec(i), dim_);
        }
    }

    // Running mean: c = (c * count + x') / (count + 1), as one multiply-add
    // pass.  Eight independent lanes let the compiler's SLP vectoriser use
    // SIMD at -O2 (the loop-vectoriser's -O2 cost model skips this loop).
    void move_towards(float *__restrict c, size_t i, float scale, size_t count) const
    {
        const float a = float(count) / float(count + 1), b = scale / float(count + 1);
        const float *__restrict x = vec(i);
        size_t d = 0;
        for (; d + 8 <= dim_; d += 8) {
            for (size_t l = 0; l < 8; l++)
                c[d + l] = c[d + l] * a + x[d + l] * b;
        }
        for (; d < dim_; d++)
            c[d] = c[d] * a + x[d] * b;
        if (plane_dim_ > dim_)
            c[dim_] = c[dim_] * a + extra(i) * b;
    }

    const void *const *vecs_;
    const float *extras_;  // Dot only
    size_t n_, dim_, plane_dim_;
    Metric metric_;
    bool cosine_;
    std::vector<float> buf_;  // centroids p and q
};

// Assigns sides by the sign of the margin (0 or NaN: random); returns the
// number of items on side 1.
size_t assign_sides(const Space &space, const PlaneView &plane, const void *const *vecs, const float *extras, size_t n,
                    Rng &rng, uint8_t *side, const CancelCheck &cancel)
{
    size_t ones = 0;
    const size_t bytes = space.vector_bytes();
    for (size_t i = 0; i < n; i++) {
        poll(cancel, i);
        // Items are visited in an order unrelated to memory: fetch the next
        // vector while this one is multiplied (the pass is memory-bound).
        if (i + 1 < n) {
            const char *next = static_cast<const char *>(vecs[i + 1]);
            for (size_t off = 0; off < bytes; off += 64)
                __builtin_prefetch(next + off);
        }
        const float m = margin(space, plane, vecs[i], extras ? extras[i] : 0.0f);
        side[i] = m > 0.0f ? 1 : m < 0.0f ? 0 : (rng.coin() ? 1 : 0);
        ones += side[i];
    }
    return ones;
}

void split_float(const Space &space, const void *const *vecs, const float *extras, size_t n, Rng &rng,
                 SplitPlane &plane, uint8_t *side, const CancelCheck &cancel)
{
    TwoMeans two_means(space, vecs, extras, n);
    // Best attempt so far, kept only once a retry is needed.
    size_t best_larger = n + 1;
    SplitPlane best_plane;
    std::vector<uint8_t> best_side;
    for (int attempt = 0; attempt <= kRetries; attempt++) {
        two_means.run(rng, plane);
        const size_t ones = assign_sides(space, plane.view(), vecs, extras, n, rng, side, cancel);
        const size_t larger = std::max(ones, n - ones);
        if (!larger_side_exceeds(larger, n, kRetryPercent))
            return;
        if (larger < best_larger) {
            best_larger = larger;
            best_plane = plane;
            best_side.assign(side, side + n);
        }
    }
    if (best_larger == n || larger_side_exceeds(best_larger, n, kRandomPercent)) {
        // No plane divides the items usefully: a plane of zeros gives margin
        // 0 to every vector, so the search explores both sides equally,
        // which matches sides assigned without regard to the vectors.
        plane.normal.assign(space.plane_dim(), 0.0f);
        plane.offset = 0.0f;
        plane.bit = 0;
        random_sides(n, rng, side);
        return;
    }
    plane = std::move(best_plane);
    std::memcpy(side, best_side.data(), n);
}

// Hamming: a bit set in some items and clear in others divides the set; the
// bits that do are exactly (OR of all) & ~(AND of all).
class BitSplitter {
public:
    BitSplitter(const Space &space, const void *const *vecs, size_t n, const CancelCheck &cancel)
        : vecs_(vecs), n_(n), cancel_(cancel), dividing_(space.words())
    {
        const size_t words = space.words();
        std::vector<uint64_t> all(words, ~uint64_t(0));
        for (size_t i = 0; i < n; i++) {
            poll(cancel, i);
            const uint64_t *v = static_cast<const uint64_t *>(vecs[i]);
            for (size_t w = 0; w < words; w++) {
                dividing_[w] |= v[w];
                all[w] &= v[w];
            }
        }
        for (size_t w = 0; w < words; w++) {
            dividing_[w] &= ~all[w];
            const size_t first = w * 64;
            if (first + 64 > space.dim)  // tail bits beyond dim should be 0; never split on them
                dividing_[w] &= space.dim > first ? (uint64_t(1) << (space.dim - first)) - 1 : 0;
            count_ += size_t(__builtin_popcountll(dividing_[w]));
        }
    }

    size_t dividing_bits() const { return count_; }

    // The most balanced of a few random dividing bits; all of them if those
    // leave one side with more than kRetryPercent of the items.
    uint32_t choose(Rng &rng) const
    {
        uint32_t best = kNoBit;
        size_t best_larger = n_ + 1;
        auto consider = [&](uint32_t bit) {
            const size_t ones = ones_at(bit);
            const size_t larger = std::max(ones, n_ - ones);
            if (larger < best_larger) {
                best_larger = larger;
                best = bit;
            }
        };
        const size_t perfect = (n_ + 1) / 2;
        for (int probe = 0; probe < kBitProbes && best_larger > perfect; probe++)
            consider(nth_dividing(rng.below(count_)));
        if (larger_side_exceeds(best_larger, n_, kRetryPercent) && count_ > size_t(kBitProbes)) {
            for (size_t w = 0; w < dividing_.size() && best_larger > perfect; w++)
                for (uint64_t bits = dividing_[w]; bits != 0 && best_larger > perfect; bits &= bits - 1)
                    consider(uint32_t(w * 64 + size_t(__builtin_ctzll(bits))));
        }
        return best;
    }

private:
    static bool bit_of(const void *vec, uint32_t bit)
    {
        return ((static_cast<const uint64_t *>(vec)[bit / 64] >> (bit % 64)) & 1) != 0;
    }

    size_t ones_at(uint32_t bit) const
    {
        size_t ones = 0;
        for (size_t i = 0; i < n_; i++) {
            poll(cancel_, i);
            ones += bit_of(vecs_[i], bit);
        }
        return ones;
    }

    // Position of the r-th (from 0) dividing bit; r < count_.
    uint32_t nth_dividing(size_t r) const
    {
        for (size_t w = 0;; w++) {
            uint64_t bits = dividing_[w];
            const size_t here = size_t(__builtin_popcountll(bits));
            if (r < here) {
                for (; r > 0; r--)
                    bits &= bits - 1;
                return uint32_t(w * 64 + size_t(__builtin_ctzll(bits)));
            }
            r -= here;
        }
    }

    const void *const *vecs_;
    size_t n_;
    const CancelCheck &cancel_;
    std::vector<uint64_t> dividing_;
    size_t count_ = 0;
};

void split_hamming(const Space &space, const void *const *vecs, size_t n, Rng &rng, SplitPlane &plane, uint8_t *side,
                   const CancelCheck &cancel)
{
    plane.normal.clear();
    plane.offset = 0.0f;
    BitSplitter splitter(space, vecs, n, cancel);
    if (splitter.dividing_bits() == 0) {
        // Identical bit strings: kNoBit has margin 0 for every vector (not a
        // real bit 0, which would send the search down one side only).
        plane.bit = kNoBit;
        random_sides(n, rng, side);
        return;
    }
    plane.bit = splitter.choose(rng);
    const PlaneView view = plane.view();
    for (size_t i = 0; i < n; i++)
        side[i] = margin(space, view, vecs[i], 0.0f) > 0.0f ? 1 : 0;
}

}  // namespace

void choose_split(const Space &space, const void *const *vecs, const float *extras, size_t n, Rng &rng,
                  SplitPlane &plane, uint8_t *side)
{
    choose_split(space, vecs, extras, n, rng, plane, side, CancelCheck{});
}

void choose_plane(const Space &space, const void *const *vecs, const float *extras, size_t n, Rng &rng,
                  SplitPlane &plane)
{
    if (n < 2 || vecs == nullptr || is_bit_metric(space.metric))
        throw std::invalid_argument("choose_plane needs at least two float vectors");
    TwoMeans(space, vecs, extras, n).run(rng, plane);
}

bool split_too_unbalanced(size_t larger, size_t n)
{
    return larger_side_exceeds(larger, n, kRetryPercent);
}

void choose_split(const Space &space, const void *const *vecs, const float *extras, size_t n, Rng &rng,
                  SplitPlane &plane, uint8_t *side, const CancelCheck &cancel)
{
    if (n < 2 || vecs == nullptr || side == nullptr)
        throw std::invalid_argument("choose_split needs at least two vectors");
    if (is_bit_metric(space.metric))
        split_hamming(space, vecs, n, rng, plane, side, cancel);
    else
        split_float(space, vecs, extras, n, rng, plane, side, cancel);
}

}  // namespace annoy::core
