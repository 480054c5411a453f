// FAISS (Debian libfaiss-dev, a generic x86-64 build over the reference
// BLAS): inverted lists over k-means cells, the family of pgvector's IVFFlat
// and of VectorChord, with full vectors (IVF-Flat) and with 4-bit PQ codes
// scanned by fast-scan and re-ranked exactly (IVF-PQ fast-scan + refine).
// Cosine as L2 over unit vectors.  One OpenMP thread.
#include "anchors.hpp"

#if defined(HAVE_FAISS)
#include <omp.h>

#include <ctime>
#include <cmath>
#include <memory>
#include <utility>

#include <faiss/IndexFlat.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/IndexIVFPQFastScan.h>
#include <faiss/IndexRefine.h>

namespace anchors {

namespace {

using idx_t = faiss::Index::idx_t;

// k-means on this many points a list (FAISS's default, 256, trains on all
// of these data sets, which takes minutes with the reference BLAS).
constexpr int kTrainPointsPerList = 64;
constexpr float kRefine = 10;

// Product-quantiser sub-vectors: 4 dimensions each at high dimension, 2
// below 256 (any divisor of d works; these keep codes at 1-2 bits a dimension).
size_t pq_subvectors(size_t dim)
{
    if (dim >= 256 && dim % 4 == 0)
        return dim / 4;
    return dim % 2 == 0 ? dim / 2 : dim;
}

size_t search(const faiss::Index &index, const float *q, uint32_t *out)
{
    float dist[kK];
    idx_t ids[kK];
    index.search(1, q, idx_t(kK), dist, ids);
    size_t count = 0;
    for (size_t i = 0; i < kK && ids[i] >= 0; i++)
        out[count++] = uint32_t(ids[i]);
    return count;
}

}  // namespace

void run_faiss(Bench &bench)
{
    const DataSet &d = bench.data();
    omp_set_num_threads(1);
    const bool cosine = d.metric == Metric::Cosine;
    const size_t nlist = size_t(std::lround(std::sqrt(double(d.n))));  // as test/bench's IVFFlat: lists = sqrt(N)
    const std::string lists = std::to_string(nlist) + " lists";

    std::unique_ptr<faiss::IndexFlatL2> quantizer;
    std::unique_ptr<faiss::IndexIVFFlat> ivf;
    double train_s = 0, train_wall_s = 0;
    Row &flat = bench.build("FAISS IVF-Flat", lists, [&] {
        const std::vector<float> unit = cosine ? normalized(d.base.data(), d.n, d.dim) : std::vector<float>();
        const float *x = cosine ? unit.data() : d.base.data();
        quantizer = std::make_unique<faiss::IndexFlatL2>(d.dim);
        ivf = std::make_unique<faiss::IndexIVFFlat>(quantizer.get(), d.dim, nlist);
        ivf->cp.max_points_per_centroid = kTrainPointsPerList;
        const double c0 = std::clock(), w0 = omp_get_wtime();
        ivf->train(idx_t(d.n), x);
        train_s = (double(std::clock()) - c0) / CLOCKS_PER_SEC;
        train_wall_s = omp_get_wtime() - w0;
        ivf->add(idx_t(d.n), x);
    });
    auto query = [&](const faiss::Index &index) -> QueryFn {
        return [&, cosine](const float *q, uint32_t *out) {
            if (!cosine)
                return search(index, q, out);
            const std::vector<float> unit = normalized(q, 1, d.dim);
            return search(index, unit.data(), out);
        };
    };
    const std::vector<size_t> probes = {1, 2, 4, 6, 8, 12, 16, 24, 32, 48, 64, 128};
    bench.sweep<size_t>(
        flat, probes, [](size_t p) { return "nprobe " + std::to_string(p); },
        [&](const size_t &p) {
            ivf->nprobe = p;
            return query(*ivf);
        });

    // Fast-scan over the same cells: a copy of the trained centroids, so the
    // k-means is not run twice (its time is added to this build's).
    const size_t m = pq_subvectors(d.dim);
    std::unique_ptr<faiss::IndexFlatL2> quantizer2;
    std::unique_ptr<faiss::IndexIVFPQFastScan> pq;
    std::unique_ptr<faiss::IndexRefineFlat> refined;
    Row &fs = bench.build("FAISS IVF-PQ fast-scan + refine",
                          lists + ", PQ" + std::to_string(m) + "x4, refine x" + std::to_string(int(kRefine)), [&] {
                              const std::vector<float> unit =
                                  cosine ? normalized(d.base.data(), d.n, d.dim) : std::vector<float>();
                              const float *x = cosine ? unit.data() : d.base.data();
                              quantizer2 = std::make_unique<faiss::IndexFlatL2>(d.dim);
                              quantizer2->add(idx_t(nlist), quantizer->get_xb());
                              pq = std::make_unique<faiss::IndexIVFPQFastScan>(quantizer2.get(), d.dim, nlist, m, 4);
                              refined = std::make_unique<faiss::IndexRefineFlat>(pq.get());
                              refined->train(idx_t(d.n), x);
                              refined->add(idx_t(d.n), x);
                          });
    fs.build_s += train_s;
    fs.build_wall_s += train_wall_s;
    // Candidates re-ranked exactly: kRefine x 10 (at these sizes the recall
    // hardly moves beyond 10; nprobe decides it).
    refined->k_factor = kRefine;
    bench.sweep<size_t>(
        fs, probes, [](size_t p) { return "nprobe " + std::to_string(p); },
        [&](const size_t &p) {
            pq->nprobe = p;
            return query(*refined);
        });
}

}  // namespace anchors

#else

namespace anchors {

void run_faiss(Bench &bench)
{
    bench.skip("FAISS", "faiss/IndexIVFFlat.h or libfaiss not found (Debian: apt-get install libfaiss-dev)");
}

}  // namespace anchors

#endif
