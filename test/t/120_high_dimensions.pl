# Indexes on vectors larger than a page: 3,072 and 16,000 dimensions (items
# continue in chunk tuples, hyperplanes in 8 and 4 bits).  For each: build
# (in memory and, at 16,000, with bounded memory), recall against exact
# search, inserts that split leaves, deletes and VACUUM, annoy_check,
# annoy_index_info, and WAL replay on a streaming standby (with
# wal_consistency_checking) that answers like the primary.  With pgvector
# installed, also a vector(16000) column through annoy_vector.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use AnnoyTestUtil;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $primary = PostgreSQL::Test::Cluster->new('highdim_primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', qq{
wal_consistency_checking = 'generic'
shared_buffers = 256MB
max_wal_size = 4GB
wal_keep_size = 4GB
maintenance_work_mem = 256MB
jit = off
});
$primary->start;
$primary->safe_psql('postgres', 'CREATE EXTENSION annoy');
$primary->backup('backup');
my $standby = PostgreSQL::Test::Cluster->new('highdim_standby');
$standby->init_from_backup($primary, 'backup', has_streaming => 1);
$standby->start;
my $db = 'postgres';

sub catch_up
{
	my ($what) = @_;
	my $target = $primary->lsn('insert');
	my $deadline = time + 300;
	while (time < $deadline)
	{
		if (slurp_file($standby->logfile) =~ /(.*(?:inconsistent page found|PANIC|startup process .* (?:exited|terminated)).*)/)
		{
			fail("$what: standby replay failed: $1");
			return 0;
		}
		my ($ret, $done) = $standby->psql($db, "SELECT pg_last_wal_replay_lsn() >= '$target'::pg_lsn");
		return 1 if $ret == 0 && $done eq 't';
		select(undef, undef, undef, 0.2);
	}
	fail("$what: standby did not catch up with $target");
	return 0;
}

# Clustered synthetic rows: `n` vectors of `dim` around 20 random centres.
sub load
{
	my ($table, $dim, $first, $n, $seed) = @_;
	my $last = $first + $n - 1;
	$primary->safe_psql($db, qq{
		SELECT setseed($seed);
		INSERT INTO $table
		SELECT i, (SELECT array_agg((x + 0.8 * (random() - 0.5))::real ORDER BY k)
		           FROM unnest(c.x) WITH ORDINALITY u(x, k) WHERE i > 0)
		FROM generate_series($first, $last) i
		JOIN ${table}_centres c ON c.c = 1 + i % 20;
	});
}

sub recall
{
	my ($node, $table, $op, $settings) = @_;
	my $fn = $op eq '<->' ? 'l2_distance' : 'cosine_distance';
	return $node->safe_psql($db, qq{
		SET enable_seqscan = off;
		$settings
		CREATE TEMP TABLE got AS SELECT q.q, i.id FROM ${table}_queries q,
		  LATERAL (SELECT id FROM $table ORDER BY v $op q.v LIMIT 10) i;
		CREATE TEMP TABLE want AS SELECT q.q, i.id FROM ${table}_queries q,
		  LATERAL (SELECT id FROM $table ORDER BY $fn(v, q.v), id LIMIT 10) i;
		SELECT round((SELECT count(*) FROM got JOIN want USING (q, id))::numeric / (SELECT count(*) FROM want), 3);
	});
}

foreach my $case ([ 3072, 1500, 'hd3k' ], [ 16000, 300, 'hd16k' ])
{
	my ($dim, $n, $t) = @$case;
	my $t0 = time;
	$primary->safe_psql($db, qq{
		SELECT setseed(0.5);
		CREATE TABLE ${t}_centres AS
		  SELECT c, ARRAY(SELECT (random() * 2 - 1)::real FROM generate_series(1, $dim) WHERE c > 0) AS x
		  FROM generate_series(1, 20) c;
		CREATE TABLE $t (id int PRIMARY KEY, v real[]);
		CREATE TABLE ${t}_queries (q int, v real[]);
	});
	load($t, $dim, 1, $n, 0.1);
	$primary->safe_psql($db, qq{
		INSERT INTO ${t}_queries SELECT id, v FROM $t WHERE id % 50 = 0;
		DELETE FROM $t WHERE id % 50 = 0;
		INSERT INTO $t VALUES (0, NULL);
		CREATE INDEX ${t}_l2 ON $t USING annoy (v) WITH (n_trees = 4, leaf_size = 16);
		CREATE INDEX ${t}_cos ON $t USING annoy (v angular_ops) WITH (n_trees = 4, leaf_size = 16);
		ANALYZE $t;
	});
	note(sprintf("%d dims: %d rows loaded and indexed in %.1f s", $dim, $n, time - $t0));
	is($primary->safe_psql($db, "SELECT dimensions, items FROM annoy_index_info('${t}_l2')"),
		"$dim|" . $primary->safe_psql($db, "SELECT count(v) FROM $t"), "$dim dims: annoy_index_info");
	foreach my $index ("${t}_l2", "${t}_cos")
	{
		annoy_check_ok($primary, $db, $index, "$dim dims, built");
	}
	foreach my $c ([ "${t}_l2", '<->' ], [ "${t}_cos", '<=>' ])
	{
		my ($index, $op) = @$c;
		my $r = recall($primary, $t, $op, '');
		cmp_ok($r, '>=', 0.9, "$index: recall\@10 at the automatic search_k is $r (>= 0.9)");
		is(recall($primary, $t, $op, 'SET annoy.search_k = 1000000;'), '1.000', "$index: recall\@10 is 1 at a search_k beyond the table");
		# A small budget without sketches: only the trees' routing (by the
		# 8-bit or 4-bit hyperplanes) finds the neighbours.
		$r = recall($primary, $t, $op, 'SET annoy.search_k = 60; SET annoy.sketch_factor = 1;');
		cmp_ok($r, '>=', 0.8, "$index: recall\@10 with 60 items scored and no sketches is $r (>= 0.8)");
		whole_index_ok($primary, $db, "$index built", table => $t, op => $op, index => $index,
			query => "(SELECT v FROM ${t}_queries LIMIT 1)");
	}

	# Inserts (leaf splits read the items' vectors back from their chunks),
	# deletes, VACUUM (frees items and chunks), inserts into the freed space.
	load($t, $dim, $n + 1, int($n / 2), 0.2);
	$primary->safe_psql($db, "DELETE FROM $t WHERE id % 3 = 0; VACUUM $t;");
	load($t, $dim, 2 * $n + 1, int($n / 5), 0.3);
	foreach my $c ([ "${t}_l2", '<->' ], [ "${t}_cos", '<=>' ])
	{
		my ($index, $op) = @$c;
		annoy_check_ok($primary, $db, $index, "$dim dims, after inserts, deletes, VACUUM");
		whole_index_ok($primary, $db, "$index after VACUUM", table => $t, op => $op, index => $index,
			query => "(SELECT v FROM ${t}_queries LIMIT 1)");
		my $r = recall($primary, $t, $op, '');
		cmp_ok($r, '>=', 0.9, "$index after VACUUM: recall\@10 at the automatic search_k is $r (>= 0.9)");
	}
	# VACUUM freed the chunks of deleted rows: a second round of deletes and
	# inserts of the same size does not grow the index much.
	my $size0 = $primary->safe_psql($db, "SELECT pg_relation_size('${t}_l2')");
	$primary->safe_psql($db, "DELETE FROM $t WHERE id > 2 * $n; VACUUM $t;");
	load($t, $dim, 3 * $n + 1, int($n / 5), 0.4);
	my $size1 = $primary->safe_psql($db, "SELECT pg_relation_size('${t}_l2')");
	cmp_ok($size1, '<=', $size0 * 1.1, "$dim dims: re-inserting after VACUUM reuses the freed chunk space ($size0 -> $size1 bytes)");
	annoy_check_ok($primary, $db, "${t}_l2", "$dim dims, second round");

	# The standby replayed all of it and answers like the primary.
	if (catch_up("$dim dims"))
	{
		annoy_check_ok($standby, $db, "${t}_l2", "$dim dims, on the standby");
		my $q = "SELECT id FROM $t ORDER BY v <-> (SELECT v FROM ${t}_queries LIMIT 1) LIMIT 10";
		is(knn_ids($standby, $db, $q, 'SET enable_seqscan = off;'),
			knn_ids($primary, $db, $q, 'SET enable_seqscan = off;'), "$dim dims: the standby answers like the primary");
	}
	note(sprintf("%d dims: done in %.1f s", $dim, time - $t0));
}

# A bounded-memory build at 16,000 dimensions (vectors spilled to pages and
# read back from their chunks).
my ($ret, $out, $err) = $primary->psql($db, q{
	SET maintenance_work_mem = '16MB';
	CREATE INDEX hd16k_bounded ON hd16k USING annoy (v) WITH (n_trees = 3, leaf_size = 8);
	DROP INDEX hd16k_l2;
});
is($ret, 0, '16,000 dims: a bounded-memory build succeeds');
like($err, qr/building it with bounded memory/, '... and says it is bounded');
annoy_check_ok($primary, $db, 'hd16k_bounded', '16,000 dims, bounded build');
ok(uses_index($primary, $db, "SELECT id FROM hd16k ORDER BY v <-> (SELECT v FROM hd16k_queries LIMIT 1) LIMIT 10",
		'hd16k_bounded', 'SET enable_seqscan = off;'), '16,000 dims: queries use the bounded build\'s index');
my $r = recall($primary, 'hd16k', '<->', '');
cmp_ok($r, '>=', 0.9, "16,000 dims, bounded build: recall\@10 is $r (>= 0.9)");

SKIP:
{
	skip 'pgvector is not installed: no vector(16000) test', 5
	  unless $primary->safe_psql($db, "SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'");
	$primary->safe_psql($db, q{
		CREATE EXTENSION annoy_vector CASCADE;
		CREATE TABLE pv (id int, e vector(16000));
		INSERT INTO pv SELECT id, v::vector FROM hd16k WHERE v IS NOT NULL;
		CREATE INDEX pv_cos ON pv USING annoy (e vector_cosine_ops) WITH (n_trees = 4, leaf_size = 16);
	});
	annoy_check_ok($primary, $db, 'pv_cos', 'vector(16000)');
	my $q = "(SELECT v::vector FROM hd16k_queries LIMIT 1)";
	ok(uses_index($primary, $db, "SELECT id FROM pv ORDER BY e <=> $q LIMIT 10", 'pv_cos', 'SET enable_seqscan = off;'),
		'vector(16000): the pgvector query uses the annoy index');
	is(knn_ids($primary, $db, "SELECT id FROM pv ORDER BY e <=> $q LIMIT 10", 'SET enable_seqscan = off; SET annoy.search_k = 100000;'),
		knn_ids($primary, $db, "SELECT id FROM pv ORDER BY e <=> $q, id LIMIT 10", 'SET enable_indexscan = off;'),
		'vector(16000): exact at a large search_k');
	whole_index_ok($primary, $db, 'vector(16000)', table => 'pv', col => 'e', op => '<=>', index => 'pv_cos', query => $q);
}

$standby->stop;
$primary->stop;
done_testing();
