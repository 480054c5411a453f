--
-- Sharing hamming_distance(bit, bit) and <~> with pgvector: the annoy-only
-- half, which needs no pgvector (test/t/070_pgvector.pl installs both in
-- either order when pgvector is present).
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS annoy;
RESET client_min_messages;

-- Without pgvector, annoy owns both objects, and hamming_ops orders by that
-- <~> as a loose member of its family: soft ('a') dependencies, so that the
-- operator can be replaced (by pgvector's) without dropping the class.
CREATE VIEW hamming_family AS
SELECT o.amopstrategy, o.amopopr::regoperator AS operator, p.oprcode::regprocedure AS function,
       (SELECT e.extname FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
         WHERE d.classid = 'pg_operator'::regclass AND d.objid = p.oid AND d.deptype = 'e') AS owner,
       (SELECT string_agg(d.refclassid::regclass::text || ':' || d.deptype::text, ', ' ORDER BY d.refclassid::regclass::text)
          FROM pg_depend d WHERE d.classid = 'pg_amop'::regclass AND d.objid = o.oid) AS dependencies
FROM pg_amop o
JOIN pg_operator p ON p.oid = o.amopopr
WHERE o.amopfamily = (SELECT f.oid FROM pg_opfamily f JOIN pg_am a ON a.oid = f.opfmethod
                       WHERE a.amname = 'annoy' AND f.opfname = 'hamming_ops');
TABLE hamming_family;
SELECT evtname, evtevent, evttags FROM pg_event_trigger WHERE evtname LIKE 'annoy%' ORDER BY evtname;

CREATE TABLE sharing (id int, b bit(12));
INSERT INTO sharing SELECT i, (i * 37 % 4096)::bit(12) FROM generate_series(1, 300) i;
CREATE INDEX sharing_idx ON sharing USING annoy (b) WITH (n_trees = 3, leaf_size = 8);
SET enable_seqscan = off;
SET annoy.search_k = 100000;
EXPLAIN (COSTS OFF) SELECT id FROM sharing ORDER BY b <~> B'000000000001' LIMIT 5;
SELECT id, b <~> B'000000000001' AS d FROM sharing ORDER BY b <~> B'000000000001', id LIMIT 5;

-- CREATE EXTENSION of anything but pgvector leaves annoy's objects alone.
BEGIN;
SELECT annoy_yield_bit_operator('plpgsql');
TABLE hamming_family;
ROLLBACK;

-- What the triggers do around CREATE / DROP EXTENSION vector, step by
-- step: handing over drops annoy's operator and function (and with them
-- the family's entry; the class and its indexes stay) ...
BEGIN;
SELECT annoy_yield_bit_operator('vector');
TABLE hamming_family;
SELECT to_regprocedure('hamming_distance(bit, bit)') AS function, to_regoperator('<~>(bit, bit)') AS operator;
SELECT count(*) AS hamming_indexes FROM pg_index WHERE indexrelid = 'sharing_idx'::regclass;
-- ... and binding, when the schema has no <~> (pgvector was dropped),
-- creates annoy's own again, as members of annoy, and puts it back into
-- the family; the index orders by it as before.
SELECT annoy_bind_bit_operator();
TABLE hamming_family;
SELECT e.extname FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
WHERE d.classid = 'pg_proc'::regclass AND d.objid = 'hamming_distance(bit, bit)'::regprocedure AND d.deptype = 'e';
EXPLAIN (COSTS OFF) SELECT id FROM sharing ORDER BY b <~> B'000000000001' LIMIT 5;
SELECT id, b <~> B'000000000001' AS d FROM sharing ORDER BY b <~> B'000000000001', id LIMIT 5;
ROLLBACK;

-- Binding is idempotent, and the helper that claims objects for the
-- extension is not for everyone.
SELECT annoy_bind_bit_operator();
TABLE hamming_family;
SELECT has_function_privilege('public', 'annoy_claim_object(regclass, oid)', 'execute') AS public_may_claim;

DROP TABLE sharing;
DROP VIEW hamming_family;
RESET enable_seqscan;
RESET annoy.search_k;
