# WAL replay of every kind of annoy index change on a streaming standby,
# with wal_consistency_checking = 'generic' (the standby compares each
# replayed page with the full image the primary logged, and dies on a
# mismatch).  After building, splitting leaves by inserts, deleting and
# VACUUMing (freeing items, merging leaves) and inserting into the freed
# space, the standby must have stayed up and give the same answers as the
# primary, and its index must be structurally sound.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use AnnoyTestUtil;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $t0 = time;
my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', qq{
wal_consistency_checking = 'generic'
shared_buffers = 128MB
max_wal_size = 2GB
wal_keep_size = 2GB
jit = off
});
$primary->start;
$primary->backup('backup');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'backup', has_streaming => 1);
$standby->start;

is($standby->safe_psql('postgres', 'SHOW wal_consistency_checking'), 'generic',
	'standby checks generic WAL records');

# Waits until the standby has replayed everything the primary wrote; fails
# fast (instead of timing out) when the standby's replay died.
sub catch_up
{
	my ($what) = @_;
	my $target = $primary->lsn('insert');
	my $deadline = time + 180;
	while (time < $deadline)
	{
		my $log = slurp_file($standby->logfile);
		if ($log =~ /(.*(?:inconsistent page found|PANIC|startup process .* (?:exited|terminated)).*)/)
		{
			fail("$what: standby replay failed: $1");
			return 0;
		}
		my ($ret, $done) = $standby->psql('postgres',
			"SELECT pg_last_wal_replay_lsn() >= '$target'::pg_lsn");
		return 1 if $ret == 0 && $done eq 't';
		select(undef, undef, undef, 0.2);
	}
	fail("$what: standby did not catch up with $target");
	return 0;
}

my $dim = 32;
my $vec = random_vector_sql($dim, 'i');

# t: euclidean, many small leaves; built on 4,000 rows.
$primary->safe_psql('postgres', qq{
	CREATE EXTENSION annoy;
	CREATE TABLE t (id int PRIMARY KEY, v real[]);
	@{[ random_vectors_sql('t', 1, 4000, $dim, 0.42) ]}
	CREATE INDEX t_v ON t USING annoy (v) WITH (n_trees = 4, leaf_size = 8, seed = 5);
	-- empty at build (the first insert sets the dimension), angular
	CREATE TABLE a (id int PRIMARY KEY, v real[]);
	CREATE INDEX a_v ON a USING annoy (v angular_ops) WITH (n_trees = 2, leaf_size = 8);
	-- bit strings, hamming
	CREATE TABLE b (id int PRIMARY KEY, v bit(64));
	CREATE INDEX b_v ON b USING annoy (v) WITH (n_trees = 3, leaf_size = 6);
	-- unlogged: only the init fork reaches the standby
	CREATE UNLOGGED TABLE u (id int PRIMARY KEY, v real[]);
	CREATE INDEX u_v ON u USING annoy (v) WITH (n_trees = 2, leaf_size = 8);
	INSERT INTO u SELECT i, ARRAY[i, 1] FROM generate_series(1, 100) i;
});
catch_up('after the build');

# Leaf splits: 8,000 rows inserted in many transactions.
for my $round (0 .. 7)
{
	my $first = 4001 + $round * 1000;
	my $last = $first + 999;
	$primary->safe_psql('postgres', qq{
		INSERT INTO t SELECT i, $vec FROM generate_series($first, $last) i;
		INSERT INTO a SELECT i, $vec FROM generate_series($first, $first + 249) i;
		INSERT INTO b SELECT i, (SELECT string_agg(CASE WHEN random() < 0.5 THEN '0' ELSE '1' END, '')
		                          FROM generate_series(1, 64) WHERE i IS NOT NULL)::bit(64)
		  FROM generate_series($first, $first + 249) i;
	});
}
catch_up('after the inserts');

# Deletes (half the rows, and whole regions of the space so that leaves
# empty out and merge) and VACUUM.
$primary->safe_psql('postgres', qq{
	DELETE FROM t WHERE id % 2 = 0 OR v[1] < 0.2;
	DELETE FROM a WHERE id % 3 = 0;
	DELETE FROM b WHERE id % 2 = 1;
});
$primary->safe_psql('postgres', 'VACUUM t, a, b');
my $after_vacuum = $primary->safe_psql('postgres', "SELECT forwards, leaves FROM annoy_index_info('t_v')");
note("t_v after VACUUM (forwards|leaves): $after_vacuum");
catch_up('after VACUUM');

# Inserts into the freed space, and a second VACUUM round (an UPDATE of
# the vector is a delete plus an insert for the index).
$primary->safe_psql('postgres', qq{
	SELECT setseed(0.7);
	INSERT INTO t SELECT i, $vec FROM generate_series(20001, 24000) i;
	INSERT INTO a SELECT i, $vec FROM generate_series(20001, 21000) i;
	UPDATE t SET v = @{[ random_vector_sql($dim, 'id') ]} WHERE id % 7 = 1;
});
$primary->safe_psql('postgres', 'VACUUM t');
$primary->safe_psql('postgres', qq{
	INSERT INTO t SELECT i, $vec FROM generate_series(24001, 26000) i;
	INSERT INTO t (id, v) VALUES (30000, NULL);
});
ok(catch_up('after the second round'), 'standby caught up with all changes');

# The primary's own view first.
for my $idx (qw(t_v a_v b_v))
{
	annoy_check_ok($primary, 'postgres', $idx, 'primary');
}
my $n_splits = $primary->safe_psql('postgres', "SELECT splits FROM annoy_index_info('t_v')");
cmp_ok($n_splits, '>', 1000, "t_v has many split nodes ($n_splits)");

# Same kNN answers on both, for 20 queries, with a fixed search_k (small
# enough that the answers depend on the trees' shape, not only the data).
my $settings = "SET enable_seqscan = off; SET annoy.search_k = 300;";
my $queries = $primary->safe_psql('postgres', qq{
	SELECT setseed(0.11);
	SELECT array_to_string($vec, ',') FROM generate_series(1, 20) i;
});
my @queries = grep { /,/ } split /\n/, $queries;
is(scalar(@queries), 20, '20 query vectors');
my ($same, $nonempty) = (0, 0);
for my $q (@queries)
{
	for my $spec (['t', 't_v', '<->', "'{$q}'::real[]"], ['a', 'a_v', '<=>', "'{$q}'::real[]"])
	{
		my ($tbl, $idx, $op, $lit) = @$spec;
		my $sql = "SELECT id FROM $tbl ORDER BY v $op $lit LIMIT 10";
		my $p = knn_ids($primary, 'postgres', $sql, $settings);
		my $s = knn_ids($standby, 'postgres', $sql, $settings);
		$same++ if $p eq $s;
		$nonempty++ if $p ne '';
	}
}
is($same, 40, 'standby returns the same kNN results as the primary (20 queries x 2 indexes)');
is($nonempty, 40, 'kNN queries return rows');
ok(uses_index($standby, 'postgres', "SELECT id FROM t ORDER BY v <-> '{$queries[0]}'::real[] LIMIT 10", 't_v', $settings),
	'standby plans an annoy index scan');
my $bq = "SELECT id FROM b ORDER BY v <~> (repeat('01', 32))::bit(64) LIMIT 10";
is(knn_ids($standby, 'postgres', $bq, $settings), knn_ids($primary, 'postgres', $bq, $settings),
	'hamming index: same results on the standby');

# The index shape, as annoy_index_info reports it, is the same.
my $info = "SELECT items, leaves, splits, forwards, min_depth, max_depth, pages, free_bytes FROM annoy_index_info('%s')";
for my $idx (qw(t_v a_v b_v))
{
	is($standby->safe_psql('postgres', sprintf($info, $idx)),
		$primary->safe_psql('postgres', sprintf($info, $idx)), "$idx: same shape on the standby");
}

# Whole-index reads on the standby return exactly the table's rows.
whole_index_ok($standby, 'postgres', 'standby t', table => 't', index => 't_v', query => "'{$queries[1]}'::real[]");
whole_index_ok($standby, 'postgres', 'standby a', table => 'a', index => 'a_v', op => '<=>',
	query => "'{$queries[2]}'::real[]");
whole_index_ok($standby, 'postgres', 'standby b', table => 'b', index => 'b_v', op => '<~>',
	query => "(repeat('0', 64))::bit(64)");

# annoy_check on the hot standby (it takes AccessShareLock there).
for my $idx (qw(t_v a_v b_v))
{
	is(annoy_check_error($standby, 'postgres', $idx), '', "standby: annoy_check('$idx') passes");
}

# The standby is still up and never reported an inconsistent page.
ok($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()') eq 't', 'standby still in recovery and up');
my $log = slurp_file($standby->logfile);
unlike($log, qr/inconsistent page found/, 'no wal_consistency_checking failure on the standby');
unlike($log, qr/PANIC|startup process .* (?:exited|terminated)/, 'no fatal replay error on the standby');

# Promotion: the promoted standby accepts inserts into the replayed index.
$standby->promote;
$standby->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()')
  or die 'standby was not promoted';
$standby->safe_psql('postgres', "INSERT INTO t SELECT i, $vec FROM generate_series(40001, 41000) i");
annoy_check_ok($standby, 'postgres', 't_v', 'promoted standby after inserts');
whole_index_ok($standby, 'postgres', 'promoted standby t', table => 't', index => 't_v',
	query => "'{$queries[3]}'::real[]");
is($standby->safe_psql('postgres', 'SELECT count(*) FROM u'), '0', 'promoted standby: unlogged table is empty');
$standby->safe_psql('postgres', "INSERT INTO u SELECT i, ARRAY[i, 2] FROM generate_series(1, 50) i");
annoy_check_ok($standby, 'postgres', 'u_v', 'promoted standby, unlogged index');

$standby->stop;
$primary->stop;
note(sprintf('020_replication: %.1f s', time - $t0));
done_testing();
