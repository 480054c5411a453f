// Stored hyperplane encodings (plane_codec.hpp).
#include "plane_codec.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "distance.hpp"
#include "half.hpp"

namespace annoy::core {

namespace {

// Int8 and Int4 keep a float scale first, then the codes.
float read_scale(const void *stored) noexcept
{
    float s;
    std::memcpy(&s, stored, sizeof(s));
    return s;
}

float max_abs(const float *v, size_t n) noexcept
{
    float m = 0.0f;
    for (size_t i = 0; i < n; i++)
        m = std::max(m, std::fabs(v[i]));
    return m;
}

int quantize(float x, float inv_scale, int limit) noexcept
{
    long q = std::lround(x * inv_scale);
    return int(std::clamp<long>(q, -limit, limit));
}

}  // namespace

size_t plane_bytes(PlaneCodec codec, size_t n) noexcept
{
    switch (codec) {
        case PlaneCodec::Half:
            return n * 2;
        case PlaneCodec::Int8:
            return sizeof(float) + n;
        case PlaneCodec::Int4:
            return sizeof(float) + (n + 1) / 2;
    }
    return 0;
}

void encode_plane(PlaneCodec codec, const float *normal, size_t n, void *out) noexcept
{
    auto *bytes = static_cast<uint8_t *>(out);
    if (codec == PlaneCodec::Half) {
        for (size_t i = 0; i < n; i++) {
            uint16_t h = float_to_half(normal[i]);
            std::memcpy(bytes + 2 * i, &h, 2);
        }
        return;
    }
    const int limit = codec == PlaneCodec::Int8 ? 127 : 7;
    float m = max_abs(normal, n);
    if (codec == PlaneCodec::Int4) {
        // 15 levels spread to the largest coordinate would waste most of
        // them on a few outliers: clip at 2.7 times the RMS instead (for a
        // Gaussian normal the stored direction keeps cosine 0.993 instead
        // of 0.984).
        double sq = 0;
        for (size_t i = 0; i < n; i++)
            sq += double(normal[i]) * normal[i];
        m = std::min(m, float(2.7 * std::sqrt(sq / double(std::max<size_t>(n, 1)))));
    }
    const float scale = m > 0.0f && std::isfinite(m) ? m / float(limit) : 0.0f;
    const float inv = scale > 0.0f ? 1.0f / scale : 0.0f;
    std::memcpy(bytes, &scale, sizeof(scale));
    uint8_t *codes = bytes + sizeof(float);
    if (codec == PlaneCodec::Int8) {
        for (size_t i = 0; i < n; i++)
            codes[i] = uint8_t(int8_t(quantize(normal[i], inv, limit)));
        return;
    }
    std::memset(codes, 0, (n + 1) / 2);
    for (size_t i = 0; i < n; i++) {
        const uint8_t nibble = uint8_t(quantize(normal[i], inv, limit) & 0xF);
        codes[i / 2] |= uint8_t(i % 2 ? nibble << 4 : nibble);
    }
}

float dot_stored_plane(PlaneCodec codec, const void *stored, const float *x, size_t n) noexcept
{
    if (codec == PlaneCodec::Half)
        return kernels().dot_half(static_cast<const uint16_t *>(stored), x, n);
    const float scale = read_scale(stored);
    const uint8_t *codes = static_cast<const uint8_t *>(stored) + sizeof(float);
    float s[4] = {0, 0, 0, 0};
    if (codec == PlaneCodec::Int8) {
        const auto *q = reinterpret_cast<const int8_t *>(codes);
        size_t i = 0;
        for (; i + 4 <= n; i += 4) {
            for (size_t j = 0; j < 4; j++)
                s[j] += float(q[i + j]) * x[i + j];
        }
        for (; i < n; i++)
            s[0] += float(q[i]) * x[i];
    } else {
        size_t i = 0;
        for (; i + 2 <= n; i += 2) {
            const uint8_t b = codes[i / 2];
            // Sign-extend each nibble: (v ^ 8) - 8 maps 0..15 to -8..7.
            s[i / 2 % 2 * 2] += float(int((b & 0xF) ^ 8) - 8) * x[i];
            s[i / 2 % 2 * 2 + 1] += float(int((b >> 4) ^ 8) - 8) * x[i + 1];
        }
        if (i < n)
            s[0] += float(int((codes[i / 2] & 0xF) ^ 8) - 8) * x[i];
    }
    return (s[0] + s[1] + s[2] + s[3]) * scale;
}

float stored_plane_coordinate(PlaneCodec codec, const void *stored, size_t n, size_t i) noexcept
{
    if (i >= n)
        return 0.0f;
    const auto *bytes = static_cast<const uint8_t *>(stored);
    if (codec == PlaneCodec::Half) {
        uint16_t h;
        std::memcpy(&h, bytes + 2 * i, 2);
        return half_to_float(h);
    }
    const float scale = read_scale(stored);
    const uint8_t *codes = bytes + sizeof(float);
    if (codec == PlaneCodec::Int8)
        return float(int8_t(codes[i])) * scale;
    const uint8_t b = codes[i / 2];
    return float(int(((i % 2 ? b >> 4 : b) & 0xF) ^ 8) - 8) * scale;
}

}  // namespace annoy::core
