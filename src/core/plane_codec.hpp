// Split hyperplanes as they are stored on pages.  A hyperplane only steers
// the search (items are always scored exactly), so it is stored in as few
// bits as keep it a good direction, and in few enough that a split node fits
// in one page at every supported dimension:
//   Half  IEEE binary16 per coordinate (relative error 2^-11);
//   Int8  one signed byte per coordinate times a per-plane scale
//         (max |n_i| / 127): up to about 8,100 dimensions on an 8 kB page;
//   Int4  a signed nibble (-7..7) per coordinate, two per byte, times a
//         per-plane scale (coordinates clipped at 2.7 times their RMS):
//         up to about 16,200 dimensions.
// For normals with many coordinates the rounding errors average out in the
// margin n.x: at 4 bits per coordinate a Gaussian normal keeps a cosine of
// about 0.993 with its stored form (test/core/test_plane_codec.cpp).
#pragma once

#include <cstddef>

#include "common.hpp"

namespace annoy::core {

enum class PlaneCodec : uint8_t { Half = 0, Int8 = 1, Int4 = 2 };

// Bytes a stored normal of n coordinates takes (scale included).
size_t plane_bytes(PlaneCodec codec, size_t n) noexcept;

// Encodes n floats into out (plane_bytes(codec, n) bytes).
void encode_plane(PlaneCodec codec, const float *normal, size_t n, void *out) noexcept;

// n . x for a stored normal (the first n coordinates of x).
float dot_stored_plane(PlaneCodec codec, const void *stored, const float *x, size_t n) noexcept;

// Coordinate i of a stored normal (Dot's extra coordinate, checks).
float stored_plane_coordinate(PlaneCodec codec, const void *stored, size_t n, size_t i) noexcept;

}  // namespace annoy::core
