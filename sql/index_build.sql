--
-- Building annoy indexes: the access method, its operator classes, storage
-- options, and builds on tables of every awkward shape.
--
-- (Quietly: the extension may exist already, from an earlier file.)
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS annoy;
RESET client_min_messages;
\i sql/regress_helpers.psql

-- The access method and its operator classes.
SELECT amname, amtype, amhandler FROM pg_am WHERE amname = 'annoy';

SELECT c.opcname, c.opcintype::regtype AS type, c.opcdefault AS is_default,
       amvalidate(c.oid) AS valid
FROM pg_opclass c
WHERE c.opcmethod = (SELECT oid FROM pg_am WHERE amname = 'annoy')
ORDER BY c.opcname;

-- Each class: one ordering operator (strategy 1, sorted by float_ops) and
-- support function 1.
SELECT c.opcname, o.amopstrategy, o.amoppurpose, o.amopopr::regoperator AS operator,
       f.opfname AS sort_family, p.amprocnum, p.amproc
FROM pg_opclass c
JOIN pg_amop o ON o.amopfamily = c.opcfamily
JOIN pg_opfamily f ON f.oid = o.amopsortfamily
JOIN pg_amproc p ON p.amprocfamily = c.opcfamily
WHERE c.opcmethod = (SELECT oid FROM pg_am WHERE amname = 'annoy')
ORDER BY c.opcname;

-- amvalidate reports malformed operator classes (as INFO messages).
CREATE OPERATOR CLASS bad_nofunc FOR TYPE real[] USING annoy AS
    OPERATOR 1 <-> (real[], real[]) FOR ORDER BY float_ops;
CREATE OPERATOR CLASS bad_sort FOR TYPE real[] USING annoy AS
    OPERATOR 1 <-> (real[], real[]) FOR ORDER BY integer_ops,
    FUNCTION 1 annoy_metric_euclidean(internal);
CREATE OPERATOR CLASS bad_twoops FOR TYPE real[] USING annoy AS
    OPERATOR 1 <-> (real[], real[]) FOR ORDER BY float_ops,
    OPERATOR 2 <+> (real[], real[]) FOR ORDER BY float_ops,
    FUNCTION 1 annoy_metric_euclidean(internal);
CREATE FUNCTION pg_temp.not_internal(real[]) RETURNS int4 LANGUAGE sql AS 'SELECT 0';
CREATE OPERATOR CLASS bad_signature FOR TYPE real[] USING annoy AS
    OPERATOR 1 <-> (real[], real[]) FOR ORDER BY float_ops,
    FUNCTION 1 pg_temp.not_internal(real[]);
SELECT opcname, amvalidate(oid) AS valid FROM pg_opclass WHERE opcname = 'bad_nofunc';
SELECT opcname, amvalidate(oid) AS valid FROM pg_opclass WHERE opcname = 'bad_sort';
SELECT opcname, amvalidate(oid) AS valid FROM pg_opclass WHERE opcname = 'bad_twoops';
SELECT opcname, amvalidate(oid) AS valid FROM pg_opclass WHERE opcname = 'bad_signature';
-- Only support functions 1 (metric), 2 (input format) and 3 (a filter
-- class's storage) exist.
CREATE OPERATOR CLASS bad_func2 FOR TYPE real[] USING annoy AS
    OPERATOR 1 <-> (real[], real[]) FOR ORDER BY float_ops,
    FUNCTION 1 annoy_metric_euclidean(internal),
    FUNCTION 4 annoy_metric_angular(internal);
-- An index needs support function 1.
CREATE TABLE t_opc (v real[]);
CREATE INDEX t_opc_bad ON t_opc USING annoy (v bad_nofunc);
DROP TABLE t_opc;
DROP OPERATOR CLASS bad_nofunc USING annoy;
DROP OPERATOR CLASS bad_sort USING annoy;
DROP OPERATOR CLASS bad_twoops USING annoy;
DROP OPERATOR CLASS bad_signature USING annoy;
DROP FUNCTION pg_temp.not_internal(real[]);


SET enable_seqscan = off;

--
-- Tables of every shape, real[] vectors of 3 dimensions.
--
CREATE TABLE t_empty (id int, v real[]);
CREATE TABLE t_one (id int, v real[]);
INSERT INTO t_one VALUES (1, '{1,2,3}');
-- 20 identical vectors: no hyperplane separates them.
CREATE TABLE t_same (id int, v real[]);
INSERT INTO t_same SELECT g, '{1,-2,3}' FROM generate_series(1, 20) g;
-- Fewer rows than a leaf holds (leaf_size = 4).
CREATE TABLE t_few (id int, v real[]);
INSERT INTO t_few VALUES (1, '{1,0,0}'), (2, '{0,2,0}'), (3, '{0,0,-3}');
-- Many more rows than a leaf holds.
SELECT setseed(0.1);
CREATE TABLE t_many (id int, v real[]);
INSERT INTO t_many
SELECT g, array[(random() * 10 - 5)::real, (random() * 10 - 5)::real, (random() * 10 - 5)::real]
FROM generate_series(1, 200) g;
-- NULL vectors among the rows (every third row); they are not indexed.
CREATE TABLE t_null (id int, v real[]);
INSERT INTO t_null
SELECT g, CASE WHEN g % 3 = 0 THEN NULL
               ELSE array[(g % 5)::real + 1, (g % 7)::real - 3, (g * 0.25)::real] END
FROM generate_series(1, 30) g;
-- Only NULL vectors.
CREATE TABLE t_allnull (id int, v real[]);
INSERT INTO t_allnull SELECT g, NULL FROM generate_series(1, 5) g;

-- euclidean_ops is the default for real[].
CREATE INDEX t_empty_l2 ON t_empty USING annoy (v) WITH (n_trees = 3, leaf_size = 4);
CREATE INDEX t_one_l2 ON t_one USING annoy (v) WITH (n_trees = 3, leaf_size = 4);
CREATE INDEX t_same_l2 ON t_same USING annoy (v euclidean_ops) WITH (n_trees = 3, leaf_size = 4);
CREATE INDEX t_few_l2 ON t_few USING annoy (v) WITH (n_trees = 3, leaf_size = 4);
CREATE INDEX t_many_l2 ON t_many USING annoy (v) WITH (n_trees = 3, leaf_size = 4);
CREATE INDEX t_null_l2 ON t_null USING annoy (v) WITH (n_trees = 3, leaf_size = 4);
CREATE INDEX t_allnull_l2 ON t_allnull USING annoy (v) WITH (n_trees = 3, leaf_size = 4);

-- The default opclass is euclidean_ops.
SELECT i.indexrelid::regclass AS index, c.opcname
FROM pg_index i JOIN pg_opclass c ON c.oid = i.indclass[0]
WHERE i.indexrelid = 't_one_l2'::regclass;

SELECT 't_empty_l2' AS idx, * FROM pg_temp.check_scan('t_empty_l2', '{0,0,0}')
UNION ALL SELECT 't_one_l2', * FROM pg_temp.check_scan('t_one_l2', '{0,0,0}')
UNION ALL SELECT 't_same_l2', * FROM pg_temp.check_scan('t_same_l2', '{0,0,0}')
UNION ALL SELECT 't_few_l2', * FROM pg_temp.check_scan('t_few_l2', '{0,0,0}')
UNION ALL SELECT 't_many_l2', * FROM pg_temp.check_scan('t_many_l2', '{0,0,0}')
UNION ALL SELECT 't_many_l2', * FROM pg_temp.check_scan('t_many_l2', '{4,-4,1}')
UNION ALL SELECT 't_null_l2', * FROM pg_temp.check_scan('t_null_l2', '{1,1,1}')
UNION ALL SELECT 't_allnull_l2', * FROM pg_temp.check_scan('t_allnull_l2', '{1,1,1}');

-- The rows themselves, for the small tables (distances from (0,0,0): 1, 2, 3).
SELECT id, v, v <-> '{0,0,0}' AS d FROM t_few ORDER BY v <-> '{0,0,0}' LIMIT 10;
SELECT id, v <-> '{1,2,3}' AS d FROM t_one ORDER BY v <-> '{1,2,3}' LIMIT 10;
SELECT count(*), min(d), max(d)
FROM (SELECT v <-> '{1,-2,4}' AS d FROM t_same ORDER BY v <-> '{1,-2,4}' LIMIT 100) s;

DROP INDEX t_empty_l2, t_one_l2, t_same_l2, t_few_l2, t_many_l2, t_null_l2, t_allnull_l2;

-- angular_ops (no zero vectors in these tables).
CREATE INDEX t_empty_ang ON t_empty USING annoy (v angular_ops) WITH (n_trees = 3, leaf_size = 4);
CREATE INDEX t_one_ang ON t_one USING annoy (v angular_ops) WITH (n_trees = 3, leaf_size = 4);
CREATE INDEX t_same_ang ON t_same USING annoy (v angular_ops) WITH (n_trees = 3, leaf_size = 4);
CREATE INDEX t_few_ang ON t_few USING annoy (v angular_ops) WITH (n_trees = 3, leaf_size = 4);
CREATE INDEX t_many_ang ON t_many USING annoy (v angular_ops) WITH (n_trees = 3, leaf_size = 4);
CREATE INDEX t_null_ang ON t_null USING annoy (v angular_ops) WITH (n_trees = 3, leaf_size = 4);
CREATE INDEX t_allnull_ang ON t_allnull USING annoy (v angular_ops) WITH (n_trees = 3, leaf_size = 4);

SELECT 't_empty_ang' AS idx, * FROM pg_temp.check_scan('t_empty_ang', '{1,0,0}')
UNION ALL SELECT 't_one_ang', * FROM pg_temp.check_scan('t_one_ang', '{1,0,0}')
UNION ALL SELECT 't_same_ang', * FROM pg_temp.check_scan('t_same_ang', '{1,0,0}')
UNION ALL SELECT 't_few_ang', * FROM pg_temp.check_scan('t_few_ang', '{1,0,0}')
UNION ALL SELECT 't_many_ang', * FROM pg_temp.check_scan('t_many_ang', '{1,1,1}')
UNION ALL SELECT 't_many_ang', * FROM pg_temp.check_scan('t_many_ang', '{-3,0.5,2}')
UNION ALL SELECT 't_null_ang', * FROM pg_temp.check_scan('t_null_ang', '{1,-1,1}')
UNION ALL SELECT 't_allnull_ang', * FROM pg_temp.check_scan('t_allnull_ang', '{1,1,1}');

-- (1,1,-1) against (1,0,0), (0,2,0), (0,0,-3): cos = 1/sqrt 3 for each, so
-- all three tie at 1 - 0.57735 = 0.42265 (shown in id order); against
-- (0,1,0): 1, 0, 1.
SELECT * FROM (SELECT id, round((v <=> '{1,1,-1}')::numeric, 5) AS d
               FROM t_few ORDER BY v <=> '{1,1,-1}' LIMIT 10) s ORDER BY id;
SELECT id, v <=> '{0,1,0}' AS d FROM t_few ORDER BY v <=> '{0,1,0}' LIMIT 1;

DROP INDEX t_empty_ang, t_one_ang, t_same_ang, t_few_ang, t_many_ang, t_null_ang, t_allnull_ang;

-- dot_ops.
CREATE INDEX t_empty_dot ON t_empty USING annoy (v dot_ops) WITH (n_trees = 3, leaf_size = 4);
CREATE INDEX t_one_dot ON t_one USING annoy (v dot_ops) WITH (n_trees = 3, leaf_size = 4);
CREATE INDEX t_same_dot ON t_same USING annoy (v dot_ops) WITH (n_trees = 3, leaf_size = 4);
CREATE INDEX t_few_dot ON t_few USING annoy (v dot_ops) WITH (n_trees = 3, leaf_size = 4);
CREATE INDEX t_many_dot ON t_many USING annoy (v dot_ops) WITH (n_trees = 3, leaf_size = 4);
CREATE INDEX t_null_dot ON t_null USING annoy (v dot_ops) WITH (n_trees = 3, leaf_size = 4);
CREATE INDEX t_allnull_dot ON t_allnull USING annoy (v dot_ops) WITH (n_trees = 3, leaf_size = 4);

SELECT 't_empty_dot' AS idx, * FROM pg_temp.check_scan('t_empty_dot', '{1,0,0}')
UNION ALL SELECT 't_one_dot', * FROM pg_temp.check_scan('t_one_dot', '{1,0,0}')
UNION ALL SELECT 't_same_dot', * FROM pg_temp.check_scan('t_same_dot', '{1,0,0}')
UNION ALL SELECT 't_few_dot', * FROM pg_temp.check_scan('t_few_dot', '{1,0,0}')
UNION ALL SELECT 't_many_dot', * FROM pg_temp.check_scan('t_many_dot', '{1,1,1}')
UNION ALL SELECT 't_many_dot', * FROM pg_temp.check_scan('t_many_dot', '{0,0,0}')
UNION ALL SELECT 't_null_dot', * FROM pg_temp.check_scan('t_null_dot', '{1,-1,1}')
UNION ALL SELECT 't_allnull_dot', * FROM pg_temp.check_scan('t_allnull_dot', '{1,1,1}');

-- Against (1,1,1): (0,2,0) -> -2, (1,0,0) -> -1, (0,0,-3) -> 3.
SELECT id, v <#> '{1,1,1}' AS d FROM t_few ORDER BY v <#> '{1,1,1}' LIMIT 10;

DROP INDEX t_empty_dot, t_one_dot, t_same_dot, t_few_dot, t_many_dot, t_null_dot, t_allnull_dot;

-- manhattan_ops.
CREATE INDEX t_empty_l1 ON t_empty USING annoy (v manhattan_ops) WITH (n_trees = 3, leaf_size = 4);
CREATE INDEX t_one_l1 ON t_one USING annoy (v manhattan_ops) WITH (n_trees = 3, leaf_size = 4);
CREATE INDEX t_same_l1 ON t_same USING annoy (v manhattan_ops) WITH (n_trees = 3, leaf_size = 4);
CREATE INDEX t_few_l1 ON t_few USING annoy (v manhattan_ops) WITH (n_trees = 3, leaf_size = 4);
CREATE INDEX t_many_l1 ON t_many USING annoy (v manhattan_ops) WITH (n_trees = 3, leaf_size = 4);
CREATE INDEX t_null_l1 ON t_null USING annoy (v manhattan_ops) WITH (n_trees = 3, leaf_size = 4);
CREATE INDEX t_allnull_l1 ON t_allnull USING annoy (v manhattan_ops) WITH (n_trees = 3, leaf_size = 4);

SELECT 't_empty_l1' AS idx, * FROM pg_temp.check_scan('t_empty_l1', '{0,0,0}')
UNION ALL SELECT 't_one_l1', * FROM pg_temp.check_scan('t_one_l1', '{0,0,0}')
UNION ALL SELECT 't_same_l1', * FROM pg_temp.check_scan('t_same_l1', '{0,0,0}')
UNION ALL SELECT 't_few_l1', * FROM pg_temp.check_scan('t_few_l1', '{0,0,0}')
UNION ALL SELECT 't_many_l1', * FROM pg_temp.check_scan('t_many_l1', '{0,0,0}')
UNION ALL SELECT 't_many_l1', * FROM pg_temp.check_scan('t_many_l1', '{-4,4,-1}')
UNION ALL SELECT 't_null_l1', * FROM pg_temp.check_scan('t_null_l1', '{1,1,1}')
UNION ALL SELECT 't_allnull_l1', * FROM pg_temp.check_scan('t_allnull_l1', '{1,1,1}');

-- From (1,1,1): (1,0,0) -> 0+1+1 = 2, (0,2,0) -> 1+1+1 = 3, (0,0,-3) -> 1+1+4 = 6.
SELECT id, v <+> '{1,1,1}' AS d FROM t_few ORDER BY v <+> '{1,1,1}' LIMIT 10;

DROP INDEX t_empty_l1, t_one_l1, t_same_l1, t_few_l1, t_many_l1, t_null_l1, t_allnull_l1;

--
-- hamming_ops, the default for bit.
--
CREATE TABLE b_empty (id int, b bit(70));
CREATE TABLE b_one (id int, b bit(70));
INSERT INTO b_one VALUES (1, repeat('10', 35)::bit(70));
CREATE TABLE b_same (id int, b bit(70));
INSERT INTO b_same SELECT g, repeat('110', 24)::bit(70) FROM generate_series(1, 20) g;
CREATE TABLE b_few (id int, b bit(70));
-- 1, 2 and 3 bits set.
INSERT INTO b_few VALUES (1, ('1' || repeat('0', 69))::bit(70)),
                         (2, ('11' || repeat('0', 68))::bit(70)),
                         (3, (repeat('0', 67) || '111')::bit(70));
SELECT setseed(0.2);
CREATE TABLE b_many (id int, b bit(70));
INSERT INTO b_many
SELECT g, (SELECT string_agg(CASE WHEN random() < 0.5 THEN '0' ELSE '1' END, '')
           FROM generate_series(1, 70) k WHERE g > 0)::bit(70)
FROM generate_series(1, 200) g;
CREATE TABLE b_null (id int, b bit(70));
INSERT INTO b_null
SELECT g, CASE WHEN g % 3 = 0 THEN NULL ELSE (repeat('1', g) || repeat('0', 70 - g))::bit(70) END
FROM generate_series(1, 30) g;
-- bit varying works with the same operator class.
CREATE TABLE b_varbit (id int, b bit varying);
INSERT INTO b_varbit VALUES (1, B'0000'), (2, B'0001'), (3, B'0011'), (4, B'0111'), (5, B'1111'), (6, NULL);

CREATE INDEX b_empty_ham ON b_empty USING annoy (b) WITH (n_trees = 3, leaf_size = 4);
CREATE INDEX b_one_ham ON b_one USING annoy (b) WITH (n_trees = 3, leaf_size = 4);
CREATE INDEX b_same_ham ON b_same USING annoy (b hamming_ops) WITH (n_trees = 3, leaf_size = 4);
CREATE INDEX b_few_ham ON b_few USING annoy (b) WITH (n_trees = 3, leaf_size = 4);
CREATE INDEX b_many_ham ON b_many USING annoy (b) WITH (n_trees = 3, leaf_size = 4);
CREATE INDEX b_null_ham ON b_null USING annoy (b) WITH (n_trees = 3, leaf_size = 4);
CREATE INDEX b_varbit_ham ON b_varbit USING annoy (b) WITH (n_trees = 3, leaf_size = 2);

SELECT i.indexrelid::regclass AS index, c.opcname
FROM pg_index i JOIN pg_opclass c ON c.oid = i.indclass[0]
WHERE i.indexrelid = 'b_one_ham'::regclass;

SELECT 'b_empty_ham' AS idx, * FROM pg_temp.check_scan('b_empty_ham', repeat('0', 70))
UNION ALL SELECT 'b_one_ham', * FROM pg_temp.check_scan('b_one_ham', repeat('0', 70))
UNION ALL SELECT 'b_same_ham', * FROM pg_temp.check_scan('b_same_ham', repeat('0', 70))
UNION ALL SELECT 'b_few_ham', * FROM pg_temp.check_scan('b_few_ham', repeat('0', 70))
UNION ALL SELECT 'b_many_ham', * FROM pg_temp.check_scan('b_many_ham', repeat('0', 70))
UNION ALL SELECT 'b_many_ham', * FROM pg_temp.check_scan('b_many_ham', repeat('01', 35))
UNION ALL SELECT 'b_null_ham', * FROM pg_temp.check_scan('b_null_ham', repeat('1', 70))
UNION ALL SELECT 'b_varbit_ham', * FROM pg_temp.check_scan('b_varbit_ham', '0101');

-- From the zero string: 1, 2 and 3 bits.
SELECT id, b <~> repeat('0', 70)::bit(70) AS d FROM b_few ORDER BY b <~> repeat('0', 70)::bit(70) LIMIT 10;
-- From 0000: 0, 1, 2, 3, 4 bits; the NULL row is not returned.
SELECT id, b, b <~> B'0000' AS d FROM b_varbit ORDER BY b <~> B'0000' LIMIT 10;

--
-- Storage options.
--
-- (One index at a time, so that the scan uses the index just built.)
CREATE INDEX t_many_opts ON t_many USING annoy (v) WITH (n_trees = 7, leaf_size = 10, seed = 42);
SELECT reloptions FROM pg_class WHERE relname = 't_many_opts';
SELECT 't_many_opts' AS idx, * FROM pg_temp.check_scan('t_many_opts', '{1,2,3}');
DROP INDEX t_many_opts;
-- The extremes of each range.
CREATE INDEX t_many_limits ON t_many USING annoy (v) WITH (n_trees = 1000, leaf_size = 2, seed = 2147483647);
SELECT reloptions FROM pg_class WHERE relname = 't_many_limits';
SELECT 't_many_limits' AS idx, * FROM pg_temp.check_scan('t_many_limits', '{1,2,3}');
DROP INDEX t_many_limits;
CREATE INDEX t_many_limits2 ON t_many USING annoy (v) WITH (n_trees = 1, leaf_size = 1000, seed = 0);
SELECT reloptions FROM pg_class WHERE relname = 't_many_limits2';
SELECT 't_many_limits2' AS idx, * FROM pg_temp.check_scan('t_many_limits2', '{1,2,3}');
DROP INDEX t_many_limits2;
-- No options: the defaults, nothing in reloptions.
CREATE INDEX t_many_defaults ON t_many USING annoy (v);
SELECT reloptions IS NULL AS no_reloptions FROM pg_class WHERE relname = 't_many_defaults';
SELECT 't_many_defaults' AS idx, * FROM pg_temp.check_scan('t_many_defaults', '{1,2,3}');

-- Changing an option, then rebuilding.
ALTER INDEX t_many_defaults SET (n_trees = 5, seed = 7);
SELECT reloptions FROM pg_class WHERE relname = 't_many_defaults';
REINDEX INDEX t_many_defaults;
SELECT 't_many_defaults' AS idx, * FROM pg_temp.check_scan('t_many_defaults', '{1,2,3}');
ALTER INDEX t_many_defaults RESET (n_trees, seed);
SELECT reloptions FROM pg_class WHERE relname = 't_many_defaults';
DROP INDEX t_many_defaults;

-- Out of range and unknown options.
CREATE INDEX t_bad ON t_many USING annoy (v) WITH (n_trees = 0);
CREATE INDEX t_bad ON t_many USING annoy (v) WITH (n_trees = 1001);
CREATE INDEX t_bad ON t_many USING annoy (v) WITH (leaf_size = 1);
CREATE INDEX t_bad ON t_many USING annoy (v) WITH (leaf_size = 1001);
CREATE INDEX t_bad ON t_many USING annoy (v) WITH (seed = -1);
CREATE INDEX t_bad ON t_many USING annoy (v) WITH (n_trees = 'many');
CREATE INDEX t_bad ON t_many USING annoy (v) WITH (depth = 3);
CREATE INDEX t_one_l2 ON t_one USING annoy (v) WITH (n_trees = 2);
ALTER INDEX t_one_l2 SET (leaf_size = 0);
ALTER INDEX t_one_l2 SET (bogus = 1);
DROP INDEX t_one_l2;
SELECT count(*) AS leftover_indexes FROM pg_class WHERE relname = 't_bad';

-- What an annoy index cannot be.
-- (Further columns are filter columns, sql/filtered_scan.sql; a second
-- vector is not one.)
CREATE INDEX t_bad ON t_many USING annoy (v, v);
CREATE UNIQUE INDEX t_bad ON t_many USING annoy (v);
CREATE INDEX t_bad ON t_many USING annoy (id);
CREATE INDEX t_bad ON t_many USING annoy (v) INCLUDE (id);

--
-- INSERT after CREATE INDEX.
--
-- Into an index built on an empty table: the first vector fixes the dimension.
CREATE INDEX t_empty_l2 ON t_empty USING annoy (v) WITH (n_trees = 3, leaf_size = 4);
INSERT INTO t_empty VALUES (1, NULL);  -- a NULL does not fix anything
INSERT INTO t_empty VALUES (2, '{1,1}');
INSERT INTO t_empty VALUES (3, '{1,1,1}');
INSERT INTO t_empty SELECT g, array[g, -g]::real[] FROM generate_series(3, 12) g;
SELECT 't_empty_l2' AS idx, * FROM pg_temp.check_scan('t_empty_l2', '{0,0}');
-- (1,1) is sqrt 2 from (0,0); (3,-3) 3 sqrt 2; (4,-4) 4 sqrt 2.
SELECT id, round((v <-> '{0,0}')::numeric, 4) AS d FROM t_empty ORDER BY v <-> '{0,0}' LIMIT 3;

-- The same for every real[] operator class: four indexes built on one empty table.
CREATE TABLE t_grow (id int, v real[]);
CREATE INDEX t_grow_l2 ON t_grow USING annoy (v) WITH (n_trees = 3, leaf_size = 4);
CREATE INDEX t_grow_ang ON t_grow USING annoy (v angular_ops) WITH (n_trees = 3, leaf_size = 4);
CREATE INDEX t_grow_dot ON t_grow USING annoy (v dot_ops) WITH (n_trees = 3, leaf_size = 4);
CREATE INDEX t_grow_l1 ON t_grow USING annoy (v manhattan_ops) WITH (n_trees = 3, leaf_size = 4);
INSERT INTO t_grow SELECT id, v FROM t_many WHERE id <= 50;
INSERT INTO t_grow SELECT id, v FROM t_null;
INSERT INTO t_grow SELECT id + 1000, v FROM t_same;
SELECT 't_grow_l2' AS idx, * FROM pg_temp.check_scan('t_grow_l2', '{1,2,3}')
UNION ALL SELECT 't_grow_ang', * FROM pg_temp.check_scan('t_grow_ang', '{1,2,3}')
UNION ALL SELECT 't_grow_dot', * FROM pg_temp.check_scan('t_grow_dot', '{1,2,3}')
UNION ALL SELECT 't_grow_l1', * FROM pg_temp.check_scan('t_grow_l1', '{1,2,3}');

CREATE INDEX b_empty_ham2 ON b_empty USING annoy (b) WITH (n_trees = 3, leaf_size = 4);
DROP INDEX b_empty_ham;
INSERT INTO b_empty SELECT id, b FROM b_many WHERE id <= 40;
INSERT INTO b_empty SELECT id + 1000, b FROM b_null;
SELECT 'b_empty_ham2' AS idx, * FROM pg_temp.check_scan('b_empty_ham2', repeat('1', 70));

-- Into indexes built with data (leaves split as they fill).
CREATE INDEX t_few_again ON t_few USING annoy (v) WITH (n_trees = 3, leaf_size = 4);
INSERT INTO t_few SELECT g, array[g, 0, 0]::real[] FROM generate_series(4, 40) g;
INSERT INTO b_few SELECT g, (repeat('1', g) || repeat('0', 70 - g))::bit(70) FROM generate_series(4, 40) g;
SELECT 't_few_again' AS idx, * FROM pg_temp.check_scan('t_few_again', '{0,0,0}');
-- Nearest to (0,0,0): ids 1, 2, 3, 4 at distances 1, 2, 3, 4.
SELECT id, v <-> '{0,0,0}' AS d FROM t_few ORDER BY v <-> '{0,0,0}' LIMIT 4;
SELECT 'b_few_ham' AS idx, * FROM pg_temp.check_scan('b_few_ham', repeat('0', 70));
-- Nearest to the zero string: ids 1, 2, 3, 4 with 1, 2, 3, 4 bits set.
SELECT id, b <~> repeat('0', 70)::bit(70) AS d FROM b_few ORDER BY b <~> repeat('0', 70)::bit(70) LIMIT 4;

-- Dropping everything.
DROP TABLE t_empty, t_one, t_same, t_few, t_many, t_null, t_allnull, t_grow;
DROP TABLE b_empty, b_one, b_same, b_few, b_many, b_null, b_varbit;
