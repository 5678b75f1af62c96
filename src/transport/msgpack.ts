/**
 * msgpackr without its native string extractor at start-up. `import "msgpackr"` also loads
 * msgpackr-extract (a native addon found through node-gyp-build-optional-packages and detect-libc,
 * which reads the C library's files and loads child_process): ~38 ms of CPU per process against
 * ~12 ms for msgpackr's plain JavaScript ("msgpackr/pack"), measured on this 2-core VM, Node 20 —
 * paid by every rank of every job, most of which never decode a large string-heavy value, the one
 * case the extractor speeds up. So ranks load the JavaScript only, and the first value of at least
 * {@link NATIVE_STRINGS_MIN_BYTES} a program receives (comm/values.ts) loads the extractor in the background: msgpackr's full
 * entry installs it into the same decoder module, and later decodes use it. Results are identical
 * either way; only speed differs.
 */
import { addExtension, Packr } from "msgpackr/pack";

export { addExtension, Packr };

/**
 * A received value this large (bytes) or larger brings in the native string extractor: well above
 * the small objects most programs exchange (a 100-row table of results is ~6 KiB), where the
 * extractor's gain would not repay its load.
 */
export const NATIVE_STRINGS_MIN_BYTES = 64 * 1024;

let requested = false;

/** Call before decoding `bytes`: a large value starts loading the native extractor, once. */
export function noteDecode(bytes: Uint8Array): void {
  if (requested || bytes.length < NATIVE_STRINGS_MIN_BYTES) return;
  requested = true;
  // The extractor is optional in msgpackr itself (it catches a failed load); so here.
  import("msgpackr").catch(() => {});
}
