#!/usr/bin/env bash
# Checks the benchmark's DuckDB SQL against bench/reference, a slow and
# plain Go implementation of the same default policy: on a small generated
# data set both must keep exactly the same record ids, for JSON Lines and
# Parquet input and for both ways of writing the third-party rule.
#
#   bash bench/check_sql.sh [--records N] [--accounts N] [--objections N] [--seed N]
set -euo pipefail
export LC_ALL=C

records=200000
accounts=50000
objections=5000
seed=1
as_of=2026-06-01T00:00:00Z
while (($#)); do
	case $1 in
	--records) records=${2:?}; shift 2 ;;
	--accounts) accounts=${2:?}; shift 2 ;;
	--objections) objections=${2:?}; shift 2 ;;
	--seed) seed=${2:?}; shift 2 ;;
	*) sed -n '7p' "$0" | sed 's/^# *//' >&2; exit 2 ;;
	esac
done

cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=bench/out/check
data=$out/data
mkdir -p "$out"

go build -o "$out/gen" ./bench/gen
go build -o "$out/reference" ./bench/reference
go build -o "$out/ids" ./bench/ids
want=$(node -p 'require("./bench/package.json").dependencies["@duckdb/node-api"]')
have=$(node -p 'try { require("./bench/node_modules/@duckdb/node-api/package.json").version } catch { "" }')
[[ $have == "$want" ]] || (cd bench && npm install --no-save --no-audit --no-fund --loglevel=error)

"$out/gen" -records "$records" -accounts "$accounts" -objections "$objections" -seed "$seed" -out "$data"

echo "reference (first exclusion reason per record, in DESIGN.md's order):"
"$out/reference" -content "$data/content.jsonl" -accounts "$data/accounts.jsonl" \
	-objections "$data/objections.jsonl" -as-of "$as_of" -ids "$out/reference.ids"

failed=0
for fmt in jsonl parquet; do
	for tp in twopass exists; do
		node bench/duckdb_filter.mjs filter --format "$fmt" --in "$data/content.$fmt" --out "$out/duckdb.$fmt" \
			--accounts "$data/accounts.jsonl" --objections "$data/objections.jsonl" --as-of "$as_of" \
			--third-party "$tp" >/dev/null
		node bench/duckdb_filter.mjs ids --in "$out/duckdb.$fmt" --out "$out/duckdb.unsorted" >/dev/null
		sort "$out/duckdb.unsorted" >"$out/duckdb.ids"
		if cmp -s "$out/reference.ids" "$out/duckdb.ids"; then
			printf 'DuckDB %-7s --third-party %-7s: same %d ids as the reference\n' "$fmt" "$tp" "$(wc -l <"$out/duckdb.ids")"
		else
			failed=1
			printf 'DuckDB %-7s --third-party %-7s: DIFFERENT from the reference; first differences (< reference only, > DuckDB only):\n' "$fmt" "$tp"
			diff "$out/reference.ids" "$out/duckdb.ids" | grep '^[<>]' | head -n 10
		fi
	done
done
exit "$failed"
