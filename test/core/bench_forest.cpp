// Forest build time and search throughput / recall on real data:
// Fashion-MNIST (60,000 x 784 train vectors as the base, the first 1,000 t10k
// vectors as queries, euclidean), one of the sets test/bench/anchors measures
// the core on next to the Annoy library, hnswlib and FAISS.
//
//     forest_build/fashion/trees:10/leaf:64
//         one single-threaded build_forest(); build_s = wall seconds per
//         build, build_cpu_s = CPU seconds
//     forest_search/fashion/trees:10/leaf:64/search_k:1000
//         the 1,000 queries through search(k = 10, search_k); QPS = queries
//         per wall second, QPS_cpu = per CPU second, recall@10 against
//         exact_search() (an item at the 10th true distance counts as a hit)
//
// The machines are shared: compare QPS_cpu and build_cpu_s, and ratios
// measured in one run, rather than absolute wall-clock figures.
//
// search_k counts distinct items scored (Annoy's counts candidate ids with
// duplicates), so compare with Annoy at equal recall, not equal search_k.
// Each benchmark runs one iteration (a build, or the 1,000 queries); use
// --benchmark_repetitions=N for more, --benchmark_filter=forest_ to skip the
// distance kernels.  The whole file takes about 45 CPU seconds, most of it in
// the builds (the 50-tree one ~13 s) and the exact ground truth (computed once,
// ~10 s); more wall time when the machine is busy.
//
// Data: $FASHION_MNIST_DIR, default /usr/share/datasets/fashion-mnist
// (Debian package dataset-fashion-mnist), read through `gzip -dc`.  Without
// the files every benchmark here is skipped with an error message.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "distance.hpp"
#include "forest.hpp"

using namespace annoy::core;

namespace {

constexpr size_t kQueries = 1000;
constexpr size_t kK = 10;

struct DataSet {
    size_t n = 0, dim = 0;
    std::vector<float> base;     // n * dim
    std::vector<float> queries;  // kQueries * dim
    std::string error;           // non-empty: unavailable
};

uint32_t be32(const unsigned char *p)
{
    return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

// Reads up to max_items images of a gzipped IDX3 file (magic 0x803, n, rows,
// cols, then uint8 pixels) as floats.  Returns an error message or "".
std::string read_idx_images(const std::string &path, size_t max_items, size_t &n, size_t &dim, std::vector<float> &out)
{
    if (FILE *probe = std::fopen(path.c_str(), "rb"))
        std::fclose(probe);
    else
        return "cannot open " + path + " (apt-get install dataset-fashion-mnist, or set FASHION_MNIST_DIR)";
    const std::string cmd = "gzip -dc '" + path + "'";
    FILE *f = popen(cmd.c_str(), "r");
    if (f == nullptr)
        return "cannot run " + cmd;
    unsigned char header[16];
    std::string err;
    if (std::fread(header, 1, sizeof header, f) != sizeof header || be32(header) != 0x803) {
        err = path + ": not an IDX3 image file";
    } else {
        n = std::min<size_t>(be32(header + 4), max_items);
        dim = size_t(be32(header + 8)) * be32(header + 12);
        std::vector<unsigned char> pixels(n * dim);
        if (std::fread(pixels.data(), 1, pixels.size(), f) != pixels.size())
            err = path + ": truncated";
        out.assign(pixels.begin(), pixels.end());
    }
    // Stop gzip early if we read only part of the file.
    while (std::fgetc(f) != EOF) {
    }
    pclose(f);
    return err;
}

const DataSet &fashion()
{
    static const DataSet data = [] {
        DataSet d;
        const char *env = std::getenv("FASHION_MNIST_DIR");
        const std::string dir = env && *env ? env : "/usr/share/datasets/fashion-mnist";
        size_t qn = 0, qdim = 0;
        d.error = read_idx_images(dir + "/train-images-idx3-ubyte.gz", size_t(-1), d.n, d.dim, d.base);
        if (d.error.empty())
            d.error = read_idx_images(dir + "/t10k-images-idx3-ubyte.gz", kQueries, qn, qdim, d.queries);
        if (d.error.empty() && (qdim != d.dim || qn != kQueries))
            d.error = "unexpected Fashion-MNIST shapes";
        return d;
    }();
    return data;
}

Space fashion_space()
{
    return Space{Metric::Euclidean, uint32_t(fashion().dim)};
}

// Exact squared distance in double: pixels are integers, so this is exact
// and ties are detected reliably.
double exact_sq(const float *a, const float *b, size_t dim)
{
    double s = 0;
    for (size_t i = 0; i < dim; i++) {
        const double d = double(a[i]) - double(b[i]);
        s += d * d;
    }
    return s;
}

// Per query: the squared distance of the k-th true neighbour (exact_search),
// so that recall counts a returned item at a tied distance as a hit.
const std::vector<double> &ground_truth()
{
    static const std::vector<double> kth = [] {
        const DataSet &d = fashion();
        std::vector<double> out(kQueries);
        for (size_t q = 0; q < kQueries; q++) {
            const float *query = &d.queries[q * d.dim];
            const std::vector<Neighbor> nn = exact_search(fashion_space(), d.base.data(), d.n, query, kK);
            out[q] = exact_sq(query, &d.base[size_t(nn.back().item) * d.dim], d.dim);
        }
        return out;
    }();
    return kth;
}

// recall@k: returned items within the k-th true distance, over k, averaged.
double recall(const std::vector<uint32_t> &ids, const std::vector<uint32_t> &counts)
{
    const DataSet &d = fashion();
    const std::vector<double> &kth = ground_truth();
    size_t hits = 0;
    for (size_t q = 0; q < kQueries; q++) {
        const float *query = &d.queries[q * d.dim];
        for (size_t i = 0; i < counts[q]; i++)
            hits += exact_sq(query, &d.base[size_t(ids[q * kK + i]) * d.dim], d.dim) <= kth[q];
    }
    return double(hits) / double(kQueries * kK);
}

BuildParams params_for(uint32_t trees, uint32_t leaf)
{
    BuildParams p;
    p.n_trees = trees;
    p.leaf_size = leaf;
    p.seed = 42;
    p.threads = 1;
    return p;
}

// Forests built so far (by the build benchmark or on first use by a search
// benchmark), so the search benchmarks do not rebuild.
std::map<std::pair<uint32_t, uint32_t>, std::unique_ptr<FlatForest>> &forest_cache()
{
    static std::map<std::pair<uint32_t, uint32_t>, std::unique_ptr<FlatForest>> cache;
    return cache;
}

const FlatForest &cached_forest(uint32_t trees, uint32_t leaf)
{
    std::unique_ptr<FlatForest> &slot = forest_cache()[{trees, leaf}];
    if (!slot) {
        const DataSet &d = fashion();
        slot = std::make_unique<FlatForest>(build_forest(fashion_space(), d.base.data(), d.n, params_for(trees, leaf)));
    }
    return *slot;
}

void bench_build(benchmark::State &state, uint32_t trees, uint32_t leaf)
{
    const DataSet &d = fashion();
    if (!d.error.empty()) {
        state.SkipWithError(d.error.c_str());
        return;
    }
    init_kernels();
    const BuildParams params = params_for(trees, leaf);
    double seconds = 0, cpu_seconds = 0;
    std::unique_ptr<FlatForest> last;
    for (auto _ : state) {
        last.reset();  // free the previous forest outside the timed call
        const auto t0 = std::chrono::steady_clock::now();
        const std::clock_t c0 = std::clock();
        last = std::make_unique<FlatForest>(build_forest(fashion_space(), d.base.data(), d.n, params));
        cpu_seconds += double(std::clock() - c0) / CLOCKS_PER_SEC;
        seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    state.counters["build_s"] = seconds / double(state.iterations());
    state.counters["build_cpu_s"] = cpu_seconds / double(state.iterations());
    state.counters["splits"] = double(last->splits.size());
    state.counters["leaves"] = double(last->leaves.size());
    forest_cache()[{trees, leaf}] = std::move(last);
}

void bench_search(benchmark::State &state, uint32_t trees, uint32_t leaf, size_t search_k)
{
    const DataSet &d = fashion();
    if (!d.error.empty()) {
        state.SkipWithError(d.error.c_str());
        return;
    }
    ground_truth();  // computed once, outside any timing
    const FlatForest &forest = cached_forest(trees, leaf);
    std::vector<uint32_t> ids(kQueries * kK), counts(kQueries);
    const std::clock_t cpu0 = std::clock();
    for (auto _ : state) {
        for (size_t q = 0; q < kQueries; q++) {
            const std::vector<Neighbor> nn = search(forest, d.base.data(), d.n, &d.queries[q * d.dim], kK, search_k);
            counts[q] = uint32_t(nn.size());
            for (size_t i = 0; i < nn.size(); i++)
                ids[q * kK + i] = nn[i].item;
        }
    }
    const double cpu_s = double(std::clock() - cpu0) / CLOCKS_PER_SEC;
    // QPS by wall-clock time; QPS_cpu by process CPU time, steadier on a
    // shared machine (the search is single-threaded).
    state.counters["QPS"] = benchmark::Counter(double(state.iterations() * kQueries), benchmark::Counter::kIsRate);
    state.counters["QPS_cpu"] = cpu_s > 0 ? double(state.iterations() * kQueries) / cpu_s : 0.0;
    state.counters["recall@10"] = recall(ids, counts);
}

bool register_forest_benchmarks()
{
    struct Config {
        uint32_t trees, leaf;
        std::vector<size_t> search_k;
    };
    // Recall@10 reaches 0.95 / 0.98 / 0.99 around search_k 500 / 1000 /
    // 1500 with 10 trees of leaf_size 64; beyond 2000 it is ~1.
    const std::vector<size_t> sweep = {250, 500, 1000, 2000};
    const std::vector<Config> configs = {
        {10, 64, sweep},
        {50, 64, sweep},
        {10, 16, {500, 1000}},
        {10, 256, {500, 1000}},
    };
    for (const Config &c : configs) {
        const std::string tl = "/trees:" + std::to_string(c.trees) + "/leaf:" + std::to_string(c.leaf);
        benchmark::RegisterBenchmark(("forest_build/fashion" + tl).c_str(), bench_build, c.trees, c.leaf)
            ->Iterations(1)
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
        for (size_t sk : c.search_k)
            benchmark::RegisterBenchmark(("forest_search/fashion" + tl + "/search_k:" + std::to_string(sk)).c_str(),
                                         bench_search, c.trees, c.leaf, sk)
                ->Iterations(1)
                ->Unit(benchmark::kMillisecond)
                ->UseRealTime();
    }
    return true;
}

// Registered during static initialisation, like bench_distance.cpp; that file
// provides main().
[[maybe_unused]] const bool registered = register_forest_benchmarks();

}  // namespace
