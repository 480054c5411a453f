// Turning SQL values (real[], double precision[] and bit) into vectors the kernels can read, with
// the input checks every entry point shares: one dimension, no NULL
// elements, finite values, matching lengths.
#pragma once

#include "pg.hpp"

namespace annoy::pg {

struct FloatVector {
    const float *data;
    int dim;
};

struct DoubleVector {
    const double *data;
    int dim;
};

struct BitVector {
    const uint64_t *words;  // palloc'd, tail bits zero
    int bits;
};

// Validates a detoasted real[] and returns a view of its elements.
// Errors: not one-dimensional, empty, NULL elements, NaN or infinity.
FloatVector float_vector(ArrayType *array);
// The same for a detoasted double precision[].
DoubleVector double_vector(ArrayType *array);

// A palloc'd single-precision copy, for an index (which stores floats).
// Errors: an element beyond the range of real.
FloatVector doubles_as_floats(const DoubleVector &v);

// Errors on the first NaN or infinite element (float and double).
template <class T>
void check_finite(const T *data, int dim);

// Copies a bit string into 64-bit words (palloc'd in the current context).
// Errors: empty bit string.
BitVector bit_vector(VarBit *bits);

// Errors unless a and b have the same number of dimensions.
void check_same_dimensions(int a, int b);
void check_same_bit_lengths(int a, int b);

// Fills buf (words(bits) words) from a bit string without allocating.
void bits_to_words(VarBit *bits, uint64_t *buf);

// Errors when the vector has zero norm (cosine distance is undefined).
template <class T>
void check_nonzero_for_cosine(const T *data, int dim);

}  // namespace annoy::pg
