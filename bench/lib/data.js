// Deterministic bench input: N chat records of about 250 bytes each, cached in bench/.data/.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const DATA_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", ".data");

const OPENERS = [
  "Great value.",
  "Not as described.",
  "Would buy again.",
  "Broke after a week.",
  "It is okay.",
  "Five stars, no doubt.",
  "Does the job, nothing more.",
  "Disappointed overall.",
];
const THINGS = [
  "running shoes",
  "kettle",
  "desk lamp",
  "headphones",
  "phone case",
  "backpack",
  "coffee grinder",
  "keyboard",
  "water bottle",
  "office chair",
];
const NOTES = [
  "arrived on time",
  "came in a big box",
  "was a gift for my sister",
  "looks better than the photos",
  "feels cheap in the hand",
  "works exactly as promised",
  "needed a second try to set up",
  "is quieter than the old one",
];

/** the same record every time for the same index (about 250 bytes as a JSONL line) */
export function makeRecord(i) {
  let seed = (i * 2654435761) >>> 0;
  const pick = (list) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return list[(seed >>> 8) % list.length];
  };
  // the number makes every text unique: identical requests would be sent once by batchpipe only
  let text = `#${i} ${pick(OPENERS)}`;
  while (text.length < 190) text += ` The ${pick(THINGS)} ${pick(NOTES)}.`;
  return { id: `rec-${String(i).padStart(8, "0")}`, text: text.slice(0, 200), stars: 1 + (i % 5) };
}

/** writes bench/.data/input-<n>.jsonl once and returns its path */
export async function ensureInput(n) {
  fs.mkdirSync(DATA_DIR, { recursive: true });
  const file = path.join(DATA_DIR, `input-v2-${n}.jsonl`);
  if (fs.existsSync(file)) return file;
  const tmp = `${file}.tmp`;
  const out = fs.createWriteStream(tmp);
  let chunk = "";
  for (let i = 1; i <= n; i++) {
    chunk += `${JSON.stringify(makeRecord(i))}\n`;
    if (chunk.length > 1 << 20) {
      if (!out.write(chunk)) await new Promise((r) => out.once("drain", r));
      chunk = "";
    }
  }
  out.end(chunk);
  await new Promise((resolve, reject) => out.on("finish", resolve).on("error", reject));
  fs.renameSync(tmp, file);
  return file;
}
