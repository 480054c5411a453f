# Seeded random corruption: small annoy indexes of every operator class are
# damaged on disk (while the cluster is stopped), then each is read and
# written as a user would: annoy_check, an ordered scan of the whole index,
# an INSERT, a DELETE and a VACUUM, under a statement timeout.
#
# Required: no backend crash (the server never restarts), no statement runs
# into the timeout (a hang), every error is a data or index corruption
# error (XX001, XX002), and whenever annoy_check passes, the scan returns
# exactly the table's rows, each once, in exact distance order (so the check
# misses nothing that makes a scan wrong).
#
# The corruptions: random bytes, 16- and 32-bit words (random, 0, all ones,
# small values), line pointers, tuple header fields, references (to other
# tuples, other trees, the tree's root: cycles), zeroed and swapped pages,
# and meta page fields (with and without a recomputed checksum).
#
# ANNOY_CORRUPTION_SEED chooses the corruptions (default 1); the test prints
# every case it ran, so a failure can be replayed.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use AnnoyTestUtil;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $seed = $ENV{ANNOY_CORRUPTION_SEED} // 1;
my $rounds = $ENV{ANNOY_CORRUPTION_ROUNDS} // 4;
my $per_round = 65;
srand($seed);

my $node = annoy_node('corruption',
	conf => ['log_min_messages = warning', 'autovacuum = off', 'restart_after_crash = on']);
my $pgdata = $node->data_dir;

# Base tables, one per operator class; each case copies one.
my @classes = (
	{ name => 'euclidean', type => 'real[]', op => '<->', opclass => 'euclidean_ops', dim => 64 },
	{ name => 'angular', type => 'real[]', op => '<=>', opclass => 'angular_ops', dim => 64 },
	{ name => 'dot', type => 'real[]', op => '<#>', opclass => 'dot_ops', dim => 64 },
	{ name => 'manhattan', type => 'real[]', op => '<+>', opclass => 'manhattan_ops', dim => 16 },
	{ name => 'hamming', type => 'bit(128)', op => '<~>', opclass => 'hamming_ops', dim => 128 },
);
sub value_sql
{
	my ($c, $rowref) = @_;
	return $c->{type} eq 'real[]'
	  ? random_vector_sql($c->{dim}, $rowref)
	  : "(SELECT string_agg(CASE WHEN random() < 0.5 THEN '1' ELSE '0' END, '')"
	  . " FROM generate_series(1, $c->{dim}) WHERE $rowref IS NOT NULL)::bit($c->{dim})";
}
# random() is seeded per session: in the session that draws the values.
for my $c (@classes)
{
	my $v = value_sql($c, 'i');
	$node->safe_psql('postgres', qq{
		SELECT setseed(0.5);
		CREATE TABLE base_$c->{name} (id int PRIMARY KEY, v $c->{type});
		INSERT INTO base_$c->{name} SELECT i, $v FROM generate_series(1, 150) i;
	});
	$c->{query} = $node->safe_psql('postgres', "SELECT v FROM base_$c->{name} WHERE id = 7");
}

# The test's helpers: a statement's outcome as 'ok' or 'SQLSTATE message',
# and what an ordered scan of the whole index returns (compare
# sql/regress_helpers.psql).
$node->safe_psql('postgres', q{
CREATE FUNCTION outcome(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ' ' || SQLERRM;
END $$;
CREATE FUNCTION scan_outcome(tbl text, op text, query text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    got_ids int[];
    got_d float8[];
    want_ids int[];
    want_d float8[];
BEGIN
    SET LOCAL enable_seqscan = off;
    SET LOCAL enable_bitmapscan = off;
    SET LOCAL enable_sort = off;
    SET LOCAL annoy.search_k = 100000;
    EXECUTE format('SELECT array_agg(id ORDER BY n), array_agg(d ORDER BY n) FROM
                      (SELECT id, d, row_number() OVER () AS n FROM
                        (SELECT id, v %s %L AS d FROM %I ORDER BY v %s %L LIMIT 100000) s) s',
                   op, query, tbl, op, query) INTO got_ids, got_d;
    SET LOCAL enable_seqscan = on;
    SET LOCAL enable_indexscan = off;
    SET LOCAL enable_sort = on;
    EXECUTE format('SELECT array_agg(id ORDER BY id), array_agg(v %s %L ORDER BY v %s %L) FROM %I',
                   op, query, op, query, tbl) INTO want_ids, want_d;
    IF coalesce((SELECT array_agg(x ORDER BY x) FROM unnest(got_ids) x), '{}') <> coalesce(want_ids, '{}') THEN
        RETURN 'rows ' || coalesce(cardinality(got_ids), 0) || ' of ' || coalesce(cardinality(want_ids), 0);
    END IF;
    IF coalesce(got_d, '{}') <> coalesce(want_d, '{}') THEN
        RETURN 'order';
    END IF;
    RETURN 'correct';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ' ' || SQLERRM;
END $$;
});

# ---------------------------------------------------------------- pages
my $BLCKSZ = 8192;

sub page_header
{
	my ($p) = @_;
	my ($lower, $upper, $special) = unpack('v3', substr($p, 12, 6));
	return ($lower, $upper, $special);
}

# Used line pointers of a page: [offset number, lp_off, lp_len].
sub used_items
{
	my ($p) = @_;
	my ($lower) = page_header($p);
	my @items;
	for (my $i = 0; 24 + 4 * $i + 4 <= $lower && 24 + 4 * $i + 4 <= $BLCKSZ; $i++)
	{
		my $lp = unpack('V', substr($p, 24 + 4 * $i, 4));
		my ($off, $flags, $len) = ($lp & 0x7fff, ($lp >> 15) & 3, $lp >> 17);
		push @items, [ $i + 1, $off, $len ] if $flags == 1 && $off + $len <= $BLCKSZ && $len > 0;
	}
	return @items;
}

sub tref { my ($blk, $off) = @_; return pack('v3', $blk >> 16, $blk & 0xffff, $off) }

# CRC-32C (Castagnoli), as pg_crc32c.
my @crc_table = map {
	my $c = $_;
	$c = ($c & 1) ? (($c >> 1) ^ 0x82F63B78) : ($c >> 1) for 1 .. 8;
	$c
} 0 .. 255;
sub crc32c
{
	my ($data) = @_;
	my $crc = 0xFFFFFFFF;
	$crc = $crc_table[($crc ^ $_) & 0xff] ^ ($crc >> 8) for unpack('C*', $data);
	return $crc ^ 0xFFFFFFFF;
}

# The meta page's checksum over its shape fields (src/pg/page.cpp).
sub reseal_meta
{
	my ($page) = @_;
	my $m = 24;
	my $fields = substr($page, $m, 8) . substr($page, $m + 8, 1) . substr($page, $m + 10, 2)
	  . substr($page, $m + 12, 16) . substr($page, $m + 40, 8);
	substr($page, $m + 48, 4) = pack('V', crc32c($fields));
	return $page;
}

my @interesting16 = (0, 1, 2, 0x7fff, 0x8000, 0xffff, 7, 255, 256);
my @interesting32 = (0, 1, 0xffffffff, 0x7fffffff, 0x80000000, 0x00010001, 1000);

sub pick { return $_[ int(rand(@_)) ] }

# Applies one corruption to the blocks of an index (array of page strings);
# returns its description.
sub corrupt
{
	my ($pages) = @_;
	my $n = @$pages;
	my $b = 1 + int(rand($n - 1));
	my $p = \$pages->[$b];
	my @items = used_items($$p);
	my $it = @items ? pick(@items) : undef;
	my @refs;    # every used tuple of the index, as [blk, off]
	for my $blk (1 .. $n - 1) { push @refs, [ $blk, $_->[0] ] for used_items($pages->[$blk]) }
	my $kind = int(rand(12));

	if ($kind == 0)
	{
		my $at = int(rand($BLCKSZ));
		my $val = int(rand(256));
		substr($$p, $at, 1) = chr($val);
		return "block $b byte $at := $val";
	}
	if ($kind == 1 && $it)
	{
		my $at = $it->[1] + int(rand($it->[2]));
		my $val = pick(@interesting16, int(rand(65536)));
		substr($$p, $at, 2) = pack('v', $val) if $at + 2 <= $BLCKSZ;
		return "block $b tuple $it->[0] word16 at $at := $val";
	}
	if ($kind == 2 && $it)
	{
		my $at = $it->[1] + 4 * int(rand(($it->[2] + 3) / 4));
		my $val = pick(@interesting32, int(rand(2**32)));
		substr($$p, $at, 4) = pack('V', $val) if $at + 4 <= $BLCKSZ;
		return "block $b tuple $it->[0] word32 at $at := $val";
	}
	if ($kind == 3 && $it)
	{
		# A line pointer: offset, flags or length.
		my $at = 24 + 4 * ($it->[0] - 1);
		my $lp = unpack('V', substr($$p, $at, 4));
		my $what = int(rand(4));
		if ($what == 0) { $lp = ($lp & ~0x7fff) | pick(0, 8, 24, 8000, 8190, 0x7fff, int(rand(0x8000))) }
		elsif ($what == 1) { $lp = ($lp & ~(3 << 15)) | (pick(0, 2, 3) << 15) }
		elsif ($what == 2) { $lp = ($lp & 0x1ffff) | (pick(0, 1, 7, 8192, 0x7fff, int(rand(0x8000))) << 17) }
		else { $lp = int(rand(2**32)) }
		substr($$p, $at, 4) = pack('V', $lp);
		return "block $b line pointer $it->[0] := $lp";
	}
	if ($kind == 4 && $it)
	{
		# A tuple header byte or field: kind, count, capacity, tree.
		my $field = pick(0, 1, 2, 4, 6);
		my $val = pick(0, 1, 2, 3, 4, 5, 6, 255, 65535, 1000, int(rand(65536)));
		my $width = $field == 0 || $field == 1 ? 1 : 2;
		substr($$p, $it->[1] + $field, $width) = $width == 1 ? chr($val & 255) : pack('v', $val);
		return "block $b tuple $it->[0] header field $field := $val";
	}
	if (($kind == 5 || $kind == 6) && $it && @refs)
	{
		# A reference inside the tuple (split child, leaf entry, forward
		# target, item heap TID): to another tuple of the index, itself,
		# an invalid place.
		my $kindbyte = ord(substr($$p, $it->[1], 1));
		my $at = $kindbyte == 2 ? 8 + 6 * int(rand(2))    # split child
		  : $kindbyte == 3 ? 8 + 6 * int(rand(unpack('v', substr($$p, $it->[1] + 4, 2)) || 1))    # leaf entry
		  : 4;    # forward target, item heap TID
		my $target = pick(@refs, [ $b, $it->[0] ], [ 0, 1 ], [ $n + 5, 1 ], [ $b, 0 ], [ $b, 300 ]);
		substr($$p, $it->[1] + $at, 6) = tref(@$target) if $it->[1] + $at + 6 <= $BLCKSZ;
		return "block $b tuple $it->[0] reference at $at := ($target->[0],$target->[1])";
	}
	if ($kind == 7)
	{
		$$p = "\0" x $BLCKSZ;
		return "block $b zeroed";
	}
	if ($kind == 8 && $n > 2)
	{
		my $c = 1 + int(rand($n - 1));
		@$pages[ $b, $c ] = @$pages[ $c, $b ];
		return "blocks $b and $c swapped";
	}
	if ($kind == 9)
	{
		# The page header's pointers.
		my $field = pick(12, 14, 16);
		my $val = pick(0, 24, 8000, 8184, 8192, 65535, int(rand(65536)));
		substr($$p, $field, 2) = pack('v', $val);
		return "block $b header field $field := $val";
	}
	# The meta page: a root (not covered by the checksum), or a shape field
	# with the checksum recomputed or not.
	my $m = \$pages->[0];
	my $ntrees = unpack('v', substr($$m, 24 + 10, 2));
	if ($kind == 10 && @refs)
	{
		my $t = int(rand($ntrees));
		my $target = pick(@refs, [ 0, 1 ], [ $n + 5, 1 ], [ 1, 0 ]);
		substr($$m, 24 + 52 + 6 * $t, 6) = tref(@$target);
		return "meta root $t := ($target->[0],$target->[1])";
	}
	my @fields = ([ 'metric', 8, 1 ], [ 'n_trees', 10, 2 ], [ 'dim', 12, 4 ], [ 'leaf_size', 16, 4 ],
		[ 'seed', 20, 4 ], [ 'dot_max_norm', 24, 4 ], [ 'counted_pages', 28, 4 ], [ 'n_items', 32, 4 ],
		[ 'center', 40, 6 ], [ 'sketch_bits', 46, 2 ]);
	my $f = pick(@fields);
	my $val = pick(0, 1, 2, 3, 4, 5, 7, 8, 16, 64, 255, 1000, 65535, int(rand(2**16)));
	my $bytes = $f->[2] == 1 ? chr($val & 255) : $f->[2] == 2 ? pack('v', $val) : pack('V', $val);
	$bytes .= "\0" x ($f->[2] - length($bytes));
	substr($$m, 24 + $f->[1], $f->[2]) = substr($bytes, 0, $f->[2]);
	my $reseal = rand() < 0.7;
	$$m = reseal_meta($$m) if $reseal;
	return "meta $f->[0] := $val" . ($reseal ? ' (checksum recomputed)' : '');
}

# ------------------------------------------------------------- findings
# Corruptions that once crashed, hung or went unnoticed, each with the
# statements that must now fail with XX002 (index corrupted).

# The first tuple of a kind byte (and, for leaves, with items), as
# [block, line pointer, lp_off].
sub find_tuple
{
	my ($pages, $kind) = @_;
	for my $blk (1 .. $#$pages)
	{
		for my $it (used_items($pages->[$blk]))
		{
			my $t = substr($pages->[$blk], $it->[1], 8);
			next if ord($t) != $kind;
			next if $kind == 3 && unpack('v', substr($t, 2, 2)) == 0;
			return [ $blk, $it->[0], $it->[1] ];
		}
	}
	die "no tuple of kind $kind";
}
sub root_of
{
	my ($pages, $t) = @_;
	my ($hi, $lo, $off) = unpack('v3', substr($pages->[0], 24 + 52 + 6 * $t, 6));
	my $blk = ($hi << 16) | $lo;
	my ($it) = grep { $_->[0] == $off } used_items($pages->[$blk]);
	return [ $blk, $off, $it->[1] ];
}
sub set_at { my ($pages, $blk, $at, $bytes) = @_; substr($pages->[$blk], $at, length($bytes)) = $bytes }

my @findings = (
	[ '1: leaf count 65535', 2, sub { my $l = find_tuple($_[0], 3); set_at($_[0], $l->[0], $l->[2] + 2, pack('v', 65535)) },
	  [qw(check scan vacuum)] ],
	[ '1: leaf capacity 65535', 2, sub { my $l = find_tuple($_[0], 3); set_at($_[0], $l->[0], $l->[2] + 4, pack('v', 65535)) },
	  [qw(check scan vacuum)] ],
	[ '2: split child -> the root (a cycle)', 2, sub {
		my $r = root_of($_[0], 0);
		set_at($_[0], $r->[0], $r->[2] + 8, tref($r->[0], $r->[1]));
	  }, [qw(check scan insert vacuum)] ],
	[ '2: split child -> itself', 1, sub {
		my $r = root_of($_[0], 0);
		set_at($_[0], $r->[0], $r->[2] + 14, tref($r->[0], $r->[1]));
	  }, [qw(check scan vacuum)] ],
	[ '3: root -> a free slot', 1, sub {
		my $r = root_of($_[0], 0);
		set_at($_[0], 0, 24 + 52, tref($r->[0], 250));
	  }, [qw(check scan insert vacuum)] ],
	[ '3: root -> an item', 2, sub {
		my $i = find_tuple($_[0], 1);
		set_at($_[0], 0, 24 + 52, tref($i->[0], $i->[1]));
	  }, [qw(check scan insert vacuum)] ],
	[ '3: root -> another tree\'s root', 2, sub {
		my $r = root_of($_[0], 1);
		set_at($_[0], 0, 24 + 52, tref($r->[0], $r->[1]));
	  }, [qw(check scan insert vacuum)] ],
	[ '7: item heap TID offset 0', 2, sub { my $i = find_tuple($_[0], 1); set_at($_[0], $i->[0], $i->[2] + 8, pack('v', 0)) },
	  [qw(check scan)] ],
	[ '7: item heap TID offset 65535', 2, sub { my $i = find_tuple($_[0], 1); set_at($_[0], $i->[0], $i->[2] + 8, pack('v', 65535)) },
	  [qw(check scan)] ],
	[ '7: dead flag on a live row\'s item', 2, sub { my $i = find_tuple($_[0], 1); set_at($_[0], $i->[0], $i->[2] + 1, chr(1)) },
	  [qw(check)] ],
	[ '7: metric byte', 2, sub { set_at($_[0], 0, 24 + 8, chr(3)) }, [qw(check scan insert vacuum)] ],
	[ '7: seed byte', 2, sub { set_at($_[0], 0, 24 + 20, chr(99)) }, [qw(check scan insert vacuum)] ],
	[ '7: NaN centre', 2, sub { my $c = find_tuple($_[0], 5); set_at($_[0], $c->[0], $c->[2] + 16, pack('V', 0x7fc00000)) },
	  [qw(check scan insert)] ],
);

# Runs annoy_check, the ordered scan, an insert, a delete and VACUUM on a
# case; returns the outcomes (step => 'ok', 'correct', 'SQLSTATE message',
# 'order' or 'rows ...') and psql's stderr.
sub run_case
{
	my ($name, $c) = @_;
	my $v = value_sql($c, 'i');
	my $script = qq{
		SET statement_timeout = '20s';
		SELECT 'check=' || outcome(\$q\$SELECT annoy_check('${name}_v')\$q\$);
		SELECT 'scan=' || scan_outcome('$name', '$c->{op}', \$q\$$c->{query}\$q\$);
		-- 32 rows: a corrupt link below a root is on the way of some of
		-- them whichever side of each split it is (3 rows had all gone the
		-- other way in one run).
		SELECT setseed(0.25);
		SELECT 'insert=' || outcome(\$q\$INSERT INTO $name SELECT i, $v FROM generate_series(5000, 5031) i\$q\$);
		SELECT 'delete=' || outcome(\$q\$DELETE FROM $name WHERE id % 7 = 1\$q\$);
		VACUUM $name;
		SELECT 'vacuum=done';
	};
	my ($ret, $out, $err) = $node->psql('postgres', $script);
	my %r = map { /^(\w+)=(.*)$/ ? ($1 => $2) : () } split /\n/, $out;
	$r{vacuum} = $err =~ /ERROR:\s+(.*)/ ? "XX002 $1" : 'ok';
	$r{vacuum} = "unknown $1" if $err =~ /ERROR:\s+(.*)/ && $err !~ /index "|block|page/;
	return (\%r, $err);
}

{
	my $c = $classes[0];    # euclidean, 64 dimensions: sketches and a centre
	my (@cases, $sql);
	for my $k (0 .. $#findings)
	{
		my $name = "f$k";
		$sql .= qq{
			CREATE TABLE $name AS SELECT * FROM base_$c->{name};
			CREATE INDEX ${name}_v ON $name USING annoy (v) WITH (n_trees = $findings[$k][1], leaf_size = 4, seed = $k);
		};
		push @cases, $name;
	}
	$node->safe_psql('postgres', $sql);
	my @paths = map { $node->safe_psql('postgres', "SELECT pg_relation_filepath('${_}_v')") } @cases;
	$node->stop;
	for my $k (0 .. $#findings)
	{
		my $path = "$pgdata/$paths[$k]";
		my $raw = slurp_file($path);
		my @pages = map { substr($raw, $_ * $BLCKSZ, $BLCKSZ) } 0 .. length($raw) / $BLCKSZ - 1;
		$findings[$k][2]->(\@pages);
		open(my $fh, '>', $path) or die;
		binmode $fh;
		print $fh join('', @pages);
		close $fh;
	}
	$node->start;
	for my $k (0 .. $#findings)
	{
		my ($what, $trees, $mutate, $must_fail) = @{ $findings[$k] };
		my ($r, $err) = run_case($cases[$k], $c);
		unlike($err, qr/server closed the connection|statement timeout|connection to server was lost/,
			"finding $what: no crash, no hang");
		for my $step (@$must_fail)
		{
			like($r->{$step} // 'missing', qr/^XX002 index "f$k\w*"/, "finding $what: $step fails with XX002 naming the index")
			  or diag("got: " . ($r->{$step} // 'missing'));
		}
		note("finding $what: " . join('; ', map { "$_: " . ($r->{$_} // '') } qw(check scan insert vacuum)));
	}
}

# ---------------------------------------------------------------- filter values
# A leaf entry's filter value changed on disk (index (v, g), no sketches:
# entry i's payload follows the capacity references at 8 + 6 * capacity):
# with two trees annoy_check finds the trees disagree, with one that the
# value is not the heap row's; either way XX002 naming the index.
{
	my $c = $classes[0];
	my $sql = '';
	for my $trees (1, 2)
	{
		$sql .= qq{
			CREATE TABLE fv$trees AS SELECT id, v, id % 5 AS g FROM base_$c->{name};
			CREATE INDEX fv${trees}_v ON fv$trees USING annoy (v, g) WITH (n_trees = $trees, leaf_size = 4, sketch_bits = 0);
			SELECT annoy_check('fv${trees}_v');
		};
	}
	$node->safe_psql('postgres', $sql);
	my %path = map { $_ => $node->safe_psql('postgres', "SELECT pg_relation_filepath('fv${_}_v')") } (1, 2);
	$node->stop;
	for my $trees (1, 2)
	{
		my $file = "$pgdata/$path{$trees}";
		my $raw = slurp_file($file);
		my @pages = map { substr($raw, $_ * $BLCKSZ, $BLCKSZ) } 0 .. length($raw) / $BLCKSZ - 1;
		my $l = find_tuple(\@pages, 3);
		my $capacity = unpack('v', substr($pages[ $l->[0] ], $l->[2] + 4, 2));
		set_at(\@pages, $l->[0], $l->[2] + 8 + 6 * $capacity, pack('V2', 999999, 0));
		open(my $fh, '>', $file) or die;
		binmode $fh;
		print $fh join('', @pages);
		close $fh;
	}
	$node->start;
	my %want = (1 => qr/does not carry the filter values of heap row/, 2 => qr/carries other filter values than in another tree/);
	for my $trees (1, 2)
	{
		my ($ret, $out, $err) = $node->psql('postgres', "SELECT annoy_check('fv${trees}_v')");
		like($err, qr/ERROR:\s+index "fv${trees}_v".*$want{$trees}/, "changed filter value, $trees tree(s): annoy_check names it");
		$node->safe_psql('postgres', "DROP TABLE fv$trees");
	}
}

# ---------------------------------------------------------------- rounds
my %outcomes;
my ($crashes, $hangs, $bad_errors, $missed) = (0, 0, 0, 0);
my $cases = 0;

for my $round (1 .. $rounds)
{
	# The cases of this round: a table and its index each.
	my (@cases, $sql);
	for my $k (1 .. $per_round)
	{
		my $c = pick(@classes);
		my $name = "r${round}_$k";
		my $trees = pick(1, 2, 3);
		my $leaf = pick(4, 8);
		$sql .= qq{
			CREATE TABLE $name AS SELECT * FROM base_$c->{name};
			CREATE INDEX ${name}_v ON $name USING annoy (v $c->{opclass})
			  WITH (n_trees = $trees, leaf_size = $leaf, seed = $k);
		};
		if (rand() < 0.5)
		{
			# Splits, forward tuples, flagged and freed items, merges.
			my $v = value_sql($c, 'i');
			$sql .= qq{
				INSERT INTO $name SELECT i, $v FROM generate_series(1000, 1040) i;
				DELETE FROM $name WHERE id % 5 = 0;
				VACUUM $name;
			};
		}
		push @cases, { name => $name, class => $c, trees => $trees };
	}
	$node->safe_psql('postgres', $sql);
	my @paths = split /\n/, $node->safe_psql('postgres',
		'SELECT pg_relation_filepath(i) FROM unnest(ARRAY['
		  . join(',', map { "'$_->{name}_v'::regclass" } @cases) . ']) WITH ORDINALITY u(i, n) ORDER BY n');
	$cases[$_]->{path} = "$pgdata/$paths[$_]" for 0 .. $#cases;
	$node->stop;
	for my $case (@cases)
	{
		my $raw = slurp_file($case->{path});
		my @pages = map { substr($raw, $_ * $BLCKSZ, $BLCKSZ) } 0 .. length($raw) / $BLCKSZ - 1;
		my @what = (corrupt(\@pages));
		push @what, corrupt(\@pages) if rand() < 0.2;    # sometimes two at once
		$case->{what} = join('; ', @what);
		open(my $fh, '>', $case->{path}) or die "cannot write $case->{path}: $!";
		binmode $fh;
		print $fh join('', @pages);
		close $fh;
	}
	$node->start;

	for my $case (@cases)
	{
		$cases++;
		my ($name, $c) = ($case->{name}, $case->{class});
		my ($rr, $err) = run_case($name, $c);
		my %r = %$rr;
		my $line = "$name ($c->{opclass}, $case->{trees} trees): $case->{what}";
		if ($err =~ /server closed the connection|terminating connection|connection to server was lost/)
		{
			$crashes++;
			diag("CRASH: $line\n$err");
			$node->poll_query_until('postgres', 'SELECT true') or die 'server does not come back';
			next;
		}
		if ($err =~ /statement timeout/ || grep { /^57014/ } values %r)
		{
			$hangs++;
			diag("HANG: $line\n$err");
			next;
		}
		for my $step (qw(check scan insert delete vacuum))
		{
			my $o = $r{$step} // 'missing';
			next if $o eq 'ok' || $o eq 'correct';
			if ($o =~ /^(XX001|XX002) /) { $outcomes{"$step $1"}++; next }
			# A meta page made consistent with a wrong dimension: the
			# dimension check of rows and queries names the index.
			if ($case->{what} =~ /meta dim .*recomputed/ && $o =~ /^(22000|22026) .* but index/) { $outcomes{"$step $1"}++; next }
			if ($step eq 'scan' && $o !~ /^[0-9A-Z]{5} /) { $outcomes{"scan $o" =~ s/ \d.*//r}++; next }
			$bad_errors++;
			diag("UNEXPECTED $step outcome: $line\n  $o");
		}
		if (($r{check} // '') eq 'ok' && ($r{scan} // '') ne 'correct')
		{
			$missed++;
			diag("MISSED by annoy_check (scan: $r{scan}): $line");
		}
		$outcomes{'check passed'}++ if ($r{check} // '') eq 'ok';
		note("$line => check: $r{check}; scan: $r{scan}; insert: $r{insert}; vacuum: "
			  . ($err =~ /ERROR:\s+(.*)/ ? $1 : 'ok'));
	}
	$node->safe_psql('postgres', join('', map { "DROP TABLE $_->{name};" } @cases));
}

note(join(', ', map { "$_: $outcomes{$_}" } sort keys %outcomes));
ok($cases >= $rounds * $per_round, "$cases corruptions tried (seed $seed)");
is($crashes, 0, 'no backend crashed');
is($hangs, 0, 'no statement ran into the timeout');
is($bad_errors, 0, 'every error is a corruption error (XX001, XX002)');
is($missed, 0, 'whenever annoy_check passes, the ordered scan is exact');
my $log = slurp_file($node->logfile);
unlike($log, qr/terminated by signal|PANIC|was terminated/, 'the server log shows no crash');

$node->stop;
done_testing();
