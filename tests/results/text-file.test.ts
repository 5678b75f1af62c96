// The two-file scheme behind CSV and JSONL tables, driven directly: any sequence of flushes, some
// of them failing half-way, publishes exactly the bytes of the flushes that succeeded, the file a
// reader opened is never written to by the next flush, and the checksum matches.
import { createHash } from "node:crypto";
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, rmSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { TextTableFile } from "../../src/results/text-file.js";
import { tempDir } from "./helpers.js";

const bytes = (s: string) => Buffer.from(s, "utf8");

describe("TextTableFile", () => {
  it("publishes exactly the flushes that succeeded, whatever fails in between (property)", () => {
    const flush = fc.record({ writes: fc.array(fc.string({ maxLength: 300 }), { maxLength: 4 }), fails: fc.boolean() });
    fc.assert(
      fc.property(fc.array(flush, { minLength: 1, maxLength: 12 }), (flushes) => {
        const dir = tempDir("textfile");
        const path = join(dir, "t.csv");
        const f = new TextTableFile(path);
        let want = "";
        for (const { writes, fails } of flushes) {
          f.begin();
          for (const w of writes) f.write(bytes(w));
          const staged = f.stage();
          if (fails) {
            f.abort(); // what rank 0 does when a write, the manifest or the rename failed
          } else {
            expect(f.publish()).toBeUndefined();
            want += writes.join("");
            expect(staged.bytes).toBe(Buffer.byteLength(want));
            expect(staged.sha256).toBe(createHash("sha256").update(want).digest("hex"));
          }
          if (existsSync(path)) expect(readFileSync(path, "utf8")).toBe(want);
        }
        f.close();
        expect(readdirSync(dir)).toEqual(existsSync(path) ? ["t.csv"] : []);
        rmSync(dir, { recursive: true });
      }),
      { numRuns: 60 },
    );
  });

  it("a reader's open file is not written by the next flush, and a failed flush leaves the published file as it was", () => {
    const dir = tempDir("textfile-reader");
    const path = join(dir, "t.jsonl");
    const f = new TextTableFile(path);
    const publish = (s: string) => {
      f.begin();
      f.write(bytes(s));
      f.stage();
      f.publish();
    };
    publish("a\n");
    publish("b\n");
    const reader = openSync(path, "r"); // sees version 2
    publish("c\n");
    const buf = Buffer.alloc(64);
    expect(buf.subarray(0, readSync(reader, buf, 0, 64, 0)).toString()).toBe("a\nb\n");
    closeSync(reader);
    f.begin();
    f.write(bytes("torn line without its end"));
    f.abort();
    expect(readFileSync(path, "utf8")).toBe("a\nb\nc\n");
    publish("d\n");
    expect(readFileSync(path, "utf8")).toBe("a\nb\nc\nd\n");
    f.close();
    rmSync(dir, { recursive: true });
  });
});
