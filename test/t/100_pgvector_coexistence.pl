# annoy and pgvector in one schema, installed in either order: both define
# hamming_distance(bit, bit) and <~>.  annoy's hamming_ops must order by
# the <~> a query resolves to, and dropping either extension afterwards must
# leave the other working.  Also ALTER EXTENSION annoy UPDATE from 0.1.0
# (whose hamming_ops held <~> as a hard member) followed by pgvector.
#
# Needs pgvector in the server's extension directory; skipped otherwise
# (CI has none; the annoy-only half is sql/bit_operator_sharing.sql).
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use AnnoyTestUtil;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('coexistence');
$node->init;
$node->start;
my $have_vector = $node->safe_psql('postgres',
	"SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'");
if (!$have_vector)
{
	$node->stop;
	plan skip_all => 'pgvector is not installed in this server (CREATE EXTENSION vector): '
	  . 'install it to run the annoy + pgvector tests';
}

# Who owns the <~> hamming_ops orders by ('' if the family has none).
sub family_owner
{
	my ($db) = @_;
	return $node->safe_psql($db, q{
		SELECT coalesce((SELECT e.extname FROM pg_amop o
		  JOIN pg_depend d ON d.classid = 'pg_operator'::regclass AND d.objid = o.amopopr AND d.deptype = 'e'
		  JOIN pg_extension e ON e.oid = d.refobjid
		  WHERE o.amopfamily = (SELECT oid FROM pg_opfamily WHERE opfname = 'hamming_ops')), '')});
}

my $settings = 'SET enable_seqscan = off; SET annoy.search_k = 100000;';
my $q = "B'0000000000000001'";

# The annoy hamming index answers `ORDER BY b <~> q` (whichever <~> that
# resolves to) through the index, with the exact nearest rows.
sub hamming_index_ok
{
	my ($db, $what) = @_;
	ok(uses_index($node, $db, "SELECT id FROM bits ORDER BY b <~> $q LIMIT 5", 'bits_annoy', $settings),
		"$what: ORDER BY b <~> q uses the annoy index");
	is( knn_ids($node, $db, "SELECT id FROM bits ORDER BY b <~> $q, id LIMIT 8", $settings),
		knn_ids($node, $db, "SELECT id FROM bits ORDER BY hamming_distance(b, $q), id LIMIT 8"),
		"$what: the annoy index returns the exact nearest rows");
}

# pgvector works: its vector type, and its own HNSW index on bit (which
# uses the same <~> and hamming_distance; checked with the annoy index
# dropped in a transaction that is rolled back).
sub pgvector_ok
{
	my ($db, $what) = @_;
	is($node->safe_psql($db, "SELECT '[1,2,3]'::vector <-> '[1,2,5]'"), '2', "$what: pgvector's vector works");
	ok( uses_index($node, $db, "SELECT id FROM bits ORDER BY b <~> $q LIMIT 5", 'bits_hnsw',
			'BEGIN; SET LOCAL enable_seqscan = off; DROP INDEX IF EXISTS bits_annoy; '
			  . 'CREATE INDEX bits_hnsw ON bits USING hnsw (b bit_hamming_ops);'),
		"$what: pgvector's HNSW bit index is usable");
}

sub make_table
{
	my ($db) = @_;
	$node->safe_psql($db, qq{
		CREATE TABLE bits (id int, b bit(16));
		INSERT INTO bits SELECT i, (i * 7919 % 65536)::bit(16) FROM generate_series(1, 2000) i;
	});
}

sub annoy_index
{
	my ($db) = @_;
	$node->safe_psql($db, 'CREATE INDEX bits_annoy ON bits USING annoy (b) WITH (n_trees = 4)');
}

# annoy first, then pgvector: annoy hands its two objects over.
$node->safe_psql('postgres', 'CREATE DATABASE annoy_first');
make_table('annoy_first');
$node->safe_psql('annoy_first', 'CREATE EXTENSION annoy');
annoy_index('annoy_first');
is(family_owner('annoy_first'), 'annoy', 'annoy first: hamming_ops orders by annoy\'s <~>');
sql_ok($node, 'annoy_first', 'CREATE EXTENSION vector', 'annoy first: CREATE EXTENSION vector succeeds');
is(family_owner('annoy_first'), 'vector', 'annoy first: hamming_ops now orders by pgvector\'s <~>');
is($node->safe_psql('annoy_first', "SELECT count(*) FROM pg_operator WHERE oprname = '<~>' AND oprleft = 'bit'::regtype"),
	'1', 'annoy first: one <~> (bit, bit) in the database');
hamming_index_ok('annoy_first', 'annoy first, pgvector second');
pgvector_ok('annoy_first', 'annoy first, pgvector second');
sql_ok($node, 'annoy_first', 'DROP EXTENSION vector', 'annoy first: DROP EXTENSION vector succeeds');
is(family_owner('annoy_first'), 'annoy', 'annoy first: after DROP EXTENSION vector, hamming_ops orders by annoy\'s own <~> again');
hamming_index_ok('annoy_first', 'annoy first, pgvector dropped');
sql_ok($node, 'annoy_first', 'CREATE EXTENSION vector; DROP EXTENSION annoy CASCADE',
	'annoy first: pgvector again, then DROP EXTENSION annoy');
pgvector_ok('annoy_first', 'annoy first, annoy dropped');
is($node->safe_psql('annoy_first', "SELECT count(*) FROM pg_event_trigger"), '0',
	'annoy first: DROP EXTENSION annoy drops its event triggers');

# pgvector first, then annoy: annoy reuses pgvector's objects.
$node->safe_psql('postgres', 'CREATE DATABASE vector_first');
make_table('vector_first');
$node->safe_psql('vector_first', 'CREATE EXTENSION vector');
sql_ok($node, 'vector_first', 'CREATE EXTENSION annoy', 'pgvector first: CREATE EXTENSION annoy succeeds');
is(family_owner('vector_first'), 'vector', 'pgvector first: hamming_ops orders by pgvector\'s <~>');
annoy_index('vector_first');
hamming_index_ok('vector_first', 'pgvector first, annoy second');
pgvector_ok('vector_first', 'pgvector first, annoy second');
sql_ok($node, 'vector_first', 'DROP EXTENSION annoy CASCADE', 'pgvector first: DROP EXTENSION annoy succeeds');
pgvector_ok('vector_first', 'pgvector first, annoy dropped');
sql_ok($node, 'vector_first', 'CREATE EXTENSION annoy', 'pgvector first: CREATE EXTENSION annoy again');
annoy_index('vector_first');
sql_ok($node, 'vector_first', 'DROP EXTENSION vector CASCADE', 'pgvector first: DROP EXTENSION vector succeeds');
is(family_owner('vector_first'), 'annoy', 'pgvector first, dropped: hamming_ops orders by annoy\'s own <~>');
hamming_index_ok('vector_first', 'pgvector first, pgvector dropped');
is($node->safe_psql('vector_first', "SELECT hamming_distance(B'1010', B'0110')"), '2',
	'pgvector dropped: hamming_distance is annoy\'s and works');

# A failed CREATE EXTENSION vector gives annoy's objects back (one
# transaction): pgvector into annoy's schema inside a transaction that
# is rolled back.
$node->safe_psql('vector_first', 'BEGIN; CREATE EXTENSION vector; ROLLBACK;');
is(family_owner('vector_first'), 'annoy', 'rolled back CREATE EXTENSION vector: annoy\'s <~> is back');
hamming_index_ok('vector_first', 'after a rolled back CREATE EXTENSION vector');

# pgvector in another schema: nothing is handed over.
$node->safe_psql('vector_first', 'CREATE SCHEMA pgv; CREATE EXTENSION vector SCHEMA pgv');
is(family_owner('vector_first'), 'annoy', 'pgvector in another schema: annoy keeps its own <~>');
hamming_index_ok('vector_first', 'pgvector in another schema');
$node->safe_psql('vector_first', 'DROP EXTENSION vector');

# Update from 0.1.0, then pgvector.
$node->safe_psql('postgres', 'CREATE DATABASE updated');
make_table('updated');
$node->safe_psql('updated', "CREATE EXTENSION annoy VERSION '0.1.0'");
annoy_index('updated');
$node->safe_psql('updated', 'ALTER EXTENSION annoy UPDATE');
sql_ok($node, 'updated', 'CREATE EXTENSION vector', 'updated from 0.1.0: CREATE EXTENSION vector succeeds');
is(family_owner('updated'), 'vector', 'updated from 0.1.0: hamming_ops orders by pgvector\'s <~>');
hamming_index_ok('updated', 'updated from 0.1.0, pgvector second');
sql_ok($node, 'updated', 'DROP EXTENSION vector', 'updated from 0.1.0: DROP EXTENSION vector succeeds');
hamming_index_ok('updated', 'updated from 0.1.0, pgvector dropped');

$node->stop;
done_testing();
