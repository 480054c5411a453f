-- Degenerate data and every documented option (issue: never crash, hang or
-- mis-order).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS annoy;
RESET client_min_messages;
\i sql/regress_helpers.psql
SET client_min_messages = warning;
SET enable_seqscan = off;
SET annoy.search_k = 100000;

-- Exact order at extreme magnitudes: the index ranks with the operators'
-- own double-precision fallback (elements near 1e20 overflow a float sum of
-- squares, near 1e-25 they underflow to 0).
SELECT setseed(0.11);
CREATE TABLE extreme (id int, big real[], tiny real[]);
INSERT INTO extreme
SELECT i, ARRAY(SELECT (random() * 1e20)::real FROM generate_series(1, 8) WHERE i IS NOT NULL),
          ARRAY(SELECT (random() * 1e-25)::real FROM generate_series(1, 8) WHERE i IS NOT NULL)
  FROM generate_series(1, 300) i;
CREATE INDEX extreme_big_l2 ON extreme USING annoy (big) WITH (n_trees = 2, leaf_size = 8);
CREATE INDEX extreme_big_cos ON extreme USING annoy (big angular_ops) WITH (n_trees = 2, leaf_size = 8);
CREATE INDEX extreme_big_dot ON extreme USING annoy (big dot_ops) WITH (n_trees = 2, leaf_size = 8);
CREATE INDEX extreme_tiny_l2 ON extreme USING annoy (tiny) WITH (n_trees = 2, leaf_size = 8);
CREATE INDEX extreme_tiny_cos ON extreme USING annoy (tiny angular_ops) WITH (n_trees = 2, leaf_size = 8);
CREATE INDEX extreme_tiny_dot ON extreme USING annoy (tiny dot_ops) WITH (n_trees = 2, leaf_size = 8);
SELECT 'big' AS col, i AS index, (c).*
  FROM unnest(ARRAY['extreme_big_l2', 'extreme_big_cos', 'extreme_big_dot']) i,
       LATERAL pg_temp.check_scan(i::regclass, (SELECT big::text FROM extreme WHERE id = 1)) c;
SELECT 'tiny' AS col, i AS index, (c).*
  FROM unnest(ARRAY['extreme_tiny_l2', 'extreme_tiny_cos', 'extreme_tiny_dot']) i,
       LATERAL pg_temp.check_scan(i::regclass, (SELECT tiny::text FROM extreme WHERE id = 1)) c;

-- A denormal angular row at distance 0 comes first, as the operator says.
CREATE TABLE denormal (id int, v real[]);
INSERT INTO denormal VALUES (1, '{1e-45,0,0,0}'), (2, '{1,1,0,0}'), (3, '{0,1,0,0}'), (4, '{1,0,1,1}'),
                            (5, '{1,0.1,0,0}');
CREATE INDEX denormal_v ON denormal USING annoy (v angular_ops) WITH (n_trees = 1, leaf_size = 2);
SELECT id, v <=> '{1,0,0,0}' AS d FROM denormal ORDER BY v <=> '{1,0,0,0}' LIMIT 5;
SELECT (pg_temp.check_scan('denormal_v', '{1,0,0,0}')).*;

-- Identical vectors: a leaf no hyperplane divides is split at random and
-- later rows on the plane spread over both sides, so 8,000 inserts of one
-- vector keep the tree shallow (depth about log2 of the leaves) and each
-- insert reads about as many pages as the first ones did.
CREATE TABLE dup (id int, v real[], b bit(16));
CREATE INDEX dup_v ON dup USING annoy (v) WITH (n_trees = 1, leaf_size = 2);
CREATE INDEX dup_b ON dup USING annoy (b) WITH (n_trees = 1, leaf_size = 2);
CREATE FUNCTION pg_temp.insert_hits(first int, n int) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    plan json;
BEGIN
    EXECUTE format($q$EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, FORMAT JSON)
                   INSERT INTO dup SELECT i, '{1,2,3}', B'1010101010101010' FROM generate_series(%s, %s) i$q$,
                   first, first + n - 1) INTO plan;
    RETURN (plan -> 0 -> 'Plan' ->> 'Shared Hit Blocks')::bigint;
END $$;
CREATE TEMP TABLE hits AS SELECT pg_temp.insert_hits(1, 1000) AS early;
INSERT INTO dup SELECT i, '{1,2,3}', B'1010101010101010' FROM generate_series(1001, 7000) i;
ALTER TABLE hits ADD late bigint;
UPDATE hits SET late = pg_temp.insert_hits(7001, 1000);
SELECT late < 2 * early AS insert_cost_flat FROM hits;
SELECT i, max_depth <= 40 AS shallow, items FROM unnest(ARRAY['dup_v', 'dup_b']) i, annoy_index_info(i::regclass);
SELECT annoy_check('dup_v'), annoy_check('dup_b');
SELECT count(*) FROM (SELECT id FROM dup ORDER BY v <-> '{1,2,3}' LIMIT 10000) s;
REINDEX INDEX dup_v;
SELECT max_depth <= 40 AS shallow FROM annoy_index_info('dup_v');

-- Every option value in the documented range works, or is refused up front
-- with 22023 and the limit.
CREATE TABLE opt (id int, v real[]);
INSERT INTO opt SELECT i, ARRAY(SELECT random()::real FROM generate_series(1, 64) WHERE i IS NOT NULL)
  FROM generate_series(1, 2000) i;
-- large leaves at 64 dimensions: automatic sketches shrink to fit a page
CREATE INDEX opt_320 ON opt USING annoy (v) WITH (leaf_size = 320, n_trees = 2);
CREATE INDEX opt_1000 ON opt USING annoy (v) WITH (leaf_size = 1000, n_trees = 2);
SELECT i, leaf_size, sketch_bits, items FROM unnest(ARRAY['opt_320', 'opt_1000']) i, annoy_index_info(i::regclass);
SELECT annoy_check('opt_320'), annoy_check('opt_1000');
DROP INDEX opt_1000;
SELECT (pg_temp.check_scan('opt_320', (SELECT v::text FROM opt WHERE id = 5))).*;
-- explicit sketches that cannot fit are refused before any work
SELECT pg_temp.sqlstate_of($$CREATE INDEX ON opt USING annoy (v) WITH (leaf_size = 1000, sketch_bits = 128)$$);
SELECT pg_temp.sqlstate_of($$CREATE INDEX ON opt USING annoy (v dot_ops) WITH (leaf_size = 106, sketch_bits = 512)$$);
CREATE INDEX opt_e512 ON opt USING annoy (v) WITH (leaf_size = 106, sketch_bits = 512, n_trees = 1);
SELECT sketch_bits FROM annoy_index_info('opt_e512');
-- the extremes of the other options
CREATE TABLE opt_few AS SELECT * FROM opt WHERE id <= 100;
CREATE INDEX opt_many ON opt_few USING annoy (v) WITH (n_trees = 1000, leaf_size = 2, seed = 2147483647);
SELECT n_trees, leaf_size, seed, items FROM annoy_index_info('opt_many');
SELECT annoy_check('opt_many');
-- built empty with large leaves, then filled, then rebuilt
CREATE TABLE opt_empty (id int, v real[]);
CREATE INDEX opt_empty_v ON opt_empty USING annoy (v) WITH (leaf_size = 1000);
INSERT INTO opt_empty SELECT id, v FROM opt;
SELECT annoy_check('opt_empty_v');
REINDEX INDEX opt_empty_v;
SELECT leaf_size, sketch_bits, items FROM annoy_index_info('opt_empty_v');
SELECT annoy_check('opt_empty_v');

-- sketch_bits given explicitly is honoured at any dimension for the
-- operator classes with sketches, and refused for the others.
CREATE TABLE small (id int, v real[], b bit(32));
INSERT INTO small SELECT i, ARRAY(SELECT random()::real FROM generate_series(1, 32) WHERE i IS NOT NULL), B'1'::bit(32) >> (i % 32)
  FROM generate_series(1, 500) i;
CREATE INDEX small_64 ON small USING annoy (v) WITH (sketch_bits = 64);
CREATE INDEX small_auto ON small USING annoy (v);
SELECT i, sketch_bits FROM unnest(ARRAY['small_64', 'small_auto']) i, annoy_index_info(i::regclass);
SELECT annoy_check('small_64');
DROP INDEX small_auto;
SELECT (pg_temp.check_scan('small_64', (SELECT v::text FROM small WHERE id = 3))).*;
SELECT pg_temp.sqlstate_of($$CREATE INDEX ON small USING annoy (v manhattan_ops) WITH (sketch_bits = 64)$$);
SELECT pg_temp.sqlstate_of($$CREATE INDEX ON small USING annoy (b) WITH (sketch_bits = 64)$$);
-- an empty table cannot give sketches a centre: said, and documented
CREATE TABLE small_empty (id int, v real[]);
SET client_min_messages = notice;
CREATE INDEX small_empty_v ON small_empty USING annoy (v) WITH (sketch_bits = 64);
SET client_min_messages = warning;

DROP TABLE extreme, denormal, dup, opt, opt_few, opt_empty, small, small_empty;
