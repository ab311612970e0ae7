import { open } from "node:fs/promises";
import type { AsyncBuffer } from "hyparquet";

export interface FileBuffer extends AsyncBuffer {
  close(): Promise<void>;
}

/**
 * A Parquet file as hyparquet's AsyncBuffer, read through one open file handle: each slice is one
 * read into a buffer of its size (hyparquet's asyncBufferFromFile opens a stream per slice and copies
 * its chunks together).
 */
export async function openFileBuffer(file: string): Promise<FileBuffer> {
  const handle = await open(file, "r");
  try {
    const { size } = await handle.stat();
    return {
      byteLength: size,
      async slice(start, end = size) {
        const bytes = new Uint8Array(Math.max(0, Math.min(end, size) - start));
        for (let at = 0; at < bytes.length; ) {
          const { bytesRead } = await handle.read(bytes, at, bytes.length - at, start + at);
          if (bytesRead === 0) throw new Error(`${file} ended at byte ${start + at} (was it truncated?)`);
          at += bytesRead;
        }
        return bytes.buffer;
      },
      close: () => handle.close(),
    };
  } catch (error) {
    await handle.close();
    throw error;
  }
}
