# annoy indexes through PostgreSQL's maintenance commands: REINDEX (also
# CONCURRENTLY, with inserts going on), CREATE INDEX CONCURRENTLY with
# inserts going on, UNLOGGED tables, TRUNCATE, VACUUM FULL, partitioned
# tables, ALTER COLUMN ... TYPE (table rewrite), and a pg_dump / pg_restore
# round trip.  After each: annoy_check passes and the index answers exactly
# (search_k beyond the table size) and reads back every row.
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
my $node = annoy_node('maintenance', conf => [ 'log_statement = none' ]);
my $dim = 16;
my $vec = random_vector_sql($dim, 'i');
my $q = "'{" . join(',', map { sprintf('%.2f', 0.3 + 0.02 * $_) } 1 .. $dim) . "}'::real[]";

# The k nearest ids by the index (search_k beyond the table: exact) equal
# those of an exact sort; plus the usual whole-index checks and annoy_check.
sub index_sound
{
	my ($what, %a) = @_;
	my $db = $a{db} // 'postgres';
	my $table = $a{table};
	my $index = $a{index};
	my $query = $a{query} // $q;
	annoy_check_ok($node, $db, $index, $what) unless $a{no_check};
	whole_index_ok($node, $db, $what, table => $table, index => $index, query => $query);
	my $settings = 'SET enable_seqscan = off; SET annoy.search_k = 1000000;';
	my $by_index = knn_ids($node, $db, "SELECT id FROM $table ORDER BY v <-> $query LIMIT 10", $settings);
	my $exact = knn_ids($node, $db, "SELECT id FROM $table ORDER BY l2_distance(v, $query), id LIMIT 10");
	is($by_index, $exact, "$what: kNN through the index is exact at a large search_k");
}

# Runs `sql` while another session inserts `n` rows into `table` in single
# committed transactions (ids from `first`).  Returns the inserter's stderr.
sub with_inserts
{
	my ($table, $first, $n, $sql) = @_;
	my $last = $first + $n - 1;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start([ 'psql', '-X', '-d', $node->connstr('postgres'), '-c', qq{
		DO \$\$
		BEGIN
		  FOR i IN $first .. $last LOOP
		    INSERT INTO $table VALUES (i, $vec);
		    COMMIT;
		  END LOOP;
		END \$\$;
	} ], '>', \$out, '2>', \$err);
	# Let the inserts start before the maintenance command.
	$node->poll_query_until('postgres', "SELECT count(*) > 0 FROM $table WHERE id >= $first")
	  or die 'inserts did not start';
	$node->safe_psql('postgres', $sql);
	$h->finish;
	return $err;
}

$node->safe_psql('postgres', qq{
	CREATE TABLE m (id int PRIMARY KEY, v real[]);
	@{[ random_vectors_sql('m', 1, 5000, $dim, 0.5) ]}
	INSERT INTO m VALUES (5001, NULL);
	CREATE INDEX m_v ON m USING annoy (v) WITH (n_trees = 5, leaf_size = 10, seed = 42);
});
index_sound('built', table => 'm', index => 'm_v');

# REINDEX, plain and concurrently (with inserts going on).
$node->safe_psql('postgres', 'REINDEX INDEX m_v');
index_sound('REINDEX', table => 'm', index => 'm_v');
is($node->safe_psql('postgres', "SELECT reloptions FROM pg_class WHERE relname = 'm_v'"),
	'{n_trees=5,leaf_size=10,seed=42}', 'REINDEX keeps the options');
my $err = with_inserts('m', 10001, 3000, 'REINDEX INDEX CONCURRENTLY m_v');
is($err, '', 'inserts during REINDEX CONCURRENTLY succeeded');
index_sound('REINDEX CONCURRENTLY with concurrent inserts', table => 'm', index => 'm_v');
is($node->safe_psql('postgres', "SELECT reloptions FROM pg_class WHERE relname = 'm_v'"),
	'{n_trees=5,leaf_size=10,seed=42}', 'REINDEX CONCURRENTLY keeps the options');
$node->safe_psql('postgres', 'REINDEX TABLE CONCURRENTLY m');
index_sound('REINDEX TABLE CONCURRENTLY', table => 'm', index => 'm_v');

# CREATE INDEX CONCURRENTLY with inserts going on (the validation phase
# must add the rows the first scan missed).
$err = with_inserts('m', 20001, 3000,
	'CREATE INDEX CONCURRENTLY m_v_cic ON m USING annoy (v) WITH (n_trees = 3, leaf_size = 7)');
is($err, '', 'inserts during CREATE INDEX CONCURRENTLY succeeded');
is($node->safe_psql('postgres', "SELECT indisvalid FROM pg_index WHERE indexrelid = 'm_v_cic'::regclass"), 't',
	'CREATE INDEX CONCURRENTLY made a valid index');
$node->safe_psql('postgres', 'DROP INDEX m_v');
index_sound('CREATE INDEX CONCURRENTLY with concurrent inserts', table => 'm', index => 'm_v_cic');
$node->safe_psql('postgres', 'DROP INDEX CONCURRENTLY m_v_cic');
$node->safe_psql('postgres', 'CREATE INDEX m_v ON m USING annoy (v) WITH (n_trees = 5, leaf_size = 10, seed = 42)');

# UNLOGGED table: build, insert, query.
$node->safe_psql('postgres', qq{
	CREATE UNLOGGED TABLE ul (id int PRIMARY KEY, v real[]);
	@{[ random_vectors_sql('ul', 1, 2000, $dim, 0.6) ]}
	CREATE INDEX ul_v ON ul USING annoy (v) WITH (n_trees = 4, leaf_size = 8);
	INSERT INTO ul SELECT i, $vec FROM generate_series(2001, 3000) i;
});
index_sound('UNLOGGED table', table => 'ul', index => 'ul_v');
# Built empty, then filled.
$node->safe_psql('postgres', qq{
	CREATE UNLOGGED TABLE ul2 (id int PRIMARY KEY, v real[]);
	CREATE INDEX ul2_v ON ul2 USING annoy (v) WITH (n_trees = 4, leaf_size = 8);
	INSERT INTO ul2 SELECT i, $vec FROM generate_series(1, 2000) i;
});
index_sound('UNLOGGED table, index built empty', table => 'ul2', index => 'ul2_v');

# TRUNCATE, then new rows (of another dimension: the emptied index has
# no dimension yet).
$node->safe_psql('postgres', qq{
	CREATE TABLE tr (id int PRIMARY KEY, v real[]);
	@{[ random_vectors_sql('tr', 1, 2000, $dim, 0.7) ]}
	CREATE INDEX tr_v ON tr USING annoy (v) WITH (n_trees = 4, leaf_size = 8);
	TRUNCATE tr;
});
annoy_check_ok($node, 'postgres', 'tr_v', 'TRUNCATE');
is($node->safe_psql('postgres', "SELECT items FROM annoy_index_info('tr_v')"), '0', 'TRUNCATE empties the index');
$node->safe_psql('postgres', qq{
	INSERT INTO tr SELECT i, ARRAY[i % 13, i % 7, i / 100.0]::real[] FROM generate_series(1, 1500) i;
});
index_sound('TRUNCATE then inserts of a new dimension', table => 'tr', index => 'tr_v', query => 'ARRAY[6.1, 3.2, 2.3]::real[]');
# TRUNCATE inside a transaction that rolls back keeps the old contents.
$node->safe_psql('postgres', 'BEGIN; TRUNCATE tr; INSERT INTO tr VALUES (1, ARRAY[1, 2, 3, 4]::real[]); ROLLBACK;');
index_sound('TRUNCATE rolled back', table => 'tr', index => 'tr_v', query => 'ARRAY[6.1, 3.2, 2.3]::real[]');

# VACUUM FULL and CLUSTER (on the btree) rewrite the table and rebuild
# the annoy index.
$node->safe_psql('postgres', 'DELETE FROM m WHERE id % 3 = 0; VACUUM FULL m');
index_sound('VACUUM FULL', table => 'm', index => 'm_v');
$node->safe_psql('postgres', 'CLUSTER m USING m_pkey');
index_sound('CLUSTER', table => 'm', index => 'm_v');

# Partitioned table: the index on the parent creates annoy indexes on the
# partitions (also on one attached later); queries on the parent use them.
$node->safe_psql('postgres', qq{
	CREATE TABLE p (id int, v real[]) PARTITION BY RANGE (id);
	CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (0) TO (2000);
	CREATE TABLE p2 PARTITION OF p FOR VALUES FROM (2000) TO (4000);
	CREATE TABLE p3 PARTITION OF p FOR VALUES FROM (4000) TO (6000);
	@{[ random_vectors_sql('p', 0, 5500, $dim, 0.8) ]}
	CREATE INDEX p_v ON p USING annoy (v) WITH (n_trees = 4, leaf_size = 8);
	CREATE TABLE p4 (id int, v real[]);
	INSERT INTO p4 SELECT i, $vec FROM generate_series(6000, 6999) i;
	ALTER TABLE p ATTACH PARTITION p4 FOR VALUES FROM (6000) TO (8000);
	ANALYZE p;
});
my $part_indexes = $node->safe_psql('postgres', qq{
	SELECT string_agg(c.relname || ':' || a.amname || ':' || array_to_string(c.reloptions, ','), ' ' ORDER BY c.relname)
	  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_am a ON a.oid = c.relam
	 WHERE i.inhparent = 'p_v'::regclass});
is($part_indexes,
	'p1_v_idx:annoy:n_trees=4,leaf_size=8 p2_v_idx:annoy:n_trees=4,leaf_size=8 '
	  . 'p3_v_idx:annoy:n_trees=4,leaf_size=8 p4_v_idx:annoy:n_trees=4,leaf_size=8',
	'every partition has an annoy index with the parent index options');
my $settings = 'SET enable_seqscan = off; SET annoy.search_k = 1000000;';
my $plan = $node->safe_psql('postgres', "$settings EXPLAIN (COSTS OFF) SELECT id FROM p ORDER BY v <-> $q LIMIT 10");
my $scans = () = $plan =~ /Index Scan using p\d_v_idx on p\d/g;
is($scans, 4, 'a kNN query on the parent scans the four partition indexes') or diag($plan);
like($plan, qr/Merge Append|Sort/, 'partition results merged by distance');
is(knn_ids($node, 'postgres', "SELECT id FROM p ORDER BY v <-> $q LIMIT 10", $settings),
	knn_ids($node, 'postgres', "SELECT id FROM p ORDER BY l2_distance(v, $q), id LIMIT 10"),
	'partitioned kNN through the indexes is exact at a large search_k');
for my $part (1 .. 4)
{
	annoy_check_ok($node, 'postgres', "p${part}_v_idx", "partition p$part");
}
whole_index_ok($node, 'postgres', 'partition p4 (attached)', table => 'p4', index => 'p4_v_idx', query => $q);
$node->safe_psql('postgres', "INSERT INTO p SELECT i, $vec FROM generate_series(7000, 7999) i");
whole_index_ok($node, 'postgres', 'partition p4 after inserts through the parent', table => 'p4', index => 'p4_v_idx',
	query => $q);

# ALTER COLUMN ... TYPE: the same type (USING v) and a real rewrite that
# changes the dimension (the index is rebuilt for 17 coordinates).
$node->safe_psql('postgres', qq{
	CREATE TABLE al (id int PRIMARY KEY, v real[]);
	@{[ random_vectors_sql('al', 1, 3000, $dim, 0.9) ]}
	CREATE INDEX al_v ON al USING annoy (v) WITH (n_trees = 4, leaf_size = 8, seed = 3);
	ALTER TABLE al ALTER COLUMN v TYPE real[] USING v;
});
index_sound('ALTER COLUMN TYPE real[] USING v', table => 'al', index => 'al_v');
my $node_before = $node->safe_psql('postgres', "SELECT relfilenode FROM pg_class WHERE relname = 'al_v'");
$node->safe_psql('postgres', 'ALTER TABLE al ALTER COLUMN v TYPE real[] USING array_append(v, 0.5::real)');
isnt($node->safe_psql('postgres', "SELECT relfilenode FROM pg_class WHERE relname = 'al_v'"), $node_before,
	'a rewriting ALTER COLUMN TYPE rebuilt the index');
is($node->safe_psql('postgres', "SELECT dimensions || ' ' || reloptions::text FROM annoy_index_info('al_v'), pg_class WHERE relname = 'al_v'"),
	'17 {n_trees=4,leaf_size=8,seed=3}', 'rebuilt index: new dimension, same options');
my $q17 = "'{" . join(',', map { sprintf('%.2f', 0.3 + 0.02 * $_) } 1 .. $dim) . ",0.5}'::real[]";
index_sound('ALTER COLUMN TYPE with a rewrite', table => 'al', index => 'al_v', query => $q17);

# pg_dump / pg_restore round trip of a database with annoy indexes.
$node->safe_psql('postgres', 'CREATE DATABASE dumpsrc');
$node->safe_psql('dumpsrc', qq{
	CREATE EXTENSION annoy;
	CREATE TABLE d (id int PRIMARY KEY, v real[], b bit(32));
	@{[ random_vectors_sql('d', 1, 4000, $dim, 0.33) ]}
	UPDATE d SET b = (id * 2654435761 % 4294967296)::bigint::bit(32);
	CREATE INDEX d_v ON d USING annoy (v) WITH (n_trees = 7, leaf_size = 12, seed = 99);
	CREATE INDEX d_ang ON d USING annoy (v angular_ops) WITH (n_trees = 3);
	CREATE INDEX d_b ON d USING annoy (b) WITH (leaf_size = 5);
	INSERT INTO d SELECT i, $vec, (i * 40503 % 4294967296)::bigint::bit(32) FROM generate_series(4001, 4500) i;
	DELETE FROM d WHERE id % 10 = 0;
	VACUUM d;
});
# The changed index answers exactly at a large search_k ...
index_sound('before dump, after inserts, deletes and VACUUM', db => 'dumpsrc', table => 'd', index => 'd_v');
# ... and after VACUUM FULL it is a fresh build on the rows in their
# physical order, which the restore reproduces.
$node->safe_psql('dumpsrc', 'VACUUM FULL d');
my $dump = "${PostgreSQL::Test::Utils::tmp_check}/060_dump.custom";
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', 'dumpsrc' ], 'pg_dump -Fc');
$node->safe_psql('postgres', 'CREATE DATABASE dumpdst');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', 'dumpdst', $dump ], 'pg_restore');
my $defs = "SELECT string_agg(pg_get_indexdef(c.oid) || ' ' || coalesce(array_to_string(c.reloptions, ','), ''), E'\\n' ORDER BY c.relname)
              FROM pg_class c JOIN pg_am a ON a.oid = c.relam WHERE a.amname = 'annoy'";
my $src_defs = $node->safe_psql('dumpsrc', $defs);
is($node->safe_psql('dumpdst', $defs), $src_defs, 'restored annoy indexes have the same definitions and options');
like($src_defs, qr/n_trees='?7'?, leaf_size='?12'?, seed='?99'?/, 'the options are in the definition');
for my $idx (qw(d_v d_ang d_b))
{
	annoy_check_ok($node, 'dumpdst', $idx, 'restored');
}
# Same answers, at a small search_k too: the restored rows are loaded in
# the same order and the trees built with the same seed ("the same data and
# seed give the same trees").
my ($same, $total) = (0, 0);
for my $k (1 .. 10)
{
	my $qk = "'{" . join(',', map { sprintf('%.3f', (($k * 7 + $_ * 13) % 100) / 100) } 1 .. $dim) . "}'::real[]";
	for my $spec ([ "v <-> $qk", 30 ], [ "v <=> $qk", 30 ], [ "b <~> ($k * 12345)::bit(32)", 30 ],
		[ "v <-> $qk", 1000000 ])
	{
		my ($order, $search_k) = @$spec;
		my $sql = "SELECT id FROM d ORDER BY $order LIMIT 10";
		my $s = "SET enable_seqscan = off; SET annoy.search_k = $search_k;";
		$same++ if knn_ids($node, 'dumpsrc', $sql, $s) eq knn_ids($node, 'dumpdst', $sql, $s);
		$total++;
	}
}
is($same, $total, "restored database answers kNN queries identically ($same of $total)");
ok(uses_index($node, 'dumpdst', "SELECT id FROM d ORDER BY b <~> (5)::bit(32) LIMIT 10", 'd_b',
	'SET enable_seqscan = off;'), 'restored hamming index is used');
whole_index_ok($node, 'dumpdst', 'restored', db => 'dumpdst', table => 'd', index => 'd_v', query => $q);

$node->stop;
note(sprintf('060_maintenance: %.1f s', time - $t0));
done_testing();
