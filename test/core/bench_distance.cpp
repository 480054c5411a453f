// Throughput of the distance kernels, per variant and dimension:
//     l2_squared/avx2/784   one distance between two 784-float vectors
// items/s = distances per second, bytes/s = bytes of both vectors read.  The
// vectors stay in L1, so these are the kernels' peak rates.  Variants the CPU
// lacks are not registered.  hamming/auto/N is the dispatched Hamming kernel
// on N-bit strings; cosine/auto/N goes through the public cosine_distance()
// (dispatch + dot_norms + the double-precision finish).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "distance.hpp"

using namespace annoy::core;

namespace {

constexpr size_t kDims[] = {128, 784, 1536};

enum class Op { L2Squared, Dot, L1, DotNorms };

const char *op_name(Op op)
{
    switch (op) {
        case Op::L2Squared:
            return "l2_squared";
        case Op::Dot:
            return "dot";
        case Op::L1:
            return "l1";
        case Op::DotNorms:
            return "dot_norms";
    }
    return "?";
}

std::vector<float> random_floats(size_t n, unsigned seed)
{
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    std::vector<float> v(n);
    for (float &x : v)
        x = dist(rng);
    return v;
}

void bench_float(benchmark::State &state, Isa isa, Op op, size_t dim)
{
    const FloatKernels &k = kernels_for(isa);
    std::vector<float> a = random_floats(dim, 1), b = random_floats(dim, 2);
    switch (op) {
        case Op::L2Squared:
            for (auto _ : state)
                benchmark::DoNotOptimize(k.l2_squared(a.data(), b.data(), dim));
            break;
        case Op::Dot:
            for (auto _ : state)
                benchmark::DoNotOptimize(k.dot(a.data(), b.data(), dim));
            break;
        case Op::L1:
            for (auto _ : state)
                benchmark::DoNotOptimize(k.l1(a.data(), b.data(), dim));
            break;
        case Op::DotNorms:
            for (auto _ : state) {
                float ab, aa, bb;
                k.dot_norms(a.data(), b.data(), dim, &ab, &aa, &bb);
                benchmark::DoNotOptimize(ab);
                benchmark::DoNotOptimize(aa);
                benchmark::DoNotOptimize(bb);
            }
            break;
    }
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(state.iterations() * int64_t(2 * dim * sizeof(float)));
}

void bench_cosine(benchmark::State &state, size_t dim)
{
    std::vector<float> a = random_floats(dim, 1), b = random_floats(dim, 2);
    for (auto _ : state)
        benchmark::DoNotOptimize(cosine_distance(a.data(), b.data(), dim));
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(state.iterations() * int64_t(2 * dim * sizeof(float)));
}

void bench_hamming(benchmark::State &state, size_t bits)
{
    size_t words = (bits + 63) / 64;
    std::mt19937_64 rng(3);
    std::vector<uint64_t> a(words), b(words);
    for (size_t i = 0; i < words; ++i) {
        a[i] = rng();
        b[i] = rng();
    }
    if (bits % 64 != 0) {  // unused tail bits must be zero
        a[words - 1] &= (uint64_t(1) << (bits % 64)) - 1;
        b[words - 1] &= (uint64_t(1) << (bits % 64)) - 1;
    }
    for (auto _ : state)
        benchmark::DoNotOptimize(hamming_distance(a.data(), b.data(), words));
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(state.iterations() * int64_t(2 * words * sizeof(uint64_t)));
}

bool register_distance_benchmarks()
{
    init_kernels();
    for (Op op : {Op::L2Squared, Op::Dot, Op::L1, Op::DotNorms}) {
        for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
            if (!isa_supported(isa))
                continue;
            for (size_t dim : kDims) {
                std::string name = std::string(op_name(op)) + "/" + isa_name(isa) + "/" + std::to_string(dim);
                benchmark::RegisterBenchmark(name.c_str(), bench_float, isa, op, dim);
            }
        }
    }
    for (size_t dim : kDims)
        benchmark::RegisterBenchmark(("cosine/auto/" + std::to_string(dim)).c_str(), bench_cosine, dim);
    for (size_t bits : kDims)
        benchmark::RegisterBenchmark(("hamming/auto/" + std::to_string(bits)).c_str(), bench_hamming, bits);
    return true;
}

// Registered during static initialisation, so the benchmarks run whichever
// bench_*.cpp file provides main().
[[maybe_unused]] const bool registered = register_distance_benchmarks();

}  // namespace

// test/core/Makefile links every bench_*.cpp into one binary against
// -lbenchmark (not benchmark_main), so this file supplies main(); weak, so a
// bench file that defines its own (BENCHMARK_MAIN()) takes precedence
// instead of clashing.
__attribute__((weak)) int main(int argc, char **argv)
{
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv))
        return 1;
    std::printf("active distance kernels: %s\n", isa_name(active_isa()));
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
