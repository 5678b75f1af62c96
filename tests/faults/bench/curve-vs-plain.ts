/**
 * What CURVE costs on the ZeroMQ data path, against the PLAIN it replaced: two processes, a PUSH to
 * PULL pair each way, 8-byte half round trip and one-way bandwidth, over tcp (the path between
 * nodes) and ipc, the two mechanisms interleaved round by round in one run so load from others
 * hits both alike. CURVE runs as zmpi runs it now (keys derived as in keys.ts, payloads cut into
 * 256 KiB frames, zmq-security.ts); PLAIN as zmpi ran it before (one frame per payload).
 *
 *   npx tsx tests/faults/bench/curve-vs-plain.ts [rounds]
 *
 * Prints medians and the CURVE/PLAIN ratio per size. On a shared machine read the ratios, not the
 * absolute numbers.
 */
import { fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Pull, Push, Router } from "zeromq";
import { derivedKeyPair } from "../../../src/transport/keys.js";
import { clientOptions, serverOptions, toFrames } from "../../../src/transport/zmq-security.js";

type Mech = "plain" | "curve";
// The same keys and secret in both processes: the parent hands its own to the child.
const seed = process.argv[2] === "echo" ? process.argv[3]! : randomBytes(24).toString("hex");
const key = Buffer.from(seed, "hex");
const server = derivedKeyPair(key, "server");
const client = derivedKeyPair(key, "client");
const SECRET = seed;
const dir = mkdtempSync(join(tmpdir(), "zmpi-curve-bench-"));

async function zapLoop(): Promise<void> {
  const zap = new Router({ linger: 0 });
  await zap.bind("inproc://zeromq.zap.01");
  for await (const f of zap) await zap.send([f[0]!, f[1]!, f[2]!, f[3]!, "200", "OK", "", ""]);
}

const serverOpts = (m: Mech) => (m === "curve" ? serverOptions(server, "bench") : { plainServer: true, zapDomain: "bench" });
const clientOpts = (m: Mech) => (m === "curve" ? clientOptions(client, server.publicZ85) : { plainUsername: "zmpi", plainPassword: SECRET });
const frames = (m: Mech, header: Buffer, payload: Buffer) => (m === "curve" ? toFrames([header, payload]) : [header, payload]);

async function pair(m: Mech, transport: string, tag: string): Promise<{ pull: Pull; endpoint: string }> {
  const pull = new Pull({ ...serverOpts(m), receiveHighWaterMark: 0, linger: 0 } as never);
  await pull.bind(transport === "tcp" ? "tcp://127.0.0.1:*" : `ipc://${join(dir, `${tag}-${m}-${process.pid}`)}`);
  return { pull, endpoint: pull.lastEndpoint! };
}

if (process.argv[2] === "echo") {
  // The other process: echoes latency pings, acknowledges the end of each bandwidth burst.
  void zapLoop();
  process.on("message", async (msg: { mech: Mech; transport: string; back: string }) => {
    const { pull, endpoint } = await pair(msg.mech, msg.transport, "echo");
    const push = new Push({ ...clientOpts(msg.mech), sendHighWaterMark: 0, linger: 0 } as never);
    push.connect(msg.back);
    process.send!({ endpoint });
    for await (const f of pull) {
      if (f[0]![0] === 1) await push.send([f[0]!, f[1]!]);
      else if (f[0]![0] === 2) await push.send([f[0]!]);
    }
  });
} else {
  void zapLoop();
  const child = fork(fileURLToPath(import.meta.url), ["echo", seed], { execArgv: process.execArgv });
  const links = new Map<string, { pull: Pull; push: Push }>();
  for (const transport of ["tcp", "ipc"]) {
    for (const m of ["plain", "curve"] as Mech[]) {
      const { pull, endpoint: back } = await pair(m, transport, "main");
      const endpoint = await new Promise<string>((resolve) => {
        child.once("message", (r: { endpoint: string }) => resolve(r.endpoint));
        child.send({ mech: m, transport, back });
      });
      const push = new Push({ ...clientOpts(m), sendHighWaterMark: 0, linger: 0 } as never);
      push.connect(endpoint);
      links.set(`${transport} ${m}`, { pull, push });
    }
  }
  const ping = Buffer.from([1]);
  const data = Buffer.from([0]);
  const done = Buffer.from([2]);
  async function latency(l: { pull: Pull; push: Push }, n: number): Promise<number> {
    const p = Buffer.alloc(8);
    const t = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      await l.push.send([ping, p]);
      await l.pull.receive();
    }
    return Number(process.hrtime.bigint() - t) / 1e3 / n / 2;
  }
  async function bandwidth(m: Mech, l: { pull: Pull; push: Push }, size: number): Promise<number> {
    const buf = Buffer.alloc(size, 7);
    const n = Math.max(4, Math.min(1000, Math.floor((128 << 20) / size)));
    const t = process.hrtime.bigint();
    for (let i = 0; i < n; i++) await l.push.send(frames(m, data, buf) as Buffer[]);
    await l.push.send([done]);
    await l.pull.receive();
    return (size * n) / (Number(process.hrtime.bigint() - t) / 1e9) / 1e6;
  }
  const rounds = Number(process.argv[2] ?? 5);
  const sizes = [64 * 1024, 1 << 20, 16 << 20];
  const res = new Map<string, number[]>();
  const put = (k: string, v: number) => res.set(k, [...(res.get(k) ?? []), v]);
  for (const [, l] of links) await latency(l, 100); // warm up, and every handshake done
  for (let r = 0; r < rounds; r++) {
    for (const transport of ["tcp", "ipc"]) {
      for (const m of (r % 2 ? ["curve", "plain"] : ["plain", "curve"]) as Mech[]) {
        const l = links.get(`${transport} ${m}`)!;
        put(`${transport} ${m} lat`, await latency(l, 500));
        for (const s of sizes) put(`${transport} ${m} ${s}`, await bandwidth(m, l, s));
      }
    }
  }
  const med = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1]!;
  const label = (s: number) => (s >= 1 << 20 ? `${s >> 20} MiB` : `${s >> 10} KiB`);
  console.log(`CURVE vs PLAIN, ${rounds} interleaved rounds, medians (the machine may be shared: read the ratios)`);
  for (const transport of ["tcp", "ipc"]) {
    const p = med(res.get(`${transport} plain lat`)!);
    const c = med(res.get(`${transport} curve lat`)!);
    console.log(`${transport} 8 B half round trip: PLAIN ${p.toFixed(0)} µs, CURVE ${c.toFixed(0)} µs, CURVE/PLAIN ${(c / p).toFixed(2)}`);
    for (const s of sizes) {
      const pb = med(res.get(`${transport} plain ${s}`)!);
      const cb = med(res.get(`${transport} curve ${s}`)!);
      console.log(`${transport} ${label(s)} bandwidth: PLAIN ${pb.toFixed(0)} MB/s, CURVE ${cb.toFixed(0)} MB/s, CURVE/PLAIN ${(cb / pb).toFixed(2)}`);
    }
  }
  child.kill();
  process.exit(0);
}
