#!/usr/bin/env bash
# Surge benchmark: people object at a fixed arrival rate, as before a
# deadline. bench/surge (the load generator) plays each person: request a
# code, receive it over SMTP (the generator is the mail server notrain sends
# to), confirm it. It reports completed objections per second, p50/p99/p99.9
# latency per step, errors and mail delivery delay, and checks that every
# acknowledged objection is in the store.
#
#   bash bench/surge.sh [--rates 3000,1500] [--duration 60] [--stores sqlite,postgres] [--instances 1] [--dispatch 50000]
#
# First, the mail dispatcher alone (bench/dispatch): N code mails queued in a
# fresh SQLite outbox, delivered over loopback SMTP to a server in the same
# process; it prints mails/s and writes bench/out/surge/dispatch.json.
# --dispatch 0 skips it.
#
# --instances N runs N notrain services on the one store (each with its own
# dispatcher, all sending to the generator); every person asks for a code
# at one instance and confirms it at the next. --debug-addr ADDR serves the
# first instance's profiler there (go tool pprof http://ADDR/debug/pprof/profile).
#
# PostgreSQL: NOTRAIN_BENCH_POSTGRES (default postgres://postgres@127.0.0.1:5432/postgres);
# a database notrain_surge is created there for each run and dropped after.
set -euo pipefail
cd "$(dirname "$0")/.."

rates=3000,1500
duration=60
stores=sqlite,postgres
instances=1
debug=
dispatch=50000
pg=${NOTRAIN_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
while (($#)); do
	case $1 in
	--rates) rates=$2; shift 2 ;;
	--duration) duration=$2; shift 2 ;;
	--stores) stores=$2; shift 2 ;;
	--instances) instances=$2; shift 2 ;;
	--debug-addr) debug=$2; shift 2 ;;
	--dispatch) dispatch=$2; shift 2 ;;
	*) echo "surge.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done

out=bench/out/surge
mkdir -p "$out"
say() { printf '== %s\n' "$*"; }
say "building notrain and the load generator"
go build -o "$out/notrain" ./cmd/notrain
go build -o "$out/surge" ./bench/surge
go build -o "$out/dispatch" ./bench/dispatch
secret=73757267652d62656e63686d61726b2d6d61737465722d6b65792d2d2d2d2d2d

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()' 2>/dev/null || echo $((20000 + RANDOM % 20000)); }

pgdb() { # URL of the notrain_surge database on the server $pg
	local base=${pg%%\?*} query=
	[[ $pg == *\?* ]] && query="?${pg#*\?}"
	echo "${base%/*}/notrain_surge$query"
}

if ((dispatch > 0)); then
	say "mail dispatcher alone: $dispatch code mails"
	"$out/dispatch" -n "$dispatch" -json "$out/dispatch.json"
fi

for store in ${stores//,/ }; do
	for rate in ${rates//,/ }; do
		n=$((rate * duration))
		accounts=$out/accounts-$n.jsonl
		if [[ ! -s $accounts ]]; then
			say "writing $((n + 1000)) accounts"
			awk -v n=$((n + 1000)) 'BEGIN { for (i = 0; i < n; i++) printf "{\"product\":\"facebook\",\"account_id\":\"u%d\",\"email\":\"person%d@example.de\",\"birthdate\":\"1980-01-01\",\"group\":\"g%d\"}\n", i, i, i }' >"$accounts"
		fi
		case $store in
		sqlite)
			dsn=$out/surge.db
			rm -f "$dsn" "$dsn"-* "$dsn".*
			;;
		postgres)
			dsn=$(pgdb)
			psql -q "$pg" -c "DROP DATABASE IF EXISTS notrain_surge WITH (FORCE)" -c "CREATE DATABASE notrain_surge"
			;;
		esac
		logkey=$out/surge-log.key
		rm -f "$logkey"
		say "$store, $rate objections/s for ${duration}s: importing accounts"
		"$out/notrain" accounts import "$accounts" --db "$dsn" --secret "$secret" --log-key "$logkey" >/dev/null
		smtp=127.0.0.1:$(port)
		run=$store-$rate
		((instances > 1)) && run=$store-$rate-x$instances
		result=$out/surge-$run.json
		targets=
		srvs=()
		for ((k = 0; k < instances; k++)); do
			http=127.0.0.1:$(port)
			targets+=${targets:+,}http://$http
			extra=()
			((k == 0)) && [[ -n $debug ]] && extra=(--debug-addr "$debug")
			# The generator plays every person from one address: the per-address
			# limits (--ip-rate-limit, --conns-per-client) are off, as they would
			# not apply to people arriving from many addresses.
			"$out/notrain" serve --addr "$http" --metrics-addr "127.0.0.1:$(port)" --db "$dsn" --secret "$secret" --log-key "$logkey" \
				--mail "smtp://$smtp" --mail-from "notrain <noreply@notrain.test>" \
				--ip-rate-limit 0 --conns-per-client 0 --log-level error "${extra[@]}" >"$out/serve-$run-$k.log" 2>&1 &
			srvs+=($!)
		done
		"$out/surge" -target "$targets" -smtp "$smtp" -rate "$rate" -duration "${duration}s" -count $((n + 1000)) -db "$dsn" -json "$result" >"$out/surge-$run.log" 2>&1 &
		gen=$!
		status=0
		wait $gen || status=$?
		kill -INT "${srvs[@]}"
		wait "${srvs[@]}" || true
		[[ $store == postgres ]] && psql -q "$pg" -c "DROP DATABASE IF EXISTS notrain_surge WITH (FORCE)"
		cat "$out/surge-$run.log"
		((status == 0)) || { echo "surge: the $store run at $rate/s failed" >&2; exit 1; }
	done
done
say "results: $out/surge-*.json"
if ((dispatch > 0)); then say "dispatcher alone: $out/dispatch.json"; fi
