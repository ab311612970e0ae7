/**
 * The result cache's tables: their layout (created, or upgraded from an earlier one when the file
 * is opened), the figures kept beside them, and the entries stored twice. Blocks and key levels
 * are written by store.ts, which says why the keys live in levels.
 */
import { createHash } from "node:crypto";
import Database from "better-sqlite3";
import type { ProviderPlugin } from "../plugin.js";

/**
 * the key levels' tables, newest first (store.ts); layouts 3–5 named theirs `keys_0`… and keyed
 * them by the provider's label as text (see TAG_BYTES)
 */
export const KEY_LEVELS = ["level_0", "level_1", "level_2", "level_3"] as const;

const keyTable = (name: string) =>
  `CREATE TABLE IF NOT EXISTS ${name} (key BLOB PRIMARY KEY, seq INTEGER NOT NULL, i INTEGER NOT NULL, cost REAL NOT NULL) WITHOUT ROWID;`;
const SCHEMA = `
CREATE TABLE IF NOT EXISTS blocks (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, value BLOB NOT NULL,
  -- where each result's JSON ends in the (inflated) value, uint32 LE; NULL: one result, the whole value
  ends BLOB,
  size INTEGER NOT NULL, created_at INTEGER NOT NULL,
  -- 1: value is raw-deflated; 0: as it is
  z INTEGER NOT NULL);
${KEY_LEVELS.map(keyTable).join("\n")}
-- what cacheFigures() returns, kept by each commit; valid while seq is the blocks' AUTOINCREMENT
-- counter (a build of this layout before the row was kept stores without it: counted again)
CREATE TABLE IF NOT EXISTS figures (
  one INTEGER PRIMARY KEY CHECK (one = 1), seq INTEGER NOT NULL, bytes INTEGER NOT NULL,
  -- each level's key rows, a JSON array
  levels TEXT NOT NULL);
`;
const SCHEMA_VERSION = 6;

/**
 * A key begins with a tag of who answered (ResultCache's `provider`: the provider's label, and its
 * origin when it names one), the first 8 bytes of its SHA-256; the read's 12-byte request digest
 * follows. Layouts 1–5 began it with the label itself and a newline (`provider (openai)\n`, 18
 * bytes, and a base URL made it ~50). Keys of 20 bytes instead of 30, in bench/result-cache.js at
 * 1M: the file 94 instead of 107 MB (158 / 187 MB with its WAL), a store 6.1–6.5 instead of
 * 7.3–7.7 µs of CPU, a hit 5.2 instead of 6.2–6.5 µs.
 */
export const TAG_BYTES = 8;

/**
 * Who answers a request, the first part of its key: the provider's label, and the origin its plugin
 * names (ProviderPlugin.origin): `use: openai` pointed at another OpenAI-compatible server gets
 * results of its own, not those the first one gave
 */
export function cacheProvider(
  provider: { label: string; plugin: ProviderPlugin; options: unknown },
  env: Record<string, string | undefined>,
): string {
  const origin = provider.plugin.origin?.(provider.options, env);
  return origin ? `${provider.label} ${origin}` : provider.label;
}

export function providerTag(provider: string): Buffer {
  return createHash("sha256").update(provider).digest().subarray(0, TAG_BYTES);
}

/**
 * whether the cache has this build's layout (else upgrade() takes it in, or refuses a newer one)
 * @internal (better-sqlite3 types stay out of the published .d.ts: stripInternal)
 */
export function isCurrentLayout(db: Database.Database): boolean {
  const figures = db.prepare("SELECT name FROM sqlite_master WHERE type='table' AND name='figures'").get();
  return db.pragma("user_version", { simple: true }) === SCHEMA_VERSION && figures !== undefined;
}

/** a cache written by a newer batchpipe: this one cannot read it, and does not change it */
export class NewerLayoutError extends Error {}

/**
 * open the cache file with its settings, creating or upgrading its tables
 * @internal (better-sqlite3 types stay out of the published .d.ts: stripInternal)
 */
export function openCacheDb(file: string, o: { fileMustExist?: boolean } = {}): Database.Database {
  const db = new Database(file, o);
  // a new cache's page size (an existing one keeps its own): fewer pages and cells for blocks of KBs
  db.pragma("page_size = 16384");
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.pragma("busy_timeout = 5000");
  upgrade(db);
  return db;
}

export interface CacheFigures {
  /** key rows: an entry stored again counts once per level it is in until the levels merge (duplicates() tells them) */
  count: number;
  /** stored (compressed) bytes */
  bytes: number;
  /** the key rows of each level */
  levels: number[];
  /** read from the figures row (false: counted) */
  kept: boolean;
}

/**
 * What the cache holds: from the figures row the last commit left, or, when a writer that does not
 * keep it stored since, counted (a scan of every key and block, which every open of a run, a plan
 * and the writer thread made before the row was kept: at 20M stored results ~170 ms, or ~1 s from
 * a cold disk cache).
 * @internal (better-sqlite3 types stay out of the published .d.ts: stripInternal)
 */
export function cacheFigures(db: Database.Database): CacheFigures {
  const kept = db.prepare("SELECT seq, bytes, levels FROM figures").get() as
    | { seq: number; bytes: number; levels: string }
    | undefined;
  if (kept !== undefined && kept.seq === blocksCounter(db)) {
    const levels = JSON.parse(kept.levels) as number[];
    return { count: levels.reduce((sum, rows) => sum + rows, 0), bytes: kept.bytes, levels, kept: true };
  }
  const n = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
  const levels = KEY_LEVELS.map((table) => n(`SELECT count(*) AS n FROM ${table}`));
  return {
    count: levels.reduce((sum, rows) => sum + rows, 0),
    bytes: n("SELECT coalesce(sum(size), 0) AS n FROM blocks"),
    levels,
    kept: false,
  };
}

/**
 * cacheFigures(), kept for the next opens when they had to be counted (the run may store nothing:
 * a rerun answered from the cache). Keeping them only saves later opens a scan, so when it cannot
 * be done (another connection holds the write lock past busy_timeout, as a run storing results
 * does beside a `plan`; a file this user may read but not write) it is left to a later open.
 * @internal (better-sqlite3 types stay out of the published .d.ts: stripInternal)
 */
export function openFigures(db: Database.Database): CacheFigures {
  const figures = cacheFigures(db);
  if (figures.kept) return figures;
  try {
    return db
      .transaction(() => {
        const counted = cacheFigures(db);
        writeFigures(db, counted);
        return counted;
      })
      .immediate();
  } catch {
    return figures;
  }
}

/**
 * the figures row, for the blocks as they are (inside a transaction)
 * @internal (better-sqlite3 types stay out of the published .d.ts: stripInternal)
 */
export function writeFigures(db: Database.Database, f: { bytes: number; levels: number[] }): void {
  db.prepare("INSERT OR REPLACE INTO figures (one, seq, bytes, levels) VALUES (1, ?, ?, ?)").run(
    blocksCounter(db),
    f.bytes,
    JSON.stringify(f.levels),
  );
}

/** the blocks' AUTOINCREMENT counter: every store moves it on, and nothing moves it back */
function blocksCounter(db: Database.Database): number {
  const row = db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'blocks'").get() as
    | { seq: number }
    | undefined;
  return row?.seq ?? 0;
}

/**
 * key rows beyond the first of their key (entries stored again, in more than one level): each
 * level's keys that an older level holds too
 * @internal (better-sqlite3 types stay out of the published .d.ts: stripInternal)
 */
export function duplicates(db: Database.Database): number {
  let n = 0;
  for (let level = 0; level < KEY_LEVELS.length - 1; level++)
    n += keysAlsoIn(db, KEY_LEVELS[level]!, KEY_LEVELS.slice(level + 1));
  return n;
}

/**
 * the keys of level `table` that one of the levels `others` holds too
 * @internal (better-sqlite3 types stay out of the published .d.ts: stripInternal)
 */
export function keysAlsoIn(db: Database.Database, table: string, others: readonly string[]): number {
  const inOthers = others
    .map((other) => `EXISTS (SELECT 1 FROM ${other} o WHERE o.key = k.key)`)
    .join(" OR ");
  return (db.prepare(`SELECT count(*) AS n FROM ${table} k WHERE ${inOthers}`).get() as { n: number }).n;
}

/**
 * Create the tables, or take in the results of an earlier layout (user_version tells them apart).
 * Layouts 1–5 keyed a result by the provider's label as text (TAG_BYTES): their keys are rewritten
 * with its tag as they come in. 1 had one `entries` table with a unique key; 2 a `results` row per
 * result with `keys` and `fresh` pointing at it: each of their results becomes a block of one (`ends`
 * NULL), numbered after this layout's blocks, so nothing paid for is lost. 3 had this layout's
 * blocks with two levels of keys (`fresh_keys`, `result_keys`): they become the first and the last;
 * 4 had three (`keys_0`, `keys_1`, `keys_2`): its last becomes the last; 5 had four (`keys_0` to
 * `keys_3`), and later a `figures` table. Each layout's key tables have names of their own, so a
 * build of layout 1 or 2 (or an early one of 3) that opens this cache makes its own tables beside
 * these (it starts empty, it does not fail), and what it stored there is taken in when this build
 * opens the cache again; the builds of layouts 3–5 since 2679ea6 refuse it as newer. A build of
 * layout 5 from before its figures row stored without keeping it, which cacheFigures() notices.
 */
function upgrade(db: Database.Database): void {
  const version = () => db.pragma("user_version", { simple: true }) as number;
  const has = (table: string) =>
    db.prepare("SELECT name FROM sqlite_master WHERE type='table' AND name=?").get(table) !== undefined;
  if (isCurrentLayout(db)) return;
  const retag = retagging(db);
  /** the results of `from` (its seq, value, size, cost, created_at, z) as blocks of one, with their keys */
  const takeIn = (from: string, keys: [table: string, into: string][]) => {
    const after = (
      db.prepare("SELECT coalesce(max(seq), 0) AS n FROM sqlite_sequence WHERE name = 'blocks'").get() as {
        n: number;
      }
    ).n;
    db.exec(`INSERT INTO blocks (seq, value, ends, size, created_at, z)
      SELECT seq + ${after}, value, NULL, size, created_at, z FROM ${from}`);
    for (const [table, into] of keys) {
      db.exec(`INSERT OR REPLACE INTO ${into} SELECT ${retag}(k.key), k.seq + ${after}, 0, r.cost
        FROM ${table} k JOIN ${from} r ON r.seq = k.seq`);
    }
  };
  /** a level of layouts 3–5 into this layout's level `into`, its keys rewritten in their new order */
  const moveLevel = (from: string, into: string) => {
    if (!has(from)) return;
    db.exec(`INSERT OR REPLACE INTO ${into} SELECT ${retag}(key), seq, i, cost FROM ${from} ORDER BY 1;
      DROP TABLE ${from}`);
  };
  // IMMEDIATE, and the version read again inside: a `plan` and a run opening the cache at once
  db.transaction(() => {
    if (version() > SCHEMA_VERSION) {
      throw new NewerLayoutError(
        `its layout (${version()}) is newer than this batchpipe's (${SCHEMA_VERSION}): a newer batchpipe wrote it`,
      );
    }
    db.exec(SCHEMA);
    const [first, second, third, last] = KEY_LEVELS;
    // the fourth layout's last level (keys_2) stays the last; the fifth's keys_2 is its third of four
    moveLevel("keys_0", first);
    moveLevel("keys_1", second);
    moveLevel("keys_2", has("keys_3") ? third : last);
    moveLevel("keys_3", last);
    moveLevel("fresh_keys", first);
    moveLevel("result_keys", last);
    if (has("entries")) {
      takeIn("entries", [["entries", last]]);
      db.exec("DROP TABLE entries");
    }
    if (has("results")) {
      takeIn("results", [
        ["keys", last],
        ["fresh", first],
      ]);
      db.exec("DROP TABLE keys; DROP TABLE fresh; DROP TABLE results");
    }
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}

/**
 * An SQL function (its name is returned) that rewrites a key of layouts 1–5, the provider's label
 * as text and a newline before the 12-byte digest, as this layout's: the label's tag, then the digest
 */
function retagging(db: Database.Database): string {
  const tags = new Map<string, Buffer>();
  db.function("batchpipe_retag", { deterministic: true }, (key: unknown) => {
    const k = key as Buffer;
    const digestAt = k.length - 12;
    const label = k.toString("utf8", 0, digestAt - 1);
    let tag = tags.get(label);
    if (tag === undefined) {
      tag = providerTag(label);
      tags.set(label, tag);
    }
    return Buffer.concat([tag, k.subarray(digestAt)]);
  });
  return "batchpipe_retag";
}
