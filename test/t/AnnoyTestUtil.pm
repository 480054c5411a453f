# Helpers shared by the annoy TAP tests (test/t/*.pl).
#
# Test files load it with
#   use FindBin;
#   use lib $FindBin::RealBin;
#   use AnnoyTestUtil;
package AnnoyTestUtil;

use strict;
use warnings;

use Exporter 'import';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

our @EXPORT = qw(
  annoy_node random_vectors_sql random_vector_sql
  whole_index_check whole_index_ok annoy_check_error annoy_check_ok
  knn_ids uses_index sql_ok fashion_mnist_missing
  clustered_vectors_sql knn_arrays_sql recall_of
);

# Why a Fashion-MNIST test cannot run here, or undef if it can: the files
# tools/load_fashion_mnist.sh reads are missing and this user cannot
# install them on demand (only root can; test/setup_deps.sh installs the
# Debian package dataset-fashion-mnist).  For `plan skip_all`.
sub fashion_mnist_missing
{
	my $dir = $ENV{FASHION_MNIST_DIR} // '/usr/share/datasets/fashion-mnist';
	my @files = qw(train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz
	  t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz);
	my @missing = grep { !-r "$dir/$_" } @files;
	return undef if !@missing || ($> == 0 && !defined $ENV{FASHION_MNIST_DIR});
	return "Fashion-MNIST data not found ($dir/$missing[0] is missing): "
	  . 'apt-get install dataset-fashion-mnist (test/setup_deps.sh does), or set FASHION_MNIST_DIR';
}

# A started node with the extension created in database `postgres`.
# Extra settings (strings "name = value") go into postgresql.conf.
sub annoy_node
{
	my ($name, %opts) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(%{ $opts{init} // {} });
	$node->append_conf('postgresql.conf', join("\n",
		"shared_buffers = 128MB",
		"max_wal_size = 2GB",
		"jit = off",
		@{ $opts{conf} // [] }) . "\n");
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION annoy');
	return $node;
}

# SQL expression: a random real[] of `dim` coordinates in [0, 1), evaluated
# afresh for every row of the query it appears in (the reference to
# `rowref`, a column of the FROM list, keeps the subquery correlated).
sub random_vector_sql
{
	my ($dim, $rowref) = @_;
	$rowref //= 'i';
	return "ARRAY(SELECT random()::real FROM generate_series(1, $dim) WHERE $rowref IS NOT NULL)";
}

# SQL: inserts `n` rows (id, v) with ids from `first` into `table`,
# vectors random of `dim` coordinates; deterministic for a given seed.
sub random_vectors_sql
{
	my ($table, $first, $n, $dim, $seed) = @_;
	my $last = $first + $n - 1;
	my $vec = random_vector_sql($dim, 'i');
	my $sql = '';
	$sql .= "SELECT setseed($seed);\n" if defined $seed;
	$sql .= "INSERT INTO $table (id, v) SELECT i, $vec FROM generate_series($first, $last) i;\n";
	return $sql;
}

# Whether `sql` (a SELECT) is planned as an index scan on `index`.
sub uses_index
{
	my ($node, $db, $sql, $index, $settings) = @_;
	my $plan = $node->safe_psql($db, ($settings // '') . "\nEXPLAIN (COSTS OFF) $sql");
	return $plan =~ /Index Scan using \Q$index\E /;
}

# Reads the whole index `index` (on `table`, column `col`, operator `op`,
# query literal `query`) through an index scan with a LIMIT beyond the table
# and compares the rows with the table's rows whose vector is not NULL.
# Returns a hash: plan (1 if an index scan on `index`), index_rows,
# table_rows, duplicates, missing, extra.
sub whole_index_check
{
	my ($node, $db, %a) = @_;
	my $table = $a{table};
	my $col = $a{col} // 'v';
	my $op = $a{op} // '<->';
	my $query = $a{query};
	my $key = $a{key} // 'id';
	my $settings = "SET enable_seqscan = off; SET enable_bitmapscan = off; SET enable_sort = off;\n"
	  . "SET annoy.search_k = 1000000; SET max_parallel_workers_per_gather = 0;";
	my $knn = "SELECT $key FROM $table ORDER BY $col $op $query LIMIT 1000000000";
	my %r;
	my ($ret, $plan, $err) = $node->psql($db, "$settings\nEXPLAIN (COSTS OFF) $knn");
	$r{plan} = ($ret == 0 && $plan =~ /Index Scan using \Q$a{index}\E /) ? 1 : 0;
	my $out;
	($ret, $out, $err) = $node->psql($db, qq{
		$settings
		WITH idx AS MATERIALIZED ($knn),
		     tbl AS MATERIALIZED (SELECT $key FROM $table WHERE $col IS NOT NULL)
		SELECT (SELECT count(*) FROM idx),
		       (SELECT count(*) FROM tbl),
		       (SELECT count(*) - count(DISTINCT $key) FROM idx),
		       (SELECT count(*) FROM (SELECT $key FROM tbl EXCEPT SELECT $key FROM idx) m),
		       (SELECT count(*) FROM (SELECT $key FROM idx EXCEPT SELECT $key FROM tbl) x);
	});
	if ($ret != 0)
	{
		$r{error} = $err;
		@r{qw(index_rows table_rows duplicates missing extra)} = (-1, -1, -1, -1, -1);
		return \%r;
	}
	@r{qw(index_rows table_rows duplicates missing extra)} = split /\|/, $out;
	return \%r;
}

# The checks of whole_index_check as tests named after `what`.
sub whole_index_ok
{
	my ($node, $db, $what, %a) = @_;
	my $r = whole_index_check($node, $db, %a);
	ok($r->{plan}, "$what: the full read is an index scan on $a{index}");
	ok(!defined $r->{error} && $r->{index_rows} == $r->{table_rows} && $r->{duplicates} == 0
		  && $r->{missing} == 0 && $r->{extra} == 0,
		"$what: index scan returns exactly the table's rows")
	  or diag(defined $r->{error} ? "the scan failed: $r->{error}"
		: "index rows $r->{index_rows}, table rows $r->{table_rows}, duplicates $r->{duplicates}, "
		  . "missing $r->{missing}, extra $r->{extra}");
	return $r;
}

# annoy_check(index): '' if it passes, else the error text.
sub annoy_check_error
{
	my ($node, $db, $index) = @_;
	my ($ret, $out, $err) = $node->psql($db, "SELECT annoy_check('$index')");
	return $ret == 0 ? '' : ($err || "psql exit status $ret");
}

sub annoy_check_ok
{
	my ($node, $db, $index, $what) = @_;
	my $err = annoy_check_error($node, $db, $index);
	is($err, '', ($what // '') . ($what ? ': ' : '') . "annoy_check('$index') passes");
}

# The ids of a kNN query, as one comma-separated string (or the error).
sub knn_ids
{
	my ($node, $db, $sql, $settings) = @_;
	my ($ret, $out, $err) = $node->psql($db, ($settings // '') . "\nSELECT string_agg(id::text, ',') FROM ($sql) s");
	return $ret == 0 ? $out : "ERROR: $err";
}

# Runs SQL that must succeed, as a test (not dying when it fails): returns
# its output, or undef after a failed test showing the error.
sub sql_ok
{
	my ($node, $db, $sql, $what) = @_;
	my ($ret, $out, $err) = $node->psql($db, $sql);
	ok($ret == 0, $what) or diag($err);
	return $ret == 0 ? $out : undef;
}

# Clustered data for the scaling-out tests (partitions, shards).

# SQL: inserts `n` rows (id, v) with ids from `first` into `table`: 50
# gaussian-like clusters in `dim` dimensions (centres uniform in [0, 10),
# the same for every call; points within about +-0.5 of theirs; row i in
# cluster i % 50), deterministic for a given seed.
# Uniform random vectors would make every index look bad; real embeddings
# are clustered.
sub clustered_vectors_sql
{
	my ($table, $first, $n, $dim, $seed) = @_;
	my $last = $first + $n - 1;
	return qq{SELECT setseed(0.5);
		CREATE TEMP TABLE IF NOT EXISTS centres AS
		  SELECT c, ARRAY(SELECT (10 * random())::real FROM generate_series(1, $dim) WHERE c IS NOT NULL) AS v
		  FROM generate_series(0, 49) c;
		SELECT setseed($seed);
		INSERT INTO $table (id, v)
		  SELECT i, ARRAY(SELECT c.v[d] + (random() + random() - 1)::real * 0.5
		                  FROM generate_series(1, $dim) d)
		  FROM generate_series($first, $last) i JOIN centres c ON c.c = i % 50;
	};
}

# SQL: one row per query of `qtable` (columns id, v): the query's id and the
# ids of `sql` (a SELECT of ids that may refer to the query vector as q.v),
# in order, as an array.
sub knn_arrays_sql
{
	my ($qtable, $sql) = @_;
	return "SELECT q.id AS qid, ARRAY($sql) AS ids FROM $qtable q";
}

# Mean recall@k of `approx` against `exact` (two knn_arrays_sql queries).
sub recall_of
{
	my ($node, $db, $approx, $exact, $k, $settings) = @_;
	return $node->safe_psql($db, ($settings // '') . qq{
		SELECT round(avg(hits)::numeric / $k, 4) FROM (
		  SELECT (SELECT count(*) FROM unnest(a.ids) x WHERE x = ANY(e.ids)) AS hits
		  FROM ($approx) a JOIN ($exact) e USING (qid)) s});
}

1;
