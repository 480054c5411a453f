#!/usr/bin/env bash
# The PGXN package builds and installs: `make dist` makes annoy-<version>.zip
# from HEAD; this unpacks it in a scratch directory, checks what it holds
# (every committed file but the export-ignored ones, a valid META.json, no
# reference to files outside the repository),
# builds it with the pg_config on PATH and installs it into a DESTDIR, and
# compares the installed files with those of the repository's own build
# (same names, identical SQL and control files).
#
#   test/packaging/dist_check.sh [WORKDIR]
#
# Needs a git checkout (the package is made by git archive): outside one it
# says so and exits 0.  Uses HEAD, so commit what you want to package.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
if ! git rev-parse --verify -q HEAD >/dev/null 2>&1; then
    echo "dist_check: skipped: $repo is not a git checkout (make dist uses git archive)"
    exit 0
fi
work=${1:-$(mktemp -d /tmp/annoy-dist.XXXXXX)}
mkdir -p "$work"
version=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" annoy.control)
zip="$work/annoy-$version.zip"
fail() { echo "dist_check: FAILED: $*" >&2; exit 1; }

make -s dist DIST_DIR="$work" >/dev/null
[ -f "$zip" ] || fail "make dist did not write $zip"
rm -rf "$work/unpacked" && mkdir "$work/unpacked"
unzip -q "$zip" -d "$work/unpacked"
pkg="$work/unpacked/annoy-$version"
[ -d "$pkg" ] || fail "the zip has no top directory annoy-$version/"

# Exactly the committed files, less the export-ignored ones.
expected=$(git ls-files | while read -r f; do
    [ "$(git check-attr export-ignore -- "$f" | sed 's/.*: //')" = set ] || echo "$f"; done | sort)
actual=$(cd "$pkg" && find . -type f | sed 's|^\./||' | sort)
if [ "$expected" != "$actual" ]; then
    diff <(echo "$expected") <(echo "$actual") | head -20 >&2
    fail "the zip's files differ from the committed tree (< committed only, > zip only)"
fi
for f in META.json Makefile annoy.control "sql/annoy--$version.sql" README.md; do
    [ -f "$pkg/$f" ] || fail "the zip lacks $f"
done
[ -x "$pkg/test/run_tests.sh" ] || fail "the zip lost the executable bit of test/run_tests.sh"
/usr/bin/python3 "$pkg/test/packaging/meta_validate.py" "$pkg/META.json" >/dev/null \
    || fail "META.json in the zip is invalid: $(/usr/bin/python3 "$pkg/test/packaging/meta_validate.py" "$pkg/META.json")"

# Self-contained: no file points at notes outside the repository.
if outside=$(cd "$pkg" && grep -rnIE '(^|[^a-z/])docs/anchors\.md|\.\./shared/|shared/doc[s]' .); then
    echo "$outside" >&2
    fail "files of the package refer to files outside it"
fi

# Build and install the package, and the repository, into two DESTDIRs.
make -s -C "$pkg" -j2 >"$work/build.log" 2>&1 || { tail -30 "$work/build.log" >&2; fail "the package does not build"; }
make -s -C "$pkg" install DESTDIR="$work/dest-zip" >>"$work/build.log" 2>&1 || fail "the package does not install"
make -s -j2 >/dev/null && make -s install DESTDIR="$work/dest-repo" >/dev/null
zip_files=$(cd "$work/dest-zip" && find . -type f | sort)
repo_files=$(cd "$work/dest-repo" && find . -type f | sort)
[ "$zip_files" = "$repo_files" ] || {
    diff <(echo "$repo_files") <(echo "$zip_files") >&2; fail "the package installs other files than the repository"; }
while read -r f; do
    case $f in *.sql|*.control) cmp -s "$work/dest-zip/$f" "$work/dest-repo/$f" || fail "$f differs" ;; esac
done <<<"$zip_files"
echo "dist_check: $(basename "$zip") ($(du -k "$zip" | cut -f1) kB, $(echo "$actual" | wc -l) files) builds and installs:"
echo "$zip_files" | grep -v /bitcode/ | sed "s|^\./|  |"
echo "  and $(echo "$zip_files" | grep -c /bitcode/) LLVM bitcode files for the JIT inliner"
