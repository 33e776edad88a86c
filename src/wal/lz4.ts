/**
 * lz4 block compression for WAL records, via the WebAssembly module of the `lz4-wasm` package.
 * Its format is an lz4 block preceded by the uncompressed length as a little-endian uint32.
 * The package's own entry imports the .wasm file as an ES module, which Node 20 cannot load
 * (ERR_UNKNOWN_FILE_EXTENSION), so we instantiate the module ourselves and call its exports.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { ErrorCode, SluiceError } from '../errors.js';

/** Lz4 compresses and decompresses size-prefixed lz4 blocks. */
export interface Lz4 {
  /** compress returns the compressed bytes, a view valid until the next call. */
  compress(src: Uint8Array): Uint8Array;
  /** decompress returns the original bytes, a view valid until the next call; throws on malformed input. */
  decompress(src: Uint8Array): Uint8Array;
}

/** Wasm is the part of the WebAssembly API we use (the project's type libraries lack it). */
interface Wasm {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}

interface Lz4Exports {
  memory: { buffer: ArrayBuffer };
  compress(ret: number, ptr: number, len: number): void;
  decompress(ret: number, ptr: number, len: number): void;
  __wbindgen_add_to_stack_pointer(delta: number): number;
  __wbindgen_malloc(len: number): number;
  __wbindgen_free(ptr: number, len: number): void;
}

let state: Lz4 | Error | undefined;

function load(): Lz4 {
  const wasm = (globalThis as unknown as { WebAssembly?: Wasm }).WebAssembly;
  if (wasm === undefined) throw new Error('WebAssembly is not available');
  const path = createRequire(import.meta.url).resolve('lz4-wasm/lz4_wasm_bg.wasm');
  let ex: Lz4Exports | undefined;
  let lastError = '';
  const imports = {
    './lz4_wasm_bg.js': {
      // The module builds its error messages through this import; we keep the last one.
      __wbindgen_string_new: (ptr: number, len: number): number => {
        lastError = Buffer.from(ex!.memory.buffer, ptr, len).toString('utf8');
        return 0;
      },
    },
  };
  ex = new wasm.Instance(new wasm.Module(readFileSync(path)), imports).exports as Lz4Exports;
  const w = ex;
  // Results are copied out of wasm memory into reused buffers: a WAL replay or checkpoint
  // decompresses ~100k series records, and an ArrayBuffer each was garbage for the collector.
  let scratch = Buffer.allocUnsafe(64 * 1024);
  // A Uint8Array, not a Buffer: a caller's slice() of the result must copy (Buffer's slice is a view).
  let plain = new Uint8Array(64 * 1024);
  const words = new Int32Array(4);
  // call copies `src` into wasm memory, runs `fn` and returns its four result words
  // [ptr, len, error object, error flag] (in one reused array). The callee owns and frees the input copy.
  const call = (fn: (r: number, p: number, l: number) => void, src: Uint8Array): Int32Array => {
    const ret = w.__wbindgen_add_to_stack_pointer(-16);
    try {
      const ptr = w.__wbindgen_malloc(src.length);
      new Uint8Array(w.memory.buffer, ptr, src.length).set(src);
      fn(ret, ptr, src.length);
      words.set(new Int32Array(w.memory.buffer, ret, 4));
      return words;
    } finally {
      w.__wbindgen_add_to_stack_pointer(16);
    }
  };
  return {
    compress(src: Uint8Array): Uint8Array {
      const r = call(w.compress, src);
      const len = r[1]!;
      if (scratch.length < len) scratch = Buffer.allocUnsafe(len * 2);
      scratch.set(new Uint8Array(w.memory.buffer, r[0]!, len));
      w.__wbindgen_free(r[0]!, len);
      return scratch.subarray(0, len);
    },
    decompress(src: Uint8Array): Uint8Array {
      const r = call(w.decompress, src);
      if (r[3] !== 0) throw new Error(`lz4: ${lastError}`);
      const len = r[1]!;
      if (plain.length < len) plain = new Uint8Array(len * 2);
      plain.set(new Uint8Array(w.memory.buffer, r[0]!, len));
      w.__wbindgen_free(r[0]!, len);
      return plain.subarray(0, len);
    },
  };
}

/** lz4 returns the lz4 codec, loading it on first use; throws a Config error if it cannot load. */
export function lz4(): Lz4 {
  if (state === undefined) {
    try {
      state = load();
    } catch (e) {
      state = e instanceof Error ? e : new Error(String(e));
    }
  }
  if (state instanceof Error) {
    throw new SluiceError(ErrorCode.Config, `lz4 compression is unavailable: ${state.message}`);
  }
  return state;
}

/** lz4Available tells whether the lz4 codec loads in this process. */
export function lz4Available(): boolean {
  try {
    lz4();
    return true;
  } catch {
    return false;
  }
}
