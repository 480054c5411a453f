#!/usr/bin/python3
"""annoy from Python: psycopg 3 and numpy.

Loads Fashion-MNIST images (Debian package dataset-fashion-mnist) into numpy,
bulk-loads them with a binary COPY, builds an annoy index, and answers
k-nearest-neighbour queries whose parameter is a numpy array, through a
prepared statement.  Checks (exit status 1 when one fails):
  - a vector read back from the table equals the numpy array it came from;
  - the query is a prepared statement (pg_prepared_statements) and uses the index;
  - an exact scan in the server agrees with a brute-force search in numpy
    (same 10 nearest distances for every query);
  - recall@10 of the index against the exact scan >= 0.95 (automatic search_k).

    /usr/bin/python3 test/examples/psycopg/fashion_recall.py [N_TRAIN (10000)] [N_QUERIES (50)]

Connection: the usual PG* environment variables (libpq reads them).
"""
import sys
import time

import numpy as np

from vectors import connect, copy_vectors, fashion, short_plan, verdict


def main(argv):
    n_train = int(argv[0]) if argv else 10000
    n_queries = int(argv[1]) if len(argv) > 1 else 50
    train, labels = fashion("train", n_train)
    queries, _ = fashion("t10k", n_queries)
    failures = []

    with connect() as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS annoy")
        t = time.perf_counter()
        copy_vectors(conn, "fashion", train, labels)
        load_s = time.perf_counter() - t
        t = time.perf_counter()
        conn.execute("CREATE INDEX fashion_embedding_idx ON fashion USING annoy (embedding)")
        conn.execute("ANALYZE fashion")
        build_s = time.perf_counter() - t
        size = conn.execute("SELECT pg_size_pretty(pg_relation_size('fashion_embedding_idx'))").fetchone()[0]
        print(f"binary COPY of {n_train} images x 784: {load_s:.2f} s; CREATE INDEX ... USING annoy: "
              f"{build_s:.2f} s ({size})")

        with conn.cursor(binary=True) as cur:
            back = cur.execute("SELECT embedding FROM fashion WHERE id = %s", (123,)).fetchone()[0]
        same = isinstance(back, np.ndarray) and back.dtype == np.float32 and np.array_equal(back, train[123])
        print(f"vector read back as numpy {back.dtype}[{back.size}] equals the loaded array: {same}")
        if not same:
            failures.append("the vector read back differs from the numpy array loaded")

        knn = "SELECT id, embedding <-> %(q)b AS distance FROM fashion ORDER BY embedding <-> %(q)b LIMIT 10"
        exact = "SELECT id, l2_distance(embedding, %(q)b) AS distance FROM fashion ORDER BY 2, id LIMIT 10"
        with conn.cursor() as cur:
            plan = short_plan(cur, knn, {"q": queries[0]})
            print("plan:", plan)
            if "Index Scan using fashion_embedding_idx" not in plan:
                failures.append("the kNN query does not use the index:\n" + plan)

            def run(sql):
                rows, t0 = [], time.perf_counter()
                for q in queries:
                    rows.append(cur.execute(sql, {"q": q}, prepare=True).fetchall())
                return rows, n_queries / (time.perf_counter() - t0)

            by_index, index_qps = run(knn)
            by_exact, exact_qps = run(exact)
            prepared = cur.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE "
                                   "'%%FROM fashion ORDER BY%%'").fetchone()[0]
        print(f"prepared statements on the server: {prepared}")
        if prepared != 2:
            failures.append(f"expected the two queries as prepared statements, found {prepared}")

    # Brute force in numpy: the server's exact scan must find the same distances.
    d2 = (queries ** 2).sum(1)[:, None] - 2 * queries @ train.T + (train ** 2).sum(1)[None, :]
    numpy_top = np.sort(np.sqrt(np.maximum(d2, 0)), axis=1)[:, :10]
    server_top = np.array([[r[1] for r in rows] for rows in by_exact])
    agree = np.allclose(numpy_top, server_top, rtol=1e-4, atol=1e-2)
    print(f"exact scan = numpy brute force (10 nearest distances, {n_queries} queries): {agree}")
    if not agree:
        failures.append("the server's exact scan and numpy's brute force disagree")

    recall = np.mean([len({r[0] for r in a} & {r[0] for r in b}) / 10 for a, b in zip(by_index, by_exact)])
    print(f"recall@10 against the exact scan: {recall:.3f}; queries/s: index {index_qps:.0f}, "
          f"exact scan {exact_qps:.0f} (prepared, numpy array parameters)")
    if recall < 0.95:
        failures.append(f"recall@10 {recall:.3f} < 0.95")

    return verdict("psycopg example", failures)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
