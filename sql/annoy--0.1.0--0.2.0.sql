-- annoy 0.1.0 -> 0.2.0 (ALTER EXTENSION annoy UPDATE).  Every object 0.2.0
-- adds to the SQL surface is created here as well as in annoy--0.2.0.sql,
-- so an updated installation equals a fresh one.

\echo Use "ALTER EXTENSION annoy UPDATE TO '0.2.0'" to load this file. \quit
