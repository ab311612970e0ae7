/**
 * The official plugins the command line knows by name (`use: jsonl`, `use: csv`, `use: parquet`,
 * `use: sqlite`, `use: postgres`, `use: openai`, `use: anthropic`, `use: emulator`): they come with the
 * batchpipe package, so a spec needs no plugin package installed beside it.
 */
import type { PluginRegistry } from "@batchpipe/core";
import emulator from "@batchpipe/openai-emulator/provider";
// the plugin alone: its SDK loads when a run opens it
import anthropic from "@batchpipe/provider-anthropic/plugin";
import openai from "@batchpipe/provider-openai/plugin";
import sinkJsonl from "@batchpipe/sink-jsonl";
import sinkPostgres from "@batchpipe/sink-postgres";
import sinkSqlite from "@batchpipe/sink-sqlite";
import sourceCsv from "@batchpipe/source-csv";
import sourceJsonl from "@batchpipe/source-jsonl";
import sourceParquet from "@batchpipe/source-parquet";

export const officialPlugins: PluginRegistry = {
  source: { jsonl: sourceJsonl, csv: sourceCsv, parquet: sourceParquet },
  sink: { jsonl: sinkJsonl, sqlite: sinkSqlite, postgres: sinkPostgres },
  provider: { openai, anthropic, emulator },
};
