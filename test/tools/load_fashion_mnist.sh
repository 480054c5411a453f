#!/usr/bin/env bash
# load_fashion_mnist.sh - load Fashion-MNIST (784-d, euclidean) into PostgreSQL tables.
#
# usage: load_fashion_mnist.sh TABLE_PREFIX [N_TRAIN] [N_TEST]
#
# Connects with the usual PG* environment (e.g. after eval "$(test/tools/cluster.sh start DIR)").
# (Re)creates and fills
#   ${PREFIX}_train (id int primary key, label int, embedding real[], bits bit(784))   60,000 rows
#   ${PREFIX}_test  (same columns)                                                    10,000 rows
# id        = 0-based position of the image in its IDX file (same numbering as ann-benchmarks);
# label     = class 0..9;
# embedding = the 784 pixels as reals 0..255, unscaled, row-major;
# bits      = the image binarised at 128 (pixel >= 128 -> 1), bit i = pixel i.
# N_TRAIN / N_TEST (optional, or "all") keep only the first N rows of each file.
# The data comes from the Debian package dataset-fashion-mnist, installed on demand
# (as root) if $FASHION_MNIST_DIR (default /usr/share/datasets/fashion-mnist) is missing.
set -euo pipefail

PROG=$(basename "$0")
die() { printf '%s: ERROR: %s\n' "$PROG" "$*" >&2; exit 1; }
msg() { printf '%s: %s\n' "$PROG" "$*" >&2; }
usage() { echo "usage: $PROG TABLE_PREFIX [N_TRAIN|all] [N_TEST|all]" >&2; exit 2; }

[[ $# -ge 1 && $# -le 3 ]] || usage
PREFIX=$1
N_TRAIN=${2:-all}
N_TEST=${3:-all}
[[ $PREFIX =~ ^[a-z_][a-z0-9_]*$ ]] || die "TABLE_PREFIX must be a lower-case SQL identifier ([a-z_][a-z0-9_]*), got '$PREFIX'"
for v in "$N_TRAIN" "$N_TEST"; do
    [[ $v == all || $v =~ ^[0-9]+$ ]] || die "row limits must be non-negative integers or 'all', got '$v'"
done
[[ $N_TRAIN == all ]] && N_TRAIN=
[[ $N_TEST == all ]] && N_TEST=

DATA_DIR=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
FILES=(train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz)

have_data() {
    local f
    for f in "${FILES[@]}"; do [[ -r $DATA_DIR/$f ]] || return 1; done
}

if ! have_data; then
    [[ $DATA_DIR == /usr/share/datasets/fashion-mnist ]] || die "Fashion-MNIST files missing in FASHION_MNIST_DIR=$DATA_DIR"
    [[ $(id -u) -eq 0 ]] || die "$DATA_DIR missing; install it as root: apt-get install -y dataset-fashion-mnist"
    msg "installing Debian package dataset-fashion-mnist"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q dataset-fashion-mnist >&2; then
        msg "apt-get install failed; refreshing the package index once and retrying"
        apt-get update -q >&2 || die "apt-get update failed"
        apt-get install -y -q dataset-fashion-mnist >&2 || die "apt-get install -y dataset-fashion-mnist failed"
    fi
    have_data || die "dataset-fashion-mnist installed but files are missing in $DATA_DIR"
fi

command -v psql >/dev/null 2>&1 || die "psql not found in PATH"
command -v perl >/dev/null 2>&1 || die "perl not found in PATH"
PSQL=(psql -X -q -v ON_ERROR_STOP=1)
"${PSQL[@]}" -At -c 'select 1' >/dev/null 2>&1 \
    || die "cannot connect to PostgreSQL (PGHOST=${PGHOST:-} PGPORT=${PGPORT:-}); set PG* or use: eval \"\$(test/tools/cluster.sh start DIR)\""

# IDX (images + labels) -> binary COPY stream (PostgreSQL's COPY ... (FORMAT binary)) of rows
# (id int4, label int4, embedding float4[784], bits bit(784)). Binary avoids 47M float parses
# in the server and loads about twice as fast as the text format.
CONVERTER=$(cat <<'PERL'
use strict; use warnings;
my ($img, $lab, $limit) = @ARGV;
open(my $fi, '-|', 'gzip', '-dc', '--', $img) or die "cannot run gzip on $img: $!\n";
open(my $fl, '-|', 'gzip', '-dc', '--', $lab) or die "cannot run gzip on $lab: $!\n";
binmode $fi; binmode $fl; binmode STDOUT;
sub rd {
    my ($fh, $n, $what) = @_;
    my $buf = '';
    while (length($buf) < $n) {
        my $r = read($fh, $buf, $n - length($buf), length($buf));
        die "read error in $what: $!\n" unless defined $r;
        die "$what is truncated\n" if $r == 0;
    }
    return $buf;
}
my ($m, $n, $rows, $cols) = unpack('N4', rd($fi, 16, $img));
die sprintf("%s: bad magic 0x%08x (want 0x00000803)\n", $img, $m) unless $m == 0x803;
my ($ml, $nl) = unpack('N2', rd($fl, 8, $lab));
die sprintf("%s: bad magic 0x%08x (want 0x00000801)\n", $lab, $ml) unless $ml == 0x801;
die "$img has $n images but $lab has $nl labels\n" unless $n == $nl;
my $d = $rows * $cols;
die "$img: images are ${rows}x${cols}, expected 28x28\n" unless $d == 784;
$n = $limit if defined $limit && $limit ne '' && $limit < $n;
my $labels = rd($fl, $n, $lab);
# One array element on the wire: int32 length 4, then the float4 in network byte order.
my @elem = map { pack('N f>', 4, $_) } 0 .. 255;
# Array field: int32 byte length, then ndim 1, no nulls, element type float4 (oid 700),
# dimension 784, lower bound 1; the elements follow.
my $arrhdr = pack('N6', 20 + $d * 8, 1, 0, 700, $d, 1);
# bit(784) field: int32 byte length, int32 bit count, then the bits MSB first.
my $bithdr = pack('N2', 4 + $d / 8, $d);
print "PGCOPY\n\377\r\n\0", pack('N2', 0, 0) or die "write error: $!\n";
my $chunk = 1000;
for (my $i = 0; $i < $n; $i += $chunk) {
    my $k = $n - $i < $chunk ? $n - $i : $chunk;
    my $buf = rd($fi, $k * $d, $img);
    my $out = '';
    for my $j (0 .. $k - 1) {
        my $px = substr($buf, $j * $d, $d);
        (my $bits = $px) =~ tr/\x00-\x7f/0/;   # pixel < 128 -> '0'
        $bits =~ tr/\x80-\xff/1/;              # pixel >= 128 -> '1'
        $out .= pack('n N2 N2', 4, 4, $i + $j, 4, ord(substr($labels, $i + $j, 1)))
              . $arrhdr . join('', @elem[unpack('C*', $px)])
              . $bithdr . pack("B$d", $bits);
    }
    print $out or die "write error: $!\n";
}
print pack('n', 0xffff) or die "write error: $!\n";
# Closing early (row limit) makes gzip exit on SIGPIPE: not an error.
close($fi); close($fl);
PERL
)

load_split() {  # table images.gz labels.gz limit
    local table=$1 img=$2 lab=$3 limit=$4 t0 rows
    t0=$EPOCHREALTIME
    perl -e "$CONVERTER" "$img" "$lab" "$limit" | "${PSQL[@]}" -1 -f <(cat <<SQL
SET client_min_messages = warning;
DROP TABLE IF EXISTS ${table};
CREATE TABLE ${table} (id int NOT NULL, label int NOT NULL, embedding real[] NOT NULL, bits bit(784) NOT NULL);
-- Pixel arrays are mostly zeros and would be pglz-compressed inline, making
-- every exact distance pay for a decompression; real embeddings do not
-- compress, so store these the way real embeddings end up: uncompressed.
ALTER TABLE ${table} ALTER COLUMN embedding SET STORAGE PLAIN;
\\copy ${table} (id, label, embedding, bits) from pstdin with (format binary, freeze)
ALTER TABLE ${table} ADD PRIMARY KEY (id);
SQL
) || {
        "${PSQL[@]}" -c "DROP TABLE IF EXISTS ${table}" >/dev/null 2>&1 || true
        die "loading ${table} failed"
    }
    "${PSQL[@]}" -c "ANALYZE ${table}" || die "ANALYZE ${table} failed"
    rows=$("${PSQL[@]}" -At -c "select count(*) from ${table}")
    msg "$(awk -v t="$table" -v r="$rows" -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%s: %s rows in %.1f s", t, r, b - a }')"
}

load_split "${PREFIX}_train" "$DATA_DIR/train-images-idx3-ubyte.gz" "$DATA_DIR/train-labels-idx1-ubyte.gz" "$N_TRAIN"
load_split "${PREFIX}_test" "$DATA_DIR/t10k-images-idx3-ubyte.gz" "$DATA_DIR/t10k-labels-idx1-ubyte.gz" "$N_TEST"
