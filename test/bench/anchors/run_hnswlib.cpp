// hnswlib (Debian libhnswlib-dev, header-only): the HNSW graph pgvector's
// index follows, M 16 and ef_construction 64 as in test/bench, ef swept.
// Cosine as inner product over unit vectors (hnswlib has no cosine space).
#include "anchors.hpp"

#if defined(HAVE_HNSWLIB)
#include <memory>

#include <hnswlib/hnswlib.h>

namespace anchors {

void run_hnswlib(Bench &bench)
{
    const DataSet &d = bench.data();
    const bool cosine = d.metric == Metric::Cosine;
    std::unique_ptr<hnswlib::SpaceInterface<float>> space;
    std::unique_ptr<hnswlib::HierarchicalNSW<float>> index;
    Row &row = bench.build("hnswlib", "M 16, ef_construction 64", [&] {
        if (cosine)
            space = std::make_unique<hnswlib::InnerProductSpace>(d.dim);
        else
            space = std::make_unique<hnswlib::L2Space>(d.dim);
        const std::vector<float> unit = cosine ? normalized(d.base.data(), d.n, d.dim) : std::vector<float>();
        const float *vectors = cosine ? unit.data() : d.base.data();
        index = std::make_unique<hnswlib::HierarchicalNSW<float>>(space.get(), d.n, 16, 64, 100);
        for (size_t i = 0; i < d.n; i++)
            index->addPoint(vectors + i * d.dim, hnswlib::labeltype(i));
    });
    const std::vector<size_t> efs = {10, 15, 20, 30, 40, 60, 80, 120, 160, 320, 640};
    bench.sweep<size_t>(
        row, efs, [](size_t ef) { return "ef " + std::to_string(ef); },
        [&](const size_t &ef) -> QueryFn {
            return [&, ef](const float *q, uint32_t *out) {
                index->setEf(ef);
                std::vector<float> unit;
                if (cosine) {
                    unit = normalized(q, 1, d.dim);
                    q = unit.data();
                }
                auto found = index->searchKnn(q, kK);  // a max-heap: farthest first
                const size_t count = found.size();
                for (size_t i = count; i-- > 0; found.pop())
                    out[i] = uint32_t(found.top().second);
                return count;
            };
        });
}

}  // namespace anchors

#else

namespace anchors {

void run_hnswlib(Bench &bench)
{
    bench.skip("hnswlib", "hnswlib/hnswlib.h not found (Debian: apt-get install libhnswlib-dev)");
}

}  // namespace anchors

#endif
