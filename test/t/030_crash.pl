# Crash recovery: several sessions insert into a table with an annoy index
# (small leaves: many splits), one deletes and VACUUMs, and the server is
# stopped in immediate mode in the middle of it.  After recovery the index
# must be sound (annoy_check), every acknowledged commit must be there, and
# a scan reading the whole index must return exactly the table's rows.
# An UNLOGGED table's annoy index must come back empty and usable.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use AnnoyTestUtil;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

my $t0 = time;
my $node = annoy_node('crash', conf => ['log_statement = none', 'checkpoint_timeout = 30s']);
my $dim = 32;
my $vec = random_vector_sql($dim, 'k');

$node->safe_psql('postgres', qq{
	CREATE TABLE t (id bigint PRIMARY KEY, v real[]);
	@{[ random_vectors_sql('t', 1, 3000, $dim, 0.3) ]}
	CREATE INDEX t_v ON t USING annoy (v) WITH (n_trees = 4, leaf_size = 8, seed = 1);
	CREATE UNLOGGED TABLE u (id int PRIMARY KEY, v real[]);
	INSERT INTO u SELECT i, ARRAY[i % 17, i % 23]::real[] FROM generate_series(1, 500) i;
	CREATE INDEX u_v ON u USING annoy (v) WITH (n_trees = 3, leaf_size = 4);
	-- an unlogged table whose index is built empty
	CREATE UNLOGGED TABLE u2 (id int PRIMARY KEY, v real[]);
	CREATE INDEX u2_v ON u2 USING annoy (v) WITH (n_trees = 2, leaf_size = 4);
	INSERT INTO u2 SELECT i, ARRAY[i, i % 7]::real[] FROM generate_series(1, 300) i;
});

# Starts the writers: inserting sessions (5 rows per committed transaction,
# a notice after each commit), and one session deleting and vacuuming.
# Returns the harnesses and their output buffers.
sub start_writers
{
	my ($round) = @_;
	my @w;
	for my $s (1 .. 3)
	{
		my $base = $round * 100_000_000 + $s * 10_000_000;
		my $sql = qq{
			DO \$\$
			BEGIN
			  FOR b IN 0 .. 1000000 LOOP
			    INSERT INTO t SELECT $base + b * 5 + k, $vec FROM generate_series(0, 4) k;
			    COMMIT;
			    RAISE NOTICE 'committed %', $base + b * 5 + 4;
			    INSERT INTO u SELECT 1000 + ($base + b * 5) % 1000000, ARRAY[b % 13, b % 29]::real[]
			      ON CONFLICT DO NOTHING;
			    COMMIT;
			  END LOOP;
			END \$\$;
		};
		my ($out, $err) = ('', '');
		my $h = IPC::Run::start([ 'psql', '-X', '-d', $node->connstr('postgres'), '-c', $sql ],
			'>', \$out, '2>', \$err);
		push @w, { h => $h, out => \$out, err => \$err, session => $s };
	}
	# Deletes ~0.3 % of the rows (old and new) per statement, then VACUUM:
	# items freed, leaves merged, while the inserts go on.  Rows with
	# id % 97 = 96 are never deleted.
	my $script = '';
	for my $k (1 .. 1000)
	{
		$script .= "DELETE FROM t WHERE id % 97 = $k % 96 AND random() < 0.3;\nVACUUM t;\n";
	}
	my $file = "${PostgreSQL::Test::Utils::tmp_check}/030_deleter_$round.sql";
	append_to_file($file, $script);
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start([ 'psql', '-X', '-q', '-d', $node->connstr('postgres'), '-f', $file ],
		'>', \$out, '2>', \$err);
	push @w, { h => $h, out => \$out, err => \$err, session => 'vacuum' };
	return @w;
}

for my $round (1 .. 2)
{
	my $before = $node->safe_psql('postgres', 'SELECT count(*) FROM t');
	my @w = start_writers($round);
	# Let them run; a checkpoint in the middle so that recovery starts from
	# a checkpoint taken while the index was changing.
	sleep(3);
	$node->safe_psql('postgres', 'CHECKPOINT');
	sleep(3);
	for my $w (@w) { $w->{h}->pump_nb; }
	$node->stop('immediate');
	for my $w (@w) { eval { $w->{h}->finish; }; }

	# The last acknowledged commit of each inserting session.
	my %acked;
	for my $w (@w)
	{
		next if $w->{session} eq 'vacuum';
		my @ids = ${ $w->{err} } =~ /committed (\d+)/g;
		$acked{ $w->{session} } = @ids ? $ids[-1] : undef;
		cmp_ok(scalar(@ids), '>', 10, "round $round: session $w->{session} committed transactions ("
			  . scalar(@ids) . ")");
	}
	unlike(${ $w[-1]{err} }, qr/ERROR/, "round $round: deletes and VACUUM ran without errors before the crash")
	  or diag(substr(${ $w[-1]{err} }, 0, 2000));
	for my $w (@w[0 .. 2])
	{
		my @errors = grep { /ERROR/ && !/terminat|connection|server closed/ } split /\n/, ${ $w->{err} };
		is(scalar(@errors), 0, "round $round: session $w->{session} had no errors before the crash")
		  or diag(join("\n", @errors[0 .. ($#errors > 5 ? 5 : $#errors)]));
	}

	$node->start;
	pass("round $round: recovery after an immediate stop succeeded");
	my $after = $node->safe_psql('postgres', 'SELECT count(*) FROM t');
	note("round $round: rows before $before, after $after");

	# Every acknowledged commit is there: the rows with id % 97 = 96 are
	# never deleted, so each of them up to the session's last acknowledged
	# commit must have survived.
	for my $s (sort keys %acked)
	{
		next unless defined $acked{$s};
		my $base = $round * 100_000_000 + $s * 10_000_000;
		my ($expected, $found) = split /\|/, $node->safe_psql('postgres', qq{
			SELECT count(*), count(t.id) FROM generate_series($base, $acked{$s}) g
			  LEFT JOIN t ON t.id = g WHERE g % 97 = 96
		});
		is($found, $expected, "round $round: session $s: acknowledged commits survived ($found of $expected checked rows)");
	}

	annoy_check_ok($node, 'postgres', 't_v', "round $round after crash");
	whole_index_ok($node, 'postgres', "round $round after crash", table => 't', index => 't_v',
		query => "'{" . join(',', map { 0.5 } 1 .. $dim) . "}'::real[]");

	# UNLOGGED tables: truncated by the crash, their indexes empty, usable.
	for my $u (qw(u u2))
	{
		is($node->safe_psql('postgres', "SELECT count(*) FROM $u"), '0', "round $round: unlogged $u is empty after the crash");
		annoy_check_ok($node, 'postgres', "${u}_v", "round $round: empty unlogged index");
		$node->safe_psql('postgres', "INSERT INTO $u SELECT i, ARRAY[i % 11, i % 5]::real[] FROM generate_series(1, 200) i");
		annoy_check_ok($node, 'postgres', "${u}_v", "round $round: unlogged index after inserts");
		whole_index_ok($node, 'postgres', "round $round: unlogged $u", table => $u, index => "${u}_v",
			query => "ARRAY[3, 2]::real[]");
	}
	is($node->safe_psql('postgres', qq{
		SET enable_seqscan = off; SET annoy.search_k = 100000;
		SELECT array_agg(id) FROM (SELECT id FROM u ORDER BY v <-> ARRAY[3.1, 2.2]::real[] LIMIT 3) s}),
		$node->safe_psql('postgres', qq{
		SELECT array_agg(id) FROM (SELECT id FROM u ORDER BY l2_distance(v, ARRAY[3.1, 2.2]::real[]), id LIMIT 3) s}),
		"round $round: unlogged index answers a kNN query exactly");
}

# The recovered index takes new rows.
sql_ok($node, 'postgres', "INSERT INTO t SELECT 900000000 + k, $vec FROM generate_series(1, 2000) k",
	'the recovered index takes new rows');
sql_ok($node, 'postgres', 'VACUUM t', 'VACUUM after recovery');
annoy_check_ok($node, 'postgres', 't_v', 'after inserts and VACUUM following recovery');
whole_index_ok($node, 'postgres', 'after inserts and VACUUM following recovery', table => 't', index => 't_v',
	query => "'{" . join(',', map { 0.25 } 1 .. $dim) . "}'::real[]");

$node->stop;
note(sprintf('030_crash: %.1f s', time - $t0));
done_testing();
