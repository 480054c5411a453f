// Library entry: module magic, load-time setup, and the operator classes'
// metric support functions.
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
}

// Support function 1 of each operator class: tells the index which metric
// the class orders by.  Takes `internal` so that it cannot be called from SQL.
#define ANNOY_METRIC_FUNCTION(name, metric) \
    PG_FUNCTION_INFO_V1(name);              \
    Datum name(PG_FUNCTION_ARGS)            \
    {                                       \
        PG_RETURN_INT32(int32(metric));     \
    }

ANNOY_METRIC_FUNCTION(annoy_metric_euclidean, annoy::core::Metric::Euclidean)
ANNOY_METRIC_FUNCTION(annoy_metric_angular, annoy::core::Metric::Angular)
ANNOY_METRIC_FUNCTION(annoy_metric_dot, annoy::core::Metric::Dot)
ANNOY_METRIC_FUNCTION(annoy_metric_manhattan, annoy::core::Metric::Manhattan)
ANNOY_METRIC_FUNCTION(annoy_metric_hamming, annoy::core::Metric::Hamming)

}  // extern "C"
