# annoy indexes on pgvector's vector and halfvec columns (extension
# annoy_vector), ordered by pgvector's own operators: queries written for
# pgvector use them, recall against exact search, inserts, VACUUM,
# annoy_check, an HNSW index side by side, bad input.
#
# Needs pgvector in the server's extension directory; skipped otherwise.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use AnnoyTestUtil;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('pgvector_types');
$node->init;
$node->append_conf('postgresql.conf', "shared_buffers = 128MB\njit = off\n");
$node->start;
if (!$node->safe_psql('postgres', "SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'"))
{
	$node->stop;
	plan skip_all => 'pgvector is not installed in this server (CREATE EXTENSION vector): '
	  . 'install it to run the annoy_vector tests';
}

my $db = 'postgres';
# From nothing: CASCADE creates pgvector, then annoy (annoy_vector requires
# them in that order), then the operator classes.
sql_ok($node, $db, 'CREATE EXTENSION annoy_vector CASCADE', 'CREATE EXTENSION annoy_vector CASCADE from nothing');
is($node->safe_psql($db, "SELECT string_agg(extname, ',' ORDER BY extname) FROM pg_extension"),
	'annoy,annoy_vector,plpgsql,vector', 'annoy and vector were created with it');
is( $node->safe_psql($db, q{
		SELECT count(*) FILTER (WHERE amvalidate(c.oid)) || '/' || count(*) FROM pg_opclass c
		JOIN pg_am a ON a.oid = c.opcmethod WHERE a.amname = 'annoy' AND c.opcintype::regtype::text IN ('vector', 'halfvec')}),
	'8/8', 'eight operator classes on vector and halfvec, all valid');

# Clustered synthetic data: 3,000 rows around 30 random centres in 48
# dimensions (plus NULL rows), and 40 query points near the centres.
my $dim = 48;
$node->safe_psql($db, qq{
	SELECT setseed(0.17);
	CREATE TABLE centres AS
	  SELECT c, ARRAY(SELECT random() * 2 - 1 FROM generate_series(1, $dim) WHERE c > 0) AS x
	  FROM generate_series(1, 30) c;
	CREATE FUNCTION near(c int, spread float8) RETURNS real[] LANGUAGE sql VOLATILE AS
	  \$\$ SELECT array_agg((x[k] + spread * (random() - 0.5))::real ORDER BY k)
	       FROM centres, generate_series(1, $dim) k WHERE centres.c = near.c \$\$;
	CREATE TABLE items (id int PRIMARY KEY, embedding vector($dim), h halfvec($dim));
	INSERT INTO items SELECT i, v::vector, v::halfvec
	  FROM (SELECT i, near(1 + i % 30, 0.6) AS v FROM generate_series(1, 3000) i) s;
	INSERT INTO items VALUES (3001, NULL, NULL), (3002, NULL, NULL);
	CREATE TABLE queries AS SELECT q, near(1 + q % 30, 0.6)::vector AS v FROM generate_series(1, 40) q;
	ANALYZE items;
});

# recall@10 of the index against exact search over the 40 queries, the
# query written as for pgvector: a prepared statement ORDER BY col op $1.
sub recall
{
	my ($col, $op, $cast, $settings) = @_;
	return $node->safe_psql($db, qq{
		$settings
		CREATE TEMP TABLE got AS SELECT q.q, i.id FROM queries q,
		  LATERAL (SELECT id FROM items ORDER BY $col $op q.v::$cast LIMIT 10) i;
		SET enable_indexscan = off;
		CREATE TEMP TABLE want AS SELECT q.q, i.id FROM queries q,
		  LATERAL (SELECT id FROM items ORDER BY $col $op q.v::$cast, id LIMIT 10) i;
		SELECT round((SELECT count(*) FROM got JOIN want USING (q, id)) / 400.0, 3);
	});
}

my @classes = (
	[ 'embedding', 'vector',  'vector_l2_ops',      '<->' ],
	[ 'embedding', 'vector',  'vector_cosine_ops',  '<=>' ],
	[ 'embedding', 'vector',  'vector_ip_ops',      '<#>' ],
	[ 'embedding', 'vector',  'vector_l1_ops',      '<+>' ],
	[ 'h',         'halfvec', 'halfvec_l2_ops',     '<->' ],
	[ 'h',         'halfvec', 'halfvec_cosine_ops', '<=>' ],
	[ 'h',         'halfvec', 'halfvec_ip_ops',     '<#>' ],
	[ 'h',         'halfvec', 'halfvec_l1_ops',     '<+>' ],
);
my $q = "(SELECT v FROM queries WHERE q = 7)";
foreach my $c (@classes)
{
	my ($col, $type, $class, $op) = @$c;
	my $index = "items_$class";
	$node->safe_psql($db, "CREATE INDEX $index ON items USING annoy ($col $class) WITH (n_trees = 10)");
	my $plan = $node->safe_psql($db, qq{
		SET enable_seqscan = off;
		SET plan_cache_mode = force_generic_plan;
		SELECT v::text AS qv FROM queries WHERE q = 7 \\gset
		PREPARE knn($type) AS SELECT id FROM items ORDER BY $col $op \$1 LIMIT 10;
		EXPLAIN (COSTS OFF) EXECUTE knn(:'qv');});
	like($plan, qr/Index Scan using $index /, "$class: a pgvector query (ORDER BY $col $op \$1 LIMIT 10) uses the annoy index");
	my $r = recall($col, $op, $type, 'SET enable_seqscan = off;');
	cmp_ok($r, '>=', 0.95, "$class: recall\@10 at the automatic search_k is $r (>= 0.95)");
	# A budget of 100 scored rows (3% of the table): approximate, not exact.
	$r = recall($col, $op, $type, 'SET enable_seqscan = off; SET annoy.search_k = 100;');
	cmp_ok($r, ">=", 0.9, "$class: recall\@10 at search_k 100 is $r (>= 0.9)");
	is(recall($col, $op, $type, 'SET enable_seqscan = off; SET annoy.search_k = 100000;'), '1.000',
		"$class: recall\@10 is 1 when search_k covers the table");
	whole_index_ok($node, $db, $class, table => 'items', col => $col, op => $op, index => $index,
		query => "${q}::$type");
	annoy_check_ok($node, $db, $index, $class);
}

# Inserts, deletes, VACUUM: every index stays complete and checked.
$node->safe_psql($db, qq{
	INSERT INTO items SELECT i, v::vector, v::halfvec
	  FROM (SELECT i, near(1 + i % 30, 0.6) AS v FROM generate_series(3003, 3600) i) s;
	DELETE FROM items WHERE id % 7 = 0;
	VACUUM items;
});
foreach my $c (@classes)
{
	my ($col, $type, $class, $op) = @$c;
	my $index = "items_$class";
	annoy_check_ok($node, $db, $index, "$class after inserts, deletes and VACUUM");
	whole_index_ok($node, $db, "$class after VACUUM", table => 'items', col => $col, op => $op, index => $index,
		query => "${q}::$type");
}
is($node->safe_psql($db, "SELECT items FROM annoy_index_info('items_vector_l2_ops')"),
	$node->safe_psql($db, 'SELECT count(embedding) FROM items'), 'annoy_index_info counts the live rows');

# Side by side with pgvector's HNSW on the same column: both indexes serve
# the same query; without HNSW (dropped in a transaction rolled back) the
# annoy index answers it.
$node->safe_psql($db, 'CREATE INDEX items_hnsw ON items USING hnsw (embedding vector_cosine_ops)');
my $knn = "SELECT id FROM items ORDER BY embedding <=> $q LIMIT 10";
like($node->safe_psql($db, "SET enable_seqscan = off; EXPLAIN (COSTS OFF) $knn"),
	qr/Index Scan using items_(hnsw|vector_cosine_ops) /, 'with HNSW beside it, the query uses one of the two indexes');
ok(uses_index($node, $db, $knn, 'items_vector_cosine_ops', 'BEGIN; SET LOCAL enable_seqscan = off; DROP INDEX items_hnsw;'),
	'without HNSW the same query uses the annoy index');
is( knn_ids($node, $db, $knn, 'BEGIN; SET LOCAL annoy.search_k = 100000; DROP INDEX items_hnsw;'),
	knn_ids($node, $db, "SELECT id FROM items ORDER BY embedding <=> $q, id LIMIT 10", 'SET enable_indexscan = off;'),
	'annoy answers the pgvector query exactly at a large search_k');

# Bad input.
sub error_of
{
	my ($sql) = @_;
	my ($ret, $out, $err) = $node->psql($db, "\\set VERBOSITY sqlstate\n$sql");
	$err =~ s/^psql:<stdin>:\d+: //mg;
	chomp $err;
	return $ret == 0 ? 'ok' : $err;
}
like(error_of("INSERT INTO items VALUES (9001, '[" . join(',', (0) x $dim) . "]', NULL)"), qr/^ERROR:  22000/,
	'a zero vector is refused by the cosine index (22000)');
like(error_of("INSERT INTO items VALUES (9001, NULL, '[" . join(',', (0) x $dim) . "]')"), qr/^ERROR:  22000/,
	'a zero halfvec is refused by the cosine index (22000)');
is($node->safe_psql($db, 'SELECT count(*) FROM items WHERE id = 9001'), '0', 'nothing of the refused rows is left');
$node->safe_psql($db, q{
	CREATE TABLE anydim (e vector, h halfvec);
	INSERT INTO anydim VALUES ('[1,2,3]', '[1,2,3]'), ('[3,2,1]', '[3,2,1]');
	CREATE INDEX anydim_e ON anydim USING annoy (e);
	CREATE INDEX anydim_h ON anydim USING annoy (h halfvec_cosine_ops);
});
is( $node->psql($db, "INSERT INTO anydim VALUES ('[1,2]', NULL)", stderr => \my $err1), 3,
	'a vector of another dimension is refused');
like($err1, qr/vector has 2 dimensions, but index "anydim_e" has 3/, '... naming both dimensions');
like(error_of("INSERT INTO anydim VALUES (NULL, '[1,2,3,4]')"), qr/^ERROR:  22000/,
	'a halfvec of another dimension is refused (22000)');
like(error_of("SELECT * FROM anydim ORDER BY e <-> '[1,2]' LIMIT 1"), qr/^ERROR:  22000/,
	'a query vector of another dimension is refused (22000)');
like(error_of("SELECT '[NaN,1]'::vector"), qr/^ERROR:  22000/,
	'NaN never reaches an index: pgvector refuses it on input');
is($node->safe_psql($db, "SELECT count(*) FROM anydim"), '2', 'anydim keeps its two rows');
annoy_check_ok($node, $db, 'anydim_e', 'after refused rows');

$node->stop;
done_testing();
