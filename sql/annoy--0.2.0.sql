-- annoy 0.2.0: distance functions and operators on real[] and bit, and the
-- annoy index access method with one operator class per metric.

\echo Use "CREATE EXTENSION annoy" to load this file. \quit

-- Distance functions on real[] (one-dimensional, no NULL elements, finite,
-- equal lengths; any violation is an error).  All return double precision.

CREATE FUNCTION l2_distance(real[], real[]) RETURNS float8
    AS 'MODULE_PATHNAME', 'annoy_l2_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION l2_distance(real[], real[]) IS 'Euclidean distance sqrt(sum (a-b)^2)';

CREATE FUNCTION cosine_distance(real[], real[]) RETURNS float8
    AS 'MODULE_PATHNAME', 'annoy_cosine_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cosine_distance(real[], real[]) IS 'Cosine distance 1 - cos(a, b); error for a zero vector';

CREATE FUNCTION angular_distance(real[], real[]) RETURNS float8
    AS 'MODULE_PATHNAME', 'annoy_angular_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION angular_distance(real[], real[]) IS 'Annoy''s angular distance sqrt(2 - 2 cos(a, b))';

CREATE FUNCTION inner_product(real[], real[]) RETURNS float8
    AS 'MODULE_PATHNAME', 'annoy_inner_product' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION inner_product(real[], real[]) IS 'Inner product sum a*b';

CREATE FUNCTION negative_inner_product(real[], real[]) RETURNS float8
    AS 'MODULE_PATHNAME', 'annoy_negative_inner_product' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION negative_inner_product(real[], real[]) IS 'Negative inner product -(sum a*b), smaller = closer';

CREATE FUNCTION l1_distance(real[], real[]) RETURNS float8
    AS 'MODULE_PATHNAME', 'annoy_l1_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION l1_distance(real[], real[]) IS 'Manhattan distance sum |a-b|';

CREATE FUNCTION hamming_distance(bit, bit) RETURNS float8
    AS 'MODULE_PATHNAME', 'annoy_hamming_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hamming_distance(bit, bit) IS 'Number of differing bits of two equal-length bit strings';

CREATE OPERATOR <-> (LEFTARG = real[], RIGHTARG = real[], FUNCTION = l2_distance, COMMUTATOR = '<->');
CREATE OPERATOR <=> (LEFTARG = real[], RIGHTARG = real[], FUNCTION = cosine_distance, COMMUTATOR = '<=>');
CREATE OPERATOR <#> (LEFTARG = real[], RIGHTARG = real[], FUNCTION = negative_inner_product, COMMUTATOR = '<#>');
CREATE OPERATOR <+> (LEFTARG = real[], RIGHTARG = real[], FUNCTION = l1_distance, COMMUTATOR = '<+>');
CREATE OPERATOR <~> (LEFTARG = bit, RIGHTARG = bit, FUNCTION = hamming_distance, COMMUTATOR = '<~>');

-- The access method.

CREATE FUNCTION annoy_handler(internal) RETURNS index_am_handler
    AS 'MODULE_PATHNAME' LANGUAGE C;

CREATE ACCESS METHOD annoy TYPE INDEX HANDLER annoy_handler;
COMMENT ON ACCESS METHOD annoy IS 'approximate nearest neighbours with a forest of random-projection trees';

-- Support function 1 of each operator class names its metric; it takes
-- internal so that it cannot be called from SQL.
CREATE FUNCTION annoy_metric_euclidean(internal) RETURNS int4
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION annoy_metric_angular(internal) RETURNS int4
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION annoy_metric_dot(internal) RETURNS int4
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION annoy_metric_manhattan(internal) RETURNS int4
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION annoy_metric_hamming(internal) RETURNS int4
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE OPERATOR CLASS euclidean_ops DEFAULT FOR TYPE real[] USING annoy AS
    OPERATOR 1 <-> (real[], real[]) FOR ORDER BY float_ops,
    FUNCTION 1 annoy_metric_euclidean(internal);

CREATE OPERATOR CLASS angular_ops FOR TYPE real[] USING annoy AS
    OPERATOR 1 <=> (real[], real[]) FOR ORDER BY float_ops,
    FUNCTION 1 annoy_metric_angular(internal);

CREATE OPERATOR CLASS dot_ops FOR TYPE real[] USING annoy AS
    OPERATOR 1 <#> (real[], real[]) FOR ORDER BY float_ops,
    FUNCTION 1 annoy_metric_dot(internal);

CREATE OPERATOR CLASS manhattan_ops FOR TYPE real[] USING annoy AS
    OPERATOR 1 <+> (real[], real[]) FOR ORDER BY float_ops,
    FUNCTION 1 annoy_metric_manhattan(internal);

CREATE OPERATOR CLASS hamming_ops DEFAULT FOR TYPE bit USING annoy AS
    OPERATOR 1 <~> (bit, bit) FOR ORDER BY float_ops,
    FUNCTION 1 annoy_metric_hamming(internal);

-- Maintenance functions.

CREATE FUNCTION annoy_check(index regclass) RETURNS void
    AS 'MODULE_PATHNAME' LANGUAGE C STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION annoy_check(regclass) IS
    'Verifies an annoy index (meta page, trees reachable and acyclic, every item once per tree); errors on the first problem';

CREATE FUNCTION annoy_index_info(index regclass,
    OUT metric text, OUT dimensions int, OUT n_trees int, OUT leaf_size int, OUT seed int,
    OUT items bigint, OUT leaves bigint, OUT splits bigint, OUT forwards bigint,
    OUT min_depth int, OUT avg_depth float8, OUT max_depth int, OUT avg_leaf_fill float8,
    OUT pages bigint, OUT item_pages bigint, OUT node_pages bigint, OUT mixed_pages bigint,
    OUT empty_pages bigint, OUT free_bytes bigint, OUT sketch_bits int)
    AS 'MODULE_PATHNAME' LANGUAGE C STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION annoy_index_info(regclass) IS
    'The shape of an annoy index: items, nodes, depths, leaf fill, pages, sketch size';

-- Only superusers may inspect index internals by default.
REVOKE ALL ON FUNCTION annoy_check(regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION annoy_index_info(regclass) FROM PUBLIC;
