--
-- Sketches: which indexes get them, the sketch_bits option, and scans that
-- rank candidates by sketch (annoy.sketch_factor) staying exact where they
-- must be and finding the neighbours they should, through inserts, VACUUM
-- and filters.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS annoy;
RESET client_min_messages;
\i sql/regress_helpers.psql
SELECT l2_distance('{0}'::real[], '{0}') AS loaded;

-- 64-dimensional vectors around 40 centres, off the origin (the Euclidean
-- sketch's centre must matter), and 20 query vectors from the same mixture.
SELECT setseed(0.42);
CREATE TABLE centres AS
SELECT c, array(SELECT (random() * 4 + 1)::real FROM generate_series(1, 64)) AS v
FROM generate_series(0, 39) c;
CREATE FUNCTION pg_temp.near_centre(c int) RETURNS real[] LANGUAGE sql AS $$
    SELECT array_agg(x + (random() - 0.5)::real ORDER BY k)
    FROM unnest((SELECT v FROM centres WHERE centres.c = near_centre.c)) WITH ORDINALITY AS u(x, k)
$$;
CREATE TABLE s (id int PRIMARY KEY, v real[]);
INSERT INTO s SELECT i, pg_temp.near_centre(i % 40) FROM generate_series(1, 3000) i;
CREATE TABLE q (id int PRIMARY KEY, v real[]);
INSERT INTO q SELECT i, pg_temp.near_centre((i * 7) % 40) FROM generate_series(1, 20) i;
ANALYZE s;

CREATE INDEX s_l2 ON s USING annoy (v euclidean_ops) WITH (n_trees = 4, leaf_size = 32);
CREATE INDEX s_cos ON s USING annoy (v angular_ops) WITH (n_trees = 4, leaf_size = 32);
CREATE INDEX s_dot ON s USING annoy (v dot_ops) WITH (n_trees = 4, leaf_size = 32);
CREATE INDEX s_l1 ON s USING annoy (v manhattan_ops) WITH (n_trees = 4, leaf_size = 32);
CREATE INDEX s_l2_none ON s USING annoy (v euclidean_ops) WITH (n_trees = 4, leaf_size = 32, sketch_bits = 0);
CREATE INDEX s_l2_256 ON s USING annoy (v euclidean_ops) WITH (n_trees = 4, leaf_size = 32, sketch_bits = 256);

-- Automatic: 128 bits for Euclidean, angular and dot at 64 dimensions and
-- more; none for Manhattan (a sketch estimates inner products, not L1).
SELECT i AS index, (annoy_index_info(i)).sketch_bits
FROM unnest(array['s_l2', 's_cos', 's_dot', 's_l1', 's_l2_none', 's_l2_256']::regclass[]) i;
-- Sketches cost room in every leaf: the index without them is smaller.
SELECT pg_relation_size('s_l2_none') < pg_relation_size('s_l2') AS smaller_without;

-- Bad values.
SELECT pg_temp.sqlstate_of($$CREATE INDEX ON s USING annoy (v) WITH (sketch_bits = 12)$$);
SELECT pg_temp.sqlstate_of($$CREATE INDEX ON s USING annoy (v) WITH (sketch_bits = 520)$$);
SELECT pg_temp.sqlstate_of($$CREATE INDEX ON s USING annoy (v) WITH (sketch_bits = -2)$$);
SELECT pg_temp.sqlstate_of($$SET annoy.sketch_factor = -2$$);
SELECT pg_temp.sqlstate_of($$SET annoy.sketch_factor = 101$$);
SHOW annoy.sketch_factor;

-- recall@10 over the 20 queries of whichever annoy index serves `op`,
-- against an exact scan (a returned row at the 10th true distance counts).
CREATE FUNCTION pg_temp.recall(op text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
    total float8 := 0;
    r record;
    got int[];
    kth float8;
    hits int;
BEGIN
    FOR r IN SELECT id, v FROM q ORDER BY id LOOP
        PERFORM set_config('enable_seqscan', 'off', true);
        EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM s ORDER BY v %s $1 LIMIT 10) t', op)
            INTO got USING r.v;
        PERFORM set_config('enable_seqscan', 'on', true);
        PERFORM set_config('enable_indexscan', 'off', true);
        EXECUTE format('SELECT max(d) FROM (SELECT v %s $1 AS d FROM s ORDER BY 1 LIMIT 10) t', op)
            INTO kth USING r.v;
        EXECUTE format('SELECT count(*) FROM s WHERE id = ANY($2) AND (v %s $1) <= $3', op)
            INTO hits USING r.v, got, kth;
        PERFORM set_config('enable_indexscan', 'on', true);
        total := total + hits / 10.0;
    END LOOP;
    RETURN total / 20;
END;
$$;

-- Recall with sketch ranking and without (sketch_factor = 1), same search_k.
CREATE FUNCTION pg_temp.ranking(op text, OUT ranked float8, OUT unranked float8) LANGUAGE plpgsql AS $$
DECLARE
    factor text := current_setting('annoy.sketch_factor');
BEGIN
    ranked := pg_temp.recall(op);
    PERFORM set_config('annoy.sketch_factor', '1', true);
    unranked := pg_temp.recall(op);
    PERFORM set_config('annoy.sketch_factor', factor, true);
END;
$$;

-- With search_k = 100 (of 3000 rows, in tight clusters of 75 whose members
-- are nearly equidistant: a hard set), ranking 6 x 100 candidates by sketch
-- and scoring the best 100 finds far more true neighbours than scoring the
-- first 100 found.  Without sketches the factor changes nothing.
SET annoy.search_k = 100;
BEGIN;
DROP INDEX s_l2_none, s_l2_256;
SELECT ranked > unranked + 0.1 AS l2_ranking_helps FROM pg_temp.ranking('<->');
SELECT ranked > unranked + 0.1 AS angular_ranking_helps FROM pg_temp.ranking('<=>');
-- (Largest inner products are easy here: both find nearly all.)
SELECT ranked >= 0.95 AS dot_ranked_finds_them FROM pg_temp.ranking('<#>');
ROLLBACK;
BEGIN;
DROP INDEX s_l2, s_l2_256;
SELECT ranked = unranked AS no_sketches_no_change FROM pg_temp.ranking('<->');
ROLLBACK;
BEGIN;
DROP INDEX s_l2, s_l2_none;
SELECT ranked > unranked + 0.1 AS bits256_ranking_helps FROM pg_temp.ranking('<->');
ROLLBACK;

-- Whole-table reads: with search_k above the table size every candidate is
-- ranked and scored, so the order is exact; in batches of 100 every row
-- still comes once.
BEGIN;
DROP INDEX s_l2_none, s_l2_256;
SET LOCAL enable_seqscan = off;
SET LOCAL annoy.search_k = 10000;
SELECT * FROM pg_temp.check_scan('s_l2', (SELECT v::text FROM q WHERE id = 1));
-- (Angular distances are computed in single precision: rows whose cosines
-- agree to ~7 digits may come in either order, so only the rows are
-- checked here.)
SELECT index_scan, n_rows, all_rows_once FROM pg_temp.check_scan('s_cos', (SELECT v::text FROM q WHERE id = 2));
SELECT * FROM pg_temp.check_scan('s_dot', (SELECT v::text FROM q WHERE id = 3));
SET LOCAL annoy.search_k = 100;
SELECT index_scan, n_rows, all_rows_once FROM pg_temp.check_scan('s_l2', (SELECT v::text FROM q WHERE id = 4));
-- A filter passing one row in 7 still gets its 25 rows.
EXPLAIN (COSTS OFF)
SELECT id FROM s WHERE id % 7 = 0 ORDER BY v <-> (SELECT v FROM q WHERE id = 5) LIMIT 25;
SELECT count(*) FROM (SELECT id FROM s WHERE id % 7 = 0 ORDER BY v <-> (SELECT v FROM q WHERE id = 5) LIMIT 25) t;
ROLLBACK;

-- A bounded-memory build (vectors spilled to the index's pages, each tree
-- built cell by cell, the centre taken from a sample) sketches its items too.
SET maintenance_work_mem = '1MB';
\set VERBOSITY terse
CREATE INDEX s_small ON s USING annoy (v euclidean_ops) WITH (n_trees = 4, leaf_size = 32);
\set VERBOSITY default
RESET maintenance_work_mem;
SELECT annoy_check('s_small'), (annoy_index_info('s_small')).sketch_bits;
BEGIN;
DROP INDEX s_l2, s_l2_none, s_l2_256;
SET LOCAL enable_seqscan = off;
SET LOCAL annoy.search_k = 10000;
SELECT * FROM pg_temp.check_scan('s_small', (SELECT v::text FROM q WHERE id = 7));
SET LOCAL annoy.search_k = 100;
SELECT ranked > unranked + 0.1 AS bounded_ranking_helps FROM pg_temp.ranking('<->');
ROLLBACK;
DROP INDEX s_small;

-- Inserts append sketches and split leaves with them; VACUUM removes and
-- merges them.  The index stays whole and keeps finding neighbours.
INSERT INTO s SELECT i, pg_temp.near_centre(i % 40) FROM generate_series(3001, 4500) i;
SELECT annoy_check('s_l2'), annoy_check('s_cos'), annoy_check('s_dot'), annoy_check('s_l2_256');
SELECT (annoy_index_info('s_l2')).splits > (SELECT (annoy_index_info('s_l2_none')).splits / 2) AS grown;
BEGIN;
DROP INDEX s_l2_none, s_l2_256;
SELECT ranked > unranked + 0.1 AS grown_ranking_helps FROM pg_temp.ranking('<->');
ROLLBACK;
DELETE FROM s WHERE id % 3 <> 0;
VACUUM s;
SELECT annoy_check('s_l2'), annoy_check('s_cos'), annoy_check('s_dot'), annoy_check('s_l2_256');
SELECT (annoy_index_info('s_l2')).items AS items_after_vacuum;
BEGIN;
DROP INDEX s_l2_none, s_l2_256;
SET LOCAL enable_seqscan = off;
SET LOCAL annoy.search_k = 10000;
SELECT * FROM pg_temp.check_scan('s_l2', (SELECT v::text FROM q WHERE id = 6));
ROLLBACK;

-- An index built on an empty table has no sketches (the dimension is not
-- known yet); REINDEX once it has rows gives it some.
CREATE TABLE e (id int PRIMARY KEY, v real[]);
CREATE INDEX e_v ON e USING annoy (v);
INSERT INTO e SELECT id, v FROM s;
SELECT (annoy_index_info('e_v')).sketch_bits AS before_reindex;
REINDEX INDEX e_v;
SELECT (annoy_index_info('e_v')).sketch_bits AS after_reindex;
SELECT annoy_check('e_v');

RESET annoy.search_k;
DROP TABLE s, q, e, centres;
