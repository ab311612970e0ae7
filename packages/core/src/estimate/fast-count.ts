/**
 * A tokenizer-free token estimate: a one-pass imitation of the BPE pre-tokenizer (words, digit
 * groups, punctuation runs, CJK characters) with per-script rates, times a safety factor. Each
 * kind of text (TEXT_KINDS) is meant to come out at or above the exact count on its own, so that a
 * kind a calibration sample did not hold is never scaled below it (calibration.ts): on English
 * prose, reviews, JS/Python code, JSON, German, French, Vietnamese, Chinese, Japanese, Korean,
 * Thai, Russian, Greek, Arabic, Hebrew, Hindi, Tamil, emoji, numbers, hex and base64 it runs
 * 1.0–1.7× the exact count, ~1.2–1.35× on English. bench/estimate-tokens.js prints the ratios.
 * ASCII words cost the English rate only in text that holds common English words (STOP_WORDS): in
 * German, Dutch, Finnish, Polish, Turkish prose they split far more (a 5-letter Finnish word is ~2
 * tokens in cl100k), and Romance languages' long words more than English ones.
 */
import type { EncodingName } from "./encoding.js";

export const FAST_SAFETY_FACTOR = 1.15;

/**
 * The kinds of text the fast count tells apart, each with its own rate (and, after a calibration,
 * its own factor): words of ASCII letters; of Latin, Cyrillic or Greek letters beyond ASCII; of
 * other alphabets (Arabic, Hebrew, Indic, Thai, ...); CJK, kana, Hangul and other wide characters;
 * emoji and other astral characters; digits; punctuation and white space; random-looking runs of
 * letters and digits (base64, hex, keys).
 */
export const TEXT_KINDS = 8;

export function fastTokenCount(text: string, encoding: EncodingName = "o200k_base"): number {
  return Math.ceil(countKinds(text, encoding) * FAST_SAFETY_FACTOR);
}

/**
 * fastTokenCount, adding the text's tokens by kind (TEXT_KINDS, the safety factor included) into
 * `kinds`: they add up to the count before it is rounded up.
 */
export function fastTokenKinds(text: string, encoding: EncodingName, kinds: Float64Array): number {
  const total = countKinds(text, encoding);
  for (let j = 0; j < TEXT_KINDS; j++) kinds[j]! += KINDS[j]! * FAST_SAFETY_FACTOR;
  return Math.ceil(total * FAST_SAFETY_FACTOR);
}

/** the tokens of `text` before the safety factor, by kind in KINDS */
function countKinds(text: string, encoding: EncodingName): number {
  const cl100k = encoding === "cl100k_base";
  // word cost in twelfths of a token per letter: ASCII 6 letters a token; Latin/Cyrillic 3 (~1.7 in
  // cl100k); Greek and Vietnamese 3 (1 in cl100k); other alphabets (Arabic, Hebrew, ...) 3 (1 in
  // cl100k); Indic scripts 3 (0.7 in cl100k); Thai, Lao, Tibetan, Myanmar, Khmer ~2.2 (1)
  const latinUnits = cl100k ? 7 : 4;
  const greekUnits = cl100k ? 12 : 4;
  const otherUnits = cl100k ? 12 : 4;
  const indicUnits = cl100k ? 17 : 4;
  const thaiUnits = cl100k ? 12 : 5.5;
  const cjkTokens = cl100k ? 1.3 : 0.85;
  // an ASCII letter of a text that is not English (BPE's merges are mostly English, so its words
  // split more): Romance languages' words (STOP_WORDS) ~5 letters free, then ~2.4 (o200k 4) letters
  // a token; others (German, Dutch, Finnish, Polish, Turkish, ...) 4 letters a token (3 in cl100k)
  const foreignUnits = cl100k ? 4 : 3;
  const romanceUnits = cl100k ? 5 : 3;
  const romanceFree = cl100k ? 24 : 18;
  const astralTokens = cl100k ? 3 : 2;
  const k = KINDS.fill(0);
  let word = 0; // twelfths
  let wordKind = ASCII_WORDS;
  // the word's ASCII letters, and the first of them (5 bits each) while it is short: to tell English
  // words (STOP_WORDS) from others
  let ascii = 0;
  let letters = 0;
  // the ASCII words, the English ones among them, and the tokens of all words counted as not English
  let words = 0;
  let english = 0;
  let foreign = 0;
  let foreign0 = 0;
  let romanceWords = 0;
  let romance = 0;
  let romance0 = 0;
  let wordsAt0 = 0;
  let digits = 0;
  let prev = 0; // class of the previous char
  // a run of ASCII letters, digits and + / = (a word, a number, an id, base64): where it switches
  // often between lower case, upper case and digits it is random, and BPE cuts it small
  let runStart = -1;
  let switches = 0;
  let upper = false;
  let lower = false;
  // the tokens of the kinds a run adds to, when it began
  let words0 = 0;
  let digits0 = 0;
  let punct0 = 0;
  for (let i = 0; i <= text.length; i++) {
    // past the end: a space, which ends the last run
    const c = i < text.length ? text.charCodeAt(i) : 32;
    const cls =
      c < 128
        ? ASCII_CLASS[c]!
        : c < 0x530
          ? c === 0xd7 || c === 0xf7
            ? PUNCT
            : LATIN
          : c < 0x2000
            ? OTHER
            : WIDE;
    if (cls <= UPPER || cls === DIGIT || c === 43 || c === 47 || c === 61) {
      if (runStart < 0) {
        runStart = i;
        switches = 0;
        upper = false;
        lower = false;
        words0 = k[ASCII_WORDS]!;
        foreign0 = foreign;
        romance0 = romance;
        wordsAt0 = words;
        digits0 = k[DIGITS]!;
        punct0 = k[PUNCTUATION]!;
      } else if (cls !== prev && !(cls === LOWER && prev === UPPER)) switches++;
      if (cls === UPPER) upper = true;
      else if (cls === LOWER) lower = true;
    } else if (runStart >= 0) {
      const length = i - runStart;
      if (length >= RANDOM_RUN && switches * 4 >= length) {
        // close the run's word or number, and move what it counted to the random kind
        if (word !== 0) {
          k[wordKind]! += Math.ceil(word / 12);
          foreign += Math.ceil((word + ascii * (foreignUnits - 2)) / 12);
          romance += Math.max(1, Math.ceil((word + ascii * (romanceUnits - 2) - romanceFree) / 12));
          word = 0;
          ascii = 0;
          wordKind = ASCII_WORDS;
        }
        if (digits !== 0) {
          k[DIGITS]! += Math.ceil(digits / 3);
          digits = 0;
        }
        const counted = k[ASCII_WORDS]! - words0 + k[DIGITS]! - digits0 + k[PUNCTUATION]! - punct0;
        k[ASCII_WORDS] = words0;
        foreign = foreign0;
        romance = romance0;
        words = wordsAt0;
        k[DIGITS] = digits0;
        k[PUNCTUATION] = punct0;
        // o200k cuts base64 every ~1.45 characters, hex every ~1.75 (cl100k: 1.37, 1.75)
        const rate = upper && lower ? (cl100k ? 0.75 : 0.7) : 0.58;
        k[RANDOM]! += Math.max(counted, length * rate);
      }
      runStart = -1;
    }
    if (i === text.length) break;
    if (cls <= OTHER) {
      if (digits !== 0) {
        k[DIGITS]! += Math.ceil(digits / 3);
        digits = 0;
      }
      // camelCase splits into words
      if (cls === UPPER && prev === LOWER) {
        k[wordKind]! += Math.ceil(word / 12);
        foreign += Math.ceil((word + ascii * (foreignUnits - 2)) / 12);
        romance += Math.max(1, Math.ceil((word + ascii * (romanceUnits - 2) - romanceFree) / 12));
        word = 0;
        ascii = 0;
        wordKind = ASCII_WORDS;
      }
      if (cls <= UPPER) {
        word += 2;
        if (ascii++ === 0) letters = c & 31;
        else if (ascii < 6) letters = letters * 32 + (c & 31);
      } else if (cls === LATIN) {
        word += c >= 0x370 && c < 0x400 ? greekUnits : latinUnits;
        if (wordKind === ASCII_WORDS) wordKind = LATIN_WORDS;
      } else if (c >= 0x1e00 && c < 0x1f00) {
        // Latin Extended Additional (Vietnamese)
        word += otherUnits;
        if (wordKind === ASCII_WORDS) wordKind = LATIN_WORDS;
      } else {
        word +=
          (c >= 0xe00 && c < 0x1100) || (c >= 0x1780 && c < 0x1800)
            ? thaiUnits
            : c >= 0x900 && c < 0xe00
              ? indicUnits
              : otherUnits;
        wordKind = OTHER_WORDS;
      }
      prev = cls;
      continue;
    }
    if (word !== 0) {
      k[wordKind]! += Math.ceil(word / 12);
      foreign += Math.ceil((word + ascii * (foreignUnits - 2)) / 12);
      romance += Math.max(1, Math.ceil((word + ascii * (romanceUnits - 2) - romanceFree) / 12));
      if (wordKind !== OTHER_WORDS) words++;
      if (wordKind === ASCII_WORDS) {
        if (ascii < 6 && STOP_WORDS[letters % STOP_SLOTS] === letters) {
          if (STOP_LANGUAGE[letters % STOP_SLOTS] === ENGLISH) english++;
          else romanceWords++;
        }
      }
      word = 0;
      ascii = 0;
      wordKind = ASCII_WORDS;
    }
    if (cls === DIGIT) {
      // a number after a space: the space is a token of its own
      if (digits === 0 && prev === SPACE) k[PUNCTUATION]! += 1;
      digits++;
    } else {
      if (digits !== 0) {
        k[DIGITS]! += Math.ceil(digits / 3);
        digits = 0;
      }
      if (cls === SPACE) {
        // a space joins the next word; only runs of spaces cost
        if (prev === SPACE) k[PUNCTUATION]! += 0.5;
      } else if (cls === NEWLINE) {
        k[PUNCTUATION]! += 0.5;
      } else if (cls === PUNCT) {
        // punctuation runs merge ('":"', '});')
        k[PUNCTUATION]! += prev === PUNCT ? 0.5 : 1;
      } else if (c >= 0xd800 && c <= 0xdbff) {
        // astral plane (emoji): a surrogate pair, usually 1–3 tokens
        k[ASTRAL]! += astralTokens;
        i++;
      } else if (c >= 0x2e80 && (c < 0xd800 || c >= 0xf900)) {
        k[WIDE_CHARS]! += cjkTokens;
      } else {
        k[WIDE_CHARS]! += 1;
      }
    }
    prev = cls;
  }
  if (word !== 0) {
    k[wordKind]! += Math.ceil(word / 12);
    foreign += Math.ceil((word + ascii * (foreignUnits - 2)) / 12);
    romance += Math.max(1, Math.ceil((word + ascii * (romanceUnits - 2) - romanceFree) / 12));
  }
  if (digits !== 0) k[DIGITS]! += Math.ceil(digits / 3);
  // prose whose words are not English (few of them are common English ones): its words, ASCII or
  // not, cost what other Latin-script languages do, and are of the Latin kind. Code and JSON (a
  // punctuation token for every few words) keep the English rate: their names are English words
  if (english * ENGLISH_SHARE < words && k[PUNCTUATION]! * 3 < words) {
    k[ASCII_WORDS] = 0;
    k[LATIN_WORDS] = romanceWords * ENGLISH_SHARE < words ? foreign : romance;
  }
  let total = 0;
  for (let j = 0; j < TEXT_KINDS; j++) total += k[j]!;
  return total;
}

// kinds of text (TEXT_KINDS)
const ASCII_WORDS = 0;
const LATIN_WORDS = 1;
const OTHER_WORDS = 2;
const WIDE_CHARS = 3;
const ASTRAL = 4;
const DIGITS = 5;
const PUNCTUATION = 6;
const RANDOM = 7;
/** the last count's tokens by kind */
const KINDS = new Float64Array(TEXT_KINDS);
/** the fewest slots (a prime) that hold each of STOP_WORDS in a slot of its own */
const STOP_SLOTS = 617;
/** the shortest run of letters and digits taken for random (base64, hex) */
const RANDOM_RUN = 16;

/**
 * common words of English, and of French, Spanish, Italian, Portuguese, that are not words of other
 * Latin-script languages, each as its letters' low 5 bits (a, A = 1), in a table of STOP_SLOTS slots
 * by that number's remainder; STOP_LANGUAGE holds the language of each
 */
const STOP_WORDS = new Int32Array(STOP_SLOTS).fill(-1);
const STOP_LANGUAGE = new Uint8Array(STOP_SLOTS);
const ENGLISH = 1;
const ROMANCE = 2;
for (const [language, words] of [
  [
    ENGLISH,
    "the and of it that for with this but you my are have not be they at from by or which would been were has had their his its we our your will can all there what when",
  ],
  [
    ROMANCE,
    "la le el que les des du une los las del por con et est il che per una sur pour dans al lo pas qui como para mais sont",
  ],
] as const) {
  for (const w of words.split(" ")) {
    let n = 0;
    for (let i = 0; i < w.length; i++) n = n * 32 + (w.charCodeAt(i) & 31);
    STOP_WORDS[n % STOP_SLOTS] = n;
    STOP_LANGUAGE[n % STOP_SLOTS] = language;
  }
}
/** a text is English when at least 1 in ENGLISH_SHARE of its ASCII words is in STOP_WORDS */
const ENGLISH_SHARE = 8;

// classes of characters
const LOWER = 0;
const UPPER = 1;
const LATIN = 2;
const OTHER = 3;
const DIGIT = 4;
const SPACE = 5;
const NEWLINE = 6;
const PUNCT = 7;
const WIDE = 8;

const ASCII_CLASS = (() => {
  const table = new Uint8Array(128).fill(PUNCT);
  for (let c = 97; c <= 122; c++) table[c] = LOWER;
  for (let c = 65; c <= 90; c++) table[c] = UPPER;
  for (let c = 48; c <= 57; c++) table[c] = DIGIT;
  table[32] = SPACE;
  table[9] = NEWLINE;
  table[10] = NEWLINE;
  table[13] = NEWLINE;
  return table;
})();
