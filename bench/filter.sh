#!/usr/bin/env bash
# Benchmark: `notrain filter` against DuckDB running the same default policy
# in SQL, on the same generated data, JSON Lines and Parquet.
#
#   bash bench/filter.sh [--records N] [--accounts N] [--objections N] [--runs K]
#                        [--formats jsonl,parquet] [--double] [--regen] [--seed N] [--data DIR]
#                        [--notrain BINARY] [--digest sha256|blake3]
#
# Steps: build notrain and the helpers, generate the data set into bench/data
# (kept and reused while the sizes match), import the accounts and the
# objections once (into notrain's SQLite store, and into a DuckDB file for
# the DuckDB side), read the inputs once so both sides start from the page
# cache, run each side K times per format (interleaved), check that both kept
# exactly the same record ids, and print the medians: wall time and peak RSS
# of the whole process (GNU time), records/s, MB/s and the ratio.
# --digest blake3 runs notrain with a policy that lists the files in the
# manifest by BLAKE3 instead of SHA-256 (the default policy otherwise).
#
# Needs Go, Node >= 18 with npm (DuckDB comes from the npm registry into
# bench/node_modules on first use) and GNU time at /usr/bin/time.
set -euo pipefail
export LC_ALL=C

records=6000000
accounts=1000000
objections=100000
runs=3
formats=jsonl,parquet
double=0
regen=0
seed=1
data=bench/data
notrain=
digest=sha256
as_of=2026-06-01T00:00:00Z

usage() {
	sed -n '5,7p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

posint() { [[ $2 =~ ^[0-9]+$ ]] && (($2 > 0)) || { echo "filter.sh: $1 needs a positive integer, got '$2'" >&2; exit 2; }; }

while (($#)); do
	case $1 in
	--records) posint "$1" "${2-}"; records=$2; shift 2 ;;
	--accounts) posint "$1" "${2-}"; accounts=$2; shift 2 ;;
	--objections) posint "$1" "${2-}"; objections=$2; shift 2 ;;
	--runs) posint "$1" "${2-}"; runs=$2; shift 2 ;;
	--seed) posint "$1" "${2-}"; seed=$2; shift 2 ;;
	--formats)
		formats=${2-}
		[[ $formats =~ ^(jsonl|parquet)(,(jsonl|parquet))?$ ]] || { echo "filter.sh: --formats takes jsonl, parquet or jsonl,parquet" >&2; exit 2; }
		shift 2 ;;
	--double) double=1; shift ;;
	--regen) regen=1; shift ;;
	--data) data=$(realpath -m "${2:?--data needs a directory}"); shift 2 ;;
	--notrain) notrain=$(realpath "${2:?--notrain needs a binary}"); shift 2 ;;
	--digest)
		digest=${2-}
		[[ $digest =~ ^(sha256|blake3)$ ]] || { echo "filter.sh: --digest takes sha256 or blake3" >&2; exit 2; }
		shift 2 ;;
	-h | --help) usage ;;
	*) echo "filter.sh: unknown argument $1" >&2; usage ;;
	esac
done
((objections <= accounts)) || { echo "filter.sh: --objections must not exceed --accounts" >&2; exit 2; }

cd "$(dirname "${BASH_SOURCE[0]}")/.."
bench=bench
out=$bench/out
mkdir -p "$data" "$out"
# The default policy, but for the digest when another is chosen.
policy_args=()
if [[ $digest != sha256 ]]; then
	printf 'digest: %s\n' "$digest" >"$out/policy-$digest.yaml"
	policy_args=(--policy "$out/policy-$digest.yaml")
fi

# calc EXPR: floating-point arithmetic.
calc() { awk "BEGIN { printf \"%.6f\", $1 }"; }
say() { printf '== %s\n' "$*" >&2; }
die() { printf 'filter.sh: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- tools
for tool in go node npm; do
	command -v "$tool" >/dev/null || die "$tool is not installed (needs Go, Node >= 18 and npm)"
done
node_major=$(node -p 'process.versions.node.split(".")[0]')
((node_major >= 18)) || die "Node >= 18 is needed, found $(node --version)"
/usr/bin/time -f '%e %M' -o /dev/null true 2>/dev/null || die "GNU time is needed at /usr/bin/time (Debian: apt-get install time)"

say "building notrain and the benchmark helpers"
if [[ -z $notrain ]]; then
	go build -o "$out/notrain" ./cmd/notrain
	notrain=$out/notrain
fi
[[ -x $notrain ]] || die "$notrain is not an executable"
go build -o "$out/ids" ./$bench/ids
go build -o "$out/gen" ./$bench/gen

duckdb_version=$(node -p 'require("./bench/package.json").dependencies["@duckdb/node-api"]')
installed=$(node -p 'try { require("./bench/node_modules/@duckdb/node-api/package.json").version } catch { "" }')
if [[ $installed != "$duckdb_version" ]]; then
	say "installing DuckDB (@duckdb/node-api $duckdb_version) into $bench/node_modules"
	(cd "$bench" && npm install --no-save --no-audit --no-fund --loglevel=error)
fi

# ---------------------------------------------------------------- data
want_version=$("$out/gen" -version)
have=$(node -e '
	try {
		const p = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
		console.log([p.format_version, p.records, p.accounts, p.objections, p.seed, p.parquet].join(" "));
	} catch { console.log("none"); }' "$data/params.json")
if ((regen)) || [[ $have != "$want_version $records $accounts $objections $seed true" ]]; then
	say "generating $records records, $accounts accounts, $objections objections into $data"
	"$out/gen" -records "$records" -accounts "$accounts" -objections "$objections" -seed "$seed" -out "$data"
else
	say "reusing the data set in $data"
fi
content_jsonl=$data/content.jsonl
content_parquet=$data/content.parquet
parquet_rows=$(node -p 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).parquet_rows' "$data/params.json")
jsonl_bytes=$(stat -c %s "$content_jsonl")
parquet_bytes=$(stat -c %s "$content_parquet")

# ---------------------------------------------------------------- stores
say "importing accounts and objections into a fresh notrain store ($out/bench.db)"
# The database and everything notrain keeps next to it (WAL, key, ledger
# checkpoint, caches).
rm -f "$out"/bench.db "$out"/bench.db[.-]*
t0=$(date +%s.%N)
"$notrain" accounts import "$data/accounts.jsonl" --db "$out/bench.db" >"$out/import-accounts.log" 2>&1 ||
	{ tail -n 20 "$out/import-accounts.log" >&2; die "notrain accounts import failed (log: $out/import-accounts.log)"; }
"$notrain" objections import "$data/objections.jsonl" --db "$out/bench.db" >"$out/import-objections.log" 2>&1 ||
	{ tail -n 20 "$out/import-objections.log" >&2; die "notrain objections import failed (log: $out/import-objections.log)"; }
t1=$(date +%s.%N)
say "importing the same into DuckDB ($out/duckdb.duckdb)"
rm -f "$out/duckdb.duckdb" "$out/duckdb.duckdb.wal"
node "$bench/duckdb_filter.mjs" import --db "$out/duckdb.duckdb" \
	--accounts "$data/accounts.jsonl" --objections "$data/objections.jsonl" >"$out/import-duckdb.log"
t2=$(date +%s.%N)
printf '   imports (not part of the comparison): notrain %.1f s, DuckDB %.1f s\n' \
	"$(calc "$t1 - $t0")" "$(calc "$t2 - $t1")" >&2

# ---------------------------------------------------------------- runs
say "warming the page cache (reading the inputs once)"
cat "$content_jsonl" "$content_parquet" "$data/accounts.jsonl" "$data/objections.jsonl" "$out/bench.db" "$out/duckdb.duckdb" >/dev/null

declare -A walls rss scans   # key "side/format" -> space-separated values

# measure KEY LOG CMD… runs CMD under GNU time and records wall s and peak RSS KiB.
measure() {
	local key=$1 log=$2
	shift 2
	if ! /usr/bin/time -f '%e %M' -o "$out/time.txt" "$@" >"$log" 2>&1; then
		tail -n 20 "$log" >&2
		die "$key failed (log: $log): $*"
	fi
	local w m
	read -r w m <"$out/time.txt"
	walls[$key]+="$w "
	rss[$key]+="$m "
	printf '   %-24s %7.2f s %8.1f MB\n' "$key" "$w" "$(calc "$m * 1024 / 1000000")" >&2
}

IFS=, read -r -a fmts <<<"$formats"
for fmt in "${fmts[@]}"; do
	input=$data/content.$fmt
	for ((i = 1; i <= runs; i++)); do
		say "$fmt run $i/$runs"
		rm -f "$out/notrain.$fmt" "$out/duckdb.$fmt"
		measure "notrain/$fmt" "$out/notrain-$fmt.log" \
			"$notrain" filter --in "$input" --out "$out/notrain.$fmt" --manifest "$out/manifest-$fmt.json" \
			--as-of "$as_of" --db "$out/bench.db" "${policy_args[@]}"
		measure "duckdb/$fmt" "$out/duckdb-$fmt.log" \
			node "$bench/duckdb_filter.mjs" filter --format "$fmt" --in "$input" --out "$out/duckdb.$fmt" \
			--db "$out/duckdb.duckdb" --as-of "$as_of" --temp "$out/duckdb.tmp"
		# DuckDB's best case: the accounts and objections are already in its
		# database file, and only its filter statements count (scan_s: the
		# third-party pass and the COPY), not starting Node and DuckDB.
		scan=$(node -p 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").pop()).scan_s' "$out/duckdb-$fmt.log")
		scans[duckdb/$fmt]+="$scan "
		printf '   %-24s %7.2f s (filter statements only)\n' "duckdb/$fmt" "$scan" >&2
	done
	if ((double)); then
		for ((i = 1; i <= runs; i++)); do
			say "$fmt doubled input run $i/$runs"
			rm -f "$out/notrain-double.$fmt"
			measure "notrain/$fmt-x2" "$out/notrain-$fmt-double.log" \
				"$notrain" filter --in "$input" --in "$input" --out "$out/notrain-double.$fmt" \
				--manifest "$out/manifest-$fmt-double.json" --as-of "$as_of" --db "$out/bench.db" "${policy_args[@]}"
		done
	fi
done

# ---------------------------------------------------------------- same ids?
# ids FILE OUT: the sorted ids of an output file (strictly parsed for JSONL).
ids() {
	case $1 in
	*.jsonl) "$out/ids" "$1" >"$2" ;;
	*.parquet)
		node "$bench/duckdb_filter.mjs" ids --in "$1" --out "$2.unsorted" >/dev/null
		LC_ALL=C sort -S 25% "$2.unsorted" >"$2"
		rm -f "$2.unsorted" ;;
	esac
}

mismatch=0
for fmt in "${fmts[@]}"; do
	say "comparing the kept ids ($fmt)"
	ids "$out/notrain.$fmt" "$out/notrain-$fmt.ids" || die "cannot read the ids of $out/notrain.$fmt"
	ids "$out/duckdb.$fmt" "$out/duckdb-$fmt.ids" || die "cannot read the ids of $out/duckdb.$fmt"
	n_notrain=$(wc -l <"$out/notrain-$fmt.ids")
	n_duckdb=$(wc -l <"$out/duckdb-$fmt.ids")
	dups=$(uniq -d "$out/notrain-$fmt.ids" | wc -l)
	if cmp -s "$out/notrain-$fmt.ids" "$out/duckdb-$fmt.ids" && ((dups == 0)); then
		printf '   %s: both kept the same %d ids\n' "$fmt" "$n_notrain" >&2
	else
		mismatch=1
		printf '   %s: DIFFERENT ids: notrain kept %d (%d duplicated), DuckDB %d\n' "$fmt" "$n_notrain" "$dups" "$n_duckdb" >&2
		echo "   only notrain kept (first 10):" >&2
		LC_ALL=C comm -23 "$out/notrain-$fmt.ids" "$out/duckdb-$fmt.ids" | head -n 10 | sed 's/^/     /' >&2
		echo "   only DuckDB kept (first 10):" >&2
		LC_ALL=C comm -13 "$out/notrain-$fmt.ids" "$out/duckdb-$fmt.ids" | head -n 10 | sed 's/^/     /' >&2
	fi
	eligible=$(node -p 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).counts.eligible' "$out/manifest-$fmt.json")
	if [[ $eligible != "$n_notrain" ]]; then
		mismatch=1
		printf '   %s: the manifest says %s eligible, the output holds %d records\n' "$fmt" "$eligible" "$n_notrain" >&2
	fi
	if ((double)); then
		eligible2=$(node -p 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).counts.eligible' "$out/manifest-$fmt-double.json")
		if [[ $eligible2 != $((2 * n_notrain)) ]]; then
			mismatch=1
			printf '   %s doubled: the manifest says %s eligible, expected %d\n' "$fmt" "$eligible2" $((2 * n_notrain)) >&2
		fi
	fi
done

# ---------------------------------------------------------------- report
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
maximum() { tr ' ' '\n' | grep -v '^$' | sort -g | tail -n 1; }
mb() { calc "$1 * 1024 / 1000000"; } # KiB -> MB
# check LABEL VALUE OP LIMIT: one line of the target summary.
check() {
	local verdict=missed
	awk "BEGIN { exit !($2 $3 $4) }" && verdict=met
	printf '  %-56s %9.2f  (target %s %g)  %s\n' "$1" "$2" "$3" "$4" "$verdict"
}

budget=$(calc "64 + 40 * $accounts / 1000000")
echo
printf 'notrain filter vs DuckDB %s: %d records (%.0f MB JSONL; %d rows, %.0f MB Parquet), %d accounts, %d objections, as of %s\n' \
	"$duckdb_version" "$records" "$(calc "$jsonl_bytes / 1000000")" "$parquet_rows" "$(calc "$parquet_bytes / 1000000")" \
	"$accounts" "$objections" "$as_of"
printf 'median of %d runs; wall time and peak RSS of the whole process (GNU time); "-sql": DuckDB'"'"'s filter statements alone, its best case, which the ratio uses; MB = 10^6 bytes, MB/s of input file bytes; %s cores; notrain'"'"'s manifest digest: %s\n\n' \
	"$runs" "$(nproc)" "$digest"
printf '%-8s %-11s %8s %12s %8s %12s %11s %10s\n' side format "wall s" "records/s" "MB/s" "peak RSS MB" "max RSS MB" "vs DuckDB"
declare -A med_wall med_rss max_rss
for fmt in "${fmts[@]}"; do
	bytes=$jsonl_bytes
	n1=$records
	if [[ $fmt == parquet ]]; then bytes=$parquet_bytes n1=$parquet_rows; fi
	rows=("notrain/$fmt" "duckdb/$fmt")
	if ((double)); then rows+=("notrain/$fmt-x2"); fi
	for key in "${rows[@]}"; do
		med_wall[$key]=$(median <<<"${walls[$key]}")
		med_rss[$key]=$(mb "$(median <<<"${rss[$key]}")")
		max_rss[$key]=$(mb "$(maximum <<<"${rss[$key]}")")
		n=$n1
		b=$bytes
		if [[ $key == *-x2 ]]; then n=$((2 * n1)) b=$((2 * bytes)); fi
		ratio=
		if [[ $key == notrain/$fmt ]]; then ratio=$(printf '%.2fx' "$(calc "$(median <<<"${scans[duckdb/$fmt]}") / ${med_wall[$key]}")"); fi
		printf '%-8s %-11s %8.2f %12.0f %8.0f %12.1f %11.1f %10s\n' "${key%%/*}" "${key#*/}" "${med_wall[$key]}" \
			"$(calc "$n / ${med_wall[$key]}")" "$(calc "$b / ${med_wall[$key]} / 1000000")" \
			"${med_rss[$key]}" "${max_rss[$key]}" "$ratio"
		if [[ $key == duckdb/$fmt ]]; then
			# The time the ratio is taken against: DuckDB's filter statements alone.
			sql=$(median <<<"${scans[$key]}")
			printf '%-8s %-11s %8.2f %12.0f %8.0f %12s %11s %10s\n' duckdb "$fmt-sql" "$sql" \
				"$(calc "$n / $sql")" "$(calc "$b / $sql / 1000000")" - - 1.00x
		fi
	done
done

echo
echo "targets (notrain, whole process, $(nproc) cores):"
for fmt in "${fmts[@]}"; do
	bytes=$jsonl_bytes
	[[ $fmt == parquet ]] && bytes=$parquet_bytes
	speedup=$(calc "$(median <<<"${scans[duckdb/$fmt]}") / ${med_wall[notrain/$fmt]}")
	if [[ $fmt == jsonl ]]; then
		check "JSONL: times faster than DuckDB's filter statements" "$speedup" '>=' 4
		check "JSONL: processing MB/s" "$(calc "$bytes / ${med_wall[notrain/$fmt]} / 1000000")" '>=' 600
	else
		check "Parquet -> Parquet: times faster than DuckDB's filter statements" "$speedup" '>=' 2
	fi
	check "$fmt: max peak RSS MB (64 MB + 40 B x $accounts accounts)" "${max_rss[notrain/$fmt]}" '<=' "$budget"
	if ((double)); then
		check "$fmt: max peak RSS MB, input doubled" "${max_rss[notrain/$fmt-x2]}" '<=' "$budget"
		check "$fmt: peak RSS doubled / single (flat)" "$(calc "${med_rss[notrain/$fmt-x2]} / ${med_rss[notrain/$fmt]}")" '<=' 1.1
	fi
done
if ((mismatch)); then
	echo
	echo 'FAILED: notrain and DuckDB did not keep the same records (see above)'
	exit 1
fi
