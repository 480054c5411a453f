--
-- Builds larger than maintenance_work_mem: the vectors are spilled to the
-- index's pages and the trees built part by part with bounded memory.  The
-- result must be as complete and as accurate as an in-memory build.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS annoy;
RESET client_min_messages;

SELECT setseed(0.42);
CREATE TABLE bb (id int PRIMARY KEY, v real[]);
ALTER TABLE bb ALTER COLUMN v SET STORAGE PLAIN;
-- 20,000 x 32 floats = 2.5 MB of vectors, in clusters.
INSERT INTO bb
SELECT i, ARRAY(SELECT (i % 50)::real + (random() - 0.5)::real * 4 FROM generate_series(1, 32) WHERE i > 0)
FROM generate_series(1, 20000) i;

CREATE TABLE bb2 AS SELECT * FROM bb;

SET maintenance_work_mem = '1MB';
\set VERBOSITY terse
CREATE INDEX bb_small ON bb USING annoy (v) WITH (n_trees = 4, leaf_size = 16);
\set VERBOSITY default
RESET maintenance_work_mem;
CREATE INDEX bb_big ON bb2 USING annoy (v) WITH (n_trees = 4, leaf_size = 16);

SELECT annoy_check('bb_small');
SELECT items, n_trees, leaves > 20000 / 16 AS enough_leaves, max_depth < 40 AS shallow
FROM annoy_index_info('bb_small');

-- Every row once through the bounded-memory index.
SET enable_seqscan = off;
SET annoy.search_k = 100000;
SELECT count(*) AS returned, count(DISTINCT id) AS distinct_ids
FROM (SELECT id FROM bb ORDER BY v <-> (SELECT v FROM bb WHERE id = 1) LIMIT 30000) s;

-- Recall@10 on 20 queries at a moderate search_k, for both builds, against
-- the exact answer (ties at the 10th distance count as hits).
SET annoy.search_k = 300;
CREATE TEMP TABLE q AS SELECT id, v FROM bb WHERE id % 1000 = 7;
SET enable_indexscan = off;
SET enable_seqscan = on;
CREATE TEMP TABLE exact AS
SELECT q.id AS qid, max(n.d) AS d10
FROM q CROSS JOIN LATERAL (SELECT v <-> q.v AS d FROM bb ORDER BY 1 LIMIT 10) n GROUP BY q.id;
RESET enable_indexscan;
SET enable_seqscan = off;
CREATE FUNCTION pg_temp.recall(tbl text) RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE r numeric;
BEGIN
    EXECUTE format($q$
        SELECT avg(hits) / 10 FROM (
            SELECT (SELECT count(*) FROM (SELECT v <-> q.v AS d FROM %1$I ORDER BY v <-> q.v LIMIT 10) n
                    WHERE n.d <= e.d10 * (1 + 1e-6)) AS hits
            FROM q JOIN exact e ON e.qid = q.id) s$q$, tbl) INTO r;
    RETURN r;
END $$;
EXPLAIN (COSTS OFF) SELECT id FROM bb ORDER BY v <-> (SELECT v FROM q LIMIT 1) LIMIT 10;
SELECT pg_temp.recall('bb') >= 0.9 AS small_recall_ok,
       pg_temp.recall('bb2') >= 0.9 AS big_recall_ok,
       abs(pg_temp.recall('bb') - pg_temp.recall('bb2')) <= 0.05 AS similar;

-- Inserts and VACUUM work on a bounded-memory build like on any other.
INSERT INTO bb SELECT i, ARRAY(SELECT (i % 50)::real FROM generate_series(1, 32)) FROM generate_series(20001, 20500) i;
DELETE FROM bb WHERE id % 3 = 0;
VACUUM bb;
SELECT annoy_check('bb_small');
SET annoy.search_k = 100000;
SELECT count(*) = (SELECT count(*) FROM bb) AS all_live_rows
FROM (SELECT id FROM bb ORDER BY v <-> (SELECT v FROM bb WHERE id = 1) LIMIT 30000) s;
DROP TABLE bb, bb2;
