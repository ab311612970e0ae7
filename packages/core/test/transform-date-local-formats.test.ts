import { describe, expect, test } from "vitest";
import { promptTransform } from "../src/index.js";
import type { TransformHandle } from "../src/plugin.js";

// Spreadsheet and report exports write dates as "3/1/2024", "Mar 1, 2024" or "3/1/2024 10:00 PM".
// JavaScript reads those (unlike ISO text) in the host's time zone, so the same record used to
// render another day on a machine east or west of UTC ("3/1/2024" → 2024-02-29 in Tokyo).
async function create(body: Record<string, unknown>): Promise<TransformHandle> {
  return promptTransform.create({
    options: promptTransform.options.parse({ endpoint: "/v1/embeddings", body }),
    resolvePath: (p) => p,
    logger: { debug() {}, info() {}, warn() {}, error() {} },
    signal: new AbortController().signal,
  });
}

describe("date filters over dates without a zone", () => {
  test("render the same, as UTC, whatever the host's time zone", async () => {
    const handle = await create({
      model: "m",
      input: [
        "{{ us | date: '%Y-%m-%d %H:%M' }}",
        "{{ us_time | date: '%Y-%m-%d %H:%M' }}",
        "{{ named | date: '%Y-%m-%d %H:%M' }}",
        "{{ pm | date: '%Y-%m-%d %H:%M' }}",
        "{{ slashed | date: '%Y-%m-%d %H:%M' }}",
        "{{ us | date_to_string }}",
        "{{ us | date_to_long_string }}",
        "{{ us_time | date_to_xmlschema }}",
        "{{ local_iso | date_to_xmlschema }}",
        "{{ us_time | date_to_rfc822 }}",
        "{{ est | date: '%Y-%m-%d %H:%M' }}",
        "{{ offset | date: '%Y-%m-%d %H:%M' }}",
        "{{ zulu | date: '%Y-%m-%d %H:%M' }}",
      ],
    });
    const data = {
      id: 1,
      us: "3/1/2024",
      us_time: "3/1/2024 10:00",
      named: "Mar 1, 2024",
      pm: "March 1, 2024 10:30 PM",
      slashed: "2024/03/01 23:30",
      local_iso: "2024-03-01 23:30:00",
      // a zone of its own is kept
      est: "3/1/2024 10:00 EST",
      offset: "3/1/2024 10:00 +0100",
      zulu: "2024-03-01T10:00:00Z",
    };
    const expected = [
      "2024-03-01 00:00",
      "2024-03-01 10:00",
      "2024-03-01 00:00",
      "2024-03-01 22:30",
      "2024-03-01 23:30",
      "01 Mar 2024",
      "01 March 2024",
      "2024-03-01T10:00:00+00:00",
      "2024-03-01T23:30:00+00:00",
      "Fri, 01 Mar 2024 10:00:00 +0000",
      "2024-03-01 15:00",
      "2024-03-01 09:00",
      "2024-03-01 10:00",
    ];
    const was = process.env.TZ;
    try {
      for (const tz of ["UTC", "Asia/Tokyo", "America/Los_Angeles"]) {
        process.env.TZ = tz;
        const body = handle.toRequest({ data, position: { file: "/d.csv", line: 2 }, cursor: 2 }).body;
        expect(body.input, tz).toEqual(expected);
      }
    } finally {
      if (was === undefined) delete process.env.TZ;
      else process.env.TZ = was;
    }
  });
});
