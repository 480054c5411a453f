// Reading pgvector's vector and halfvec layouts (pgvector_input.hpp).
#include "half.hpp"

#include "pgvector_input.hpp"

namespace annoy::pg {

static int checked_dim(const varlena *value, size_t element_bytes, const char *type_name)
{
    auto *h = reinterpret_cast<const PgVectorHeader *>(value);
    Size size = VARSIZE_ANY(value);
    if (VARATT_IS_SHORT(value) || size < sizeof(PgVectorHeader) ||
        size != sizeof(PgVectorHeader) + size_t(std::max<int16>(h->dim, 0)) * element_bytes)
        ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED), errmsg("%s value of %zu bytes does not match its dimension %d",
                                                                type_name, size_t(size), int(h->dim))));
    if (h->dim < 1)
        ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("vector must have at least 1 dimension")));
    return h->dim;
}

FloatVector pgvector_vector(const varlena *value)
{
    int dim = checked_dim(value, sizeof(float), "vector");
    FloatVector v{reinterpret_cast<const float *>(reinterpret_cast<const char *>(value) + sizeof(PgVectorHeader)), dim};
    check_finite(v.data, v.dim);
    return v;
}

FloatVector pgvector_halfvec(const varlena *value)
{
    int dim = checked_dim(value, sizeof(uint16), "halfvec");
    const char *elements = reinterpret_cast<const char *>(value) + sizeof(PgVectorHeader);
    auto *out = static_cast<float *>(palloc(size_t(dim) * sizeof(float)));
    for (int i = 0; i < dim; i++) {
        uint16 h;
        memcpy(&h, elements + size_t(i) * sizeof(uint16), sizeof(h));
        out[i] = core::half_to_float(h);
    }
    check_finite(out, dim);
    return FloatVector{out, dim};
}

}  // namespace annoy::pg
