import { randomUUID } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { Clock } from "../clock.js";
import type { Ids } from "../random.js";

/** The public FileObject, as OpenAI returns it. */
export interface FileObject {
  id: string;
  object: "file";
  bytes: number;
  created_at: number;
  filename: string;
  purpose: string;
  status: "processed";
  expires_at: number | null;
  status_details: null;
}

export interface StoredFile extends FileObject {
  /** Absolute path of the content on disk. */
  path: string;
  sha256: string;
  seq: number;
  /** Virtual ms of the upload (for the visibility race). */
  createdMs: number;
}

export interface ListFilesQuery {
  after?: string | undefined;
  limit?: number | undefined;
  order?: "asc" | "desc" | undefined;
  purpose?: string | undefined;
}

const DAY = 86_400;

/** Files on disk under `<dataDir>/files`, indexed in memory. */
export class FileStore {
  readonly dir: string;
  readonly tmpDir: string;
  private readonly files = new Map<string, StoredFile>();
  /** place in the list of deleted and expired files, so a list paged after one goes on from there */
  private readonly gone = new Map<string, number>();
  private seq = 0;

  constructor(
    dataDir: string,
    private readonly clock: Clock,
    private readonly ids: Ids,
  ) {
    this.dir = path.join(dataDir, "files");
    this.tmpDir = path.join(dataDir, "tmp");
    fs.mkdirSync(this.dir, { recursive: true });
    fs.mkdirSync(this.tmpDir, { recursive: true });
  }

  /** A fresh path in the temp folder (same filesystem as the store, so adopt() is a rename). */
  tmpPath(suffix = ""): string {
    return path.join(this.tmpDir, `${randomUUID()}${suffix}`);
  }

  /** Move a finished temp file into the store and index it. */
  adopt(
    tmpPath: string,
    meta: {
      filename: string;
      purpose: string;
      bytes: number;
      sha256: string;
      expiresAfterSeconds?: number | undefined;
    },
  ): StoredFile {
    const id = this.ids.file();
    const filePath = path.join(this.dir, id);
    fs.renameSync(tmpPath, filePath);
    const createdAt = this.clock.nowSeconds();
    // batch inputs (and batch outputs) expire after 30 days by default; other purposes persist
    const ttl = meta.expiresAfterSeconds ?? (meta.purpose.startsWith("batch") ? 30 * DAY : undefined);
    const file: StoredFile = {
      id,
      object: "file",
      bytes: meta.bytes,
      created_at: createdAt,
      filename: meta.filename,
      purpose: meta.purpose,
      status: "processed",
      expires_at: ttl === undefined ? null : createdAt + ttl,
      status_details: null,
      path: filePath,
      sha256: meta.sha256,
      seq: this.seq++,
      createdMs: this.clock.nowMs(),
    };
    this.files.set(id, file);
    return file;
  }

  get(id: string): StoredFile | undefined {
    const file = this.files.get(id);
    if (file && file.expires_at !== null && file.expires_at <= this.clock.nowSeconds()) {
      this.delete(id);
      return undefined;
    }
    return file;
  }

  delete(id: string): boolean {
    const file = this.files.get(id);
    if (!file) return false;
    this.files.delete(id);
    this.gone.set(id, file.seq);
    // an open reader (a running batch) keeps its descriptor; unlink is safe
    fs.rmSync(file.path, { force: true });
    return true;
  }

  all(): StoredFile[] {
    for (const id of [...this.files.keys()]) this.get(id);
    return [...this.files.values()];
  }

  list(query: ListFilesQuery): { data: StoredFile[]; has_more: boolean } {
    let items = this.all().filter((f) => !query.purpose || f.purpose === query.purpose);
    items.sort((a, b) => (query.order === "asc" ? a.seq - b.seq : b.seq - a.seq));
    if (query.after) {
      // by place, so a cursor that was deleted (a client deleting as it lists) or is filtered out
      // still pages on; an unknown one ends the list rather than restart it (an endless `for await`)
      const at = this.files.get(query.after)?.seq ?? this.gone.get(query.after);
      items = at === undefined ? [] : items.filter((f) => (query.order === "asc" ? f.seq > at : f.seq < at));
    }
    const limit = query.limit ?? 10_000;
    return { data: items.slice(0, limit), has_more: items.length > limit };
  }

  clear(): void {
    for (const id of [...this.files.keys()]) this.delete(id);
    this.gone.clear();
  }
}

export function publicFile(file: StoredFile): FileObject {
  const { path: _path, sha256: _sha, seq: _seq, createdMs: _ms, ...rest } = file;
  return rest;
}
