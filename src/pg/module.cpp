// Library entry: module magic, load-time setup, and the operator classes'
// metric support functions.
#include "am.hpp"
#include "filter.hpp"
#include "index_vector.hpp"
#include "options.hpp"
#include "partition_budget.hpp"

extern "C" {

PG_MODULE_MAGIC;

// PostgreSQL 15's fmgr.h does not declare _PG_init.
void _PG_init(void);

void _PG_init(void)
{
    // Pick the SIMD kernels once, before any query can use them.
    annoy::core::init_kernels();
    annoy::pg::define_options();
    annoy::pg::install_executor_hook();
    annoy::pg::install_path_hook();
}

// Support functions that answer a constant: function 1 of each operator
// class tells the index which metric the class orders by, function 2 (the
// classes on pgvector's types, extension annoy_vector) the layout of the
// indexed values (index_vector.hpp), function 3 of a filter class how it
// stores values (filter.hpp).  They take `internal` so that they
// cannot be called from SQL.
#define ANNOY_CONSTANT_FUNCTION(name, value) \
    PG_FUNCTION_INFO_V1(name);               \
    Datum name(PG_FUNCTION_ARGS)             \
    {                                        \
        PG_RETURN_INT32(int32(value));       \
    }

ANNOY_CONSTANT_FUNCTION(annoy_metric_euclidean, annoy::core::Metric::Euclidean)
ANNOY_CONSTANT_FUNCTION(annoy_metric_angular, annoy::core::Metric::Angular)
ANNOY_CONSTANT_FUNCTION(annoy_metric_dot, annoy::core::Metric::Dot)
ANNOY_CONSTANT_FUNCTION(annoy_metric_manhattan, annoy::core::Metric::Manhattan)
ANNOY_CONSTANT_FUNCTION(annoy_metric_hamming, annoy::core::Metric::Hamming)
ANNOY_CONSTANT_FUNCTION(annoy_input_vector, annoy::pg::InputFormat::PgVector)
ANNOY_CONSTANT_FUNCTION(annoy_input_halfvec, annoy::pg::InputFormat::PgHalfVec)
ANNOY_CONSTANT_FUNCTION(annoy_filter_integer, annoy::pg::FilterKind::Integer)
ANNOY_CONSTANT_FUNCTION(annoy_filter_hash, annoy::pg::FilterKind::Hash)
ANNOY_CONSTANT_FUNCTION(annoy_filter_array, annoy::pg::FilterKind::Array)

}  // extern "C"
