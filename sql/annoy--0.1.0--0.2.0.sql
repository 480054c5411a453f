-- annoy 0.1.0 -> 0.2.0 (ALTER EXTENSION annoy UPDATE).  Every object 0.2.0
-- adds to the SQL surface is created here as well as in annoy--0.2.0.sql,
-- so an updated installation equals a fresh one.

\echo Use "ALTER EXTENSION annoy UPDATE TO '0.2.0'" to load this file. \quit

-- Sharing hamming_distance(bit, bit) and <~> with pgvector.
--
-- pgvector defines both too, with plain CREATE FUNCTION / CREATE OPERATOR,
-- so the two extensions can share a schema only if one set exists there.
-- The rule: hamming_ops's ordering operator is the <~> (bit, bit) of annoy's
-- schema, whoever created it; annoy creates its own only when the schema has
-- none.  It is a loose member of the family (a soft dependency), so dropping
-- pgvector drops it from the family instead of failing.  Two event triggers
-- keep the rule true with no manual step:
--   ddl_command_start, CREATE EXTENSION: when pgvector is about to be
--     created in annoy's schema, annoy's own function and operator are
--     dropped so that pgvector's script can create its own
--     (annoy_yield_bit_operator, called from C: only the parse tree says
--     which extension is being created, and where);
--   ddl_command_end, CREATE and DROP EXTENSION: annoy_bind_bit_operator()
--     creates annoy's own if the schema has none (pgvector was dropped) and
--     points the family at the schema's <~>.

CREATE FUNCTION annoy_bind_bit_operator() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    family oid;
    op oid;
    bound oid;
BEGIN
    SELECT f.oid INTO family FROM pg_opfamily f JOIN pg_am a ON a.oid = f.opfmethod
    WHERE a.amname = 'annoy' AND f.opfname = 'hamming_ops' AND f.opfnamespace = '@extschema@'::regnamespace;
    IF family IS NULL THEN
        RETURN;  -- annoy is being dropped
    END IF;

    -- Every step checks the catalogue again: ALTER EXTENSION ... ADD may
    -- itself fire DDL event triggers.
    IF to_regprocedure('@extschema@.hamming_distance(bit, bit)') IS NULL THEN
        CREATE FUNCTION @extschema@.hamming_distance(bit, bit) RETURNS float8
            AS 'MODULE_PATHNAME', 'annoy_hamming_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
        COMMENT ON FUNCTION @extschema@.hamming_distance(bit, bit) IS
            'Number of differing bits of two equal-length bit strings';
        PERFORM @extschema@.annoy_claim_object('pg_proc'::regclass,
                                              '@extschema@.hamming_distance(bit, bit)'::regprocedure);
    END IF;
    IF to_regoperator('@extschema@.<~>(bit, bit)') IS NULL THEN
        CREATE OPERATOR @extschema@.<~> (LEFTARG = bit, RIGHTARG = bit,
            FUNCTION = @extschema@.hamming_distance, COMMUTATOR = OPERATOR(@extschema@.<~>));
        PERFORM @extschema@.annoy_claim_object('pg_operator'::regclass,
                                              '@extschema@.<~>(bit, bit)'::regoperator);
    END IF;

    op := to_regoperator('@extschema@.<~>(bit, bit)');
    SELECT amopopr INTO bound FROM pg_amop
    WHERE amopfamily = family AND amopstrategy = 1
      AND amoplefttype = 'bit'::regtype AND amoprighttype = 'bit'::regtype;
    IF bound IS DISTINCT FROM op THEN
        IF bound IS NOT NULL THEN
            ALTER OPERATOR FAMILY @extschema@.hamming_ops USING annoy DROP OPERATOR 1 (bit, bit);
        END IF;
        ALTER OPERATOR FAMILY @extschema@.hamming_ops USING annoy
            ADD OPERATOR 1 @extschema@.<~> (bit, bit) FOR ORDER BY float_ops;
    END IF;
END;
$fn$;

-- Makes an object annoy created outside its own script (from an event
-- trigger) a member of the extension, so that DROP EXTENSION annoy drops it.
CREATE FUNCTION annoy_claim_object(catalog regclass, object oid) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_depend
               WHERE classid = catalog AND objid = object AND deptype = 'e') THEN
        RETURN;  -- created by annoy's own script: a member already
    END IF;
    IF catalog = 'pg_proc'::regclass THEN
        EXECUTE format('ALTER EXTENSION annoy ADD FUNCTION %s', object::regprocedure);
    ELSE
        EXECUTE format('ALTER EXTENSION annoy ADD OPERATOR %s', object::regoperator);
    END IF;
END;
$fn$;

-- Called by the ddl_command_start trigger for CREATE EXTENSION `creating`
-- into annoy's schema: drops annoy's own hamming_distance(bit, bit) and
-- <~> if pgvector is among the extensions the command will create (itself
-- or, with CASCADE, a requirement).  Fails (and so does the CREATE
-- EXTENSION) if objects of the user's depend on them.
CREATE FUNCTION annoy_yield_bit_operator(creating text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    annoy oid := (SELECT oid FROM pg_extension WHERE extname = 'annoy');
    op oid := to_regoperator('@extschema@.<~>(bit, bit)');
    fn oid := to_regprocedure('@extschema@.hamming_distance(bit, bit)');
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector') OR NOT EXISTS (
        WITH RECURSIVE created(name) AS (
            SELECT creating::name COLLATE "C"
            UNION
            SELECT unnest(v.requires) FROM created c JOIN pg_available_extension_versions v ON v.name = c.name)
        SELECT 1 FROM created WHERE name = 'vector') THEN
        RETURN;
    END IF;
    IF op IS NOT NULL AND EXISTS (SELECT 1 FROM pg_depend WHERE classid = 'pg_operator'::regclass
                                  AND objid = op AND refobjid = annoy AND deptype = 'e') THEN
        ALTER EXTENSION annoy DROP OPERATOR @extschema@.<~> (bit, bit);
        DROP OPERATOR @extschema@.<~> (bit, bit);
    END IF;
    IF fn IS NOT NULL AND EXISTS (SELECT 1 FROM pg_depend WHERE classid = 'pg_proc'::regclass
                                  AND objid = fn AND refobjid = annoy AND deptype = 'e') THEN
        ALTER EXTENSION annoy DROP FUNCTION @extschema@.hamming_distance(bit, bit);
        DROP FUNCTION @extschema@.hamming_distance(bit, bit);
    END IF;
END;
$fn$;

CREATE FUNCTION annoy_yield_bit_operator_trigger() RETURNS event_trigger
    AS 'MODULE_PATHNAME' LANGUAGE C;
CREATE FUNCTION annoy_bind_bit_operator_trigger() RETURNS event_trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    PERFORM @extschema@.annoy_bind_bit_operator();
END;
$fn$;

CREATE EVENT TRIGGER annoy_yield_bit_operator ON ddl_command_start
    WHEN TAG IN ('CREATE EXTENSION') EXECUTE FUNCTION annoy_yield_bit_operator_trigger();
CREATE EVENT TRIGGER annoy_bind_bit_operator ON ddl_command_end
    WHEN TAG IN ('CREATE EXTENSION', 'DROP EXTENSION') EXECUTE FUNCTION annoy_bind_bit_operator_trigger();

-- The triggers run as whoever issues the command, so the two functions they
-- call stay executable by all (they only restore the rule above, as the
-- extension's owner); claiming objects is for them alone.
REVOKE ALL ON FUNCTION annoy_claim_object(regclass, oid) FROM PUBLIC;

-- In 0.1.0, <~> was a member of the operator class hamming_ops itself (a
-- hard dependency: pgvector's <~> could never replace it).  Make it a loose
-- member of the family with soft dependencies, exactly what 0.2.0's
-- ALTER OPERATOR FAMILY ... ADD records, so that the rule above applies.
UPDATE pg_catalog.pg_depend d
SET deptype = 'a',
    refclassid = CASE WHEN d.refclassid = 'pg_catalog.pg_opclass'::regclass
                      THEN 'pg_catalog.pg_opfamily'::regclass ELSE d.refclassid END,
    refobjid = CASE WHEN d.refclassid = 'pg_catalog.pg_opclass'::regclass
                    THEN o.amopfamily ELSE d.refobjid END
FROM pg_catalog.pg_amop o
JOIN pg_catalog.pg_opfamily f ON f.oid = o.amopfamily
JOIN pg_catalog.pg_am a ON a.oid = f.opfmethod
WHERE d.classid = 'pg_catalog.pg_amop'::regclass AND d.objid = o.oid
  AND a.amname = 'annoy' AND f.opfname = 'hamming_ops' AND f.opfnamespace = '@extschema@'::regnamespace
  AND d.refclassid IN ('pg_catalog.pg_opclass'::regclass, 'pg_catalog.pg_operator'::regclass);

SELECT annoy_bind_bit_operator();

-- double precision[]: the distance functions, operators and operator classes
-- of real[], with the same input rules.  The functions compute in double
-- precision; an index stores and ranks vectors in single precision.

CREATE FUNCTION l2_distance(float8[], float8[]) RETURNS float8
    AS 'MODULE_PATHNAME', 'annoy_l2_distance_float8' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION l2_distance(float8[], float8[]) IS 'Euclidean distance sqrt(sum (a-b)^2)';

CREATE FUNCTION cosine_distance(float8[], float8[]) RETURNS float8
    AS 'MODULE_PATHNAME', 'annoy_cosine_distance_float8' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cosine_distance(float8[], float8[]) IS 'Cosine distance 1 - cos(a, b); error for a zero vector';

CREATE FUNCTION angular_distance(float8[], float8[]) RETURNS float8
    AS 'MODULE_PATHNAME', 'annoy_angular_distance_float8' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION angular_distance(float8[], float8[]) IS 'Annoy''s angular distance sqrt(2 - 2 cos(a, b))';

CREATE FUNCTION inner_product(float8[], float8[]) RETURNS float8
    AS 'MODULE_PATHNAME', 'annoy_inner_product_float8' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION inner_product(float8[], float8[]) IS 'Inner product sum a*b';

CREATE FUNCTION negative_inner_product(float8[], float8[]) RETURNS float8
    AS 'MODULE_PATHNAME', 'annoy_negative_inner_product_float8' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION negative_inner_product(float8[], float8[]) IS 'Negative inner product -(sum a*b), smaller = closer';

CREATE FUNCTION l1_distance(float8[], float8[]) RETURNS float8
    AS 'MODULE_PATHNAME', 'annoy_l1_distance_float8' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION l1_distance(float8[], float8[]) IS 'Manhattan distance sum |a-b|';

CREATE OPERATOR <-> (LEFTARG = float8[], RIGHTARG = float8[], FUNCTION = l2_distance, COMMUTATOR = '<->');
CREATE OPERATOR <=> (LEFTARG = float8[], RIGHTARG = float8[], FUNCTION = cosine_distance, COMMUTATOR = '<=>');
CREATE OPERATOR <#> (LEFTARG = float8[], RIGHTARG = float8[], FUNCTION = negative_inner_product, COMMUTATOR = '<#>');
CREATE OPERATOR <+> (LEFTARG = float8[], RIGHTARG = float8[], FUNCTION = l1_distance, COMMUTATOR = '<+>');

CREATE OPERATOR CLASS float8_euclidean_ops DEFAULT FOR TYPE float8[] USING annoy AS
    OPERATOR 1 <-> (float8[], float8[]) FOR ORDER BY float_ops,
    FUNCTION 1 annoy_metric_euclidean(internal);

CREATE OPERATOR CLASS float8_angular_ops FOR TYPE float8[] USING annoy AS
    OPERATOR 1 <=> (float8[], float8[]) FOR ORDER BY float_ops,
    FUNCTION 1 annoy_metric_angular(internal);

CREATE OPERATOR CLASS float8_dot_ops FOR TYPE float8[] USING annoy AS
    OPERATOR 1 <#> (float8[], float8[]) FOR ORDER BY float_ops,
    FUNCTION 1 annoy_metric_dot(internal);

CREATE OPERATOR CLASS float8_manhattan_ops FOR TYPE float8[] USING annoy AS
    OPERATOR 1 <+> (float8[], float8[]) FOR ORDER BY float_ops,
    FUNCTION 1 annoy_metric_manhattan(internal);

-- Filter columns (0.2.0): the columns after the vector in a multi-column
-- annoy index, whose values every leaf entry carries so that a scan tests
-- WHERE conditions on them before ranking candidates:
--   CREATE INDEX ON docs USING annoy (embedding, tenant_id, labels);
-- Support function 3 of a filter class names how it stores values (1: as
-- an integer, exact; 2: a 64-bit hash, rechecked; 3: a 64-bit signature of
-- an array's elements, rechecked).  Strategies: 1 <, 2 <=, 3 =, 4 >=, 5 >,
-- 6 &&, 7 @>, 8 <@.  Each class is the DEFAULT for its own type only, so a
-- vector column never picks one.
CREATE FUNCTION annoy_filter_integer(internal) RETURNS int4
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION annoy_filter_hash(internal) RETURNS int4
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION annoy_filter_array(internal) RETURNS int4
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- The integers share one family, so that comparisons across their types
-- (an int4 column with an int8 parameter) use the index too.
CREATE OPERATOR FAMILY integer_filter_ops USING annoy;

CREATE OPERATOR CLASS int2_filter_ops DEFAULT FOR TYPE int2 USING annoy FAMILY integer_filter_ops AS
    OPERATOR 1 < (int2, int2), OPERATOR 2 <= (int2, int2), OPERATOR 3 = (int2, int2),
    OPERATOR 4 >= (int2, int2), OPERATOR 5 > (int2, int2),
    FUNCTION 3 annoy_filter_integer(internal);
CREATE OPERATOR CLASS int4_filter_ops DEFAULT FOR TYPE int4 USING annoy FAMILY integer_filter_ops AS
    OPERATOR 1 < (int4, int4), OPERATOR 2 <= (int4, int4), OPERATOR 3 = (int4, int4),
    OPERATOR 4 >= (int4, int4), OPERATOR 5 > (int4, int4),
    FUNCTION 3 annoy_filter_integer(internal);
CREATE OPERATOR CLASS int8_filter_ops DEFAULT FOR TYPE int8 USING annoy FAMILY integer_filter_ops AS
    OPERATOR 1 < (int8, int8), OPERATOR 2 <= (int8, int8), OPERATOR 3 = (int8, int8),
    OPERATOR 4 >= (int8, int8), OPERATOR 5 > (int8, int8),
    FUNCTION 3 annoy_filter_integer(internal);
ALTER OPERATOR FAMILY integer_filter_ops USING annoy ADD
    OPERATOR 1 < (int2, int4), OPERATOR 2 <= (int2, int4), OPERATOR 3 = (int2, int4),
    OPERATOR 4 >= (int2, int4), OPERATOR 5 > (int2, int4),
    OPERATOR 1 < (int2, int8), OPERATOR 2 <= (int2, int8), OPERATOR 3 = (int2, int8),
    OPERATOR 4 >= (int2, int8), OPERATOR 5 > (int2, int8),
    OPERATOR 1 < (int4, int2), OPERATOR 2 <= (int4, int2), OPERATOR 3 = (int4, int2),
    OPERATOR 4 >= (int4, int2), OPERATOR 5 > (int4, int2),
    OPERATOR 1 < (int4, int8), OPERATOR 2 <= (int4, int8), OPERATOR 3 = (int4, int8),
    OPERATOR 4 >= (int4, int8), OPERATOR 5 > (int4, int8),
    OPERATOR 1 < (int8, int2), OPERATOR 2 <= (int8, int2), OPERATOR 3 = (int8, int2),
    OPERATOR 4 >= (int8, int2), OPERATOR 5 > (int8, int2),
    OPERATOR 1 < (int8, int4), OPERATOR 2 <= (int8, int4), OPERATOR 3 = (int8, int4),
    OPERATOR 4 >= (int8, int4), OPERATOR 5 > (int8, int4);

CREATE OPERATOR CLASS bool_filter_ops DEFAULT FOR TYPE bool USING annoy AS
    OPERATOR 3 = (bool, bool),
    FUNCTION 3 annoy_filter_integer(internal);
CREATE OPERATOR CLASS date_filter_ops DEFAULT FOR TYPE date USING annoy AS
    OPERATOR 1 < (date, date), OPERATOR 2 <= (date, date), OPERATOR 3 = (date, date),
    OPERATOR 4 >= (date, date), OPERATOR 5 > (date, date),
    FUNCTION 3 annoy_filter_integer(internal);
CREATE OPERATOR CLASS timestamp_filter_ops DEFAULT FOR TYPE timestamp USING annoy AS
    OPERATOR 1 < (timestamp, timestamp), OPERATOR 2 <= (timestamp, timestamp),
    OPERATOR 3 = (timestamp, timestamp), OPERATOR 4 >= (timestamp, timestamp),
    OPERATOR 5 > (timestamp, timestamp),
    FUNCTION 3 annoy_filter_integer(internal);
CREATE OPERATOR CLASS timestamptz_filter_ops DEFAULT FOR TYPE timestamptz USING annoy AS
    OPERATOR 1 < (timestamptz, timestamptz), OPERATOR 2 <= (timestamptz, timestamptz),
    OPERATOR 3 = (timestamptz, timestamptz), OPERATOR 4 >= (timestamptz, timestamptz),
    OPERATOR 5 > (timestamptz, timestamptz),
    FUNCTION 3 annoy_filter_integer(internal);

CREATE OPERATOR CLASS text_filter_ops DEFAULT FOR TYPE text USING annoy AS
    OPERATOR 3 = (text, text),
    FUNCTION 3 annoy_filter_hash(internal);
CREATE OPERATOR CLASS uuid_filter_ops DEFAULT FOR TYPE uuid USING annoy AS
    OPERATOR 3 = (uuid, uuid),
    FUNCTION 3 annoy_filter_hash(internal);
CREATE OPERATOR CLASS enum_filter_ops DEFAULT FOR TYPE anyenum USING annoy AS
    OPERATOR 3 = (anyenum, anyenum),
    FUNCTION 3 annoy_filter_hash(internal);

CREATE OPERATOR CLASS int4_array_filter_ops DEFAULT FOR TYPE int4[] USING annoy AS
    OPERATOR 6 && (anyarray, anyarray), OPERATOR 7 @> (anyarray, anyarray),
    OPERATOR 8 <@ (anyarray, anyarray),
    FUNCTION 3 annoy_filter_array(internal);
CREATE OPERATOR CLASS int8_array_filter_ops DEFAULT FOR TYPE int8[] USING annoy AS
    OPERATOR 6 && (anyarray, anyarray), OPERATOR 7 @> (anyarray, anyarray),
    OPERATOR 8 <@ (anyarray, anyarray),
    FUNCTION 3 annoy_filter_array(internal);
CREATE OPERATOR CLASS text_array_filter_ops DEFAULT FOR TYPE text[] USING annoy AS
    OPERATOR 6 && (anyarray, anyarray), OPERATOR 7 @> (anyarray, anyarray),
    OPERATOR 8 <@ (anyarray, anyarray),
    FUNCTION 3 annoy_filter_array(internal);
