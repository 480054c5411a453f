#!/usr/bin/python3
"""Serving one annoy index to many client processes.

Annoy's guides share one index between processes by mmap-ing its file; in
PostgreSQL the index lives in shared buffers, which every backend reads.
This example loads Fashion-MNIST images, builds one index, then:
  1. runs the same queries from 1, 2 and 4 client processes (one connection
     each) and prints queries/s, and how much of the index is in shared
     buffers (pg_buffercache) next to each backend's private memory: the
     index is held once, however many clients read it;
  2. rebuilds the index blue-green with REINDEX INDEX CONCURRENTLY while two
     client processes keep querying: the old index serves until the new one
     is swapped in.
Checks (exit status 1 when one fails): every client query succeeds; every
client gets the same answers as a single client; the index's buffers do
not grow with the number of clients; the rebuild replaced the index's file,
no query failed during it, and the answers after it equal those before.
Figures (queries/s) are printed, never checked.

    /usr/bin/python3 test/examples/python/serving.py [N_TRAIN (10000)] [N_QUERIES (100)]

Connection: the usual PG* environment variables (libpq reads them); needs
the contrib extension pg_buffercache.
"""
import multiprocessing as mp
import os
import sys
import time

from vectors import connect, copy_vectors, fashion, short_plan, verdict

KNN = "SELECT id FROM fashion ORDER BY embedding <-> %(q)b LIMIT 10"


def client(queries, rounds, out):
    """Answers `queries` `rounds` times on a connection of its own; sends
    back its answers (of the first round), errors, elapsed time and the
    backend's private memory."""
    errors, answers = [], []
    with connect() as conn, conn.cursor() as cur:
        t = time.perf_counter()
        for r in range(rounds):
            for q in queries:
                try:
                    ids = [row[0] for row in cur.execute(KNN, {"q": q}, prepare=True)]
                except Exception as e:  # a failed query is what this checks for
                    errors.append(str(e))
                    continue
                if r == 0:
                    answers.append(ids)
        elapsed = time.perf_counter() - t
        private = cur.execute("SELECT sum(total_bytes) FROM pg_backend_memory_contexts").fetchone()[0]
    out.put((answers, errors, elapsed, int(private)))


def until_stopped(queries, stop, out):
    """Answers `queries` in a loop until `stop` is set; sends back every
    answer with the time it was received, and the errors."""
    errors, answers = [], []
    with connect() as conn, conn.cursor() as cur:
        while not stop.is_set():
            for i, q in enumerate(queries):
                try:
                    answers.append((time.time(), i, [row[0] for row in cur.execute(KNN, {"q": q}, prepare=True)]))
                except Exception as e:
                    errors.append(str(e))
    out.put((answers, errors))


def index_buffers(conn):
    """Blocks of the index in shared buffers, and the index's size in blocks."""
    return conn.execute("""
        SELECT (SELECT count(*) FROM pg_buffercache
                WHERE relfilenode = pg_relation_filenode('fashion_embedding_idx') AND relforknumber = 0
                  AND reldatabase = (SELECT oid FROM pg_database WHERE datname = current_database())),
               pg_relation_size('fashion_embedding_idx') / current_setting('block_size')::int""").fetchone()


def main(argv):
    n_train = int(argv[0]) if argv else 10000
    n_queries = int(argv[1]) if len(argv) > 1 else 100
    train, labels = fashion("train", n_train)
    queries, _ = fashion("t10k", n_queries)
    failures = []
    ctx = mp.get_context("spawn")

    with connect() as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS annoy")
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_buffercache")
        copy_vectors(conn, "fashion", train, labels)
        conn.execute("CREATE INDEX fashion_embedding_idx ON fashion USING annoy (embedding)")
        conn.execute("ANALYZE fashion")
        with conn.cursor() as cur:
            print(f"{n_train} images, {n_queries} query images; plan:", short_plan(cur, KNN, {"q": queries[0]}))
        size, shared_buffers = conn.execute("SELECT pg_size_pretty(pg_relation_size('fashion_embedding_idx')), "
                                            "current_setting('shared_buffers')").fetchone()
        print(f"index: {size}, shared_buffers = {shared_buffers}; load average {os.getloadavg()[0]:.1f} "
              f"on {os.cpu_count()} cores")

        # 1. 1, 2 and 4 client processes, each answering every query twice.
        reference = None
        buffers_seen = []
        print("\nclients  queries/s  index blocks in shared buffers / index blocks  private memory per backend")
        for n in (1, 2, 4):
            out = ctx.Queue()
            procs = [ctx.Process(target=client, args=(queries, 2, out)) for _ in range(n)]
            t = time.perf_counter()
            for p in procs:
                p.start()
            results = [out.get() for _ in procs]
            wall = time.perf_counter() - t
            for p in procs:
                p.join()
            for answers, errors, _, _ in results:
                if errors:
                    failures.append(f"{n} clients: {len(errors)} queries failed: {errors[0]}")
                if reference is None:
                    reference = answers
                elif answers != reference:
                    failures.append(f"{n} clients: a client got other answers than the single client")
            in_buffers, blocks = index_buffers(conn)
            buffers_seen.append(in_buffers)
            private = max(r[3] for r in results)
            print(f"{n:7d}  {n * 2 * n_queries / wall:9.0f}  {in_buffers:>14d} / {blocks:<13d}  "
                  f"{private / 2**20:.1f} MB")
            if in_buffers > blocks:
                failures.append(f"{n} clients: {in_buffers} buffers of an index of {blocks} blocks")
        if buffers_seen[-1] > buffers_seen[0] * 1.05 + 8:
            failures.append(f"the index's buffers grew with the clients: {buffers_seen}")

        # 2. Blue-green rebuild under load.
        before = conn.execute("SELECT pg_relation_filenode('fashion_embedding_idx')").fetchone()[0]
        stop = ctx.Event()
        out = ctx.Queue()
        procs = [ctx.Process(target=until_stopped, args=(queries, stop, out)) for _ in range(2)]
        for p in procs:
            p.start()
        time.sleep(0.5)
        t0 = time.time()
        conn.execute("REINDEX INDEX CONCURRENTLY fashion_embedding_idx")
        t1 = time.time()
        time.sleep(0.5)
        stop.set()
        results = [out.get() for _ in procs]
        for p in procs:
            p.join()
        after = conn.execute("SELECT pg_relation_filenode('fashion_embedding_idx')").fetchone()[0]
        answers = [a for r in results for a in r[0]]
        errors = [e for r in results for e in r[1]]
        during = sum(1 for ts, _, _ in answers if t0 <= ts <= t1)
        after_rebuild = [(i, ids) for ts, i, ids in answers if ts > t1]
        differ = sum(1 for ts, i, ids in answers if ids != reference[i])
        print(f"\nREINDEX INDEX CONCURRENTLY under 2 querying clients: {t1 - t0:.2f} s, index file "
              f"{before} -> {after}; {len(answers)} queries answered ({during} during the rebuild, "
              f"{len(after_rebuild)} after it), {len(errors)} failed, {differ} answers differ from before")
        if after == before:
            failures.append("REINDEX INDEX CONCURRENTLY did not replace the index's file")
        if errors:
            failures.append(f"{len(errors)} queries failed during the rebuild: {errors[0]}")
        if not after_rebuild:
            failures.append("no query ran on the rebuilt index")
        if differ:
            failures.append(f"{differ} answers during or after the rebuild differ from those before it")
        in_buffers, blocks = index_buffers(conn)
        print(f"rebuilt index: {in_buffers} of its {blocks} blocks in shared buffers")

    return verdict("serving example", failures)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
