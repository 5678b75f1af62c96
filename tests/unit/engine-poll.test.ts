// When a blocking receive polls the transport (the shared-memory rings, shm-channel.ts): after
// the caller's synchronous code has run — so `Promise.all([recv(peer), send(peer)])` has sent
// before it polls — once per turn for all receives posted in it, for the world ranks they wait
// on, and never for `irecv` or a receive that matched at once.
import { describe, expect, it } from "vitest";
import { memoryWorld } from "../../src/groups/memory-world.js";
import { ANY_SOURCE, type World } from "../../src/index.js";
import { DType } from "../../src/transport/dtype.js";
import { type Envelope, Kind } from "../../src/transport/frame.js";

type Spin = (sources: readonly number[], done: (i: number) => boolean) => void;

/** Records the transport's sends and polls, in order, on `world`. */
function watch(world: World): string[] {
  const log: string[] = [];
  const t = (world as unknown as { engine: { transport: { send: (...a: unknown[]) => Promise<void>; spin?: Spin } } }).engine.transport;
  const send = t.send.bind(t);
  t.send = (dest: unknown, ...rest: unknown[]) => {
    log.push(`send ${String(dest)}`);
    return send(dest, ...rest);
  };
  t.spin = (sources, done) => log.push(`poll [${sources.join(",")}] done=${sources.map((_, i) => done(i)).join(",")}`);
  return log;
}

describe("polling receives", () => {
  it("poll after the turn's sends, once for every receive posted in it", async () => {
    const [a, b] = memoryWorld(2) as [World, World];
    const log = watch(a);
    const done = Promise.all([a.recv({ source: 1, tag: 1 }), a.recv({ source: ANY_SOURCE, tag: 2 }), a.send(1, 1, { tag: 3 })]);
    expect(log).toEqual(["send 1"]);
    await Promise.resolve();
    expect(log).toEqual(["send 1", "poll [1,-1] done=false,false"]);
    await b.recv({ source: 0, tag: 3 });
    await b.send("x", 0, { tag: 1 });
    await b.send("y", 0, { tag: 2 });
    await done;
  });

  it("poll for the receives of each turn, turn after turn, one or several, and see each done once its message came", async () => {
    const a = (memoryWorld(3) as World[])[0]!;
    const t = (a as unknown as { engine: { transport: { spin?: Spin; deliver(env: Envelope, payload: Buffer): void } } }).engine.transport;
    const polls: string[] = [];
    // A message found while polling is delivered then and there, as a ring's would be.
    t.spin = (sources, done) => {
      const before = sources.map((_, i) => done(i));
      for (const from of sources) {
        t.deliver({ comm: 0, src: from, tag: 4, seq: 0, kind: Kind.P2P, dtype: DType.F64, count: 1 }, Buffer.from(new Float64Array([from]).buffer));
      }
      polls.push(`[${sources.join(",")}] ${before.join(",")} ${sources.map((_, i) => done(i)).join(",")}`);
    };
    const recv = (from: number) => a.recv<Float64Array>({ source: from, tag: 4 }).then((x) => x[0]);
    for (const from of [1, 2, 1]) expect(await recv(from)).toBe(from);
    expect(await Promise.all([recv(2), recv(1)])).toEqual([2, 1]);
    expect(await recv(2)).toBe(2);
    expect(polls).toEqual(["[1] false true", "[2] false true", "[1] false true", "[2,1] false,false true,true", "[2] false true"]);
  });

  it("do not poll for irecv, nor for a receive whose message is already there", async () => {
    const [a, b] = memoryWorld(2) as [World, World];
    const log = watch(a);
    const req = a.irecv({ source: 1, tag: 1 });
    await b.send("early", 0, { tag: 2 });
    await new Promise((r) => setTimeout(r, 5));
    expect(await a.recv({ source: 1, tag: 2 })).toBe("early");
    await b.send("x", 0, { tag: 1 });
    expect(await req.wait()).toBe("x");
    expect(log).toEqual([]);
  });

  it("poll with the world rank a sub-communicator's receive waits on", async () => {
    const world = memoryWorld(3) as World[];
    const logs = world.map(watch);
    const subs = await Promise.all(world.map((w) => w.split(w.rank === 1 ? 0 : 1, -w.rank)));
    // Ranks 0 and 2 in one communicator with reversed keys: its rank 0 is world rank 2.
    const [s0, s2] = [subs[0]!, subs[2]!];
    expect(s2.rank).toBe(0);
    logs[0]!.length = 0;
    const got = s0.recv({ source: 0 });
    await Promise.resolve();
    expect(logs[0]).toEqual(["poll [2] done=false"]);
    await s2.send("hi", 1);
    expect(await got).toBe("hi");
  });
});
