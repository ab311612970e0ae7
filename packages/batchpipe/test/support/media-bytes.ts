// Real media bytes for tests of the token estimates (core's and the CLI's): a valid PNG of any
// size, built with zlib; all black, so a 2048×4096 one deflates to ~8 KB unless padded.
import zlib from "node:zlib";

/** a valid 8-bit grayscale PNG of that size; `padding` bytes of a tEXt chunk make it that much larger */
export function png(width: number, height: number, padding = 0): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth; colour type 0 (grayscale), no interlace
  const rows = zlib.deflateSync(Buffer.alloc((width + 1) * height));
  const chunks = [pngChunk("IHDR", ihdr), pngChunk("IDAT", rows), pngChunk("IEND", Buffer.alloc(0))];
  if (padding > 0) chunks.splice(1, 0, pngChunk("tEXt", Buffer.from(`Comment\0${noise(padding)}`, "latin1")));
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), ...chunks]);
}

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** deterministic printable text that does not compress, like a photo's data */
function noise(n: number): string {
  let seed = 7;
  let out = "";
  for (let i = 0; i < n; i++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    out += String.fromCharCode(33 + ((seed >> 16) % 94));
  }
  return out;
}
