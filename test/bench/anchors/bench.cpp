// Ground truth, timing, recall and memory accounting shared by every library.
#include <malloc.h>
#include <time.h>

#include <algorithm>
#include <cmath>
#include <chrono>
#include <cstdio>

#include "anchors.hpp"
#include "distance.hpp"
#include "forest.hpp"

namespace anchors {

namespace {

// Candidates kept from the single-precision pass of the ground truth, then
// re-ranked in double precision.
constexpr size_t kShortlist = 4 * kK;
constexpr size_t kWarmup = 100;

double cpu_seconds()
{
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return double(t.tv_sec) + double(t.tv_nsec) * 1e-9;
}

double wall_seconds()
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Bytes malloc has handed out and not taken back (arenas and mmapped blocks).
double heap_in_use()
{
    const struct mallinfo2 m = mallinfo2();
    return double(m.uordblks) + double(m.hblkhd);
}

}  // namespace

double exact_distance(Metric metric, const float *a, const float *b, size_t dim)
{
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < dim; i++) {
        ab += double(a[i]) * b[i];
        aa += double(a[i]) * a[i];
        bb += double(b[i]) * b[i];
    }
    if (metric == Metric::L2)
        return aa + bb - 2 * ab;  // exact for Fashion's integer pixels
    return 1 - ab / std::sqrt(aa * bb);
}

Bench::Bench(const DataSet &data) : data_(data), kth_(data.nq)
{
    // Brute force with the core's exact search (SIMD kernels, single
    // precision) for a shortlist, re-ranked in double precision: the k-th
    // distance decides hits, so ties count as hits as in test/bench.
    namespace core = annoy::core;
    core::init_kernels();
    const core::Space space{data.metric == Metric::L2 ? core::Metric::Euclidean : core::Metric::Angular,
                            uint32_t(data.dim)};
    const double t0 = wall_seconds();
    for (size_t q = 0; q < data.nq; q++) {
        const std::vector<core::Neighbor> near =
            core::exact_search(space, data.base.data(), data.n, data.query(q), std::min(kShortlist, data.n));
        std::vector<double> d;
        for (const core::Neighbor &nb : near)
            d.push_back(exact_distance(data.metric, data.query(q), data.row(nb.item), data.dim));
        std::sort(d.begin(), d.end());
        kth_[q] = d[std::min(kK, d.size()) - 1];
    }
    const double s = wall_seconds() - t0;
    Row &exact = rows_.emplace_back();
    exact.library = "exact scan";
    exact.config = "brute force (core kernels)";
    exact.memory_bytes = double(data.base.size()) * sizeof(float);
    exact.points.push_back(Point{"-", 1.0, double(data.nq) / s, double(data.nq) / s});
    std::fprintf(stderr, "%s: ground truth for %zu queries in %.1f s\n", data.name.c_str(), data.nq, s);
}

Row &Bench::build(const std::string &library, const std::string &config, const std::function<void()> &build,
                  double external_bytes)
{
    std::fprintf(stderr, "%s: building %s %s\n", data_.name.c_str(), library.c_str(), config.c_str());
    const double heap0 = heap_in_use();
    const double c0 = cpu_seconds(), w0 = wall_seconds();
    build();
    Row &row = rows_.emplace_back();
    row.library = library;
    row.config = config;
    row.build_s = cpu_seconds() - c0;
    row.build_wall_s = wall_seconds() - w0;
    row.memory_bytes = heap_in_use() - heap0 + external_bytes;
    std::fprintf(stderr, "%s:   %.2f CPU s (wall %.2f), %.1f MB\n", data_.name.c_str(), row.build_s, row.build_wall_s,
                 row.memory_bytes / 1e6);
    return row;
}

void Bench::skip(const std::string &library, const std::string &why)
{
    std::fprintf(stderr, "%s: %s skipped: %s\n", data_.name.c_str(), library.c_str(), why.c_str());
    Row &row = rows_.emplace_back();
    row.library = library;
    row.note = "skipped: " + why;
}

double Bench::recall(const std::vector<uint32_t> &ids, const std::vector<size_t> &counts) const
{
    size_t hits = 0;
    for (size_t q = 0; q < data_.nq; q++)
        for (size_t i = 0; i < counts[q]; i++) {
            const uint32_t id = ids[q * kK + i];
            // Relative slack for float data: a tie computed in another order.
            hits += id < data_.n && exact_distance(data_.metric, data_.query(q), data_.row(id), data_.dim) <=
                                        kth_[q] + 1e-9 * (1 + std::abs(kth_[q]));
        }
    return double(hits) / double(data_.nq * kK);
}

double Bench::measure(Row &row, const std::string &setting, const QueryFn &query)
{
    std::vector<uint32_t> ids(data_.nq * kK);
    std::vector<size_t> counts(data_.nq);
    for (size_t q = 0; q < std::min(kWarmup, data_.nq); q++)
        query(data_.query(q), &ids[q * kK]);
    const double c0 = cpu_seconds(), w0 = wall_seconds();
    for (size_t q = 0; q < data_.nq; q++)
        counts[q] = std::min(kK, query(data_.query(q), &ids[q * kK]));
    const double cpu = cpu_seconds() - c0, wall = wall_seconds() - w0;
    Point p{setting, recall(ids, counts), double(data_.nq) / cpu, double(data_.nq) / wall};
    std::fprintf(stderr, "%s:   %s %s: recall %.3f, %.0f q/s (wall %.0f)\n", data_.name.c_str(), row.library.c_str(),
                 setting.c_str(), p.recall, p.qps, p.qps_wall);
    row.points.push_back(p);
    return p.recall;
}

}  // namespace anchors
