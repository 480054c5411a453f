# An index whose meta page records another on-disk layout version (one
# written by an older or newer build of annoy) is refused, never read: scans,
# inserts, VACUUM, annoy_check and annoy_index_info fail with SQLSTATE 0A000,
# a message naming both versions and the hint to REINDEX; the table stays
# readable without the index; REINDEX makes the index work again.
#
# The old index is made by rewriting the version field of a real index's
# meta page with the server stopped (block 0: the page header, then the meta
# data, whose first fields are the magic number and the layout version).
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use AnnoyTestUtil;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = annoy_node('layout');
my $dim = 8;
$node->safe_psql('postgres', "CREATE TABLE t (id int PRIMARY KEY, v real[]);\n"
	  . random_vectors_sql('t', 1, 3000, $dim, 0.25)
	  . "CREATE INDEX t_v ON t USING annoy (v) WITH (n_trees = 4);");
my $q = "'{" . join(',', map { sprintf('%.2f', 0.1 * $_) } 1 .. $dim) . "}'::real[]";
my $knn = "SELECT id FROM t ORDER BY v <-> $q LIMIT 10";
my $exact = knn_ids($node, 'postgres', "SELECT id FROM t ORDER BY l2_distance(v, $q), id LIMIT 10");
my $settings = 'SET enable_seqscan = off; SET annoy.search_k = 100000;';
is(knn_ids($node, 'postgres', $knn, $settings), $exact, 'the index answers before its layout is changed');

# Meta page offsets: the page header is 24 bytes (MAXALIGNed), then
# magic (uint32) and version (uint32).
my $file = $node->data_dir . '/' . $node->safe_psql('postgres', "SELECT pg_relation_filepath('t_v')");
my ($magic_at, $version_at) = (24, 28);
$node->stop;
open(my $fh, '+<:raw', $file) or die "open $file: $!";
my $head;
sysread($fh, $head, 32) == 32 or die "read $file: $!";
my ($magic, $version) = unpack('V V', substr($head, $magic_at, 8));
is(sprintf('%08X', $magic), '414E4E59', 'the meta page starts with the magic number ANNY');
is($version, 7, 'the meta page records layout version 7 (filter payloads in the leaves)');
my $old = $version - 1;
sysseek($fh, $version_at, 0) or die "seek: $!";
syswrite($fh, pack('V', $old)) == 4 or die "write: $!";
close($fh);
$node->start;

my $refusal = qr/0A000: index "t_v" has annoy layout version $old, this build reads version $version.*HINT:\s+REINDEX the index\./s;
for my $case (
	[ 'an ordered scan', "$settings $knn" ],
	[ 'an insert', "INSERT INTO t VALUES (100000, '{" . join(',', (0.5) x $dim) . "}')" ],
	[ 'annoy_check', "SELECT annoy_check('t_v')" ],
	[ 'annoy_index_info', "SELECT * FROM annoy_index_info('t_v')" ])
{
	my ($what, $sql) = @$case;
	my ($ret, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\n$sql");
	isnt($ret, 0, "$what on the old-layout index fails");
	like($err, $refusal, "$what: SQLSTATE 0A000, both layout versions and the REINDEX hint");
}
is($node->safe_psql('postgres', 'SELECT count(*) FROM t'), '3000', 'the table is intact, the refused insert left no row');
is(knn_ids($node, 'postgres', "SELECT id FROM t ORDER BY v <-> $q, id LIMIT 10", 'SET enable_indexscan = off;'),
	$exact, 'without the index the same query is answered exactly');

# VACUUM must read the index to remove a dead row's entries: refused too.
$node->safe_psql('postgres', 'DELETE FROM t WHERE id = 3000');
my ($vret, $vout, $verr) = $node->psql('postgres', "\\set VERBOSITY verbose\nVACUUM t");
isnt($vret, 0, 'VACUUM of the table with the old-layout index fails');
like($verr, $refusal, 'VACUUM: SQLSTATE 0A000, both layout versions and the REINDEX hint');
$exact = knn_ids($node, 'postgres', "SELECT id FROM t ORDER BY l2_distance(v, $q), id LIMIT 10");

$node->safe_psql('postgres', 'REINDEX INDEX t_v');
is(knn_ids($node, 'postgres', $knn, $settings), $exact, 'after REINDEX the index answers exactly');
annoy_check_ok($node, 'postgres', 't_v', 'after REINDEX');
is($node->safe_psql('postgres', "SELECT items FROM annoy_index_info('t_v')"), '2999',
	'after REINDEX the index holds every row');
$node->safe_psql('postgres', 'VACUUM t');
annoy_check_ok($node, 'postgres', 't_v', 'after REINDEX and VACUUM');

$node->stop;
done_testing();
