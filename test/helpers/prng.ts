/**
 * prng.ts is the seeded pseudo-random generator of Sluice's property tests and benchmark
 * fixtures. Runs are reproducible: the same seed yields the same sequence on every machine.
 */

/** SEED is the default seed of property tests; change it locally to explore other cases. */
export const SEED = 1;

/**
 * mulberry32 returns a generator of uniform doubles in [0, 1) driven by a 32-bit state. Small
 * and fast, with a full 2^32 period: good enough for test data, not for anything secret.
 */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let z = Math.imul(state ^ (state >>> 15), state | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return ((z ^ (z >>> 14)) >>> 0) / 4294967296;
  };
}

/** Rng wraps mulberry32 with the helpers tests need (ints, choices, strings, bits). */
export class Rng {
  /** next returns a uniform double in [0, 1). */
  readonly next: () => number;

  constructor(seed: number = SEED) {
    this.next = mulberry32(seed);
  }

  /** int returns a uniform integer in [min, max] (both inclusive; |max - min| < 2^32). */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** uint32 returns a uniform unsigned 32-bit integer. */
  uint32(): number {
    return Math.floor(this.next() * 4294967296) >>> 0;
  }

  /** chance returns true with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** pick returns a uniformly chosen element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }

  /**
   * codePoint returns a random Unicode scalar value (never a surrogate): mostly printable ASCII,
   * else Latin-1, other BMP characters or astral ones (emoji and beyond).
   */
  codePoint(): number {
    const r = this.next();
    if (r < 0.6) return this.int(0x20, 0x7e);
    if (r < 0.75) return this.int(0xa0, 0xff);
    if (r < 0.9) {
      const cp = this.int(0x100, 0xfffd);
      return cp >= 0xd800 && cp <= 0xdfff ? cp - 0x800 : cp;
    }
    return this.int(0x10000, 0x10ffff);
  }

  /** string returns a string of 0..maxLen code points (empty with probability 1/(maxLen+1)). */
  string(maxLen: number): string {
    const n = this.int(0, maxLen);
    let s = '';
    for (let i = 0; i < n; i++) s += String.fromCodePoint(this.codePoint());
    return s;
  }

  /** asciiString returns a string of 1..maxLen characters from [a-z0-9_]. */
  asciiString(maxLen: number): string {
    const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789_';
    const n = this.int(1, maxLen);
    let s = '';
    for (let i = 0; i < n; i++) s += alphabet[this.int(0, alphabet.length - 1)];
    return s;
  }
}
