// Start-up cost of choosing whom a rank lets read its memory (src/transport/ptrace-scope.ts): the
// choice reads /proc for every peer on the machine, and the shared-memory rings and single copy
// both ask for it right after rendezvous, so the second ask must not read /proc again.
import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { chooseReader, parentOf } from "../../src/transport/ptrace-scope.js";

describe("choosing a rank's reader at start-up", () => {
  it("reads each peer's parent once for the rings and single copy asking about the same peers", () => {
    const asked: number[] = [];
    const parent = (pid: number) => {
      asked.push(pid);
      return pid === process.pid ? 10 : 10;
    };
    const peers = [101, 102, 103];
    expect(chooseReader(peers, parent)).toEqual({ pid: 10, why: "parent" });
    const first = asked.length;
    expect(first).toBe(peers.length + 1);
    expect(chooseReader(peers, parent)).toEqual({ pid: 10, why: "parent" });
    expect(asked.length).toBe(first);
    // Other peers: asked again.
    expect(chooseReader([101, 104], parent)).toEqual({ pid: 10, why: "parent" });
    expect(asked.length).toBe(first + 3);
  });

  it("reads a process's parent from /proc (and null for no such process)", async () => {
    if (process.platform !== "linux") return;
    const child = spawn(process.execPath, ["-e", "setTimeout(() => {}, 10000)"], { stdio: "ignore" });
    try {
      await new Promise((r) => child.once("spawn", r));
      expect(parentOf(child.pid!)).toBe(process.pid);
      expect(parentOf(process.pid)).toBe(process.ppid);
      expect(parentOf(2 ** 22 + 12345)).toBeNull();
    } finally {
      child.kill("SIGKILL");
    }
  });
});
