-- ALTER EXTENSION annoy UPDATE from 0.1.0 gives exactly the objects of a
-- fresh CREATE EXTENSION annoy, and indexes built under 0.1.0 keep working.
--
-- The test compares catalogue snapshots of the two installations: every
-- member object (pg_describe_object of the extension's pg_depend entries),
-- every function's full definition (signature, result, language, symbol,
-- volatility, strictness, parallel safety, cost), operators, operator
-- classes and the operators and support functions of their families,
-- comments and privileges.  An object added to (or changed in) only one of
-- sql/annoy--<new>.sql and sql/annoy--0.1.0--<new>.sql shows up as a row
-- below.  It runs in a database of its own, so it neither needs nor
-- disturbs the extension of the other tests.
SET client_min_messages = warning;
SELECT current_database() AS regress_db \gset
DROP DATABASE IF EXISTS annoy_regress_upgrade;
CREATE DATABASE annoy_regress_upgrade;
\c annoy_regress_upgrade
SET client_min_messages = warning;

-- Everything the extension owns, one row per fact, as text that does not
-- depend on OIDs.
CREATE FUNCTION annoy_objects() RETURNS TABLE (kind text, object text, detail text)
LANGUAGE sql AS $$
    WITH ext AS (SELECT oid FROM pg_extension WHERE extname = 'annoy'),
    member AS (
        SELECT d.classid, d.objid, d.objsubid
        FROM pg_depend d, ext
        WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e'
    ),
    family AS (SELECT objid AS oid FROM member WHERE classid = 'pg_opfamily'::regclass)
    SELECT 'member', pg_describe_object(classid, objid, objsubid), NULL FROM member
    UNION ALL
    SELECT 'function', p.oid::regprocedure::text,
           pg_get_functiondef(p.oid) || ' acl=' || coalesce(p.proacl::text, 'default')
    FROM pg_proc p JOIN member m ON m.classid = 'pg_proc'::regclass AND m.objid = p.oid
    UNION ALL
    SELECT 'operator', o.oid::regoperator::text,
           format('result=%s function=%s commutator=%s negator=%s restrict=%s join=%s',
                  o.oprresult::regtype, o.oprcode, o.oprcom::regoperator, o.oprnegate::regoperator,
                  o.oprrest, o.oprjoin)
    FROM pg_operator o JOIN member m ON m.classid = 'pg_operator'::regclass AND m.objid = o.oid
    UNION ALL
    SELECT 'opclass', c.opcname,
           format('method=%s type=%s default=%s family=%s storage=%s', am.amname, c.opcintype::regtype,
                  c.opcdefault, f.opfname, c.opckeytype::regtype)
    FROM pg_opclass c JOIN member m ON m.classid = 'pg_opclass'::regclass AND m.objid = c.oid
    JOIN pg_am am ON am.oid = c.opcmethod JOIN pg_opfamily f ON f.oid = c.opcfamily
    UNION ALL
    SELECT 'family operator', pg_describe_object('pg_amop'::regclass, a.oid, 0),
           format('purpose=%s sortfamily=%s', a.amoppurpose, a.amopsortfamily)
    FROM pg_amop a JOIN family ON family.oid = a.amopfamily
    UNION ALL
    SELECT 'family function', pg_describe_object('pg_amproc'::regclass, a.oid, 0), NULL
    FROM pg_amproc a JOIN family ON family.oid = a.amprocfamily
    UNION ALL
    SELECT 'access method', am.amname, format('type=%s handler=%s', am.amtype, am.amhandler)
    FROM pg_am am JOIN member m ON m.classid = 'pg_am'::regclass AND m.objid = am.oid
    UNION ALL
    SELECT 'comment', pg_describe_object(d.classoid, d.objoid, d.objsubid), d.description
    FROM pg_description d JOIN member m ON (m.classid, m.objid) = (d.classoid, d.objoid)
    UNION ALL
    SELECT 'initial privileges', pg_describe_object(i.classoid, i.objoid, i.objsubid),
           i.privtype::text || ' ' || i.initprivs::text
    FROM pg_init_privs i JOIN member m ON (m.classid, m.objid) = (i.classoid, i.objoid)
    UNION ALL
    SELECT 'extension', extname, format('relocatable=%s schema=%s config=%s', extrelocatable,
                                        extnamespace::regnamespace, extconfig)
    FROM pg_extension WHERE extname = 'annoy'
$$;

-- The fresh installation of the default version.
CREATE EXTENSION annoy;
SELECT extversion = default_version AS fresh_is_default_version
FROM pg_extension, pg_available_extensions WHERE extname = 'annoy' AND name = 'annoy';
CREATE TABLE fresh AS SELECT * FROM annoy_objects();
DROP EXTENSION annoy;

-- 0.1.0 with indexes of every operator class, then the update.
CREATE EXTENSION annoy VERSION '0.1.0';
CREATE TABLE items (id int PRIMARY KEY, v real[], b bit(64));
SELECT setseed(0.5);
INSERT INTO items
SELECT i, ARRAY(SELECT (random() - 0.5)::real FROM generate_series(1, 16) WHERE i > 0),
       (random() * 9e18)::int8::bit(64)
FROM generate_series(1, 2000) i;
CREATE INDEX items_l2 ON items USING annoy (v) WITH (n_trees = 4);
CREATE INDEX items_cos ON items USING annoy (v angular_ops) WITH (n_trees = 4);
CREATE INDEX items_dot ON items USING annoy (v dot_ops) WITH (n_trees = 4);
CREATE INDEX items_l1 ON items USING annoy (v manhattan_ops) WITH (n_trees = 4);
CREATE INDEX items_ham ON items USING annoy (b) WITH (n_trees = 4);

ALTER EXTENSION annoy UPDATE;
SELECT extversion = default_version AS updated_to_default_version
FROM pg_extension, pg_available_extensions WHERE extname = 'annoy' AND name = 'annoy';
CREATE TABLE updated AS SELECT * FROM annoy_objects();

-- The snapshots are not empty (a broken snapshot query would compare equal).
SELECT count(*) > 40 AS many_facts, count(DISTINCT kind) AS kinds FROM fresh;
-- What only one of the two installations has: no rows.
SELECT 'only fresh' AS side, * FROM (SELECT * FROM fresh EXCEPT SELECT * FROM updated) f
UNION ALL
SELECT 'only updated', * FROM (SELECT * FROM updated EXCEPT SELECT * FROM fresh) u
ORDER BY 1, 2, 3;

-- The indexes built under 0.1.0 still answer queries: each is used, passes
-- annoy_check, returns the exact top 10 (their distances) when the search
-- covers every item,
-- and finds a row inserted after the update.
SET annoy.search_k = 100000;
CREATE FUNCTION knn(ord text, use_index boolean, OUT ids int[], OUT dists float8[], OUT index_used text)
LANGUAGE plpgsql AS $$
DECLARE
    q text := format('SELECT id, %s AS d FROM items ORDER BY %s LIMIT 10', ord, ord);
    line text;
BEGIN
    PERFORM set_config('enable_seqscan', (NOT use_index)::text, true);
    PERFORM set_config('enable_indexscan', use_index::text, true);
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
        index_used := coalesce(index_used, substring(line FROM 'Index Scan using (\w+) '));
    END LOOP;
    EXECUTE 'SELECT array_agg(id), array_agg(d) FROM (' || q || ') s' INTO ids, dists;
END;
$$;
CREATE TABLE queries (idx text, ord text);
INSERT INTO queries
SELECT 'items_l2', format('v <-> %L', v) FROM items WHERE id = 7 UNION ALL
SELECT 'items_cos', format('v <=> %L', v) FROM items WHERE id = 7 UNION ALL
SELECT 'items_dot', format('v <#> %L', v) FROM items WHERE id = 7 UNION ALL
SELECT 'items_l1', format('v <+> %L', v) FROM items WHERE id = 7 UNION ALL
SELECT 'items_ham', format('b <~> %L', b) FROM items WHERE id = 7;
CREATE FUNCTION check_index(name text, OUT index_used boolean, OUT check_passes boolean,
    OUT exact_top10 boolean, OUT finds_new_row boolean)
LANGUAGE plpgsql AS $$
DECLARE
    q text := (SELECT ord FROM queries WHERE idx = name);
    r record;
BEGIN
    SELECT * INTO r FROM knn(q, true);
    index_used := r.index_used = name;
    PERFORM annoy_check(name::regclass);
    check_passes := true;
    -- Distances, not ids: rows at equal distance (Hamming) may come in any order.
    exact_top10 := r.dists = (knn(q, false)).dists;
    INSERT INTO items SELECT 100000 + length(name), v, b FROM items WHERE id = 7;
    finds_new_row := 100000 + length(name) = ANY ((knn(q, true)).ids);
    DELETE FROM items WHERE id = 100000 + length(name);
END;
$$;
SELECT idx, (check_index(idx)).* FROM queries ORDER BY idx;

\c :regress_db
DROP DATABASE annoy_regress_upgrade;
