--
-- Invalid vectors entering an annoy index (rows and queries), recovery
-- after a failed statement, and the size limits of a vector.
--
-- (Quietly: the extension may exist already, from an earlier file.)
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS annoy;
RESET client_min_messages;

\i sql/regress_helpers.psql


SET enable_seqscan = off;
SET annoy.search_k = 100000;

CREATE TABLE e3 (id int, v real[]);
INSERT INTO e3 SELECT i, array[i % 5, i % 7 - 3, i * 0.5]::real[] FROM generate_series(1, 30) i;
CREATE INDEX e3_l2 ON e3 USING annoy (v) WITH (n_trees = 3, leaf_size = 4);
CREATE TABLE a3 (id int, v real[]);
INSERT INTO a3 SELECT i, array[i % 5 + 1, i % 7 - 3, i * 0.5]::real[] FROM generate_series(1, 30) i;
CREATE INDEX a3_ang ON a3 USING annoy (v angular_ops) WITH (n_trees = 3, leaf_size = 4);
CREATE TABLE h8 (id int, b bit varying);
INSERT INTO h8 SELECT i, (i % 256)::bit(8)::varbit FROM generate_series(1, 30) i;
CREATE INDEX h8_ham ON h8 USING annoy (b) WITH (n_trees = 3, leaf_size = 4);

SELECT 'e3_l2' AS idx, * FROM pg_temp.check_scan('e3_l2', '{0,0,0}')
UNION ALL SELECT 'a3_ang', * FROM pg_temp.check_scan('a3_ang', '{1,0,0}')
UNION ALL SELECT 'h8_ham', * FROM pg_temp.check_scan('h8_ham', '00000000');

--
-- Every invalid vector, with its SQLSTATE.
--
SELECT q AS statement, pg_temp.sqlstate_of(q) AS result FROM (VALUES
    -- Rows.
    ($$INSERT INTO e3 VALUES (100, '{1,2}')$$),
    ($$INSERT INTO e3 VALUES (100, '{1,2,3,4}')$$),
    ($$INSERT INTO e3 VALUES (100, '{1,NaN,3}')$$),
    ($$INSERT INTO e3 VALUES (100, '{1,2,Infinity}')$$),
    ($$INSERT INTO e3 VALUES (100, '{-Infinity,2,3}')$$),
    ($$INSERT INTO e3 VALUES (100, '{1,NULL,3}')$$),
    ($$INSERT INTO e3 VALUES (100, '{{1,2,3}}')$$),
    ($$INSERT INTO e3 VALUES (100, '{}')$$),
    ($$UPDATE e3 SET v = '{1,2}' WHERE id = 1$$),
    ($$INSERT INTO a3 VALUES (100, '{0,0,0}')$$),
    ($$INSERT INTO h8 VALUES (100, B'101')$$),
    ($$INSERT INTO h8 VALUES (100, B'101010101')$$),
    ($$INSERT INTO h8 VALUES (100, B'')$$),
    -- Queries.
    ($$SELECT id FROM e3 ORDER BY v <-> '{1,2}' LIMIT 3$$),
    ($$SELECT id FROM e3 ORDER BY v <-> '{1,2,3,4}' LIMIT 3$$),
    ($$SELECT id FROM e3 ORDER BY v <-> '{1,NaN,3}' LIMIT 3$$),
    ($$SELECT id FROM e3 ORDER BY v <-> '{1,NULL,3}' LIMIT 3$$),
    ($$SELECT id FROM e3 ORDER BY v <-> '{{1,2,3}}' LIMIT 3$$),
    ($$SELECT id FROM e3 ORDER BY v <-> '{}' LIMIT 3$$),
    ($$SELECT id FROM a3 ORDER BY v <=> '{0,0,0}' LIMIT 3$$),
    ($$SELECT id FROM a3 ORDER BY v <=> '{0,0}' LIMIT 3$$),
    ($$SELECT id FROM h8 ORDER BY b <~> B'1' LIMIT 3$$),
    ($$SELECT id FROM h8 ORDER BY b <~> B'' LIMIT 3$$)
) AS t(q);

-- Nothing changed.
SELECT 'e3_l2' AS idx, * FROM pg_temp.check_scan('e3_l2', '{0,0,0}')
UNION ALL SELECT 'a3_ang', * FROM pg_temp.check_scan('a3_ang', '{1,0,0}')
UNION ALL SELECT 'h8_ham', * FROM pg_temp.check_scan('h8_ham', '00000000');

--
-- Failed INSERTs inside a transaction: after ROLLBACK TO SAVEPOINT the index
-- is still usable and returns exactly the table's rows.  Some of the failing
-- statements insert valid rows (and index them) before the bad one.
--
BEGIN;
SAVEPOINT s;
INSERT INTO e3 VALUES (101, '{1,2}');
ROLLBACK TO SAVEPOINT s;
INSERT INTO e3 VALUES (102, '{1,NaN,3}');
ROLLBACK TO SAVEPOINT s;
INSERT INTO e3 VALUES (103, '{1,NULL,3}');
ROLLBACK TO SAVEPOINT s;
INSERT INTO e3 VALUES (104, '{{1},{2},{3}}');
ROLLBACK TO SAVEPOINT s;
INSERT INTO e3 VALUES (105, '{}');
ROLLBACK TO SAVEPOINT s;
INSERT INTO e3 SELECT i, array[i, i, i]::real[] FROM generate_series(106, 120) i
UNION ALL SELECT 121, '{1,2,3,4}';
ROLLBACK TO SAVEPOINT s;
SELECT 'e3_l2' AS idx, * FROM pg_temp.check_scan('e3_l2', '{0,0,0}');
-- A valid row in the same transaction is found.
INSERT INTO e3 VALUES (200, '{9,9,9}');
SELECT id, v <-> '{9,9,9}' AS d FROM e3 ORDER BY v <-> '{9,9,9}' LIMIT 1;
SAVEPOINT s2;
INSERT INTO e3 VALUES (201, '{9,9,Infinity}');
ROLLBACK TO SAVEPOINT s2;
SELECT 'e3_l2' AS idx, * FROM pg_temp.check_scan('e3_l2', '{9,9,9}');
COMMIT;
SELECT count(*) AS rows_in_e3 FROM e3;
SELECT 'e3_l2' AS idx, * FROM pg_temp.check_scan('e3_l2', '{0,0,0}');

-- Zero vectors under angular_ops.
BEGIN;
SAVEPOINT s;
INSERT INTO a3 SELECT i, array[1, i, 2]::real[] FROM generate_series(101, 110) i
UNION ALL SELECT 111, '{0,0,0}';
ROLLBACK TO SAVEPOINT s;
SELECT id FROM a3 ORDER BY v <=> '{0,0,0}' LIMIT 3;
ROLLBACK TO SAVEPOINT s;
SELECT 'a3_ang' AS idx, * FROM pg_temp.check_scan('a3_ang', '{1,0,0}');
COMMIT;

-- Bit strings of the wrong length under hamming_ops.
BEGIN;
SAVEPOINT s;
INSERT INTO h8 VALUES (101, B'1111');
ROLLBACK TO SAVEPOINT s;
INSERT INTO h8 VALUES (102, B'11111111'), (103, B'111111111');
ROLLBACK TO SAVEPOINT s;
INSERT INTO h8 VALUES (104, B'');
ROLLBACK TO SAVEPOINT s;
SELECT id FROM h8 ORDER BY b <~> B'1111111' LIMIT 3;
ROLLBACK TO SAVEPOINT s;
SELECT 'h8_ham' AS idx, * FROM pg_temp.check_scan('h8_ham', '11111111');
COMMIT;
SELECT count(*) AS rows_in_h8 FROM h8;

--
-- Invalid rows already in the table make CREATE INDEX fail.
--
CREATE TABLE bad (id int, v real[], b bit varying);
INSERT INTO bad VALUES (1, '{1,2,3}', B'1010'), (2, '{1,2}', B'101');
CREATE INDEX bad_l2 ON bad USING annoy (v);
CREATE INDEX bad_ham ON bad USING annoy (b);
TRUNCATE bad;
INSERT INTO bad VALUES (1, '{1,2,3}', B'1010'), (2, '{0,0,0}', B'');
CREATE INDEX bad_ang ON bad USING annoy (v angular_ops);
CREATE INDEX bad_ham ON bad USING annoy (b);
-- ... but euclidean_ops takes the zero vector.
CREATE INDEX bad_l2 ON bad USING annoy (v);
DROP INDEX bad_l2;
TRUNCATE bad;
INSERT INTO bad VALUES (1, '{1,2,3}'), (2, '{1,NaN,3}');
CREATE INDEX bad_dot ON bad USING annoy (v dot_ops);
TRUNCATE bad;
INSERT INTO bad VALUES (1, '{1,2,3}'), (2, '{{1,2,3}}');
CREATE INDEX bad_l1 ON bad USING annoy (v manhattan_ops);
SELECT relname FROM pg_class WHERE relname LIKE 'bad\_%' ORDER BY relname;
-- After TRUNCATE the index is empty again and takes any dimension.
TRUNCATE bad;
INSERT INTO bad VALUES (1, '{1,2,3}');
CREATE INDEX bad_l2 ON bad USING annoy (v);
TRUNCATE bad;
INSERT INTO bad VALUES (1, '{1,2,3,4,5}'), (2, '{5,4,3,2,1}');
SELECT id FROM bad ORDER BY v <-> '{1,2,3,4,6}' LIMIT 2;
INSERT INTO bad VALUES (3, '{1,2,3}');
DROP TABLE bad;

--
-- Size limits: 16,000 dimensions (pgvector's).  Vectors larger than a page
-- continue in chunk tuples; split hyperplanes are stored in fewer bits.
--
CREATE TABLE wide (id int, v real[]);
INSERT INTO wide VALUES (1, array_fill(1::real, ARRAY[16001]));
CREATE INDEX wide_l2 ON wide USING annoy (v);
TRUNCATE wide;
CREATE INDEX wide_l2 ON wide USING annoy (v);
INSERT INTO wide VALUES (1, array_fill(1::real, ARRAY[16001]));
SELECT id FROM wide ORDER BY v <-> array_fill(1::real, ARRAY[16001]) LIMIT 1;
-- Around one page (BLCKSZ 8192): 2034 dimensions fit in the item tuple,
-- 2035 need a chunk tuple; both are indexed and read back exactly.
DROP INDEX wide_l2;
CREATE INDEX wide_l2 ON wide USING annoy (v) WITH (n_trees = 2, leaf_size = 2);
INSERT INTO wide SELECT i, array_fill(i::real, ARRAY[2034]) FROM generate_series(1, 6) i;
SELECT id, round((v <-> array_fill(2.25::real, ARRAY[2034]))::numeric, 4) AS d
FROM wide ORDER BY v <-> array_fill(2.25::real, ARRAY[2034]) LIMIT 2;
SELECT 'wide_l2' AS idx, * FROM pg_temp.check_scan('wide_l2', array_fill(0::real, ARRAY[2034])::text);
SELECT pg_temp.sqlstate_of($$INSERT INTO wide VALUES (7, array_fill(1::real, ARRAY[2035]))$$);
TRUNCATE wide;
INSERT INTO wide SELECT i, array_fill(i::real, ARRAY[2035]) FROM generate_series(1, 6) i;
SELECT id, round((v <-> array_fill(2.25::real, ARRAY[2035]))::numeric, 4) AS d
FROM wide ORDER BY v <-> array_fill(2.25::real, ARRAY[2035]) LIMIT 2;
SELECT 'wide_l2' AS idx, * FROM pg_temp.check_scan('wide_l2', array_fill(0::real, ARRAY[2035])::text);
SELECT annoy_check('wide_l2');
-- dot_ops (whose hyperplanes carry an extra coordinate), at the limit.
TRUNCATE wide;
INSERT INTO wide SELECT i, array_fill((i % 5)::real, ARRAY[16000]) FROM generate_series(1, 6) i;
CREATE INDEX wide_dot ON wide USING annoy (v dot_ops) WITH (n_trees = 2, leaf_size = 2);
SELECT 'wide_dot' AS idx, * FROM pg_temp.check_scan('wide_dot', array_fill(1::real, ARRAY[16000])::text);
SELECT annoy_check('wide_dot');
SELECT pg_temp.sqlstate_of($$INSERT INTO wide VALUES (7, array_fill(1::real, ARRAY[16001]))$$);
DROP TABLE wide;

-- 2000 dimensions work, for builds and inserts that split leaves.
SELECT setseed(0.6);
CREATE TABLE hd (id int, v real[]);
INSERT INTO hd
SELECT i, array(SELECT (random() * 2 - 1)::real FROM generate_series(1, 2000) g WHERE i > 0)
FROM generate_series(1, 12) i;
CREATE INDEX hd_l2 ON hd USING annoy (v) WITH (n_trees = 3, leaf_size = 2);
CREATE INDEX hd_ang ON hd USING annoy (v angular_ops) WITH (n_trees = 3, leaf_size = 2);
CREATE INDEX hd_dot ON hd USING annoy (v dot_ops) WITH (n_trees = 3, leaf_size = 2);
CREATE INDEX hd_l1 ON hd USING annoy (v manhattan_ops) WITH (n_trees = 3, leaf_size = 2);
INSERT INTO hd
SELECT i, array(SELECT (random() * 2 - 1)::real FROM generate_series(1, 2000) g WHERE i > 0)
FROM generate_series(13, 30) i;
CREATE TEMP TABLE hd_q AS
SELECT array(SELECT (random() * 2 - 1)::real FROM generate_series(1, 2000)) AS q;
SELECT 'hd_l2' AS idx, c.* FROM hd_q, pg_temp.check_scan('hd_l2', hd_q.q::text) c
UNION ALL SELECT 'hd_ang', c.* FROM hd_q, pg_temp.check_scan('hd_ang', hd_q.q::text) c
UNION ALL SELECT 'hd_dot', c.* FROM hd_q, pg_temp.check_scan('hd_dot', hd_q.q::text) c
UNION ALL SELECT 'hd_l1', c.* FROM hd_q, pg_temp.check_scan('hd_l1', hd_q.q::text) c;
-- A stored row is its own nearest neighbour.
SELECT id, v <-> (SELECT v FROM hd WHERE id = 17) AS d
FROM hd ORDER BY v <-> (SELECT v FROM hd WHERE id = 17) LIMIT 1;
-- A query of another dimension is an error.
SELECT id FROM hd ORDER BY v <-> array_fill(0::real, ARRAY[1999]) LIMIT 1;
DROP TABLE hd;

-- Bit strings: up to 65088 bits; 64,000 work.
CREATE TABLE hb (id int, b bit varying);
INSERT INTO hb VALUES (1, repeat('1', 65089)::varbit);
CREATE INDEX hb_ham ON hb USING annoy (b);
TRUNCATE hb;
INSERT INTO hb VALUES
    (1, repeat('01', 32000)::varbit),                                    -- 32000 ones
    (2, repeat('10', 32000)::varbit),                                    -- the complement of 1
    (3, (repeat('0', 64000))::varbit),
    (4, (repeat('1', 64000))::varbit),
    (5, (repeat('01', 31990) || repeat('11', 10))::varbit),              -- 1 with 10 bits set
    (6, (repeat('0', 100) || repeat('1', 63900))::varbit);               -- 63900 ones
CREATE INDEX hb_ham ON hb USING annoy (b) WITH (n_trees = 3, leaf_size = 2);
SELECT pg_temp.sqlstate_of($$INSERT INTO hb VALUES (9, repeat('1', 65089)::varbit)$$);
INSERT INTO hb VALUES
    (7, (repeat('01', 31000) || repeat('00', 1000))::varbit),            -- 31000 ones
    (8, (repeat('1', 5) || repeat('0', 63995))::varbit);                 -- 5 ones
-- From row 1 (01...01, ones at the 32000 even positions): row 1 itself 0,
-- 5 differs in 10 bits, 7 in 1000, 3 and 4 in 32000 each, 6 in 100/2 +
-- 63900/2 = 32000, 8 in 32000 + 5 - 2 * 2 = 32001 (two of its five ones are
-- at even positions), 2 in all 64000.
SELECT id, b <~> repeat('01', 32000)::varbit AS d
FROM hb ORDER BY b <~> repeat('01', 32000)::varbit, id LIMIT 10;
SELECT 'hb_ham' AS idx, * FROM pg_temp.check_scan('hb_ham', repeat('01', 32000));
SELECT id FROM hb ORDER BY b <~> repeat('1', 64001)::varbit LIMIT 1;
-- At the limit: 65088 bits.
TRUNCATE hb;
INSERT INTO hb SELECT i, (repeat('0', i * 1000) || repeat('1', 65088 - i * 1000))::varbit
FROM generate_series(1, 6) i;
SELECT id, b <~> repeat('1', 65088)::varbit AS d FROM hb ORDER BY b <~> repeat('1', 65088)::varbit LIMIT 2;
SELECT 'hb_ham' AS idx, * FROM pg_temp.check_scan('hb_ham', repeat('0', 65088));
DROP TABLE hb;

DROP TABLE e3, a3, h8;
RESET annoy.search_k;
RESET enable_seqscan;
