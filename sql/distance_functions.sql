--
-- Distance functions and operators on real[] and bit.
--
-- (Quietly: the extension may exist already, from an earlier file.)
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS annoy;
RESET client_min_messages;

\i sql/regress_helpers.psql

-- The catalogue: every function is IMMUTABLE, STRICT and PARALLEL SAFE and
-- returns double precision; every operator is its own commutator.
SELECT p.proname, pg_get_function_identity_arguments(p.oid) AS args,
       p.prorettype::regtype AS returns, p.provolatile, p.proisstrict, p.proparallel
FROM pg_proc p
WHERE p.proname IN ('l2_distance', 'cosine_distance', 'angular_distance', 'inner_product',
                    'negative_inner_product', 'l1_distance', 'hamming_distance')
ORDER BY p.proname, args;

SELECT o.oprname, o.oprleft::regtype, o.oprright::regtype, o.oprresult::regtype,
       o.oprcode::regprocedure AS function, o.oprcom = o.oid AS self_commutator
FROM pg_operator o
WHERE o.oprname IN ('<->', '<=>', '<#>', '<+>', '<~>')
  AND o.oprleft IN ('real[]'::regtype, 'float8[]'::regtype, 'bit'::regtype)
ORDER BY o.oprname, o.oprleft::regtype::text;

--
-- Known values, checkable by hand.
--

-- Euclidean: (1,2,3)-(4,6,3) = (-3,-4,0), length 5.
SELECT l2_distance('{1,2,3}'::real[], '{4,6,3}') AS l2,
       '{1,2,3}'::real[] <-> '{4,6,3}' AS op,
       l2_distance('{1,2,3}'::real[], '{1,2,3}') AS same,
       round(l2_distance('{0,0}'::real[], '{1,1}')::numeric, 6) AS sqrt2,
       l2_distance('{-1.5}'::real[], '{2.5}') AS one_dim;

-- Cosine distance 1 - cos: orthogonal 1, parallel 0, opposite 2,
-- 60 degrees 0.5 ((1,0) and (1,sqrt 3): cos = 1/2).
SELECT cosine_distance('{1,0}'::real[], '{0,1}') AS orthogonal,
       cosine_distance('{1,2}'::real[], '{2,4}') AS parallel,
       cosine_distance('{1,0}'::real[], '{-3,0}') AS opposite,
       round(cosine_distance('{1,0}'::real[], '{1,1.7320508}')::numeric, 6) AS sixty_degrees,
       round(('{3,4}'::real[] <=> '{4,3}')::numeric, 6) AS op;  -- 1 - 24/25 = 0.04

-- Angular distance sqrt(2 - 2 cos): orthogonal sqrt 2, parallel 0,
-- opposite 2, 60 degrees 1.
SELECT round(angular_distance('{1,0}'::real[], '{0,1}')::numeric, 6) AS orthogonal,
       angular_distance('{1,2}'::real[], '{2,4}') AS parallel,
       angular_distance('{1,0}'::real[], '{-3,0}') AS opposite,
       round(angular_distance('{1,0}'::real[], '{1,1.7320508}')::numeric, 6) AS sixty_degrees;

-- Inner product 1*4 + 2*5 + 3*6 = 32; the operator <#> is its negation.
SELECT inner_product('{1,2,3}'::real[], '{4,5,6}') AS ip,
       negative_inner_product('{1,2,3}'::real[], '{4,5,6}') AS nip,
       '{1,2,3}'::real[] <#> '{4,5,6}' AS op,
       inner_product('{1,-1}'::real[], '{1,1}') AS orthogonal,
       inner_product('{-2,0.5}'::real[], '{3,4}') AS negative;

-- Manhattan: |1-4| + |2-0| + |3-3| = 5.
SELECT l1_distance('{1,2,3}'::real[], '{4,0,3}') AS l1,
       '{1,2,3}'::real[] <+> '{4,0,3}' AS op,
       l1_distance('{-1,-1}'::real[], '{1,1}') AS four;

-- Hamming: differing bits.
SELECT hamming_distance(B'1010', B'0110') AS two,
       B'1010' <~> B'0110' AS op,
       B'1111' <~> B'1111' AS same,
       B'1' <~> B'0' AS one_bit,
       B'11111111' <~> B'00000000' AS byte,
       hamming_distance('1010'::varbit, '0101'::varbit) AS varbit;
-- Lengths that are not a multiple of 8 or 64: the padding does not count.
SELECT repeat('1', 130)::bit(130) <~> repeat('0', 130)::bit(130) AS all_130,
       repeat('10', 50)::bit(100) <~> repeat('01', 50)::bit(100) AS all_100,
       (repeat('0', 99) || '1')::bit(100) <~> repeat('0', 100)::bit(100) AS last_bit,
       ('1' || repeat('0', 64))::bit(65) <~> repeat('0', 65)::bit(65) AS first_bit;

-- NULL in, NULL out (STRICT).
SELECT l2_distance(NULL, '{1}'::real[]) IS NULL AS l2,
       cosine_distance('{1}'::real[], NULL) IS NULL AS cosine,
       angular_distance(NULL::real[], NULL) IS NULL AS angular,
       inner_product(NULL, '{1}'::real[]) IS NULL AS ip,
       negative_inner_product('{1}'::real[], NULL) IS NULL AS nip,
       l1_distance(NULL, '{1}'::real[]) IS NULL AS l1,
       hamming_distance(NULL, B'1') IS NULL AS hamming,
       (NULL::real[] <-> '{1}') IS NULL AS op_l2,
       ('{1}'::real[] <=> NULL) IS NULL AS op_cos,
       (NULL::real[] <#> '{1}') IS NULL AS op_ip,
       ('{1}'::real[] <+> NULL) IS NULL AS op_l1,
       (NULL::bit <~> B'1') IS NULL AS op_hamming;

-- Arrays whose lower bound is not 1 are accepted; only the elements count.
SELECT '[0:2]={1,2,3}'::real[] <-> '{4,6,3}' AS l2,
       '{1,2,3}'::real[] <+> '[-5:-3]={4,0,3}' AS l1,
       '[7:8]={1,0}'::real[] <=> '[2:3]={0,1}' AS cosine,
       inner_product('[0:2]={1,2,3}'::real[], '[10:12]={4,5,6}') AS ip;

--
-- Commutativity, on seeded random vectors (exact equality expected: the
-- computation is symmetric).
--
SELECT setseed(0.25);
CREATE TEMP TABLE rv AS
SELECT i AS id, array(SELECT (random() * 2 - 1)::real FROM generate_series(1, 37) g WHERE i > 0) AS v
FROM generate_series(1, 8) i;

SELECT count(*) AS pairs,
       bool_and((a.v <-> b.v) = (b.v <-> a.v)) AS l2,
       bool_and((a.v <=> b.v) = (b.v <=> a.v)) AS cosine,
       bool_and(angular_distance(a.v, b.v) = angular_distance(b.v, a.v)) AS angular,
       bool_and((a.v <#> b.v) = (b.v <#> a.v)) AS nip,
       bool_and(inner_product(a.v, b.v) = inner_product(b.v, a.v)) AS ip,
       bool_and((a.v <+> b.v) = (b.v <+> a.v)) AS l1
FROM rv a, rv b WHERE a.id < b.id;

CREATE TEMP TABLE rb AS
SELECT i AS id, (SELECT string_agg(CASE WHEN random() < 0.5 THEN '0' ELSE '1' END, '')
                 FROM generate_series(1, 200) g WHERE i > 0)::bit(200) AS b
FROM generate_series(1, 8) i;
SELECT count(*) AS pairs, bool_and((a.b <~> b.b) = (b.b <~> a.b)) AS hamming
FROM rb a, rb b WHERE a.id < b.id;

-- Agreement with an independent computation in SQL (double precision on the
-- same real values; the functions sum in single precision, hence the
-- relative tolerance).
CREATE FUNCTION pg_temp.close(x float8, y float8, tol float8 DEFAULT 1e-5) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$ SELECT abs(x - y) <= tol * greatest(1.0, abs(y)) $$;

CREATE TEMP TABLE rv_sql AS
SELECT a.id AS a, b.id AS b,
       sqrt(sum((x.e::float8 - y.e::float8) ^ 2)) AS l2,
       sum(x.e::float8 * y.e::float8) AS ip,
       sum(abs(x.e::float8 - y.e::float8)) AS l1,
       sum(x.e::float8 * y.e::float8)
         / sqrt(sum(x.e::float8 ^ 2) * sum(y.e::float8 ^ 2)) AS cos
FROM rv a CROSS JOIN rv b,
     unnest(a.v) WITH ORDINALITY x(e, n)
     JOIN unnest(b.v) WITH ORDINALITY y(e, n) ON x.n = y.n
WHERE a.id < b.id
GROUP BY a.id, b.id;

SELECT count(*) AS pairs,
       bool_and(pg_temp.close(ra.v <-> rb.v, s.l2)) AS l2,
       bool_and(pg_temp.close(inner_product(ra.v, rb.v), s.ip)) AS ip,
       bool_and(pg_temp.close(ra.v <#> rb.v, -s.ip)) AS nip,
       bool_and(pg_temp.close(ra.v <+> rb.v, s.l1)) AS l1,
       bool_and(pg_temp.close(ra.v <=> rb.v, 1 - s.cos)) AS cosine,
       bool_and(pg_temp.close(angular_distance(ra.v, rb.v), sqrt(2 - 2 * s.cos))) AS angular
FROM rv_sql s JOIN rv ra ON ra.id = s.a JOIN rv rb ON rb.id = s.b;

-- A few of them in full, rounded.
SELECT s.a, s.b, round((ra.v <-> rb.v)::numeric, 3) AS l2, round(s.l2::numeric, 3) AS l2_sql,
       round((ra.v <+> rb.v)::numeric, 3) AS l1, round(s.l1::numeric, 3) AS l1_sql
FROM rv_sql s JOIN rv ra ON ra.id = s.a JOIN rv rb ON rb.id = s.b
WHERE s.a = 1 AND s.b <= 3 ORDER BY s.b;

-- Hamming against counting differing characters of the bit strings.
SELECT count(*) AS pairs,
       bool_and((a.b <~> b.b) = (SELECT count(*) FROM generate_series(1, 200) k
                                 WHERE substring(a.b::text, k, 1) <> substring(b.b::text, k, 1))) AS hamming,
       bool_and((a.b <~> b.b) = length(replace((a.b # b.b)::text, '0', ''))) AS hamming_xor
FROM rb a, rb b WHERE a.id < b.id;

--
-- A 16,000-element vector.
--
SELECT round(l2_distance(array_fill(1::real, ARRAY[16000]), array_fill(0::real, ARRAY[16000]))::numeric, 4) AS l2,
       round(sqrt(16000::numeric), 4) AS sqrt_16000,
       l1_distance(array_fill(1::real, ARRAY[16000]), array_fill(-1::real, ARRAY[16000])) AS l1,
       inner_product(array_fill(1::real, ARRAY[16000]), array_fill(2::real, ARRAY[16000])) AS ip,
       array_fill(0.5::real, ARRAY[16000]) <=> array_fill(3::real, ARRAY[16000]) AS cosine;

SELECT setseed(0.5);
CREATE TEMP TABLE big AS
SELECT i AS id, array(SELECT (random() * 2 - 1)::real FROM generate_series(1, 16000) g WHERE i > 0) AS v
FROM generate_series(1, 2) i;
SELECT array_length(a.v, 1) AS len,
       pg_temp.close(a.v <-> b.v, (SELECT sqrt(sum((x.e::float8 - y.e::float8) ^ 2))
                                   FROM unnest(a.v) WITH ORDINALITY x(e, n)
                                   JOIN unnest(b.v) WITH ORDINALITY y(e, n) ON x.n = y.n), 1e-4) AS l2,
       pg_temp.close(a.v <+> b.v, (SELECT sum(abs(x.e::float8 - y.e::float8))
                                   FROM unnest(a.v) WITH ORDINALITY x(e, n)
                                   JOIN unnest(b.v) WITH ORDINALITY y(e, n) ON x.n = y.n), 1e-4) AS l1,
       abs((a.v <#> b.v) + (SELECT sum(x.e::float8 * y.e::float8)
                            FROM unnest(a.v) WITH ORDINALITY x(e, n)
                            JOIN unnest(b.v) WITH ORDINALITY y(e, n) ON x.n = y.n)) < 1e-2 AS nip
FROM big a, big b WHERE a.id = 1 AND b.id = 2;

--
-- Errors.
--
-- Different lengths.
SELECT pg_temp.sqlstate_of($$SELECT '{1,2}'::real[] <-> '{1,2,3}'$$);
SELECT pg_temp.sqlstate_of($$SELECT cosine_distance('{1,2,3}'::real[], '{1,2}')$$);
SELECT pg_temp.sqlstate_of($$SELECT angular_distance('{1}'::real[], '{1,2}')$$);
SELECT pg_temp.sqlstate_of($$SELECT inner_product('{1}'::real[], '{1,2}')$$);
SELECT pg_temp.sqlstate_of($$SELECT '{1}'::real[] <#> '{1,2}'$$);
SELECT pg_temp.sqlstate_of($$SELECT '{1}'::real[] <+> '{1,2}'$$);
-- Multi-dimensional arrays (either side).
SELECT pg_temp.sqlstate_of($$SELECT '{{1,2},{3,4}}'::real[] <-> '{1,2,3,4}'$$);
SELECT pg_temp.sqlstate_of($$SELECT '{1,2}'::real[] <+> '{{1,2}}'$$);
SELECT pg_temp.sqlstate_of($$SELECT inner_product('{{{1}}}'::real[], '{{{1}}}')$$);
-- NULL elements.
SELECT pg_temp.sqlstate_of($$SELECT '{1,NULL}'::real[] <-> '{1,2}'$$);
SELECT pg_temp.sqlstate_of($$SELECT cosine_distance('{1,2}'::real[], '{NULL,2}')$$);
-- Empty arrays.
SELECT pg_temp.sqlstate_of($$SELECT '{}'::real[] <-> '{}'$$);
SELECT pg_temp.sqlstate_of($$SELECT l1_distance('{}'::real[], '{1}')$$);
SELECT pg_temp.sqlstate_of($$SELECT inner_product('{1}'::real[], '{}')$$);
-- NaN and infinity.
SELECT pg_temp.sqlstate_of($$SELECT '{1,NaN}'::real[] <-> '{1,2}'$$);
SELECT pg_temp.sqlstate_of($$SELECT '{1,2}'::real[] <+> '{Infinity,2}'$$);
SELECT pg_temp.sqlstate_of($$SELECT inner_product('{1,-Infinity,3}'::real[], '{1,2,3}')$$);
SELECT pg_temp.sqlstate_of($$SELECT cosine_distance('{NaN}'::real[], '{NaN}')$$);
-- Bit strings of different lengths, and empty ones.
SELECT pg_temp.sqlstate_of($$SELECT B'101' <~> B'10'$$);
SELECT pg_temp.sqlstate_of($$SELECT hamming_distance(B'1', repeat('1', 65)::varbit)$$);
SELECT pg_temp.sqlstate_of($$SELECT B'' <~> B''$$);
SELECT pg_temp.sqlstate_of($$SELECT hamming_distance(''::varbit, B'1')$$);
-- A zero vector has no direction: cosine and angular distance are errors.
SELECT pg_temp.sqlstate_of($$SELECT cosine_distance('{0,0}'::real[], '{1,1}')$$);
SELECT pg_temp.sqlstate_of($$SELECT '{1,1}'::real[] <=> '{0,0}'$$);
SELECT pg_temp.sqlstate_of($$SELECT angular_distance('{0,0,0}'::real[], '{0,0,0}')$$);
SELECT pg_temp.sqlstate_of($$SELECT angular_distance('{0,-0}'::real[], '{1,2}')$$);
-- ... while the other metrics accept it.
SELECT l2_distance('{0,0}'::real[], '{3,4}') AS l2, inner_product('{0,0}'::real[], '{3,4}') AS ip,
       l1_distance('{0,0}'::real[], '{0,0}') AS l1;
-- The error text, with its hint.
SELECT cosine_distance('{0,0}'::real[], '{1,1}');
SELECT '{1,NaN}'::real[] <-> '{1,2}';

--
-- Extreme magnitudes: single-precision sums would overflow or underflow;
-- the functions fall back to double precision and stay exact.
--
SELECT cosine_distance('{1e20,0}'::real[], '{1e20,0}') AS cos_same_huge,
       cosine_distance('{1e-30,0}'::real[], '{1e-30,0}') AS cos_same_tiny,
       round(cosine_distance('{1e20,1}'::real[], '{1,0}')::numeric, 12) AS cos_nearly_parallel,
       angular_distance('{1e20,0}'::real[], '{1e20,0}') AS ang_same_huge;
SELECT abs(l2_distance('{3e38}'::real[], '{-3e38}') / 6e38 - 1) < 1e-6 AS l2_huge_ok,
       abs(l2_distance('{1e-30}'::real[], '{-1e-30}') / 2e-30 - 1) < 1e-6 AS l2_tiny_ok,
       abs(inner_product('{3e38,3e38}'::real[], '{3e38,3e38}') / 1.8e77 - 1) < 1e-6 AS ip_huge_ok,
       abs(negative_inner_product('{3e38,3e38}'::real[], '{3e38,3e38}') / -1.8e77 - 1) < 1e-6 AS nip_huge_ok,
       abs(l1_distance('{3e38}'::real[], '{-3e38}') / 6e38 - 1) < 1e-6 AS l1_huge_ok;
