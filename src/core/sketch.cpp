// Sketches: RaBitQ codes of randomly rotated vectors, and the asymmetric estimator.
#include "sketch.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "distance.hpp"
#include "rng.hpp"

namespace annoy::core {

namespace {

// Sketches only for vectors of at least this many dimensions: below that a
// vector is a few cache lines and reading it costs little more than its
// sketch.
constexpr uint32_t kMinSketchDim = 64;
constexpr uint32_t kDefaultBits = 128;

// Four floats as one value: GCC and clang compile its arithmetic to the
// target's vector instructions (SSE on baseline x86-64), with no run-time
// dispatch.
typedef float Float4 __attribute__((vector_size(16)));

inline Float4 load4(const float *p) noexcept
{
    Float4 v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
inline void store4(float *p, Float4 v) noexcept
{
    std::memcpy(p, &v, sizeof v);
}

// In-place unnormalised fast Walsh-Hadamard transform of a[m], m a power of
// two >= 4 (the 1 / sqrt(m) is folded into the rotation's signs): the first
// two stages within each block of four, then whole vectors of four.
void walsh_hadamard(float *a, size_t m) noexcept
{
    for (size_t i = 0; i < m; i += 4) {
        float *b = a + i;
        const float s0 = b[0] + b[1], d0 = b[0] - b[1], s1 = b[2] + b[3], d1 = b[2] - b[3];
        b[0] = s0 + s1;
        b[1] = d0 + d1;
        b[2] = s0 - s1;
        b[3] = d0 - d1;
    }
    for (size_t h = 4; h < m; h *= 2) {
        for (size_t i = 0; i < m; i += 2 * h) {
            for (size_t j = i; j < i + h; j += 4) {
                const Float4 x = load4(a + j), y = load4(a + j + h);
                store4(a + j, x + y);
                store4(a + j + h, x - y);
            }
        }
    }
}

}  // namespace

bool Sketcher::supported(const Space &space)
{
    const Metric m = space.metric;
    return (m == Metric::Euclidean || m == Metric::Angular || m == Metric::Dot) && space.dim >= 1 &&
           space.dim <= kMaxSketchDim;
}

bool Sketcher::useful(const Space &space)
{
    return supported(space) && space.dim >= kMinSketchDim;
}

uint32_t Sketcher::default_bits(const Space &space)
{
    return useful(space) ? kDefaultBits : 0;
}

size_t Sketcher::sketch_bytes(const Space &space, uint32_t bits)
{
    if (bits == 0)
        return 0;
    // |x' - c|, the quantised alpha, and for Dot also <x, c> (not implied
    // by |x - c| there).
    return bits / 8 + sizeof(float) + 1 + (space.metric == Metric::Dot ? sizeof(float) : 0);
}

void Sketcher::center_of(const Space &space, const void *vectors, size_t n, float *out)
{
    const size_t dim = space.dim;
    std::vector<double> sum(dim, 0.0);
    size_t used = 0;
    const float *v = static_cast<const float *>(vectors);
    for (size_t i = 0; i < n; i++, v += dim) {
        double scale = 1.0;
        if (space.metric == Metric::Angular) {
            const double norm = std::sqrt(double(kernels().dot(v, v, dim)));
            if (!(norm > 0.0) || !std::isfinite(norm))
                continue;
            scale = 1.0 / norm;
        }
        for (size_t d = 0; d < dim; d++)
            sum[d] += double(v[d]) * scale;
        used++;
    }
    for (size_t d = 0; d < dim; d++)
        out[d] = used > 0 ? float(sum[d] / double(used)) : 0.0f;
}

Sketcher::Sketcher(const Space &space, uint32_t bits, uint64_t seed, const float *center)
    : space_(space), bits_(bits), seed_(seed)
{
    if (bits == 0 || bits % 8 != 0 || bits > kMaxSketchBits || !supported(space))
        throw std::invalid_argument(
            "sketches need 8 to 512 bits (a multiple of 8) and a Euclidean, Angular or Dot space");
    if (center == nullptr)
        throw std::invalid_argument("sketches need a center");
    const size_t dim = space.dim;
    Rng rng(seed);
    rotated_ = bits >= dim;
    std::shared_ptr<std::vector<float>> rows;
    if (rotated_) {
        padded_ = 8;  // walsh_hadamard works on blocks of four
        while (padded_ < dim || padded_ < bits)
            padded_ *= 2;
        // The rotation's sign flips, with the transform's 1 / sqrt(M) folded in.
        const float unit = 1.0f / std::sqrt(float(padded_));
        rows = std::make_shared<std::vector<float>>(size_t(kRotationRounds) * padded_);
        for (size_t i = 0; i < rows->size(); i += 64) {
            const uint64_t r = rng.next();
            for (size_t k = 0; k < 64 && i + k < rows->size(); k++)
                (*rows)[i + k] = (r >> k) & 1 ? unit : -unit;
        }
    } else {
        padded_ = uint32_t(dim);
        rows = std::make_shared<std::vector<float>>(size_t(bits) * dim);
        for (size_t r = 0; r < bits; r++) {
            float *row = rows->data() + r * dim;
            for (size_t d = 0; d < dim; d += 64) {
                const uint64_t signs = rng.next();
                for (size_t k = 0; k < 64 && d + k < dim; k++)
                    row[d + k] = (signs >> k) & 1 ? 1.0f : -1.0f;
            }
        }
    }
    rows_ = std::move(rows);
    center_.assign(center, center + dim);
    c_sq_ = kernels().dot(center_.data(), center_.data(), dim);
}

Sketcher::Sketcher(const Sketcher &like, const float *center)
    : space_(like.space_),
      bits_(like.bits_),
      rotated_(like.rotated_),
      padded_(like.padded_),
      seed_(like.seed_),
      rows_(like.rows_)
{
    if (center == nullptr)
        throw std::invalid_argument("sketches need a center");
    center_.assign(center, center + space_.dim);
    c_sq_ = kernels().dot(center_.data(), center_.data(), space_.dim);
}

float Sketcher::transform(const float *x, float *out) const noexcept
{
    const size_t dim = space_.dim, m = padded_;
    float norm_in = 1.0f;
    if (space_.metric == Metric::Angular) {
        const float norm = std::sqrt(kernels().dot(x, x, dim));
        norm_in = norm > 0.0f && std::isfinite(norm) ? 1.0f / norm : 0.0f;
    }
    float y[kMaxSketchDim];
    float *t = rotated_ ? out : y;
    for (size_t d = 0; d < dim; d++)
        t[d] = x[d] * norm_in - center_[d];
    const float norm = std::sqrt(kernels().dot(t, t, dim));
    if (!rotated_) {
        for (size_t r = 0; r < bits_; r++)
            out[r] = kernels().dot(rows_->data() + r * dim, y, dim);
        return norm;
    }
    std::fill(out + dim, out + m, 0.0f);
    for (int r = 0; r < kRotationRounds; r++) {
        const float *sg = rows_->data() + size_t(r) * m;
        for (size_t i = 0; i < m; i++)
            out[i] *= sg[i];
        walsh_hadamard(out, m);
    }
    return norm;
}

void Sketcher::sketch(const void *vec, uint8_t *out) const noexcept
{
    float y[kMaxRotated];
    const float norm = transform(static_cast<const float *>(vec), y);
    const size_t bytes = bits_ / 8;
    double l1 = 0.0, l2 = 0.0;
    for (size_t b = 0; b < bytes; b++) {
        uint8_t v = 0;
        for (int k = 0; k < 8; k++) {
            const float p = y[b * 8 + size_t(k)];
            v |= uint8_t(p > 0.0f) << k;
            l1 += std::fabs(double(p));
            l2 += double(p) * double(p);
        }
        out[b] = v;
    }
    // alpha = |u|_1 / (sqrt(B) |u|), in [1 / sqrt(B), 1]; 0 when u is zero
    // (the item sits on the center, or its kept coordinates vanish).
    const double alpha = l2 > 0.0 ? l1 / (std::sqrt(double(bits_)) * std::sqrt(l2)) : 0.0;
    std::memcpy(out + bytes, &norm, sizeof norm);
    out[bytes + sizeof norm] = uint8_t(std::lround(std::min(alpha, 1.0) * 255.0));
    if (space_.metric == Metric::Dot) {
        const float x_dot_c = kernels().dot(static_cast<const float *>(vec), center_.data(), space_.dim);
        std::memcpy(out + bytes + sizeof norm + 1, &x_dot_c, sizeof x_dot_c);
    }
}

void Sketcher::Query::prepare(const Sketcher &s, const void *query) noexcept
{
    metric_ = s.space_.metric;
    bytes_ = s.bits_ / 8;
    c_sq_ = s.c_sq_;
    const size_t dim = s.space_.dim;
    const float *q = static_cast<const float *>(query);
    float v[kMaxRotated];
    const float a_norm = s.transform(q, v);  // v = R a, a = q' - c
    // <q', c> = <a, c> + |c|^2, with a's first dim coordinates.
    float q_dot_c;
    {
        float qp[kMaxSketchDim];
        float inv = 1.0f;
        if (metric_ == Metric::Angular) {
            const float norm = std::sqrt(kernels().dot(q, q, dim));
            inv = norm > 0.0f && std::isfinite(norm) ? 1.0f / norm : 0.0f;
        }
        for (size_t d = 0; d < dim; d++)
            qp[d] = q[d] * inv;
        q_dot_c = kernels().dot(qp, s.center_.data(), dim);
    }
    switch (metric_) {
        case Metric::Euclidean:
            constant_ = a_norm * a_norm;
            break;
        case Metric::Angular:
            constant_ = q_dot_c;
            break;
        default:  // Dot
            constant_ = q_dot_c - s.c_sq_;
            break;
    }
    // Rotated: <a, y> ~ |y| sqrt(M / B) <v_B, s> / (sqrt(B) alpha), so fold
    // sqrt(M) / B into the alpha table.  Projected: <a, y> ~ |y| sqrt(pi / 2)
    // <v, s> / B whatever the alpha.
    inv_alpha_[0] = 0.0f;
    for (int i = 1; i < 256; i++)
        inv_alpha_[i] =
            s.rotated_ ? std::sqrt(float(s.padded_)) / float(s.bits_) * 255.0f / float(i) : 1.2533141f / float(s.bits_);
    // The error bound (sketch.hpp), when every rotated coordinate has its
    // bit: on <a, y> it is |a| |y| eps0 sqrt(1 - alpha^2) / (alpha
    // sqrt(M - 1)), with alpha the lower end of its quantisation step, and
    // never more than |a| |y| (inner products of unit vectors); Euclidean
    // distances count the inner product twice.
    bounded_ = s.rotated_ && s.bits_ == s.padded_;
    const float metric_scale = metric_ == Metric::Euclidean ? 2.0f : 1.0f;
    for (int i = 0; i < 256; i++) {
        const float alpha = (float(i) - 0.5f) / 255.0f;
        float e = 1.0f;
        if (alpha > 0.0f)
            e = std::min(1.0f, kBoundSigmas * std::sqrt(std::max(0.0f, 1.0f - alpha * alpha)) /
                                   (alpha * std::sqrt(float(s.padded_) - 1.0f)));
        error_[i] = bounded_ ? metric_scale * a_norm * e : 0.0f;
    }
    // table[b][w] = sum over bits k of w: +v[8b+k] if set, -v[8b+k] if not;
    // built from w without its lowest set bit.
    for (size_t b = 0; b < bytes_; b++) {
        float *t = table_ + b * 256;
        const float *p = v + b * 8;
        float all_clear = 0.0f;
        for (int k = 0; k < 8; k++)
            all_clear -= p[k];
        t[0] = all_clear;
        for (unsigned w = 1; w < 256; w++)
            t[w] = t[w & (w - 1)] + 2.0f * p[__builtin_ctz(w)];
    }
}

namespace {

// <v, s> from the sign bytes of a code: table lookups, four running sums (one
// would make every lookup wait for the previous addition).
inline float signed_sum(const float *table, const uint8_t *sketch, uint32_t bytes) noexcept
{
    float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
    const float *t = table;
    uint32_t b = 0;
    for (; b + 4 <= bytes; b += 4, t += 4 * 256) {
        s0 += t[sketch[b]];
        s1 += t[256 + sketch[b + 1]];
        s2 += t[512 + sketch[b + 2]];
        s3 += t[768 + sketch[b + 3]];
    }
    for (; b < bytes; b++, t += 256)
        s0 += t[sketch[b]];
    return (s0 + s1) + (s2 + s3);
}

}  // namespace

float Sketcher::Query::estimate(const uint8_t *sketch) const noexcept
{
    return from_sum(sketch, signed_sum(table_, sketch, bytes_));
}

inline float Sketcher::Query::from_sum(const uint8_t *sketch, float sum) const noexcept
{
    float norm;
    std::memcpy(&norm, sketch + bytes_, sizeof norm);
    const float inner = norm * inv_alpha_[sketch[bytes_ + sizeof norm]] * sum;  // estimate of <a, x' - c>
    switch (metric_) {
        case Metric::Euclidean:
            return constant_ + norm * norm - 2.0f * inner;
        case Metric::Angular:
            return 1.0f - (inner + constant_ + 0.5f * (1.0f + c_sq_ - norm * norm) - c_sq_);
        default: {  // Dot: -<q, x>
            float x_dot_c;
            std::memcpy(&x_dot_c, sketch + bytes_ + sizeof norm + 1, sizeof x_dot_c);
            return -(inner + constant_ + x_dot_c);
        }
    }
}

inline float Sketcher::Query::bound_of(const uint8_t *sketch, float estimate) const noexcept
{
    float norm;
    std::memcpy(&norm, sketch + bytes_, sizeof norm);
    const float bound = estimate - norm * error_[sketch[bytes_ + sizeof norm]];
    // Euclidean estimates are squared; the bound is on the SQL operator's scale.
    return metric_ == Metric::Euclidean ? std::sqrt(std::max(bound, 0.0f)) : bound;
}

void Sketcher::Query::rank(const uint8_t *sketches, size_t stride, const uint16_t *which, size_t n, bool bounds,
                           float *out) const noexcept
{
    bounds = bounds && bounded_;
    // The default 128 bits get a loop with a constant trip count.
    const bool b16 = bytes_ == 16;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *sketch = sketches + size_t(which[i]) * stride;
        if (i + 2 < n)
            __builtin_prefetch(sketches + size_t(which[i + 2]) * stride, 0, 3);
        const float sum = b16 ? signed_sum(table_, sketch, 16) : signed_sum(table_, sketch, bytes_);
        const float e = from_sum(sketch, sum);
        out[i] = bounds ? bound_of(sketch, e) : e;
    }
}

float Sketcher::Query::lower_bound(const uint8_t *sketch) const noexcept
{
    return bound_of(sketch, estimate(sketch));
}

}  // namespace annoy::core
