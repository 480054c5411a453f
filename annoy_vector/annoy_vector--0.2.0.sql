-- annoy_vector 0.2.0: operator classes of the annoy access method for
-- pgvector's vector and halfvec, ordered by pgvector's own operators, so
-- that queries written for pgvector (ORDER BY embedding <=> $1 LIMIT k) use
-- an annoy index.  The index reads the values' on-disk layout itself
-- (src/pg/pgvector_input.cpp); support function 2 tells it which layout.

\echo Use "CREATE EXTENSION annoy_vector" to load this file. \quit

-- Support function 2: the input format (internal, so not callable from SQL).
CREATE FUNCTION annoy_input_vector(internal) RETURNS int4
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION annoy_input_halfvec(internal) RETURNS int4
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- The names are pgvector's (its HNSW and IVFFlat classes have the same
-- ones for other access methods), so moving an index from HNSW to annoy
-- changes only USING.  Support function 1 (the metric) is annoy's.

CREATE OPERATOR CLASS vector_l2_ops DEFAULT FOR TYPE vector USING annoy AS
    OPERATOR 1 <-> (vector, vector) FOR ORDER BY float_ops,
    FUNCTION 1 annoy_metric_euclidean(internal),
    FUNCTION 2 annoy_input_vector(internal);

CREATE OPERATOR CLASS vector_cosine_ops FOR TYPE vector USING annoy AS
    OPERATOR 1 <=> (vector, vector) FOR ORDER BY float_ops,
    FUNCTION 1 annoy_metric_angular(internal),
    FUNCTION 2 annoy_input_vector(internal);

CREATE OPERATOR CLASS vector_ip_ops FOR TYPE vector USING annoy AS
    OPERATOR 1 <#> (vector, vector) FOR ORDER BY float_ops,
    FUNCTION 1 annoy_metric_dot(internal),
    FUNCTION 2 annoy_input_vector(internal);

CREATE OPERATOR CLASS vector_l1_ops FOR TYPE vector USING annoy AS
    OPERATOR 1 <+> (vector, vector) FOR ORDER BY float_ops,
    FUNCTION 1 annoy_metric_manhattan(internal),
    FUNCTION 2 annoy_input_vector(internal);

CREATE OPERATOR CLASS halfvec_l2_ops DEFAULT FOR TYPE halfvec USING annoy AS
    OPERATOR 1 <-> (halfvec, halfvec) FOR ORDER BY float_ops,
    FUNCTION 1 annoy_metric_euclidean(internal),
    FUNCTION 2 annoy_input_halfvec(internal);

CREATE OPERATOR CLASS halfvec_cosine_ops FOR TYPE halfvec USING annoy AS
    OPERATOR 1 <=> (halfvec, halfvec) FOR ORDER BY float_ops,
    FUNCTION 1 annoy_metric_angular(internal),
    FUNCTION 2 annoy_input_halfvec(internal);

CREATE OPERATOR CLASS halfvec_ip_ops FOR TYPE halfvec USING annoy AS
    OPERATOR 1 <#> (halfvec, halfvec) FOR ORDER BY float_ops,
    FUNCTION 1 annoy_metric_dot(internal),
    FUNCTION 2 annoy_input_halfvec(internal);

CREATE OPERATOR CLASS halfvec_l1_ops FOR TYPE halfvec USING annoy AS
    OPERATOR 1 <+> (halfvec, halfvec) FOR ORDER BY float_ops,
    FUNCTION 1 annoy_metric_manhattan(internal),
    FUNCTION 2 annoy_input_halfvec(internal);
