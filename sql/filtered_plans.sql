--
-- The planner's choice for filtered nearest-neighbour queries (cost.cpp):
-- a WHERE condition on a filter column of a multi-column annoy index is an
-- index qual, and the scan walks about 1 / selectivity times as many leaf
-- entries to find its candidates.  A filter passing many rows keeps the annoy
-- scan; one passing very few goes to a btree on the column and a sort of the
-- matching rows; queries without a filter are planned as before.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS annoy;
RESET client_min_messages;

-- 20,000 32-dimensional vectors (deterministic) in 50 clusters of 400
-- consecutive ids, and filter columns passing 50%, 10%, 1% and 0.02% of the
-- rows (of every cluster alike).
CREATE TABLE fp (id int PRIMARY KEY, v real[], half int, tenth int, hundredth int, rare int, other int);
ALTER TABLE fp ALTER COLUMN v SET STORAGE PLAIN;
INSERT INTO fp
SELECT i, ARRAY(SELECT (3 * sin(i / 400 * 1.3 + k) + 0.5 * sin(i * 0.37 + k * 1.91 + (i % 97) * k))::real
                FROM generate_series(1, 32) k),
       i % 2, i % 10, i % 100, i % 5000, i % 10
FROM generate_series(1, 20000) i;
CREATE INDEX fp_annoy ON fp USING annoy (v, half, tenth, hundredth, rare) WITH (n_trees = 5);
CREATE INDEX fp_rare ON fp (rare);
ANALYZE fp;
-- A budget small next to the table, as on large tables: at the automatic
-- budget a scan of these 20,000 rows would gather more candidates than 10%
-- of them, walk the whole forest, and lose to the sequential scan.
SET annoy.search_k = 100;
\set q '\'{0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0}\''

-- No filter: the annoy scan, as without filter columns.
EXPLAIN (COSTS OFF) SELECT id FROM fp ORDER BY v <-> :q LIMIT 10;
-- 50%, 10% and 1%: the annoy scan applies the filter (Index Cond).
EXPLAIN (COSTS OFF) SELECT id FROM fp WHERE half = 1 ORDER BY v <-> :q LIMIT 10;
EXPLAIN (COSTS OFF) SELECT id FROM fp WHERE tenth = 3 ORDER BY v <-> :q LIMIT 10;
EXPLAIN (COSTS OFF) SELECT id FROM fp WHERE hundredth = 3 ORDER BY v <-> :q LIMIT 10;
-- = ANY on a filter column (20%): an index condition too (PostgreSQL 15
-- leaves it out of ordered paths on later columns; array_paths.cpp puts it
-- back, costed like the others).
EXPLAIN (COSTS OFF) SELECT id FROM fp WHERE tenth = ANY('{3,4}') ORDER BY v <-> :q LIMIT 10;
-- 0.02% (4 rows) with a btree on the column: the btree and a sort of its rows.
EXPLAIN (COSTS OFF) SELECT id FROM fp WHERE rare = 7 ORDER BY v <-> :q LIMIT 10;
-- A condition on a column the annoy index does not hold stays a Filter.
EXPLAIN (COSTS OFF) SELECT id FROM fp WHERE other = 3 ORDER BY v <-> :q LIMIT 10;

-- The answers the planned scans give, at the automatic budget, for a query
-- next to row 1234: every row passes the filter, and at least 8 of the 10
-- (all of the 4 rare ones) are the exact filtered answer's (computed with
-- index scans off).
RESET annoy.search_k;
SELECT array_agg(x + 0.01)::text AS near FROM unnest((SELECT v FROM fp WHERE id = 1234)) x \gset
SET enable_indexscan = off;
CREATE TEMP TABLE exact AS
SELECT f, array(SELECT id FROM fp WHERE (f = 'half' AND half = 1) OR (f = 'tenth' AND tenth = 3)
                   OR (f = 'rare' AND rare = 7)
                ORDER BY v <-> :'near', id LIMIT 10) AS ids
FROM unnest('{half,tenth,rare}'::text[]) f;
RESET enable_indexscan;
SELECT f, (SELECT count(*) FROM unnest(ids)) AS n FROM exact ORDER BY f;
SELECT 'half' AS f, count(*) AS rows, count(*) FILTER (WHERE half = 1) AS passing,
       count(*) FILTER (WHERE id = ANY((SELECT ids FROM exact WHERE f = 'half')::int[])) >= 8 AS recall_ok
FROM (SELECT id, half FROM fp WHERE half = 1 ORDER BY v <-> :'near' LIMIT 10) s
UNION ALL
SELECT 'tenth', count(*), count(*) FILTER (WHERE tenth = 3),
       count(*) FILTER (WHERE id = ANY((SELECT ids FROM exact WHERE f = 'tenth')::int[])) >= 8
FROM (SELECT id, tenth FROM fp WHERE tenth = 3 ORDER BY v <-> :'near' LIMIT 10) s
UNION ALL
SELECT 'rare', count(*), count(*) FILTER (WHERE rare = 7),
       count(*) FILTER (WHERE id = ANY((SELECT ids FROM exact WHERE f = 'rare')::int[])) = 4
FROM (SELECT id, rare FROM fp WHERE rare = 7 ORDER BY v <-> :'near' LIMIT 10) s;

-- Without the btree the very selective filter has the annoy scan or a
-- sequential scan, whichever is cheaper; either way the answer is exact.
DROP INDEX fp_rare;
EXPLAIN (COSTS OFF) SELECT id FROM fp WHERE rare = 7 ORDER BY v <-> :q LIMIT 10;
SELECT count(*) AS rows, count(*) FILTER (WHERE rare = 7) AS passing
FROM (SELECT id, rare FROM fp WHERE rare = 7 ORDER BY v <-> :'near' LIMIT 10) s;

DROP TABLE fp;
