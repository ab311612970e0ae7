// Writes products.parquet: 40 products with a nested `specs` column (a struct holding a struct and
// a list), snappy-compressed, by parquetjs-lite (the writer of source-parquet's test fixtures).
// Usage: node examples/parquet-to-jsonl/make-data.mjs
import { fileURLToPath } from "node:url";
import { writeParquet } from "../../packages/source-parquet/test/fixtures/write-fixtures.mjs";

const colors = ["black", "white", "oak", "steel", "sage"];
const kinds = ["desk lamp", "bookshelf", "office chair", "standing desk", "monitor arm"];
const features = [
  "dimmable",
  "foldable",
  "recycled materials",
  "tool-free assembly",
  "5-year warranty",
  "USB-C",
];

const columns = {
  sku: { type: "UTF8" },
  name: { type: "UTF8" },
  price: { type: "DOUBLE" },
  specs: {
    fields: {
      color: { type: "UTF8" },
      size_cm: { fields: { width: { type: "INT32" }, height: { type: "INT32" }, depth: { type: "INT32" } } },
      features: { type: "UTF8", repeated: true },
    },
  },
};
const rows = Array.from({ length: 40 }, (_, i) => ({
  sku: `sku-${String(i + 1).padStart(3, "0")}`,
  name: `${colors[i % 5]} ${kinds[Math.floor(i / 5) % 5]}`,
  price: 19.9 + ((i * 37) % 400),
  specs: {
    color: colors[i % 5],
    size_cm: { width: 30 + ((i * 7) % 90), height: 40 + ((i * 11) % 120), depth: 20 + ((i * 5) % 60) },
    features: features.filter((_, f) => (i + f) % 3 === 0),
  },
}));

const file = fileURLToPath(new URL("products.parquet", import.meta.url));
await writeParquet(file, columns, rows, { rowGroupSize: 16 });
console.log(`wrote ${file}: ${rows.length} products`);
