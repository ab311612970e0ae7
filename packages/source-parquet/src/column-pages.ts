import type {
  AsyncBuffer,
  ColumnMetaData,
  DataReader,
  DecodedArray,
  PageHeader,
  SchemaTree,
} from "hyparquet";
import { parquetHeader, readPage } from "hyparquet/src/column.js";
import { convert, DEFAULT_PARSERS } from "hyparquet/src/convert.js";
import { getMaxRepetitionLevel, getTreePath } from "hyparquet/src/schema.js";
import { compressors } from "hyparquet-compressors";
import { exactNumbers, isDecimal } from "./exact-numbers.js";

/**
 * One leaf (physical) column of a row group, decoded a page at a time: only the rows of the current
 * page live decoded, and only a window of the chunk's compressed bytes is read from the file, so
 * memory does not grow with the row group (hyparquet's own readers hold every page of a chunk).
 */
export class LeafColumn {
  readonly path: string;
  private readonly decoder: ColumnDecoder;
  private readonly bytes: ChunkBytes;
  /** a record of a repeated column may go on in the next page (data page v1) */
  private readonly repeated: boolean;
  private dictionary: DecodedArray | undefined;
  /** DECIMAL and FLOAT values as the file holds them (exact-numbers.ts) */
  private readonly exact: ((values: DecodedArray) => unknown[]) | undefined;
  private values: DecodedArray = [];
  private at = 0;
  private done = false;

  /** `skip`: rows at the start of the chunk that are never returned (resume inside a row group) */
  constructor(
    file: AsyncBuffer,
    schema: SchemaTree,
    meta: ColumnMetaData,
    private skip: number,
  ) {
    const schemaPath = getTreePath(schema, meta.path_in_schema);
    this.path = meta.path_in_schema.join(".");
    const element = schemaPath[schemaPath.length - 1]!.element;
    this.exact = exactNumbers(element, meta.type);
    // a DECIMAL is decoded unscaled (not as hyparquet's float64) and made a string here
    const decimal = isDecimal(element);
    this.decoder = {
      pathInSchema: meta.path_in_schema,
      element: decimal ? { ...element, converted_type: undefined, logical_type: undefined } : element,
      schemaPath,
      type: meta.type,
      codec: meta.codec,
      parsers: DEFAULT_PARSERS,
      compressors,
      ...(decimal ? { utf8: false } : {}),
    };
    this.repeated = getMaxRepetitionLevel(schemaPath) > 0;
    const start = Number(meta.dictionary_page_offset || meta.data_page_offset);
    this.bytes = new ChunkBytes(file, start, start + Number(meta.total_compressed_size));
  }

  /** decoded rows ready to take (at least one unless the chunk has ended) */
  async ready(): Promise<number> {
    while (this.complete() === 0 && !this.done) await this.nextPage();
    return this.complete();
  }

  /** the next `n` rows (n <= ready()) */
  take(n: number): DecodedArray {
    const { values, at } = this;
    this.at += n;
    if (!Array.isArray(values)) return values.subarray(at, at + n);
    const rows = values.slice(at, at + n);
    // rows taken are the caller's: the page no longer keeps their strings and objects alive (an
    // array of numbers is left alone: clearing it would box every number left in it)
    const first = rows[0];
    if (typeof first === "string" || typeof first === "object") values.fill(undefined, at, at + n);
    return rows;
  }

  private complete(): number {
    return Math.max(0, this.values.length - this.at - (this.repeated && !this.done ? 1 : 0));
  }

  private async nextPage(): Promise<void> {
    const page = await this.bytes.nextPage();
    if (!page) {
      this.done = true;
      return;
    }
    const { header, reader } = page;
    if (header.type === "DICTIONARY_PAGE") {
      const { data } = readPage(reader, header, this.decoder, undefined, undefined, 0);
      if (data) this.dictionary = convert(data, this.decoder);
      return;
    }
    const rows = header.data_page_header_v2?.num_rows ?? header.data_page_header?.num_values;
    if (rows === 0 || (header.type !== "DATA_PAGE" && header.type !== "DATA_PAGE_V2")) return;
    // the rows not taken yet: a repeated column's last (maybe unfinished) record, continued by the page
    let previous: DecodedArray | undefined;
    if (this.repeated && Array.isArray(this.values)) {
      previous = this.values.slice(this.at);
      this.values = previous;
      this.at = 0;
    }
    // whole pages before a resume point are skipped undecoded; not a repeated column's, whose page
    // row counts some writers get wrong (parquetjs-lite counts values)
    const pageStart = this.repeated ? 0 : this.skip;
    const result = readPage(reader, header, this.decoder, this.dictionary, previous, pageStart);
    if (result.skipped) {
      this.skip -= result.skipped;
      return;
    }
    if (!result.data) return;
    this.values = this.exact ? (this.exact(result.data) as DecodedArray) : result.data;
    this.at = 0;
    const dropped = Math.min(this.skip, this.complete());
    this.at += dropped;
    this.skip -= dropped;
  }
}

// --- internal ---

type ColumnDecoder = Parameters<typeof readPage>[2];

/**
 * The smallest read from the file: small pages share a read, a larger page is read alone, so its
 * bytes are garbage as soon as it is decoded (a window shared by several pages outlives young
 * collections and waits for a full one).
 */
const WINDOW = 16 * 1024;
/** a page header fits in this many bytes unless its statistics are large; then it is read again */
const HEADER = 1024;

/** a column chunk's pages, read through a window of its bytes */
class ChunkBytes {
  private buffer = new ArrayBuffer(0);
  private bufferStart = 0;
  private at: number;

  constructor(
    private readonly file: AsyncBuffer,
    start: number,
    private readonly end: number,
  ) {
    this.at = start;
  }

  /** the next page's header and a reader at its data, or undefined after the last page */
  async nextPage(): Promise<{ header: PageHeader; reader: DataReader } | undefined> {
    // a chunk ends with its last page (a byte or so of slack is how hyparquet reads it too)
    if (this.at >= this.end - 1) return undefined;
    let want = Math.min(HEADER, this.end - this.at);
    for (;;) {
      const reader = await this.readerAt(this.at, want);
      try {
        const header = parquetHeader(reader);
        const length = reader.offset - (this.at - this.bufferStart) + header.compressed_page_size;
        const page = await this.readerAt(this.at, length);
        page.offset += length - header.compressed_page_size;
        this.at += length;
        return { header, reader: page };
      } catch (error) {
        // a header cut off by the window's end: read more of it
        if (!(error instanceof RangeError) || want >= this.end - this.at) throw error;
        want = Math.min(want * 4, this.end - this.at);
      }
    }
  }

  /** a reader at `at` over at least `length` bytes of the file */
  private async readerAt(at: number, length: number): Promise<DataReader> {
    if (at < this.bufferStart || at + length > this.bufferStart + this.buffer.byteLength) {
      const end = Math.min(this.end, at + Math.max(length, WINDOW));
      if (at + length > end) throw new RangeError(`a page runs past the end of its column chunk`);
      this.buffer = await this.file.slice(at, end);
      this.bufferStart = at;
    }
    return { view: new DataView(this.buffer), offset: at - this.bufferStart };
  }
}
