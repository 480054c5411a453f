// Spotify's Annoy (annoylib.h from Debian's r-cran-rcppannoy, unpacked into
// the data cache by run_anchors.sh; never part of this repository): the
// library our forest reimplements, 10 and 50 trees, search_k swept.
#include "anchors.hpp"

#if defined(HAVE_ANNOY)
#include <memory>

#include "annoylib.h"
#include "kissrandom.h"

namespace anchors {

namespace {

template <class Distance>
void run_trees(Bench &bench, const std::vector<float> &vectors)
{
    const DataSet &d = bench.data();
    using Index = AnnoyIndex<int, float, Distance, Kiss64Random, AnnoyIndexSingleThreadedBuildPolicy>;
    // Annoy's search_k counts candidate ids with duplicates across trees
    // (its default is n_trees x k), ours distinct items scored: compare at
    // equal recall, not equal search_k.
    const std::vector<int> search_ks = {1000, 2000, 3000, 5000, 7000, 10000, 15000, 20000, 30000, 50000, 100000};
    for (int trees : {10, 50}) {
        std::unique_ptr<Index> index;
        Row &row = bench.build("Annoy", std::to_string(trees) + " trees", [&] {
            index = std::make_unique<Index>(int(d.dim));
            index->set_seed(42);
            for (size_t i = 0; i < d.n; i++)
                index->add_item(int(i), &vectors[i * d.dim]);
            index->build(trees, 1);
        });
        bench.sweep<int>(
            row, search_ks, [](int k) { return "search_k " + std::to_string(k); },
            [&](const int &search_k) -> QueryFn {
                return [&, search_k](const float *q, uint32_t *out) {
                    std::vector<int> ids;
                    index->get_nns_by_vector(q, kK, search_k, &ids, nullptr);
                    for (size_t i = 0; i < ids.size(); i++)
                        out[i] = uint32_t(ids[i]);
                    return ids.size();
                };
            });
    }
}

}  // namespace

void run_annoy(Bench &bench)
{
    const DataSet &d = bench.data();
    if (d.metric == Metric::L2)
        run_trees<Euclidean>(bench, d.base);
    else
        run_trees<Angular>(bench, d.base);  // Annoy's angular: sqrt(2 - 2 cos), the same order as 1 - cos
}

}  // namespace anchors

#else

namespace anchors {

void run_annoy(Bench &bench)
{
    bench.skip("Annoy", "annoylib.h not found (run_anchors.sh unpacks Debian's r-cran-rcppannoy; ANNOY_INCLUDE=DIR)");
}

}  // namespace anchors

#endif
