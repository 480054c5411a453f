// Sketches: signs of random +-1 projections, and the asymmetric estimator.
#include "sketch.hpp"

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
    // |x' - c|, and for Dot also <x, c> (not implied by |x - c| there).
    return bits / 8 + (space.metric == Metric::Dot ? 2 : 1) * sizeof(float);
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
    auto rows = std::make_shared<std::vector<float>>(size_t(bits) * dim);
    Rng rng(seed);
    for (size_t r = 0; r < bits; r++) {
        float *row = rows->data() + r * dim;
        for (size_t d = 0; d < dim; d += 64) {
            uint64_t signs = rng.next();
            for (size_t k = 0; k < 64 && d + k < dim; k++)
                row[d + k] = (signs >> k) & 1 ? 1.0f : -1.0f;
        }
    }
    rows_ = std::move(rows);
    set_center(center);
}

Sketcher::Sketcher(const Sketcher &like, const float *center)
    : space_(like.space_), bits_(like.bits_), seed_(like.seed_), rows_(like.rows_)
{
    if (center == nullptr)
        throw std::invalid_argument("sketches need a center");
    set_center(center);
}

void Sketcher::set_center(const float *center)
{
    const size_t dim = space_.dim;
    center_.assign(center, center + dim);
    c_sq_ = kernels().dot(center_.data(), center_.data(), dim);
    row_dot_c_.resize(bits_);
    for (size_t r = 0; r < bits_; r++)
        row_dot_c_[r] = kernels().dot(rows_->data() + r * dim, center_.data(), dim);
}

void Sketcher::project(const float *y, bool centered, float *out) const noexcept
{
    const size_t dim = space_.dim;
    const FloatKernels &k = kernels();
    for (size_t r = 0; r < bits_; r++)
        out[r] = k.dot(rows_->data() + r * dim, y, dim) - (centered ? row_dot_c_[r] : 0.0f);
}

const float *Sketcher::prime(const float *x, float *buf) const noexcept
{
    if (space_.metric != Metric::Angular)
        return x;
    const size_t dim = space_.dim;
    const float norm = std::sqrt(kernels().dot(x, x, dim));
    const float inv = norm > 0.0f && std::isfinite(norm) ? 1.0f / norm : 0.0f;
    for (size_t d = 0; d < dim; d++)
        buf[d] = x[d] * inv;
    return buf;
}

void Sketcher::sketch(const void *vec, uint8_t *out) const noexcept
{
    float buf[kMaxSketchDim];
    const float *x = prime(static_cast<const float *>(vec), buf);
    float proj[kMaxSketchBits];
    project(x, true, proj);
    const size_t bytes = bits_ / 8;
    for (size_t b = 0; b < bytes; b++) {
        uint8_t v = 0;
        for (int k = 0; k < 8; k++)
            v |= uint8_t(proj[b * 8 + size_t(k)] > 0.0f) << k;
        out[b] = v;
    }
    const float norm = std::sqrt(kernels().l2_squared(x, center_.data(), space_.dim));
    std::memcpy(out + bytes, &norm, sizeof norm);
    if (space_.metric == Metric::Dot) {
        const float x_dot_c = kernels().dot(x, center_.data(), space_.dim);
        std::memcpy(out + bytes + sizeof norm, &x_dot_c, sizeof x_dot_c);
    }
}

void Sketcher::Query::prepare(const Sketcher &s, const void *query) noexcept
{
    metric_ = s.space_.metric;
    bytes_ = s.bits_ / 8;
    scale_ = 1.2533141f / float(s.bits_);  // sqrt(pi / 2) / bits
    c_sq_ = s.c_sq_;
    const size_t dim = s.space_.dim;
    float buf[kMaxSketchDim];
    const float *q = s.prime(static_cast<const float *>(query), buf);
    float proj[kMaxSketchBits];
    // a = q' - c.
    s.project(q, true, proj);
    const float q_dot_c = kernels().dot(q, s.center_.data(), dim);
    switch (metric_) {
        case Metric::Euclidean:
            constant_ = kernels().l2_squared(q, s.center_.data(), dim);
            break;
        case Metric::Angular:
            constant_ = q_dot_c;
            break;
        default:  // Dot
            constant_ = q_dot_c - s.c_sq_;
            break;
    }
    // table[b][v] = sum over bits k of v: +p[8b+k] if set, -p[8b+k] if not;
    // built from v without its lowest set bit.
    for (size_t b = 0; b < bytes_; b++) {
        float *t = table_ + b * 256;
        const float *p = proj + b * 8;
        float all_clear = 0.0f;
        for (int k = 0; k < 8; k++)
            all_clear -= p[k];
        t[0] = all_clear;
        for (unsigned v = 1; v < 256; v++)
            t[v] = t[v & (v - 1)] + 2.0f * p[__builtin_ctz(v)];
    }
}

float Sketcher::Query::estimate(const uint8_t *sketch) const noexcept
{
    float sum = 0.0f;
    const float *t = table_;
    for (uint32_t b = 0; b < bytes_; b++, t += 256)
        sum += t[sketch[b]];
    float norm;
    std::memcpy(&norm, sketch + bytes_, sizeof norm);
    const float inner = norm * scale_ * sum;  // estimate of <a, x' - c>
    switch (metric_) {
        case Metric::Euclidean:
            return constant_ + norm * norm - 2.0f * inner;
        case Metric::Angular:
            return 1.0f - (inner + constant_ + 0.5f * (1.0f + c_sq_ - norm * norm) - c_sq_);
        default: {  // Dot: -<q, x>
            float x_dot_c;
            std::memcpy(&x_dot_c, sketch + bytes_ + sizeof norm, sizeof x_dot_c);
            return -(inner + constant_ + x_dot_c);
        }
    }
}

}  // namespace annoy::core
