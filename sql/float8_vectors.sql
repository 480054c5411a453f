--
-- double precision[]: distance functions, operators, operator classes and
-- their input rules (the same as real[]'s, same SQLSTATEs).
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS annoy;
RESET client_min_messages;

\i sql/regress_helpers.psql

-- Known values, and agreement with the real[] functions on values both
-- types hold exactly.
SELECT '{1,2,3}'::float8[] <-> '{4,6,3}' AS l2,
       '{1,0}'::float8[] <=> '{0,1}' AS cosine,
       '{1,2}'::float8[] <#> '{3,4}' AS neg_ip,
       inner_product('{1,2}'::float8[], '{3,4}') AS ip,
       '{1,2}'::float8[] <+> '{3,5}' AS l1,
       angular_distance('{1,0}'::float8[], '{-1,0}') AS angular,
       '[0:1]={1,0}'::float8[] <=> '[5:6]={0,1}' AS any_lower_bound;
SELECT count(*) AS rows,
       bool_and(abs(l2_distance(a, b) - l2_distance(a::real[], b::real[])) < 1e-5) AS l2_agrees,
       bool_and(abs(cosine_distance(a, b) - cosine_distance(a::real[], b::real[])) < 1e-5) AS cos_agrees,
       bool_and(abs(inner_product(a, b) - inner_product(a::real[], b::real[])) < 1e-4) AS ip_agrees,
       bool_and(abs(l1_distance(a, b) - l1_distance(a::real[], b::real[])) < 1e-4) AS l1_agrees
FROM (SELECT ARRAY[i % 7 - 3, i % 5 + 1, i % 3]::float8[] AS a,
             ARRAY[i % 4, 2 - i % 6, i % 9 + 1]::float8[] AS b
      FROM generate_series(1, 200) i) s;
-- Double precision is kept: differences below real's resolution count.
SELECT '{1}'::float8[] <-> '{1.000000000001}' > 0 AS finer_than_real;
-- Large and small finite values neither overflow nor vanish ...
SELECT '{1e300,0}'::float8[] <-> '{-1e300,0}' AS l2_big,
       '{1e-300}'::float8[] <-> '{0}' AS l2_tiny,
       '{1e200}'::float8[] <#> '{1e100}' AS ip_big,
       round(('{1e200,1e200}'::float8[] <=> '{1e200,0}')::numeric, 9) AS cos_big,
       round(('{1e-200,1e-200}'::float8[] <=> '{1e-200,0}')::numeric, 9) AS cos_tiny,
       '{1e307}'::float8[] <+> '{-1e307}' AS l1_big;
-- ... unless the answer itself is beyond double precision (22003).
SELECT pg_temp.sqlstate_of($$SELECT '{1e200}'::float8[] <#> '{1e200}'$$);
SELECT pg_temp.sqlstate_of($$SELECT '{1.5e308}'::float8[] <-> '{-1.5e308}'$$);

-- NULL in, NULL out.
SELECT (NULL::float8[] <-> '{1}') IS NULL AS op_l2, l1_distance(NULL, '{1}'::float8[]) IS NULL AS l1;

-- Bad input: the errors and SQLSTATEs of real[].
SELECT pg_temp.sqlstate_of($$SELECT '{1,2,3}'::float8[] <-> '{1,2}'$$);
SELECT pg_temp.sqlstate_of($$SELECT '{{1,2},{3,4}}'::float8[] <=> '{{1,2},{3,4}}'$$);
SELECT pg_temp.sqlstate_of($$SELECT '{}'::float8[] <#> '{}'$$);
SELECT pg_temp.sqlstate_of($$SELECT '{1,NULL}'::float8[] <+> '{1,2}'$$);
SELECT pg_temp.sqlstate_of($$SELECT '{1,NaN}'::float8[] <-> '{1,2}'$$);
SELECT pg_temp.sqlstate_of($$SELECT '{1,2}'::float8[] <-> '{-Infinity,2}'$$);
SELECT pg_temp.sqlstate_of($$SELECT '{0,0}'::float8[] <=> '{1,2}'$$);
SELECT pg_temp.sqlstate_of($$SELECT angular_distance('{1,2}'::float8[], '{0,-0}')$$);

--
-- The operator classes.
--
SELECT setseed(0.42);
CREATE TABLE f8 (id int PRIMARY KEY, v float8[]);
INSERT INTO f8
SELECT i, CASE WHEN i % 25 = 0 THEN NULL
               ELSE ARRAY[random() * 2 - 1, random() * 2 - 1, random() * 2 - 1, random() * 2 - 1,
                          random() * 2 - 1, random() * 2 - 1] END
FROM generate_series(1, 300) i;
CREATE INDEX f8_l2 ON f8 USING annoy (v) WITH (n_trees = 4, leaf_size = 8);
CREATE INDEX f8_cos ON f8 USING annoy (v float8_angular_ops) WITH (n_trees = 4, leaf_size = 8);
CREATE INDEX f8_dot ON f8 USING annoy (v float8_dot_ops) WITH (n_trees = 4, leaf_size = 8);
CREATE INDEX f8_l1 ON f8 USING annoy (v float8_manhattan_ops) WITH (n_trees = 4, leaf_size = 8);
SELECT c.relname, o.opcname, o.opcdefault FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_opclass o ON o.oid = i.indclass[0] WHERE i.indrelid = 'f8'::regclass ORDER BY 1;

-- A scan over everything (search_k beyond the table) returns every row
-- once, in exact order.  (The index ranks in single precision; no two rows
-- of this table are close enough for that to swap them.)
SET annoy.search_k = 100000;
SET enable_seqscan = off;
SELECT 'f8_l2' AS idx, * FROM pg_temp.check_scan('f8_l2', '{0.5,-0.25,0.125,0,0.75,-0.5}');
SELECT 'f8_cos' AS idx, * FROM pg_temp.check_scan('f8_cos', '{0.5,-0.25,0.125,0,0.75,-0.5}');
SELECT 'f8_dot' AS idx, * FROM pg_temp.check_scan('f8_dot', '{0.5,-0.25,0.125,0,0.75,-0.5}');
SELECT 'f8_l1' AS idx, * FROM pg_temp.check_scan('f8_l1', '{0.5,-0.25,0.125,0,0.75,-0.5}');
EXPLAIN (COSTS OFF) SELECT id FROM f8 ORDER BY v <=> '{1,0,0,0,0,0}' LIMIT 3;
-- The 10 nearest by the index equal an exact sort's.
SELECT (SELECT array_agg(id) FROM (SELECT id FROM f8 ORDER BY v <-> '{0.1,0.2,0.3,0.4,0.5,0.6}' LIMIT 10) s)
     = (SELECT array_agg(id) FROM (SELECT id FROM f8 ORDER BY l2_distance(v, '{0.1,0.2,0.3,0.4,0.5,0.6}'), id LIMIT 10) s)
       AS knn_exact;

-- Inserts, deletes, VACUUM, annoy_check.
INSERT INTO f8 SELECT i, ARRAY[i / 400.0, -i / 400.0, 0.5, 0.25, 1, 2]::float8[] FROM generate_series(301, 400) i;
DELETE FROM f8 WHERE id % 3 = 0;
VACUUM f8;
SELECT annoy_check('f8_l2'), annoy_check('f8_cos'), annoy_check('f8_dot'), annoy_check('f8_l1');
SELECT 'f8_l2' AS idx, * FROM pg_temp.check_scan('f8_l2', '{0.5,-0.25,0.125,0,0.75,-0.5}');
SELECT 'f8_cos' AS idx, * FROM pg_temp.check_scan('f8_cos', '{0.5,-0.25,0.125,0,0.75,-0.5}');

-- Bad rows and queries are refused, and nothing is lost.
SELECT pg_temp.sqlstate_of($$INSERT INTO f8 VALUES (1001, '{1,2,3}')$$);
SELECT pg_temp.sqlstate_of($$INSERT INTO f8 VALUES (1001, '{{1,2,3},{4,5,6}}')$$);
SELECT pg_temp.sqlstate_of($$INSERT INTO f8 VALUES (1001, '{1,2,3,4,5,NULL}')$$);
SELECT pg_temp.sqlstate_of($$INSERT INTO f8 VALUES (1001, '{1,2,3,4,5,NaN}')$$);
SELECT pg_temp.sqlstate_of($$INSERT INTO f8 VALUES (1001, '{1,2,3,4,5,Infinity}')$$);
-- Finite for double precision, beyond an index's single precision (22003).
SELECT pg_temp.sqlstate_of($$INSERT INTO f8 VALUES (1001, '{1,2,3,4,5,1e39}')$$);
SELECT pg_temp.sqlstate_of($$INSERT INTO f8 VALUES (1001, '{0,0,0,0,0,0}')$$);
SELECT pg_temp.sqlstate_of($$SELECT id FROM f8 ORDER BY v <-> '{1,2}' LIMIT 1$$);
SELECT pg_temp.sqlstate_of($$SELECT id FROM f8 ORDER BY v <=> '{0,0,0,0,0,0}' LIMIT 1$$);
SELECT count(*) FROM f8 WHERE id > 1000;
SELECT annoy_check('f8_l2'), annoy_check('f8_cos');

-- A float8[] index is refused on another type's column.
CREATE TABLE r4 (v real[]);
SELECT pg_temp.sqlstate_of($$CREATE INDEX ON r4 USING annoy (v float8_euclidean_ops)$$);

DROP TABLE f8, r4;
RESET enable_seqscan;
RESET annoy.search_k;
