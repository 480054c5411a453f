--
-- Ordered index scans: exactness on small tables, plans, parameters, the
-- annoy.search_k setting, batches, NULLs and growth by INSERT.
--
-- (Quietly: the extension may exist already, from an earlier file.)
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS annoy;
RESET client_min_messages;
-- Load the library (and with it the annoy.* settings) before using them.
SELECT l2_distance('{0}'::real[], '{0}') AS loaded;

SELECT setseed(0.3);
-- 4-dimensional real vectors and 24-bit strings; every 10th row has NULLs.
CREATE TABLE items (id int PRIMARY KEY, v real[], b bit(24));
INSERT INTO items
SELECT i,
       CASE WHEN i % 10 = 0 THEN NULL
            ELSE array[(random() * 2 - 1)::real, (random() * 2 - 1)::real,
                       (random() * 2 - 1)::real, (random() * 2 - 1)::real] END,
       CASE WHEN i % 10 = 0 THEN NULL
            ELSE (SELECT string_agg(CASE WHEN random() < 0.5 THEN '0' ELSE '1' END, '')
                  FROM generate_series(1, 24) k WHERE i > 0)::bit(24) END
FROM generate_series(1, 120) i;
CREATE INDEX items_l2 ON items USING annoy (v euclidean_ops) WITH (n_trees = 3, leaf_size = 4);
CREATE INDEX items_ang ON items USING annoy (v angular_ops) WITH (n_trees = 3, leaf_size = 4);
CREATE INDEX items_dot ON items USING annoy (v dot_ops) WITH (n_trees = 3, leaf_size = 4);
CREATE INDEX items_l1 ON items USING annoy (v manhattan_ops) WITH (n_trees = 3, leaf_size = 4);
CREATE INDEX items_ham ON items USING annoy (b hamming_ops) WITH (n_trees = 3, leaf_size = 4);
ANALYZE items;

-- Query points.
CREATE TABLE queries (id int PRIMARY KEY, v real[], b bit(24));
INSERT INTO queries
SELECT i,
       array[(random() * 2 - 1)::real, (random() * 2 - 1)::real,
             (random() * 2 - 1)::real, (random() * 2 - 1)::real],
       (SELECT string_agg(CASE WHEN random() < 0.5 THEN '0' ELSE '1' END, '')
        FROM generate_series(1, 24) k WHERE i > 0)::bit(24)
FROM generate_series(1, 10) i;

--
-- annoy.search_k.
--
SHOW annoy.search_k;
SET annoy.search_k = 100000;
SHOW annoy.search_k;
BEGIN;
SET LOCAL annoy.search_k = 7;
SHOW annoy.search_k;
COMMIT;
SHOW annoy.search_k;
BEGIN;
SET LOCAL annoy.search_k = -1;
SHOW annoy.search_k;
ROLLBACK;
SHOW annoy.search_k;
SET annoy.search_k = -2;
SET annoy.search_k = 'abc';
SET annoy.search_k = 1.5e10;
SET annoy.no_such_setting = 1;
SHOW annoy.search_k;
SELECT name, setting, min_val, max_val, context, vartype
FROM pg_settings WHERE name LIKE 'annoy.%' ORDER BY name;

--
-- Plans.
--
SET enable_seqscan = off;
-- ORDER BY distance LIMIT: an index scan, for each operator class.
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY v <-> '{0,0,0,0}' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY v <=> '{1,0,0,0}' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY v <#> '{1,0,0,0}' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY v <+> '{0,0,0,0}' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY b <~> B'000000000000000000000000' LIMIT 5;
-- The operands the other way round (the operators are their own commutators).
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY '{0,0,0,0}' <-> v LIMIT 5;
-- Without LIMIT, and with a WHERE clause the index cannot check.
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY v <-> '{0,0,0,0}';
EXPLAIN (COSTS OFF) SELECT id FROM items WHERE id % 2 = 0 ORDER BY v <-> '{0,0,0,0}' LIMIT 5;
-- Never without ORDER BY <distance>, even with sequential scans disabled:
-- an annoy index cannot answer a WHERE clause or return rows unordered.
EXPLAIN (COSTS OFF) SELECT id FROM items WHERE v = '{0,0,0,0}';
EXPLAIN (COSTS OFF) SELECT v FROM items;
EXPLAIN (COSTS OFF) SELECT count(*) FROM items WHERE b = B'000000000000000000000000';
-- Not for descending order, nor for a distance the index does not know.
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY v <-> '{0,0,0,0}' DESC LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY l2_distance(v, '{0,0,0,0}') + 1 LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY angular_distance(v, '{1,0,0,0}') LIMIT 5;
-- With a query vector from another table: a nested loop with a
-- parameterised index scan (rescanned for each outer row).
EXPLAIN (COSTS OFF)
SELECT q.id, array(SELECT i.id FROM items i ORDER BY i.v <-> q.v LIMIT 3) FROM queries q;

--
-- With search_k far above the table size every item is scored: the index
-- returns the exact nearest neighbours, in order.  Results of the index
-- (enable_seqscan off) against the same queries with index scans disabled.
--
CREATE TEMP TABLE knn_result (mode text, op text, qid int, ids int[], ds float8[]);
CREATE FUNCTION pg_temp.run_knn(mode text) RETURNS void LANGUAGE sql AS $$
INSERT INTO knn_result
SELECT mode, 'l2', q.id, array(SELECT i.id FROM items i ORDER BY i.v <-> q.v LIMIT 10),
       array(SELECT i.v <-> q.v FROM items i ORDER BY i.v <-> q.v LIMIT 10) FROM queries q;
INSERT INTO knn_result
SELECT mode, 'cosine', q.id, array(SELECT i.id FROM items i ORDER BY i.v <=> q.v LIMIT 10),
       array(SELECT i.v <=> q.v FROM items i ORDER BY i.v <=> q.v LIMIT 10) FROM queries q;
INSERT INTO knn_result
SELECT mode, 'dot', q.id, array(SELECT i.id FROM items i ORDER BY i.v <#> q.v LIMIT 10),
       array(SELECT i.v <#> q.v FROM items i ORDER BY i.v <#> q.v LIMIT 10) FROM queries q;
INSERT INTO knn_result
SELECT mode, 'l1', q.id, array(SELECT i.id FROM items i ORDER BY i.v <+> q.v LIMIT 10),
       array(SELECT i.v <+> q.v FROM items i ORDER BY i.v <+> q.v LIMIT 10) FROM queries q;
INSERT INTO knn_result
SELECT mode, 'hamming', q.id, array(SELECT i.id FROM items i ORDER BY i.b <~> q.b LIMIT 10),
       array(SELECT i.b <~> q.b FROM items i ORDER BY i.b <~> q.b LIMIT 10) FROM queries q;
$$;
-- (The function's queries are planned like the statement below.)
EXPLAIN (COSTS OFF)
SELECT q.id, array(SELECT i.b <~> q.b FROM items i ORDER BY i.b <~> q.b LIMIT 10) FROM queries q;
SELECT pg_temp.run_knn('index');
SET enable_seqscan = on;
SET enable_indexscan = off;
EXPLAIN (COSTS OFF)
SELECT q.id, array(SELECT i.b <~> q.b FROM items i ORDER BY i.b <~> q.b LIMIT 10) FROM queries q;
SELECT pg_temp.run_knn('exact');
RESET enable_indexscan;
SET enable_seqscan = off;

-- Same neighbours in the same order (hamming distances tie often, so there
-- only the distances are compared); no NULL vector among them.
SELECT x.op, count(*) AS queries,
       count(*) FILTER (WHERE x.ids = e.ids) AS same_ids,
       count(*) FILTER (WHERE x.ds = e.ds) AS same_distances,
       bool_and(cardinality(x.ids) = 10) AS ten_each,
       bool_and(NOT (x.ids && (SELECT array_agg(id) FROM items WHERE v IS NULL))) AS no_null_rows
FROM knn_result x JOIN knn_result e ON e.op = x.op AND e.qid = x.qid AND e.mode = 'exact'
WHERE x.mode = 'index'
GROUP BY x.op ORDER BY x.op;

-- One of them in full: the index's answer and the exact one.
SELECT id, round((v <-> '{0.1,0.2,0.3,0.4}')::numeric, 5) AS d
FROM items ORDER BY v <-> '{0.1,0.2,0.3,0.4}' LIMIT 5;
SET enable_indexscan = off;
SET enable_seqscan = on;
SELECT id, round((v <-> '{0.1,0.2,0.3,0.4}')::numeric, 5) AS d
FROM items ORDER BY v <-> '{0.1,0.2,0.3,0.4}' LIMIT 5;
RESET enable_indexscan;
SET enable_seqscan = off;

-- The query vector as a parameter: same index plan (also as a generic
-- plan) and same rows.
PREPARE knn_l2(real[]) AS
SELECT id, round((v <-> $1)::numeric, 5) AS d FROM items ORDER BY v <-> $1 LIMIT 5;
EXPLAIN (COSTS OFF) EXECUTE knn_l2('{0.1,0.2,0.3,0.4}');
EXECUTE knn_l2('{0.1,0.2,0.3,0.4}');
SET plan_cache_mode = force_generic_plan;
EXPLAIN (COSTS OFF) EXECUTE knn_l2('{0.1,0.2,0.3,0.4}');
EXECUTE knn_l2('{0.1,0.2,0.3,0.4}');
PREPARE knn_ham(bit) AS SELECT b <~> $1 AS d FROM items ORDER BY b <~> $1 LIMIT 3;
EXPLAIN (COSTS OFF) EXECUTE knn_ham(B'111111111111111111111111');
-- (The fewest zero bits in the table are 5, 6, 7: see below.)
EXECUTE knn_ham(B'111111111111111111111111');
SELECT length(replace(b::text, '1', '')) AS zero_bits FROM items WHERE b IS NOT NULL ORDER BY 1 LIMIT 3;
-- A NULL query through a generic plan: the scan still runs (any order is
-- right, every distance is NULL).
PREPARE knn_null(real[]) AS SELECT v <-> $1 IS NULL AS null_distance FROM items ORDER BY v <-> $1 LIMIT 3;
EXPLAIN (COSTS OFF) EXECUTE knn_null(NULL);
EXECUTE knn_null(NULL);
RESET plan_cache_mode;
DEALLOCATE knn_ham;
DEALLOCATE knn_null;
-- The same through the parameter and the literal, for every query point.
CREATE FUNCTION pg_temp.knn_param(q real[]) RETURNS int[] LANGUAGE plpgsql AS $$
DECLARE r int[];
BEGIN
    EXECUTE 'SELECT array(SELECT id FROM items ORDER BY v <-> $1 LIMIT 10)' INTO r USING q;
    RETURN r;
END $$;
SELECT count(*) AS queries, count(*) FILTER (WHERE pg_temp.knn_param(q.v) = x.ids) AS same_ids
FROM queries q JOIN knn_result x ON x.qid = q.id AND x.op = 'l2' AND x.mode = 'index';

-- A query of the wrong dimension is an error, as a literal or a parameter.
SELECT id FROM items ORDER BY v <-> '{1,2,3}' LIMIT 5;
EXECUTE knn_l2('{1,2,3,4,5}');
SELECT id FROM items ORDER BY b <~> B'101' LIMIT 5;
DEALLOCATE knn_l2;

--
-- LIMIT beyond the table: every row with a non-NULL vector, once, in
-- ascending distance; never a row whose vector is NULL.
--
CREATE FUNCTION pg_temp.full_read(op text, query text,
    OUT n_rows bigint, OUT n_distinct bigint, OUT ascending boolean, OUT null_rows bigint)
LANGUAGE plpgsql AS $$
DECLARE col text := CASE WHEN op = '<~>' THEN 'b' ELSE 'v' END;
BEGIN
    EXECUTE format(
        'SELECT count(*), count(DISTINCT id), bool_and(coalesce(d >= prev, true)),
                count(*) FILTER (WHERE %1$I IS NULL)
         FROM (SELECT id, %1$I, d, lag(d) OVER (ORDER BY n) AS prev
               FROM (SELECT id, %1$I, d, row_number() OVER () AS n
                     FROM (SELECT id, %1$I, %1$I %2$s %3$L AS d FROM items
                           ORDER BY %1$I %2$s %3$L LIMIT 1000) s) s) s',
        col, op, query)
    INTO n_rows, n_distinct, ascending, null_rows;
END $$;
SELECT count(*) AS non_null_rows FROM items WHERE v IS NOT NULL;
SELECT '<->' AS op, * FROM pg_temp.full_read('<->', '{0,0,0,0}')
UNION ALL SELECT '<=>', * FROM pg_temp.full_read('<=>', '{0,1,0,0}')
UNION ALL SELECT '<#>', * FROM pg_temp.full_read('<#>', '{0,0,1,0}')
UNION ALL SELECT '<+>', * FROM pg_temp.full_read('<+>', '{0,0,0,1}')
UNION ALL SELECT '<~>', * FROM pg_temp.full_read('<~>', '000000000000111111111111');
-- The same with the automatic search_k.
RESET annoy.search_k;
SELECT '<->' AS op, * FROM pg_temp.full_read('<->', '{0,0,0,0}')
UNION ALL SELECT '<~>', * FROM pg_temp.full_read('<~>', '000000000000111111111111');

--
-- A table grown by INSERT far past leaf_size: 500 rows into an index built
-- empty with leaf_size 4 and 3 trees, so leaves split many times.
--
CREATE TABLE grow (id int, v real[]);
CREATE INDEX grow_l2 ON grow USING annoy (v) WITH (n_trees = 3, leaf_size = 4, seed = 5);
INSERT INTO grow SELECT i, array[(random() * 100)::real, (random() * 100)::real, (random() * 100)::real]
FROM generate_series(1, 250) i;
INSERT INTO grow SELECT i, array[(random() * 100)::real, (random() * 100)::real, (random() * 100)::real]
FROM generate_series(251, 500) i;
-- The whole index through a scan: all 500, each once, with a large
-- search_k (one batch, exact order), the automatic one, and a tiny one
-- (many batches of 10 items).
SET annoy.search_k = 100000;
SELECT count(*) AS n, count(DISTINCT id) AS n_distinct, bool_and(coalesce(d >= prev, true)) AS ascending
FROM (SELECT id, d, lag(d) OVER (ORDER BY n) AS prev
      FROM (SELECT id, d, row_number() OVER () AS n
            FROM (SELECT id, v <-> '{50,50,50}' AS d FROM grow ORDER BY v <-> '{50,50,50}' LIMIT 1000) s) s) s;
RESET annoy.search_k;
SELECT count(*) AS n, count(DISTINCT id) AS n_distinct
FROM (SELECT id FROM grow ORDER BY v <-> '{0,0,0}' LIMIT 1000) s;
SET annoy.search_k = 10;
SELECT count(*) AS n, count(DISTINCT id) AS n_distinct
FROM (SELECT id FROM grow ORDER BY v <-> '{100,0,100}' LIMIT 1000) s;
-- Without LIMIT too.
SELECT count(*) AS n, count(DISTINCT id) AS n_distinct
FROM (SELECT id FROM grow ORDER BY v <-> '{100,0,100}') s;
EXPLAIN (COSTS OFF) SELECT id FROM grow ORDER BY v <-> '{100,0,100}';

-- The nearest neighbours after all those splits are still exact with a
-- large search_k: compare with a sort.
SET annoy.search_k = 100000;
CREATE TEMP TABLE grow_knn AS
SELECT array(SELECT id FROM grow ORDER BY v <-> '{25,75,40}' LIMIT 15) AS via_index;
SET enable_indexscan = off;
SET enable_seqscan = on;
SELECT via_index = array(SELECT id FROM grow ORDER BY v <-> '{25,75,40}' LIMIT 15) AS same,
       cardinality(via_index) AS n
FROM grow_knn;
RESET enable_indexscan;
SET enable_seqscan = off;

-- A filter that rejects most rows, with a small search_k: the scan goes on
-- past its first batch until LIMIT rows pass the filter.
SET annoy.search_k = 10;
EXPLAIN (COSTS OFF) SELECT id FROM grow WHERE id % 7 = 0 ORDER BY v <-> '{50,50,50}' LIMIT 20;
SELECT count(*) AS n, count(DISTINCT id) AS n_distinct, bool_and(id % 7 = 0) AS all_pass
FROM (SELECT id FROM grow WHERE id % 7 = 0 ORDER BY v <-> '{50,50,50}' LIMIT 20) s;
-- Asking for more than pass the filter returns all that pass (500 / 7 = 71).
SELECT count(*) AS n, count(DISTINCT id) AS n_distinct
FROM (SELECT id FROM grow WHERE id % 7 = 0 ORDER BY v <-> '{50,50,50}' LIMIT 100) s;
-- Only one row passes.
SELECT id FROM grow WHERE id = 333 ORDER BY v <-> '{50,50,50}' LIMIT 5;
-- None passes.
SELECT id FROM grow WHERE id < 0 ORDER BY v <-> '{50,50,50}' LIMIT 5;

-- Rows deleted and vacuumed away are no longer returned; new rows are.
DELETE FROM grow WHERE id > 100;
VACUUM grow;
SELECT count(*) AS n, count(DISTINCT id) AS n_distinct, max(id) AS max_id
FROM (SELECT id FROM grow ORDER BY v <-> '{50,50,50}' LIMIT 1000) s;
INSERT INTO grow SELECT i, array[i, i, i]::real[] FROM generate_series(1001, 1050) i;
SELECT count(*) AS n, count(DISTINCT id) AS n_distinct
FROM (SELECT id FROM grow ORDER BY v <-> '{50,50,50}' LIMIT 1000) s;
SET annoy.search_k = 100000;
-- From (1024.25,1024.25,1024.25): row 1024 at sqrt(3) * 0.25 = 0.4330, row
-- 1025 at sqrt(3) * 0.75 = 1.2990, row 1023 at sqrt(3) * 1.25 = 2.1651.
SELECT id, round((v <-> '{1024.25,1024.25,1024.25}')::numeric, 4) AS d
FROM grow ORDER BY v <-> '{1024.25,1024.25,1024.25}' LIMIT 3;

RESET annoy.search_k;
RESET enable_seqscan;
DROP TABLE items, queries, grow;
