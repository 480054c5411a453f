# What a hot standby query sees while VACUUM's replay frees retired tree
# nodes.  A standby query may hold references to nodes (forward tuples left
# by leaf merges) that the primary, which only waits for its own snapshots,
# frees later.  Before freeing them VACUUM logs a recovery conflict (as
# btree does before reusing a deleted page), so on the standby:
#  * with hot_standby_feedback = off, a query old enough to hold such a
#    reference is cancelled (SQLSTATE 40001, "conflict with recovery"),
#    never left reading freed slots;
#  * with hot_standby_feedback = on, the primary keeps the nodes until the
#    standby's query ends, and the query returns exactly the rows of its
#    snapshot.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use AnnoyTestUtil;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('sb_primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', "autovacuum = off\njit = off\n");
$primary->start;
$primary->safe_psql('postgres', 'CREATE EXTENSION annoy');
$primary->backup('backup');
my $standby = PostgreSQL::Test::Cluster->new('sb_standby');
$standby->init_from_backup($primary, 'backup', has_streaming => 1);
$standby->append_conf('postgresql.conf', "max_standby_streaming_delay = 0\nhot_standby_feedback = off\n");
$standby->start;

my $dim = 8;
my $query = "ARRAY[0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5]::real[]";

# A fresh table whose index has small leaves (many splits and, after the
# deletes, many merges).
sub fresh_table
{
	$primary->safe_psql('postgres', qq{
		DROP TABLE IF EXISTS t;
		CREATE TABLE t (id int PRIMARY KEY, v real[]);
		SELECT setseed(0.3);
		@{[ random_vectors_sql('t', 1, 3000, $dim) ]}
		CREATE INDEX t_v ON t USING annoy (v) WITH (n_trees = 2, leaf_size = 8);
	});
	$primary->wait_for_catchup($standby);
}

# Opens a standby cursor over the whole index and reads a few rows, so the
# scan holds queued node references; returns the session.
sub open_cursor
{
	my $s = $standby->background_psql('postgres', on_error_stop => 0);
	$s->query_safe('SET annoy.search_k = 20');
	$s->query_safe('SET enable_seqscan = off');
	$s->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ');
	$s->query_safe("DECLARE c CURSOR FOR SELECT id FROM t ORDER BY v <-> $query");
	my $first = $s->query_safe('FETCH 5 FROM c');
	is(scalar(split /\n/, $first), 5, 'the standby cursor returned its first rows');
	return $s;
}

# Rows are deleted before the standby cursor starts, so the heap's own
# cleanup of them conflicts with no standby query; the first VACUUM after
# the cursor started merges leaves (their siblings and split nodes become
# retired forward tuples the cursor may still reach), and after a few more
# transaction ids a second VACUUM frees them.
# The heap page the cursor keeps pinned after its first rows (the page of
# its fifth row) keeps its rows: the heap's cleanup of a pinned page would
# cancel the cursor on its own (a buffer pin conflict), whatever annoy
# does.  VACUUM does not truncate, which would conflict on the table lock.
# Returns the rows left.
sub delete_rows
{
	# The cursor's fifth row is the fifth of the rows left, and the rows
	# kept on its page are left too: find that page as a fixed point.
	my $page = -1;
	for (1 .. 10)
	{
		my $p = $primary->safe_psql('postgres', qq{
			SET annoy.search_k = 20;
			SET enable_seqscan = off;
			SELECT (ctid::text::point)[0] FROM (SELECT ctid FROM t
				WHERE id % 4 = 0 OR (ctid::text::point)[0] = $page
				ORDER BY v <-> $query LIMIT 5) s OFFSET 4;
		});
		last if $p == $page;
		$page = $p;
	}
	$primary->safe_psql('postgres', "DELETE FROM t WHERE id % 4 <> 0 AND (ctid::text::point)[0] <> $page");
	$primary->wait_for_catchup($standby);
	return $primary->safe_psql('postgres', 'SELECT count(*) FROM t');
}
sub merge
{
	$primary->safe_psql('postgres', 'VACUUM (TRUNCATE false) t');
	$primary->wait_for_catchup($standby);
}
sub free_retired
{
	$primary->safe_psql('postgres', 'SELECT txid_current()') for 1 .. 3;
	$primary->safe_psql('postgres', 'VACUUM (TRUNCATE false) t');
	$primary->wait_for_catchup($standby);
}

# 1. Without feedback: the cursor survives the merge, and is cancelled by
# the conflict when the nodes it may hold are freed.
fresh_table();
delete_rows();
my $s = open_cursor();
merge();
is(scalar(split /\n/, $s->query_safe('FETCH 5 FROM c')), 5, 'the cursor reads on after the merge');
free_retired();
my $out = eval { $s->query('FETCH ALL FROM c') };
my $err = $@ || $s->{stderr} // '';
like(slurp_file($standby->logfile), qr/terminating connection due to conflict with recovery/,
	'without hot_standby_feedback, freeing the nodes cancels the standby query that may hold them');
ok(!defined $out || $out eq '' || $err ne '', 'the cursor returns no more rows');
unlike($err, qr/XX002|corrupt/, 'it never reads a freed node');
eval { $s->quit };

# 2. With feedback: the primary keeps the nodes, the cursor reads on and
# returns exactly the rows of its snapshot.
$standby->append_conf('postgresql.conf', "hot_standby_feedback = on\n");
$standby->reload;
fresh_table();
my $rows = delete_rows();
$standby->poll_query_until('postgres', "SELECT setting = 'on' FROM pg_settings WHERE name = 'hot_standby_feedback'");
$s = open_cursor();
# (feedback reaches the primary with the standby's next status message)
$primary->poll_query_until('postgres',
	"SELECT backend_xmin IS NOT NULL FROM pg_stat_replication WHERE application_name = 'sb_standby'");
merge();
free_retired();
my @ids = split /\n/, $s->query_safe('FETCH ALL FROM c');
my %seen;
$seen{$_}++ for @ids;
is(scalar(@ids) + 5, $rows, 'with hot_standby_feedback the cursor returns every row of its snapshot');
is(scalar(grep { $seen{$_} > 1 } keys %seen), 0, 'each once');
$s->query_safe('COMMIT');
$s->quit;
is($standby->safe_psql('postgres', "SELECT annoy_check('t_v')"), '', 'the standby index is sound');

$standby->stop;
$primary->stop;
done_testing();
