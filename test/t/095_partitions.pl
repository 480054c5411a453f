# annoy indexes on partitioned tables (index on the parent): with 16 and 128
# hash partitions of the same rows as one table,
#   - the planner chooses every partition's annoy index by itself and merges
#     them in order (Merge Append, no Sort, no sequential scan), where the
#     partitions are large enough for an index to pay (16 partitions of 1,600
#     rows here; 128 partitions of 200 small rows are cheaper to scan, and
#     the planner does so: they are searched through their indexes with
#     sequential scans disabled);
#   - a WHERE on the partition key prunes partitions, and the scans left
#     still use their annoy indexes;
#   - recall@10 is at least that of one table's index over the same rows;
#   - the partitions' scans share one budget instead of each paying what its
#     index would get alone: the query reads far fewer index buffers than the
#     same partitions' indexes queried one by one.
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
my $node = annoy_node('partitions', conf => [ 'max_locks_per_transaction = 256' ]);
my $dim = 64;    # sketches are on by default from 64 dimensions
my $n = 25600;

sub sql { return $node->safe_psql('postgres', $_[0]); }

# One table, 16 and 128 hash partitions of the same rows, and 16 list
# partitions by a tenant key; queries from the same clusters.
sql(qq{
	CREATE TABLE one (id int PRIMARY KEY, v real[]);
	@{[ clustered_vectors_sql('one', 1, $n, $dim, 0.1) ]}
	CREATE TABLE queries (id int PRIMARY KEY, v real[]);
	@{[ clustered_vectors_sql('queries', 1, 50, $dim, 0.2) ]}
	CREATE TABLE p16 (id int, v real[]) PARTITION BY HASH (id);
	CREATE TABLE p128 (id int, v real[]) PARTITION BY HASH (id);
	CREATE TABLE tenants (tenant int, id int, v real[]) PARTITION BY LIST (tenant);
});
sql(join("\n",
	(map { "CREATE TABLE p16_$_ PARTITION OF p16 FOR VALUES WITH (MODULUS 16, REMAINDER $_);" } 0 .. 15),
	(map { "CREATE TABLE p128_$_ PARTITION OF p128 FOR VALUES WITH (MODULUS 128, REMAINDER $_);" } 0 .. 127),
	(map { "CREATE TABLE tenants_$_ PARTITION OF tenants FOR VALUES IN ($_);" } 0 .. 15)));
sql(q{
	INSERT INTO p16 SELECT * FROM one;
	INSERT INTO p128 SELECT * FROM one;
	INSERT INTO tenants SELECT id % 16, id, v FROM one;
	CREATE INDEX one_v ON one USING annoy (v) WITH (seed = 3);
	CREATE INDEX p16_v ON p16 USING annoy (v) WITH (seed = 3);
	CREATE INDEX p128_v ON p128 USING annoy (v) WITH (seed = 3);
	CREATE INDEX tenants_v ON tenants USING annoy (v) WITH (seed = 3);
	VACUUM ANALYZE one; VACUUM ANALYZE p16; VACUUM ANALYZE p128; VACUUM ANALYZE tenants;
	ANALYZE queries;
});
is(sql('SELECT count(*) FROM p128_7'), sql('SELECT count(*) FROM one WHERE satisfies_hash_partition(' .
	"'p128'::regclass, 128, 7, id)"), 'rows are spread over the partitions');

my $q1 = sql('SELECT v FROM queries WHERE id = 1');
my $knn = "ORDER BY v <-> '$q1'::real[] LIMIT 10";

# 1. Plans: every partition's annoy index, merged in order.
my $noseq = 'SET enable_seqscan = off;';
for my $p ([ 'p16', 16, '' ], [ 'p128', 128, $noseq ])
{
	my ($t, $parts, $settings) = @$p;
	my $plan = sql("$settings EXPLAIN (COSTS OFF) SELECT id FROM $t $knn");
	my $scans = () = $plan =~ /Index Scan using ${t}_\d+_v_idx on ${t}_\d+/g;
	is($scans, $parts, "$t: the plan scans the annoy index of each of the $parts partitions");
	like($plan, qr/Merge Append/, "$t: the partitions' answers are merged in order (Merge Append)");
	unlike($plan, qr/Seq Scan|->\s+Sort\b/, "$t: no sequential scan, no sort") or diag($plan);
}

# 2. Pruning on the partition key: only the tenants asked for are scanned,
#    through their annoy indexes, and the answer is right for them.
{
	my $plan = sql("EXPLAIN (COSTS OFF) SELECT id FROM tenants WHERE tenant IN (3, 5, 7, 9) $knn");
	my @scanned = $plan =~ /on (tenants_\d+)/g;
	is(join(',', sort @scanned), 'tenants_3,tenants_5,tenants_7,tenants_9',
		'WHERE tenant IN (...) prunes the other 12 partitions') or diag($plan);
	my $scans = () = $plan =~ /Index Scan using tenants_\d+_v_idx/g;
	is($scans, 4, 'the 4 partitions left are scanned through their annoy indexes') or diag($plan);
	my $got = knn_ids($node, 'postgres', "SELECT id FROM tenants WHERE tenant IN (3, 5, 7, 9) $knn");
	my $exact = knn_ids($node, 'postgres',
		"SELECT id FROM one WHERE id % 16 IN (3, 5, 7, 9) ORDER BY l2_distance(v, '$q1'), id LIMIT 10");
	my %e = map { $_ => 1 } split /,/, $exact;
	my $hits = grep { $e{$_} } split /,/, $got;
	cmp_ok($hits, '>=', 9, "pruned query: at least 9 of the exact 10 ($hits)");
	my $one_plan = sql("EXPLAIN (COSTS OFF) SELECT id FROM tenants WHERE tenant = 3 $knn");
	my @one = $one_plan =~ /on (tenants_\d+)/g;
	is(join(',', @one), 'tenants_3', 'WHERE tenant = 3 scans one partition') or diag($one_plan);
}

# 3. Recall@10 over 50 queries: partitions at least as good as one table.
my $exact = knn_arrays_sql('queries', 'SELECT t.id FROM one t ORDER BY l2_distance(t.v, q.v), t.id LIMIT 10');
my %recall;
for my $t (qw(one p16 p128))
{
	$recall{$t} = recall_of($node, 'postgres',
		knn_arrays_sql('queries', "SELECT t.id FROM $t t ORDER BY t.v <-> q.v LIMIT 10"), $exact, 10,
		$t eq 'p128' ? $noseq : '');
}
diag("recall\@10 at the automatic budget: one table $recall{one}, 16 partitions $recall{p16}, "
	. "128 partitions $recall{p128}");
cmp_ok($recall{one}, '>=', 0.9, 'one table: recall@10 >= 0.9');
for my $t (qw(p16 p128))
{
	cmp_ok($recall{$t}, '>=', $recall{one} - 0.02, "$t: recall\@10 within 0.02 of one table's or better");
}

# 4. One shared budget: the query through the parent reads fewer index
#    buffers than the partitions' indexes answering it one by one (each
#    with the budget of an index its size).
sub index_buffers
{
	my ($sql) = @_;
	my $plan = sql("$noseq EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF) $sql");
	my $sum = 0;
	# Buffers of the index scans only (the lines after each "Index Scan").
	while ($plan =~ /Index Scan using \S+_v_idx.*?\n(?:.*\n)*?\s+Buffers: shared hit=(\d+)(?: read=(\d+))?/g)
	{
		$sum += $1 + ($2 // 0);
	}
	return $sum;
}
sql('SELECT count(*) FROM p16');    # warm the cache
my $together = index_buffers("SELECT id FROM p16 $knn");
my $alone = 0;
$alone += index_buffers("SELECT id FROM p16_$_ $knn") for 0 .. 15;
diag("index buffers: 16 partitions through the parent $together, one by one $alone");
cmp_ok($together, '>', 0, 'buffers of the partitions\' scans counted');
cmp_ok($together, '<', 0.6 * $alone,
	'the scans through the parent share a budget: under 0.6x the buffers of 16 separate full budgets');

# A fixed annoy.search_k is shared the same way; large enough, it finds
# the exact answer through the parent too.
is(knn_ids($node, 'postgres', "SELECT id FROM p128 $knn", "$noseq SET annoy.search_k = 1000000;"),
	knn_ids($node, 'postgres', "SELECT id FROM one ORDER BY l2_distance(v, '$q1'), id LIMIT 10"),
	'p128 at a search_k beyond the table: the exact answer');

diag(sprintf('095_partitions took %.1f s', time - $t0));
done_testing();
