--
-- Filter columns: multi-column annoy indexes whose columns after the vector
-- are tested inside the scan (Index Cond), so the search budget counts only
-- rows that pass.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS annoy;
RESET client_min_messages;
SELECT l2_distance('{0}'::real[], '{0}') AS loaded;
\i sql/regress_helpers.psql

SELECT setseed(0.11);
CREATE TYPE color AS ENUM ('red', 'green', 'blue');
-- 10,000 rows of 8-d vectors; tenant has 10 values (10% each), shard 100
-- (1%); every 50th row has NULL filter values.
CREATE TABLE docs (
    id int PRIMARY KEY, v real[], tenant int, shard int8, small int2, flag bool, cat text,
    labels int[], tags text[], big_labels int8[], day date, ts timestamp, tstz timestamptz,
    u uuid, c color);
INSERT INTO docs
SELECT i, (SELECT array_agg((random() * 2 - 1)::real) FROM generate_series(1, 8) k WHERE i > 0),
       CASE WHEN i % 50 = 0 THEN NULL ELSE i % 10 END,
       i % 100, (i % 7)::int2, i % 3 = 0,
       CASE WHEN i % 50 = 0 THEN NULL ELSE 'cat' || (i % 20) END,
       CASE WHEN i % 50 = 0 THEN NULL ELSE ARRAY[i % 13, 100 + i % 5] END,
       ARRAY['t' || (i % 11), 'x' || (i % 4)],
       ARRAY[(i % 17)::int8 * 1000000000000],
       date '2024-01-01' + (i % 365),
       timestamp '2024-01-01' + (i % 1000) * interval '1 hour',
       timestamptz '2024-01-01 00:00+00' + (i % 1000) * interval '1 minute',
       md5((i % 9)::text)::uuid,
       (ARRAY['red', 'green', 'blue'])[1 + i % 3]::color
FROM generate_series(1, 10000) i;
-- Every filter class by default, the vector's named.
CREATE INDEX docs_f ON docs USING annoy (v euclidean_ops, tenant, shard, small, flag, cat, labels, tags,
                                         big_labels, day, ts, tstz, u, c)
    WITH (n_trees = 8, leaf_size = 32);
SELECT annoy_check('docs_f');
SELECT a.attname, c.opcname
FROM pg_index i, unnest(i.indkey, i.indclass) WITH ORDINALITY AS k(attnum, opclass, n)
JOIN pg_attribute a ON a.attrelid = 'docs'::regclass AND a.attnum = k.attnum
JOIN pg_opclass c ON c.oid = k.opclass
WHERE i.indexrelid = 'docs_f'::regclass ORDER BY k.n;
ANALYZE docs;
SET enable_seqscan = off;
SET jit = off;  -- (the disabled sequential scans' costs would make every query compile)

-- What a filtered kNN query through the index returns, against the exact
-- answer: whether the plan tests the condition in the scan (Index Cond),
-- the rows returned, whether they are the exact k nearest rows that
-- satisfy it, in order, and whether they are the same rows in any order
-- (for long lists, where distances computed in single precision may order
-- near ties differently).
CREATE FUNCTION pg_temp.filtered(cond text, q text, k int DEFAULT 20,
    OUT index_cond boolean, OUT n_rows int, OUT exact boolean, OUT same_rows boolean)
LANGUAGE plpgsql AS $$
DECLARE
    knn text := format('SELECT id FROM docs WHERE %s ORDER BY v <-> %L LIMIT %s', cond, q, k);
    line text;
    got int[];
    want int[];
BEGIN
    index_cond := false;
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || knn LOOP
        index_cond := index_cond OR line LIKE '%Index Cond:%';
    END LOOP;
    EXECUTE format('SELECT array_agg(id ORDER BY n) FROM (SELECT id, row_number() OVER () AS n FROM (%s) s) s', knn)
       INTO got;
    EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM docs WHERE %s ORDER BY l2_distance(v, %L), id LIMIT %s) s',
                   cond, q, k) INTO want;
    n_rows := coalesce(cardinality(got), 0);
    exact := coalesce(got, '{}') = coalesce(want, '{}');
    same_rows := coalesce((SELECT array_agg(x ORDER BY x) FROM unnest(got) x), '{}')
                 = coalesce((SELECT array_agg(x ORDER BY x) FROM unnest(want) x), '{}');
END;
$$;

-- The plan: the filter is an index condition, rechecked only where lossy.
EXPLAIN (COSTS OFF) SELECT id FROM docs WHERE tenant = 3 ORDER BY v <-> '{0,0,0,0,0,0,0,0}' LIMIT 10;
EXPLAIN (COSTS OFF) SELECT id FROM docs WHERE labels && '{4}' AND day >= '2024-06-01'
    ORDER BY v <-> '{0,0,0,0,0,0,0,0}' LIMIT 10;

-- Every class and operator, exhaustively (search_k beyond the table: the
-- scan is then exact, so any row the filter wrongly drops or keeps shows).
SET annoy.search_k = 100000;
SELECT cond, f.*
FROM (VALUES ('tenant = 3'), ('tenant < 2'), ('tenant <= 2'), ('tenant > 7'), ('tenant >= 8'),
             ('tenant = 3::int8'), ('tenant < 2::int2'), ('shard = 42'), ('shard = 42::int4'),
             ('shard >= 98'), ('small = 6'), ('small < 1::int8'), ('flag'), ('flag = false'),
             ('cat = ''cat7'''), ('labels && ''{4}'''), ('labels && ''{4,12,999}'''),
             ('labels @> ''{4,104}'''), ('labels <@ ''{1,2,3,4,101,102,103}'''),
             ('tags && ''{t3}'''), ('tags @> ''{t3,x1}'''), ('big_labels && ''{16000000000000}'''),
             ('day = ''2024-02-29'''), ('day BETWEEN ''2024-03-01'' AND ''2024-03-10'''),
             ('ts > ''2024-02-10 12:00'''), ('tstz < ''2024-01-01 00:30+00'''),
             ('u = md5(''4'')::uuid'), ('c = ''blue'''),
             ('tenant = 3 AND cat = ''cat13'' AND labels && ''{0}'''),
             ('tenant = 3 AND tenant = 4')) AS t(cond),
     LATERAL pg_temp.filtered(cond, '{0.1,0.2,0.3,0.4,-0.1,-0.2,-0.3,-0.4}') f;

-- Signatures are lossy: with 8 labels of 10,000 a row's 64-bit signature
-- has about 16 bits set, so some rows without the label pass the scan's
-- test; the executor's recheck removes them (and only correct rows remain).
CREATE TABLE lab (id int PRIMARY KEY, v real[], labels int[]);
INSERT INTO lab SELECT i, ARRAY[random(), random()]::real[],
                       (SELECT array_agg((random() * 10000)::int) FROM generate_series(1, 8) k WHERE i > 0)
FROM generate_series(1, 5000) i;
CREATE INDEX lab_f ON lab USING annoy (v, labels) WITH (n_trees = 2);
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT id FROM lab WHERE labels && '{77}' ORDER BY v <-> '{0,0}' LIMIT 10000;
SELECT count(*) AS rows_with_77 FROM lab WHERE labels && '{77}';
DROP TABLE lab;

-- NULL filter values match no operator; the rows are still there for others.
SELECT index_cond, n_rows, same_rows FROM pg_temp.filtered('tenant >= 0', '{0,0,0,0,0,0,0,0}', 10000) f;
SELECT count(*) AS non_null_tenants FROM docs WHERE tenant >= 0;
SELECT index_cond, n_rows, same_rows FROM pg_temp.filtered('cat = ''cat10''', '{0,0,0,0,0,0,0,0}', 10000) f;
-- Conditions no row can satisfy: a NULL parameter, an empty array.
SET plan_cache_mode = force_generic_plan;
PREPARE by_tenant(int) AS SELECT id FROM docs WHERE tenant = $1 ORDER BY v <-> '{0,0,0,0,0,0,0,0}' LIMIT 5;
EXPLAIN (COSTS OFF) EXECUTE by_tenant(NULL);
EXECUTE by_tenant(NULL);
EXECUTE by_tenant(5);
DEALLOCATE by_tenant;
PREPARE by_labels(int[]) AS SELECT id, labels FROM docs WHERE labels && $1 ORDER BY v <-> '{0,0,0,0,0,0,0,0}' LIMIT 3;
EXECUTE by_labels('{}');
EXECUTE by_labels('{NULL}');
EXECUTE by_labels('{NULL,4}');
DEALLOCATE by_labels;
-- A bool column: the planner turns flag = true into plain `flag`, which it
-- matches to no annoy index column, but a parameter stays a condition.
PREPARE by_flag(bool) AS SELECT id, flag FROM docs WHERE flag = $1 ORDER BY v <-> '{0,0,0,0,0,0,0,0}' LIMIT 3;
EXPLAIN (COSTS OFF) EXECUTE by_flag(true);
EXECUTE by_flag(true);
EXECUTE by_flag(false);
DEALLOCATE by_flag;
RESET plan_cache_mode;

-- col = ANY(array) and IN lists: index conditions too (array_paths.cpp
-- adds them to ordered annoy paths; PostgreSQL 15's planner alone would
-- leave them to the executor), with any operator of the column's class.
EXPLAIN (COSTS OFF) SELECT id FROM docs WHERE tenant = ANY('{1,5}') AND cat IN ('cat1', 'cat5')
    ORDER BY v <-> '{0,0,0,0,0,0,0,0}' LIMIT 10;
SELECT cond, f.*
FROM (VALUES ('tenant = ANY(''{1,5}'')'), ('tenant IN (2, 4, 6, 8)'), ('shard = ANY(''{1,2,3,4,5,6,7,8,9,10,11,12}'')'),
             ('tenant < ANY(''{1,3}'')'), ('tenant > ANY(''{8,6}'')'), ('cat = ANY(''{cat1,cat5,nope}'')'),
             ('u = ANY(ARRAY[md5(''1'')::uuid, md5(''2'')::uuid])'), ('c IN (''red'', ''blue'')'),
             ('tenant = ANY(''{3,NULL}'')'),
             ('tenant = ANY(''{}'')'), ('tenant = 3 AND cat = ANY(''{cat3,cat13}'')')) AS t(cond),
     LATERAL pg_temp.filtered(cond, '{0.1,0.2,0.3,0.4,-0.1,-0.2,-0.3,-0.4}') f;
-- A parameter array, NULL or with NULLs.
SET plan_cache_mode = force_generic_plan;
PREPARE by_tenants(int[]) AS SELECT id, tenant FROM docs WHERE tenant = ANY($1) ORDER BY v <-> '{0,0,0,0,0,0,0,0}' LIMIT 4;
EXPLAIN (COSTS OFF) EXECUTE by_tenants('{1,2}');
EXECUTE by_tenants('{1,2}');
EXECUTE by_tenants(NULL);
EXECUTE by_tenants('{NULL}');
DEALLOCATE by_tenants;
RESET plan_cache_mode;
-- An expression can be a filter column: ARRAY[cat] && $1 asks the same
-- as cat = ANY($1).
CREATE INDEX docs_cat ON docs USING annoy (v, (ARRAY[cat])) WITH (n_trees = 4);
EXPLAIN (COSTS OFF) SELECT id FROM docs WHERE ARRAY[cat] && '{cat1,cat2}'
    ORDER BY v <-> '{0,0,0,0,0,0,0,0}' LIMIT 10;
SELECT f.* FROM pg_temp.filtered('ARRAY[cat] && ''{cat1,cat2}''', '{0,0,0,0,0,0,0,0}') f;
DROP INDEX docs_cat;
RESET annoy.search_k;

-- Recall against the exact filtered answer at the automatic search_k, for
-- 20 queries: at 10% and at 1% selectivity the scan finds as many of the
-- true 10 nearest as without a filter, because only matching rows count
-- toward its budget.
CREATE TABLE queries AS
SELECT q, (SELECT array_agg((random() * 2 - 1)::real) FROM generate_series(1, 8) k WHERE q > 0) AS v
FROM generate_series(1, 20) q;
CREATE FUNCTION pg_temp.recall(cond text) RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE
    hits int := 0;
    r record;
BEGIN
    FOR r IN SELECT v FROM queries LOOP
        EXECUTE format('SELECT count(*) FROM (SELECT id FROM docs WHERE %s ORDER BY v <-> %L LIMIT 10) a
                        JOIN (SELECT id FROM docs WHERE %s ORDER BY l2_distance(v, %L) LIMIT 10) e USING (id)',
                       cond, r.v, cond, r.v) INTO STRICT r;
        hits := hits + r.count;
    END LOOP;
    RETURN round(hits / 200.0, 2);
END;
$$;
SELECT pg_temp.recall('true') >= 0.9 AS unfiltered_ok,
       pg_temp.recall('tenant = 7') >= 0.9 AS ten_percent_ok,
       pg_temp.recall('shard = 42') >= 0.9 AS one_percent_ok,
       pg_temp.recall('shard = 42') >= pg_temp.recall('true') - 0.05 AS one_percent_as_unfiltered,
       pg_temp.recall('shard = ANY(''{5,42}'')') >= 0.9 AS two_percent_any_ok;
-- A small budget still returns the LIMIT's rows at 1%: only matching rows
-- count toward it.
SET annoy.search_k = 20;
SELECT count(*) FROM (SELECT id FROM docs WHERE shard = 42 ORDER BY v <-> '{0,0,0,0,0,0,0,0}' LIMIT 10) s;
RESET annoy.search_k;

-- UPDATE: the row's new values are the ones its entries carry.
SET annoy.search_k = 100000;
UPDATE docs SET tenant = 77, labels = '{555}' WHERE id IN (1, 2, 3);
SELECT array_agg(id ORDER BY id) FROM (SELECT id FROM docs WHERE tenant = 77 ORDER BY v <-> '{0,0,0,0,0,0,0,0}' LIMIT 10) s;
SELECT array_agg(id ORDER BY id) FROM (SELECT id FROM docs WHERE labels && '{555}' ORDER BY v <-> '{0,0,0,0,0,0,0,0}' LIMIT 10) s;
SELECT count(*) AS old_value FROM (SELECT id FROM docs WHERE tenant = 1 AND id = 1 ORDER BY v <-> '{0,0,0,0,0,0,0,0}' LIMIT 10) s;
SELECT index_cond, n_rows, same_rows FROM pg_temp.filtered('tenant = 1', '{0,0,0,0,0,0,0,0}', 2000) f;
-- DELETE and VACUUM (references, and their payloads, removed; leaves merged).
DELETE FROM docs WHERE id % 4 <> 0 AND id > 100;
VACUUM docs;
SELECT annoy_check('docs_f');
SELECT cond, f.* FROM (VALUES ('tenant = 7'), ('labels && ''{4}'''), ('cat = ''cat8'''), ('tenant = 77')) AS t(cond),
     LATERAL pg_temp.filtered(cond, '{0.5,0,0,0,0,0,0,-0.5}') f;
RESET annoy.search_k;

-- Inserts into a filtered index: leaf splits keep each entry's values.
CREATE TABLE grow (id int PRIMARY KEY, v real[], g int, t text[]);
CREATE INDEX grow_f ON grow USING annoy (v, g, t) WITH (n_trees = 3, leaf_size = 4);
INSERT INTO grow SELECT i, ARRAY[sin(i), cos(i * 0.7), sin(i * 1.3)]::real[], i % 5, ARRAY['k' || (i % 3)]
FROM generate_series(1, 600) i;
SELECT annoy_check('grow_f');
SELECT (annoy_index_info('grow_f')).splits > 100 AS leaves_split;
SET annoy.search_k = 100000;
SELECT g, array_agg(id ORDER BY id) = (SELECT array_agg(id ORDER BY id) FROM grow WHERE grow.g = s.g) AS all_rows
FROM (SELECT id, g FROM grow WHERE g = 2 ORDER BY v <-> '{0,0,0}' LIMIT 1000) s GROUP BY g;
SELECT count(*) FROM (SELECT id FROM grow WHERE t && '{k1}' AND g = 4 ORDER BY v <-> '{0,0,0}' LIMIT 1000) s;
SELECT count(*) FROM grow WHERE t && '{k1}' AND g = 4;
RESET annoy.search_k;
-- A single-column index has no payload (layout unchanged).
CREATE INDEX grow_plain ON grow USING annoy (v) WITH (n_trees = 3, leaf_size = 4);
SELECT pg_relation_size('grow_plain') < pg_relation_size('grow_f') AS smaller;
DROP TABLE grow;

-- A build larger than maintenance_work_mem (bounded memory: items spilled
-- to pages, trees built cell by cell) carries the payloads too.
CREATE TABLE big (id int PRIMARY KEY, v real[], g int, t text[]);
ALTER TABLE big ALTER COLUMN v SET STORAGE PLAIN;
INSERT INTO big SELECT i, ARRAY(SELECT (i % 50)::real + (random() - 0.5)::real * 4 FROM generate_series(1, 32) WHERE i > 0),
                       i % 7, ARRAY['k' || (i % 3)]
FROM generate_series(1, 20000) i;
SET maintenance_work_mem = '1MB';
\set VERBOSITY terse
CREATE INDEX big_f ON big USING annoy (v, g, t) WITH (n_trees = 3, leaf_size = 16);
\set VERBOSITY default
RESET maintenance_work_mem;
SELECT annoy_check('big_f');
SET annoy.search_k = 100000;
SELECT count(*) AS returned, bool_and(g = 3 AND t && '{k2}') AS all_match,
       count(*) = (SELECT count(*) FROM big WHERE g = 3 AND t && '{k2}') AS all_rows
FROM (SELECT id, g, t FROM big WHERE g = 3 AND t && '{k2}' ORDER BY v <-> (SELECT v FROM big WHERE id = 1) LIMIT 30000) s;
RESET annoy.search_k;
DROP TABLE big;

-- Errors.
CREATE TABLE e (v real[], w real[], n int, x float8, s text);
SELECT pg_temp.sqlstate_of('CREATE INDEX ON e USING annoy (n, v)');
SELECT pg_temp.sqlstate_of('CREATE INDEX ON e USING annoy (v, w)');
SELECT pg_temp.sqlstate_of('CREATE INDEX ON e USING annoy (v, x)');
SELECT pg_temp.sqlstate_of('CREATE INDEX ON e USING annoy (v, n text_filter_ops)');
SELECT pg_temp.sqlstate_of('CREATE INDEX ON e USING annoy (v, n, s) WITH (leaf_size = 1000)');
SELECT pg_temp.sqlstate_of('CREATE INDEX ON e USING annoy (v) INCLUDE (n)');
DROP TABLE e;

DROP TABLE docs, queries;
DROP TYPE color;
