// The cross-memory-attach seam: a peer is trusted only when its published token reads back.
import { describe, expect, it } from "vitest";
import { addressOf, canReadPeer, publishCmaToken, readRemote, singleCopySupport } from "../../src/transport/cma.js";

const linux = process.platform === "linux";

describe("cross-memory attach", () => {
  it.runIf(linux)("reads this process's own token back, and only the right one", () => {
    expect(singleCopySupport().available, singleCopySupport().reason).toBe(true);
    const tok = publishCmaToken()!;
    expect(tok.token).toMatch(/^[0-9a-f]{64}$/);
    expect(canReadPeer(process.pid, tok)).toBe(true);
    expect(canReadPeer(process.pid, { ...tok, token: tok.token.replace(/^./, (c) => (c === "0" ? "1" : "0")) })).toBe(false);
    expect(canReadPeer(process.pid, { ...tok, address: 8 })).toBe(false); // unmapped: EFAULT, not a crash
    expect(canReadPeer(2 ** 22 + 12345, tok)).toBe(false); // no such process
    expect(canReadPeer(process.pid, { address: tok.address, token: "zz" })).toBe(false);
  });

  it.runIf(linux)("copies an array out of a process at an offset, and throws a clear error on a bad address", () => {
    const src = new Float64Array(1 << 16).map((_, i) => i * 0.5);
    const dst = new Float64Array(100);
    readRemote(process.pid, addressOf(src) + 10 * 8, dst);
    expect(dst[0]).toBe(5);
    expect(dst[99]).toBe(54.5);
    expect(() => readRemote(process.pid, 16, dst)).toThrow(/process_vm_readv: Bad address/);
  });
});
