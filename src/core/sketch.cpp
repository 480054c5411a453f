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

bool has_norm(Metric m)
{
    return m == Metric::Euclidean || m == Metric::Dot;
}

}  // namespace

bool Sketcher::useful(const Space &space)
{
    const Metric m = space.metric;
    return (m == Metric::Euclidean || m == Metric::Angular || m == Metric::Dot) && space.dim >= kMinSketchDim;
}

uint32_t Sketcher::default_bits(const Space &space)
{
    return useful(space) ? kDefaultBits : 0;
}

size_t Sketcher::code_bytes(const Space &space, uint32_t bits)
{
    if (bits == 0)
        return 0;
    return bits / 8 + (has_norm(space.metric) ? sizeof(float) : 0);
}

Sketcher::Sketcher(const Space &space, uint32_t bits, uint64_t seed, const float *center) : space_(space), bits_(bits)
{
    if (bits == 0 || bits % 8 != 0 || !useful(space))
        throw std::invalid_argument("sketches need a multiple of 8 bits and a Euclidean, Angular or Dot space");
    const size_t dim = space.dim;
    rows_.resize(size_t(bits) * dim);
    Rng rng(seed);
    for (size_t r = 0; r < bits; r++) {
        float *row = rows_.data() + r * dim;
        for (size_t d = 0; d < dim; d += 64) {
            uint64_t signs = rng.next();
            for (size_t k = 0; k < 64 && d + k < dim; k++)
                row[d + k] = (signs >> k) & 1 ? 1.0f : -1.0f;
        }
    }
    row_dot_c_.assign(bits, 0.0f);
    if (space.metric == Metric::Euclidean) {
        if (center == nullptr)
            throw std::invalid_argument("Euclidean sketches need a centre");
        center_.assign(center, center + dim);
        for (size_t r = 0; r < bits; r++)
            row_dot_c_[r] = kernels().dot(rows_.data() + r * dim, center_.data(), dim);
    }
}

void Sketcher::project(const float *x, float *out) const
{
    const size_t dim = space_.dim;
    const FloatKernels &k = kernels();
    for (size_t r = 0; r < bits_; r++)
        out[r] = k.dot(rows_.data() + r * dim, x, dim) - row_dot_c_[r];
}

void Sketcher::encode(const void *vec, uint8_t *code) const
{
    const float *x = static_cast<const float *>(vec);
    float p[kDefaultBits * 4];
    std::vector<float> heap;
    float *proj = p;
    if (bits_ > sizeof(p) / sizeof(p[0])) {
        heap.resize(bits_);
        proj = heap.data();
    }
    project(x, proj);
    const size_t bytes = bits_ / 8;
    for (size_t b = 0; b < bytes; b++) {
        uint8_t v = 0;
        for (int k = 0; k < 8; k++)
            v |= uint8_t(proj[b * 8 + size_t(k)] > 0.0f) << k;
        code[b] = v;
    }
    if (has_norm(space_.metric)) {
        const float norm = space_.metric == Metric::Euclidean
                               ? std::sqrt(kernels().l2_squared(x, center_.data(), space_.dim))
                               : std::sqrt(kernels().dot(x, x, space_.dim));
        std::memcpy(code + bytes, &norm, sizeof norm);
    }
}

Sketcher::Query::Query(const Sketcher &s, const void *query)
    : metric_(s.space_.metric), bytes_(s.bits_ / 8), scale_(1.2533141f / float(s.bits_))  // sqrt(pi / 2)
{
    const float *q = static_cast<const float *>(query);
    std::vector<float> proj(s.bits_);
    s.project(q, proj.data());
    if (metric_ == Metric::Euclidean)
        query_sq_ = kernels().l2_squared(q, s.center_.data(), s.space_.dim);
    if (metric_ == Metric::Angular)
        query_norm_ = std::sqrt(kernels().dot(q, q, s.space_.dim));
    // table[b][v] = sum over bits k of v: +p[8b+k] if set, -p[8b+k] if not;
    // built from v without its lowest set bit.
    table_.resize(size_t(bytes_) * 256);
    for (size_t b = 0; b < bytes_; b++) {
        float *t = table_.data() + b * 256;
        const float *p = proj.data() + b * 8;
        float all_clear = 0.0f;
        for (int k = 0; k < 8; k++)
            all_clear -= p[k];
        t[0] = all_clear;
        for (unsigned v = 1; v < 256; v++)
            t[v] = t[v & (v - 1)] + 2.0f * p[__builtin_ctz(v)];
    }
}

float Sketcher::Query::estimate(const uint8_t *code) const
{
    float sum = 0.0f;
    const float *t = table_.data();
    for (uint32_t b = 0; b < bytes_; b++, t += 256)
        sum += t[code[b]];
    switch (metric_) {
        case Metric::Euclidean: {
            float norm;
            std::memcpy(&norm, code + bytes_, sizeof norm);
            return query_sq_ + norm * norm - 2.0f * norm * scale_ * sum;
        }
        case Metric::Dot: {
            float norm;
            std::memcpy(&norm, code + bytes_, sizeof norm);
            return -norm * scale_ * sum;
        }
        default:  // Angular: 1 - estimated cosine
            return query_norm_ > 0.0f ? 1.0f - scale_ * sum / query_norm_ : 0.0f;
    }
}

}  // namespace annoy::core
