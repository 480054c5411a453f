// The in-memory anchors benchmark: our core forest next to other ANN
// libraries (Annoy, hnswlib, FAISS) on the same vectors, one thread, no SQL.
// See README.md in this directory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <vector>

namespace anchors {

enum class Metric { L2, Cosine };

// Base vectors and queries, row-major floats, as the loaders of test/tools
// produce them (Fashion-MNIST pixels 0..255; GloVe as published, not
// normalised).
struct DataSet {
    std::string name;
    Metric metric = Metric::L2;
    size_t n = 0, dim = 0, nq = 0;
    std::vector<float> base;     // n * dim
    std::vector<float> queries;  // nq * dim
    const float *row(size_t i) const { return base.data() + i * dim; }
    const float *query(size_t q) const { return queries.data() + q * dim; }
};

// Loads the data set `name` (fashion, glove); throws std::runtime_error with
// a message naming what is missing.  `nq`: queries kept (the first ones).
DataSet load_fashion(const std::string &dir, size_t nq);
DataSet load_glove(const std::string &train_copy, const std::string &test_copy, size_t nq);

// Copy of `v` (n vectors of dim floats) scaled to unit length: cosine search
// as L2 or inner-product search, for libraries without a cosine metric.
std::vector<float> normalized(const float *v, size_t n, size_t dim);

// One index configuration measured: its build, then recall@10 and queries/s
// at each setting of its query-time knob.
struct Point {
    std::string setting;  // "search_k 1000", "ef 40", ...
    double recall = 0;
    double qps = 0;       // queries per CPU second (steadier than wall time on a shared machine)
    double qps_wall = 0;  // queries per wall second
};
struct Row {
    std::string library, config;
    double build_s = 0;       // CPU seconds (one thread: steadier than wall time on a shared machine)
    double build_wall_s = 0;  // wall seconds
    double memory_bytes = 0;  // what the index holds, including the vectors it searches
    std::string note;         // e.g. "skipped: ..."
    std::vector<Point> points;
};

constexpr size_t kK = 10;

// Writes the ids of the (up to kK) nearest neighbours found for query q to
// out and returns how many there are.
using QueryFn = std::function<size_t(const float *q, uint32_t *out)>;

class Bench {
public:
    explicit Bench(const DataSet &data);

    const DataSet &data() const { return data_; }

    // Runs `build`, records its wall time and the heap it leaves allocated
    // (plus `external_bytes`: what the index needs but does not own, e.g.
    // the caller's vectors) in a new row, and returns that row.
    Row &build(const std::string &library, const std::string &config, const std::function<void()> &build,
               double external_bytes = 0);
    // A row for a library that could not be measured.
    void skip(const std::string &library, const std::string &why);
    // Runs every query through `query` (after a warm-up), appends a point
    // with its recall@10 and queries per CPU second.  Returns the recall.
    double measure(Row &row, const std::string &setting, const QueryFn &query);
    // Sweeps settings in order until recall reaches `stop` (0.999): larger
    // ones cost time and say nothing new.
    template <class Setting, class Label>
    void sweep(Row &row, const std::vector<Setting> &settings, const Label &label,
               const std::function<QueryFn(const Setting &)> &query_at, double stop = 0.999)
    {
        for (const Setting &s : settings)
            if (measure(row, label(s), query_at(s)) >= stop)
                break;
    }

    const std::deque<Row> &rows() const { return rows_; }

private:
    double recall(const std::vector<uint32_t> &ids, const std::vector<size_t> &counts) const;

    const DataSet &data_;
    std::vector<double> kth_;  // per query: the exact distance of its kK-th neighbour (double precision)
    std::deque<Row> rows_;     // a deque: build() hands out references that later rows keep valid
};

// The libraries, each in its own file.  Each adds its rows to `bench`, or a
// skipped row saying what is missing.
void run_core(Bench &bench);
void run_annoy(Bench &bench);
void run_hnswlib(Bench &bench);
void run_faiss(Bench &bench);

// The exact distance used for the ground truth: squared L2, or 1 - cos, in
// double precision.
double exact_distance(Metric metric, const float *a, const float *b, size_t dim);

}  // namespace anchors
