# Shards over postgres_fdw: a coordinator whose partitioned table has two
# foreign partitions on two other clusters, each shard with its own annoy
# index (the server lists the extension: OPTIONS (extensions 'annoy')).
#   - ORDER BY v <-> q LIMIT k on the parent is pushed to each shard (Remote
#     SQL with ORDER BY), the shards answer through their annoy indexes, and
#     the coordinator merges them (Merge Append, no Sort);
#   - the answer is exactly the best k of the shards' own answers, and its
#     recall@10 is at least that of a single-node index over the same rows
#     at the same settings;
#   - annoy.search_k reaches the shards through the foreign server's
#     `options '-c annoy.search_k=N'` (or a shard's ALTER DATABASE ... SET),
#     not from a SET on the coordinator (postgres_fdw forwards no settings);
#   - LIMIT itself reaches the remote SQL when each shard is queried as a
#     foreign table of its own (UNION ALL of per-shard subqueries);
#   - a shard that is down gives a clean error (08001) and the coordinator
#     carries on; the query works again once the shard is back.
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
my $dim = 64;
my $n = 8000;
my @shards = map {
	annoy_node("shard$_", conf => [
		"shared_preload_libraries = 'auto_explain'",
		'auto_explain.log_min_duration = 0',
		'auto_explain.log_level = log' ])
} 1 .. 2;
my $coord = annoy_node('coordinator');

sub coord { return $coord->safe_psql('postgres', $_[0]); }

# The rows: on the coordinator a local table `whole` (the single-node
# reference), on the shards through the partitioned table `items`.
for my $s (@shards)
{
	$s->safe_psql('postgres', q{
		CREATE TABLE items (id int PRIMARY KEY, v real[]);
		CREATE VIEW annoy_settings AS SELECT current_setting('annoy.search_k', true) AS search_k;
	});
}
coord(qq{
	CREATE EXTENSION postgres_fdw;
	CREATE TABLE whole (id int PRIMARY KEY, v real[]);
	@{[ clustered_vectors_sql('whole', 1, $n, $dim, 0.3) ]}
	CREATE TABLE queries (id int PRIMARY KEY, v real[]);
	@{[ clustered_vectors_sql('queries', 1, 50, $dim, 0.4) ]}
	CREATE INDEX whole_v ON whole USING annoy (v) WITH (seed = 3);
	CREATE TABLE items (id int, v real[]) PARTITION BY HASH (id);
});
for my $i (1, 2)
{
	my $s = $shards[ $i - 1 ];
	my ($host, $port) = ($s->host, $s->port);
	coord(qq{
		CREATE SERVER shard$i FOREIGN DATA WRAPPER postgres_fdw
		  OPTIONS (host '$host', port '$port', dbname 'postgres', extensions 'annoy', batch_size '200');
		CREATE USER MAPPING FOR CURRENT_USER SERVER shard$i;
		CREATE FOREIGN TABLE items_$i PARTITION OF items FOR VALUES WITH (MODULUS 2, REMAINDER @{[ $i - 1 ]})
		  SERVER shard$i OPTIONS (table_name 'items');
		CREATE FOREIGN TABLE settings_$i (search_k text) SERVER shard$i OPTIONS (table_name 'annoy_settings');
	});
}
coord('INSERT INTO items SELECT * FROM whole');
for my $s (@shards)
{
	$s->safe_psql('postgres',
		'CREATE INDEX items_v ON items USING annoy (v) WITH (seed = 3); VACUUM ANALYZE items');
}
coord('ANALYZE items');
is(coord('SELECT count(*) FROM items'), $n, "the coordinator sees all $n rows through the shards");
ok($shards[0]->safe_psql('postgres', 'SELECT count(*) FROM items') > $n / 3
	  && $shards[1]->safe_psql('postgres', 'SELECT count(*) FROM items') > $n / 3,
	'both shards hold a share of the rows');

my $q1 = coord('SELECT v FROM queries WHERE id = 1');
my $knn = "ORDER BY v <-> '$q1'::real[] LIMIT 10";

# 1. The plan: ORDER BY pushed to both shards, answers merged in order.
my $plan = coord("EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM items $knn");
my $remote_ordered = () = $plan =~ /Remote SQL: SELECT id, v FROM public\.items ORDER BY \(v OPERATOR\(public\.<->\)/g;
is($remote_ordered, 2, 'EXPLAIN VERBOSE: both shards get the ORDER BY in their remote SQL') or diag($plan);
like($plan, qr/Merge Append/, 'the coordinator merges the shards\' ordered answers (Merge Append)');
unlike($plan, qr/->\s+Sort\b/, 'no Sort on the coordinator') or diag($plan);

# The shards answer through their annoy indexes (auto_explain logs the
# remote cursor's plan).
my @offsets = map { -s $_->logfile } @shards;
coord("SELECT id FROM items $knn");
for my $i (0, 1)
{
	my $log = slurp_file($shards[$i]->logfile, $offsets[$i]);
	like($log, qr/Index Scan using items_v on (public\.)?items/, "shard @{[ $i + 1 ]} runs an annoy index scan");
}

# 2. Equality with the shards' own answers, at a search_k small enough that
#    an index answer differs from the exact one (set on the shards through
#    the foreign servers' options).
sub shard_union_top10
{
	my ($query, $search_k) = @_;
	my %dist;
	for my $s (@shards)
	{
		my $out = $s->safe_psql('postgres', qq{
			SET annoy.search_k = $search_k;
			SELECT id, v <-> '$query'::real[] FROM items ORDER BY v <-> '$query'::real[] LIMIT 10});
		for (split /\n/, $out)
		{
			my ($id, $d) = split /\|/;
			$dist{$id} = $d;
		}
	}
	my @best = (sort { $dist{$a} <=> $dist{$b} || $a <=> $b } keys %dist)[ 0 .. 9 ];
	return join(',', @best);
}
for my $i (1, 2) { coord("ALTER SERVER shard$i OPTIONS (ADD options '-c annoy.search_k=30')"); }
is(coord('SELECT search_k FROM settings_1') . ',' . coord('SELECT search_k FROM settings_2'), '30,30',
	"annoy.search_k reaches the shards through the server option options '-c annoy.search_k=30'");
my $exact1 = knn_ids($coord, 'postgres', "SELECT id FROM whole ORDER BY l2_distance(v, '$q1'), id LIMIT 10");
my ($same, $differs) = (0, 0);
for my $qid (1 .. 10)
{
	my $q = coord("SELECT v FROM queries WHERE id = $qid");
	my $got = knn_ids($coord, 'postgres', "SELECT id FROM items ORDER BY v <-> '$q'::real[] LIMIT 10");
	$same++ if $got eq shard_union_top10($q, 30);
	$differs++ if $got ne knn_ids($coord, 'postgres',
		"SELECT id FROM whole ORDER BY l2_distance(v, '$q'), id LIMIT 10");
}
is($same, 10, 'search_k 30: each of 10 answers is exactly the best 10 of the shards\' own answers');
diag("search_k 30: $differs of 10 sharded answers differ from the exact answer");

# A SET on the coordinator stays there.
is($coord->safe_psql('postgres', 'SET annoy.search_k = 77; SELECT search_k FROM settings_1'), '30',
	'SET annoy.search_k on the coordinator does not reach the shards');

# Recall@10 over 50 queries at equal settings: sharded against single-node.
my $exact = knn_arrays_sql('queries', 'SELECT t.id FROM whole t ORDER BY l2_distance(t.v, q.v), t.id LIMIT 10');
for my $sk (30, 200)
{
	for my $i (1, 2) { coord("ALTER SERVER shard$i OPTIONS (SET options '-c annoy.search_k=$sk')"); }
	my $sharded = recall_of($coord, 'postgres',
		knn_arrays_sql('queries', 'SELECT t.id FROM items t ORDER BY t.v <-> q.v LIMIT 10'), $exact, 10);
	my $single = recall_of($coord, 'postgres',
		knn_arrays_sql('queries', 'SELECT t.id FROM whole t ORDER BY t.v <-> q.v LIMIT 10'), $exact, 10,
		"SET annoy.search_k = $sk;");
	diag("search_k $sk: recall\@10 sharded $sharded, single node $single");
	cmp_ok($sharded, '>=', $single - 0.02, "search_k $sk: sharded recall within 0.02 of single-node or better");
}

# A shard's own default (ALTER DATABASE ... SET) applies when the server
# sets nothing.
for my $i (1, 2) { coord("ALTER SERVER shard$i OPTIONS (DROP options)"); }
$shards[0]->safe_psql('postgres', 'ALTER DATABASE postgres SET annoy.search_k = 45');
is(coord('SELECT search_k FROM settings_1'), '45', 'ALTER DATABASE ... SET annoy.search_k on a shard reaches it');
$shards[0]->safe_psql('postgres', 'ALTER DATABASE postgres RESET annoy.search_k');

# 3. LIMIT in the remote SQL: each shard as a foreign table of its own.
my $per_shard = join(' UNION ALL ',
	map { "(SELECT id, v <-> '$q1'::real[] AS d FROM items_$_ ORDER BY v <-> '$q1'::real[] LIMIT 10)" } 1, 2);
my $union = "SELECT id FROM ($per_shard) s ORDER BY d, id LIMIT 10";
my $uplan = coord("EXPLAIN (VERBOSE, COSTS OFF) $union");
my $limited = () = $uplan =~ /Remote SQL: .* ORDER BY .* LIMIT 10::bigint/g;
is($limited, 2, 'per-shard subqueries: both remote SQLs carry ORDER BY and LIMIT 10') or diag($uplan);
is(knn_ids($coord, 'postgres', $union), knn_ids($coord, 'postgres', "SELECT id FROM items $knn"),
	'the per-shard form returns the same rows as the query on the parent');

# 4. A shard down: a clean error, the coordinator carries on.
$shards[1]->stop;
my ($ret, $out, $err) = $coord->psql('postgres', "\\set VERBOSITY verbose\nSELECT id FROM items $knn");
isnt($ret, 0, 'with shard 2 down the query fails');
like($err, qr/ERROR:\s+08001: could not connect to server "shard2"/, 'error 08001: could not connect to server "shard2"');
is(coord('SELECT count(*) FROM whole'), $n, 'the coordinator still answers');
$shards[1]->start;
is(knn_ids($coord, 'postgres', "SELECT id FROM items $knn"), knn_ids($coord, 'postgres', $union),
	'with shard 2 back the query works again');

diag(sprintf('090_fdw_shards took %.1f s', time - $t0));
done_testing();
