import type { Ids } from "../random.js";

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** Anthropic-looking ids ("msgbatch_01" + 22 base62), drawn from the emulator's seeded stream. */
export function anthropicIds(ids: Ids) {
  const tail = () => {
    let s = "01";
    const hex = ids.hex(44);
    for (let i = 0; i < 22; i++) s += BASE62[Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16) % 62];
    return s;
  };
  return {
    batch: () => `msgbatch_${tail()}`,
    message: () => `msg_${tail()}`,
    toolUse: () => `toolu_${tail()}`,
  };
}

export type AnthropicIds = ReturnType<typeof anthropicIds>;
