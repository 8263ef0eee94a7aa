// The DuckDB side of the filter benchmark: DESIGN.md's default policy in SQL,
// written the way a practised DuckDB user would write it — the set of covered
// accounts is computed once from the (small) account and objection files,
// joined with the directory into one table of eligible authors, and the
// content scan reads only the declared columns with every filter applied in
// the same pipeline, straight into the output file.
//
//   node duckdb_filter.mjs filter --format jsonl|parquet --in FILE --out FILE \
//        --accounts FILE --objections FILE [--as-of RFC3339] [--threads N] \
//        [--temp DIR] [--keep-order] [--explain]
//   node duckdb_filter.mjs ids --in FILE --out FILE    # ids of a JSONL or Parquet file, one a line
//
// "filter" prints one JSON line: {"kept":N,"setup_s":…,"scan_s":…,"wall_s":…}.

import { DuckDBInstance } from '@duckdb/node-api';

const KINDS = ['post', 'comment', 'photo', 'video', 'story', 'reel', 'profile', 'like', 'review', 'ai_chat'];
// The products whose every allowed kind is eligible; whatsapp and messenger
// only for ai_chat. Unknown products have no accounts, so the author join
// drops them.
const OPEN_PRODUCTS = ['facebook', 'instagram', 'threads'];
// RFC 3339 date-time (Go's time.RFC3339 parser accepts exactly these);
// the cast below rejects impossible dates such as 2025-02-30.
const RFC3339 = '^[0-9]{4}-[0-9]{2}-[0-9]{2}T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]+)?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$';

// Content columns, as in DESIGN.md's contract plus the two extra fields
// the generator writes (unknown fields pass through on the notrain side).
const CONTENT_COLUMNS = {
  id: 'VARCHAR', product: 'VARCHAR', author_id: 'VARCHAR', kind: 'VARCHAR', visibility: 'VARCHAR',
  created_at: 'VARCHAR', text: 'VARCHAR', mentions: 'VARCHAR[]', tags: 'VARCHAR[]', lang: 'VARCHAR',
  edited: 'BOOLEAN',
};

function usage(msg) {
  if (msg) console.error(`duckdb_filter: ${msg}`);
  console.error('usage: node duckdb_filter.mjs filter --format jsonl|parquet --in FILE --out FILE --accounts FILE --objections FILE [--as-of RFC3339] [--threads N] [--temp DIR] [--keep-order] [--explain]');
  console.error('       node duckdb_filter.mjs ids --in FILE --out FILE');
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { flags: new Set() };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) usage(`unexpected argument ${a}`);
    const name = a.slice(2);
    if (['keep-order', 'explain'].includes(name)) {
      opts.flags.add(name);
    } else {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      opts[name] = argv[++i];
    }
  }
  return opts;
}

const lit = (s) => `'${String(s).replaceAll("'", "''")}'`;
const list = (xs) => `(${xs.map(lit).join(', ')})`;
const struct = (cols) => `{${Object.entries(cols).map(([k, v]) => `${lit(k)}: ${lit(v)}`).join(', ')}}`;

function contentScan(format, path) {
  if (format === 'parquet') return `read_parquet(${lit(path)})`;
  if (format === 'jsonl') {
    // Explicit columns: no schema sampling, only these fields are parsed;
    // lines that are not valid JSON are skipped (they are malformed).
    return `read_ndjson(${lit(path)}, columns = ${struct(CONTENT_COLUMNS)}, format = 'newline_delimited', ignore_errors = true, maximum_object_size = 67108864)`;
  }
  usage(`unknown --format ${format}`);
}

async function filter(opts) {
  for (const k of ['format', 'in', 'out', 'accounts', 'objections']) if (!opts[k]) usage(`--${k} is required`);
  const asOf = opts['as-of'] ?? new Date().toISOString();
  if (Number.isNaN(Date.parse(asOf))) usage(`--as-of ${asOf} is not a time`);
  const t0 = performance.now();
  const config = {};
  if (opts.threads) config.threads = String(opts.threads);
  if (opts.temp) config.temp_directory = opts.temp;
  const db = await DuckDBInstance.create(':memory:', config);
  const con = await db.connect();
  await con.run(`SET TimeZone = 'UTC'`);
  // Row order of the output does not matter for a training set; letting
  // DuckDB drop it is what a user tuning for speed and memory does.
  await con.run(`SET preserve_insertion_order = ${opts.flags.has('keep-order') ? 'true' : 'false'}`);

  // The account directory, once. A missing group means the account is its
  // own group.
  await con.run(`
    CREATE TEMP TABLE accounts AS
    SELECT product, account_id, lower(email) AS email, birthdate,
           coalesce("group", product || chr(0) || account_id) AS grp
    FROM read_ndjson(${lit(opts.accounts)}, columns = ${struct({ product: 'VARCHAR', account_id: 'VARCHAR', email: 'VARCHAR', birthdate: 'DATE', group: 'VARCHAR' })}, format = 'newline_delimited')`);

  // Objections in force at S (bulk objections are never withdrawn).
  await con.run(`
    CREATE TEMP TABLE objections AS
    SELECT lower(email) AS email, product, account_id, scope
    FROM read_ndjson(${lit(opts.objections)}, columns = ${struct({ email: 'VARCHAR', product: 'VARCHAR', account_id: 'VARCHAR', scope: 'JSON', effective_at: 'VARCHAR' })}, format = 'newline_delimited')
    WHERE CAST(effective_at AS TIMESTAMPTZ) <= CAST(${lit(asOf)} AS TIMESTAMPTZ)`);

  // Covered accounts: the accounts an objection names (by e-mail, or by
  // product and id), widened to their link groups, narrowed to the listed
  // products when the scope is a list.
  await con.run(`
    CREATE TEMP TABLE covered AS
    WITH hit AS (
      SELECT a.grp, o.scope FROM objections o JOIN accounts a ON a.email = o.email
      UNION ALL
      SELECT a.grp, o.scope FROM objections o JOIN accounts a ON a.product = o.product AND a.account_id = o.account_id
    )
    SELECT DISTINCT m.product, m.account_id
    FROM hit JOIN accounts m ON m.grp = hit.grp
    WHERE CASE WHEN json_type(hit.scope) = 'ARRAY'
               THEN list_contains(from_json(hit.scope, '["VARCHAR"]'), m.product)
               ELSE hit.scope ->> '$' = 'all' END`);

  // Eligible authors: known, with a birthdate, not covered; adult_from is
  // the 18th birthday at 00:00 UTC (29 February -> 1 March in a common year).
  await con.run(`
    CREATE TEMP TABLE authors AS
    SELECT a.product, a.account_id,
           CAST(CASE WHEN month(a.birthdate) = 2 AND day(a.birthdate) = 29
                      AND NOT ((year(a.birthdate) + 18) % 4 = 0 AND ((year(a.birthdate) + 18) % 100 <> 0 OR (year(a.birthdate) + 18) % 400 = 0))
                     THEN make_date(year(a.birthdate) + 18, 3, 1)
                     ELSE make_date(year(a.birthdate) + 18, month(a.birthdate), day(a.birthdate)) END AS TIMESTAMPTZ) AS adult_from
    FROM accounts a ANTI JOIN covered c ON c.product = a.product AND c.account_id = a.account_id
    WHERE a.birthdate IS NOT NULL`);
  const t1 = performance.now();

  const cols = Object.keys(CONTENT_COLUMNS).map((c) => `c.${c}`).join(', ');
  const query = `
    SELECT ${opts.format === 'parquet' ? 'c.*' : cols}
    FROM ${contentScan(opts.format, opts.in)} c
    JOIN authors a ON a.product = c.product AND a.account_id = c.author_id
    WHERE c.visibility = 'public'
      AND c.kind IN ${list(KINDS)}
      AND (c.kind = 'ai_chat' OR c.product IN ${list(OPEN_PRODUCTS)})
      AND c.id <> ''
      AND regexp_full_match(c.created_at, ${lit(RFC3339)})
      AND TRY_CAST(c.created_at AS TIMESTAMPTZ) >= a.adult_from
      AND NOT EXISTS (
        SELECT 1 FROM unnest(list_concat(c.mentions, c.tags)) AS t(u)
        JOIN covered v ON v.product = c.product AND v.account_id = t.u)`;
  if (opts.flags.has('explain')) {
    const plan = await con.runAndReadAll(`EXPLAIN ${query}`);
    for (const row of plan.getRows()) console.error(row[1]);
  }
  const target = opts.format === 'parquet' ? `(FORMAT parquet, COMPRESSION snappy)` : `(FORMAT json)`;
  const res = await con.runAndReadAll(`COPY (${query}) TO ${lit(opts.out)} ${target}`);
  const kept = Number(res.getRows()[0][0]);
  const t2 = performance.now();
  console.log(JSON.stringify({
    kept,
    setup_s: +((t1 - t0) / 1000).toFixed(3),
    scan_s: +((t2 - t1) / 1000).toFixed(3),
    wall_s: +((t2 - t0) / 1000).toFixed(3),
  }));
  con.closeSync?.();
}

async function ids(opts) {
  for (const k of ['in', 'out']) if (!opts[k]) usage(`--${k} is required`);
  const db = await DuckDBInstance.create(':memory:');
  const con = await db.connect();
  const src = /\.parquet$/i.test(opts.in)
    ? `read_parquet(${lit(opts.in)})`
    : `read_ndjson(${lit(opts.in)}, columns = {'id': 'VARCHAR'}, format = 'newline_delimited')`;
  const res = await con.runAndReadAll(
    `COPY (SELECT id FROM ${src}) TO ${lit(opts.out)} (FORMAT csv, HEADER false, QUOTE '', ESCAPE '')`);
  console.log(JSON.stringify({ ids: Number(res.getRows()[0][0]) }));
}

const [cmd, ...rest] = process.argv.slice(2);
const opts = parseArgs(rest);
try {
  if (cmd === 'filter') await filter(opts);
  else if (cmd === 'ids') await ids(opts);
  else usage(cmd ? `unknown command ${cmd}` : 'missing command');
} catch (err) {
  console.error(`duckdb_filter: ${err.message}`);
  process.exit(1);
}
