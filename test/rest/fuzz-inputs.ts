/** Seeded random and mutated query strings, shared by the parser and planner fuzz tests. */

/** mulberry32: small, fast, and the same sequence everywhere. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABET = '(),.:!"\\*->{}[] ' + 'abcdeinorstqluyz0123456789_$' + "=&%;'\t\0é名";

export function pick<T>(random: () => number, items: readonly T[] | string): T {
  return items[Math.floor(random() * items.length)] as T;
}

export function mutate(random: () => number, text: string, pieces: readonly string[]): string {
  let out = text;
  const edits = 1 + Math.floor(random() * 4);
  for (let i = 0; i < edits; i++) {
    const at = Math.floor(random() * (out.length + 1));
    switch (Math.floor(random() * 5)) {
      case 0: // insert
        out = out.slice(0, at) + pick<string>(random, ALPHABET) + out.slice(at);
        break;
      case 1: // delete
        out = out.slice(0, at) + out.slice(at + 1 + Math.floor(random() * 3));
        break;
      case 2: // duplicate a run
        out = out.slice(0, at) + out.slice(at, at + 1 + Math.floor(random() * 6)) + out.slice(at);
        break;
      case 3: // replace
        out = out.slice(0, at) + pick<string>(random, ALPHABET) + out.slice(at + 1);
        break;
      default: // splice in a piece of another example
        out =
          out.slice(0, at) +
          pick<string>(random, pieces).slice(Math.floor(random() * 20), 20 + Math.floor(random() * 40)) +
          out.slice(at);
    }
  }
  return out;
}

export function randomQuery(random: () => number): string {
  const keys = [
    'select',
    'order',
    'limit',
    'offset',
    'or',
    'and',
    'not.or',
    'id',
    'a.b',
    'data->>x',
    'm.order',
    'm.limit',
    'm.or',
  ];
  const params: string[] = [];
  const count = 1 + Math.floor(random() * 3);
  for (let i = 0; i < count; i++) {
    let value = '';
    const length = Math.floor(random() * 30);
    for (let j = 0; j < length; j++) value += pick<string>(random, ALPHABET);
    params.push(`${pick<string>(random, keys)}=${value}`);
  }
  return params.join('&');
}
