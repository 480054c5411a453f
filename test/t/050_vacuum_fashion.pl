# VACUUM on a real data set (Fashion-MNIST, 784-d, euclidean):
#  - after deleting half the rows and VACUUM (items freed, leaves merged),
#    recall@10 stays as good as a fresh build's on the remaining rows;
#  - after five rounds of non-HOT updates of every row, each followed by
#    VACUUM, the index is no more than 1.5 times the size of a fresh build
#    on the same rows (freed space is reused), and recall holds.
# Also reports (diag only, no assertion) insert and VACUUM times next to a
# table with only a btree index.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use AnnoyTestUtil;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $t0 = time;
my $node = annoy_node('fashion',
	conf => [ "maintenance_work_mem = '2GB'", 'shared_buffers = 512MB', 'log_statement = none',
		'autovacuum = off', 'max_wal_size = 4GB' ]);

# Fashion-MNIST into fm_train (60,000 rows) and fm_test (10,000 rows).
{
	local $ENV{PGHOST} = $node->host;
	local $ENV{PGPORT} = $node->port;
	local $ENV{PGUSER} = scalar(getpwuid($<));
	local $ENV{PGDATABASE} = 'postgres';
	my $loader = "$FindBin::RealBin/../tools/load_fashion_mnist.sh";
	my ($out, $err) = ('', '');
	my $ok = IPC::Run::run([ 'bash', $loader, 'fm' ], '>', \$out, '2>', \$err);
	ok($ok, 'Fashion-MNIST loaded') or BAIL_OUT("load_fashion_mnist.sh failed: $err");
	note($err);
}
is($node->safe_psql('postgres', 'SELECT count(*) FROM fm_train'), '60000', 'fm_train has 60,000 rows');

sub timed
{
	my ($sql) = @_;
	my $t = time;
	$node->safe_psql('postgres', $sql);
	return time - $t;
}

my $build_time = timed('CREATE INDEX fm_v ON fm_train USING annoy (embedding)');
note(sprintf('build on 60,000 rows: %.1f s', $build_time));

# The 100 query vectors.
$node->safe_psql('postgres', 'CREATE TABLE q AS SELECT id, embedding FROM fm_test WHERE id < 100');

# recall@10 of the annoy index `index` on `table` (the only annoy index
# there: others are dropped inside a rolled back transaction), default
# annoy.search_k.  A returned row counts as a hit when its distance is at
# most the exact 10th distance, so ties with the 10th neighbour count.
sub recall
{
	my ($table, $index, @hide) = @_;
	my $drop = join('', map { "DROP INDEX $_;\n" } @hide);
	my $knn = "SELECT t.embedding <-> q.embedding AS d FROM $table t ORDER BY t.embedding <-> q.embedding LIMIT 10";
	my $plan = $node->safe_psql('postgres', qq{
		BEGIN; $drop
		SET enable_seqscan = off; SET enable_bitmapscan = off;
		EXPLAIN (COSTS OFF) SELECT q.id, s.d FROM q, LATERAL ($knn) s;
		ROLLBACK;
	});
	ok($plan =~ /Index Scan using \Q$index\E /, "recall on $index: the queries use $index") or diag($plan);
	my $r = $node->safe_psql('postgres', qq{
		SET enable_indexscan = off; SET enable_bitmapscan = off;
		CREATE TEMP TABLE exact AS
		  SELECT q.id, (SELECT max(d) FROM ($knn) s) AS d10 FROM q;
		BEGIN; $drop
		SET LOCAL enable_seqscan = off; SET LOCAL enable_indexscan = on;
		SELECT round(sum(hits) / 1000.0, 4) FROM (
		  SELECT (SELECT count(*) FROM ($knn) s WHERE s.d <= e.d10 * (1 + 1e-6)) AS hits
		    FROM q JOIN exact e ON e.id = q.id) h;
		ROLLBACK;
	});
	return $r;
}

# Half the rows go; VACUUM frees their items and merges leaves.
$node->safe_psql('postgres', 'DELETE FROM fm_train WHERE id % 2 = 0');
my $info_sql = "SELECT items || ' items, ' || leaves || ' leaves, ' || pages || ' pages, avg leaf fill ' || round(avg_leaf_fill::numeric, 2) FROM annoy_index_info('%s')";
my $leaves_before = $node->safe_psql('postgres', "SELECT leaves FROM annoy_index_info('fm_v')");
my $vacuum_time = timed('VACUUM fm_train');
note(sprintf('VACUUM after deleting 30,000 of 60,000 rows: %.2f s', $vacuum_time));
note('fm_v after VACUUM: ' . $node->safe_psql('postgres', sprintf($info_sql, 'fm_v')));
is($node->safe_psql('postgres', "SELECT items FROM annoy_index_info('fm_v')"), '30000', 'VACUUM freed the deleted items');
cmp_ok($node->safe_psql('postgres', "SELECT leaves FROM annoy_index_info('fm_v')"), '<', $leaves_before * 0.8,
	'VACUUM merged leaves');
annoy_check_ok($node, 'postgres', 'fm_v', 'after delete + VACUUM');

# A fresh build on the remaining rows, in a copy of the table.
$node->safe_psql('postgres', qq{
	CREATE TABLE fm_copy AS SELECT * FROM fm_train;
	ALTER TABLE fm_copy ALTER COLUMN embedding SET STORAGE PLAIN;
	CREATE INDEX fm_copy_v ON fm_copy USING annoy (embedding);
	ANALYZE fm_train, fm_copy;
});
my $r_vac = recall('fm_train', 'fm_v');
my $r_fresh = recall('fm_copy', 'fm_copy_v');
diag("recall\@10 after delete + VACUUM: $r_vac; fresh build on the same rows: $r_fresh");
cmp_ok($r_vac, '>=', $r_fresh - 0.02, 'recall after VACUUM within 0.02 of a fresh build');
cmp_ok($r_fresh, '>', 0.5, 'fresh build has a sane recall');

# Five rounds of updating every row's vector (a real change: the update
# cannot be HOT, every row gets a new index entry), VACUUM after each.
my $rows = $node->safe_psql('postgres', 'SELECT count(*) FROM fm_train');
my @sizes;
for my $round (1 .. 5)
{
	my $delta = $round % 2 ? '0.25' : '-0.25';
	my $t = timed("UPDATE fm_train SET embedding[1] = embedding[1] + $delta");
	if ($round == 1)
	{
		is($node->safe_psql('postgres', "SELECT items FROM annoy_index_info('fm_v')"), 2 * $rows,
			'the updates were not HOT: every row has a second index entry before VACUUM');
	}
	my $tv = timed('VACUUM fm_train');
	push @sizes, $node->safe_psql('postgres', "SELECT pg_relation_size('fm_v')");
	note(sprintf("round $round: UPDATE of $rows rows %.1f s, VACUUM %.2f s, index %d MB", $t, $tv, $sizes[-1] / 2**20));
}
is($node->safe_psql('postgres', "SELECT items FROM annoy_index_info('fm_v')"), $rows, 'one item per row after the rounds');
annoy_check_ok($node, 'postgres', 'fm_v', 'after five rounds of updates');

# A fresh index on the same rows.
$node->safe_psql('postgres', 'CREATE INDEX fm_fresh ON fm_train USING annoy (embedding); ANALYZE fm_train');
my $fresh_size = $node->safe_psql('postgres', "SELECT pg_relation_size('fm_fresh')");
my $ratio = $sizes[-1] / $fresh_size;
diag(sprintf('index size after 5 update rounds: %d MB, fresh build: %d MB (ratio %.2f)',
	$sizes[-1] / 2**20, $fresh_size / 2**20, $ratio));
note('fm_v: ' . $node->safe_psql('postgres', sprintf($info_sql, 'fm_v')));
note('fm_fresh: ' . $node->safe_psql('postgres', sprintf($info_sql, 'fm_fresh')));
cmp_ok($ratio, '<=', 1.5, 'index size stays within 1.5x of a fresh build');
my $r_upd = recall('fm_train', 'fm_v', 'fm_fresh');
my $r_upd_fresh = recall('fm_train', 'fm_fresh', 'fm_v');
diag("recall\@10 after 5 update rounds: $r_upd; fresh build: $r_upd_fresh");
cmp_ok($r_upd, '>=', $r_upd_fresh - 0.02, 'recall after update rounds within 0.02 of a fresh build');
$node->safe_psql('postgres', 'DROP INDEX fm_fresh');

# Timings next to a btree-only table (diag only).
$node->safe_psql('postgres', qq{
	CREATE TABLE fm_bt AS SELECT * FROM fm_train;
	ALTER TABLE fm_bt ALTER COLUMN embedding SET STORAGE PLAIN;
	CREATE INDEX fm_bt_id ON fm_bt (id);
	CREATE INDEX fm_train_id2 ON fm_train (id);
	VACUUM fm_bt;
});
my $ins = 'SELECT id + 1000000, label, embedding, bits FROM fm_test WHERE id < 5000';
my $ti_annoy = timed("INSERT INTO fm_train $ins");
my $ti_bt = timed("INSERT INTO fm_bt $ins");
$node->safe_psql('postgres', 'DELETE FROM fm_train WHERE id >= 1000000; DELETE FROM fm_bt WHERE id >= 1000000');
my $tv_annoy = timed('VACUUM fm_train');
my $tv_bt = timed('VACUUM fm_bt');
diag(sprintf('INSERT of 5,000 rows: annoy + btree %.2f s (%.0f rows/s), btree only %.2f s (%.0f rows/s)',
	$ti_annoy, 5000 / $ti_annoy, $ti_bt, 5000 / $ti_bt));
diag(sprintf('VACUUM after deleting them: annoy + btree %.2f s, btree only %.2f s', $tv_annoy, $tv_bt));
annoy_check_ok($node, 'postgres', 'fm_v', 'at the end');

$node->stop;
note(sprintf('050_vacuum_fashion: %.1f s', time - $t0));
done_testing();
