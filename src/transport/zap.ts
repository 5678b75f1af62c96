/**
 * ZeroMQ authentication (ZAP, RFC 27). Every bound zmpi socket is a CURVE server in a zmpi domain
 * (zmq-security.ts); libzmq asks this handler once per connection, during the handshake, whether
 * the client's public key is admitted, so a stranger is refused before any of its bytes reach the
 * job and data messages pay nothing. The CURVE handshake itself has already proved that the client
 * holds the secret half of the key it presents and that it knew the server's public key.
 *
 * Each domain has a policy: admit, refuse, or wait. A rank's inbox waits on a key it does not know
 * yet while its endpoint table has not arrived (a faster peer may connect first), and decides when
 * {@link ZapHandler.recheck} is called; a request that waits too long is refused. Refusals go to
 * the domain's {@link Refusals}, with the client's address.
 */
import { Router } from "zeromq";
import type { Refusals } from "./refusals.js";
import { isTransient } from "./zmq-inbox.js";

const ZAP_ENDPOINT = "inproc://zeromq.zap.01";
/** Requests held for a table that has not come yet, at most. */
const MAX_WAITING = 4096;

/** What a domain says about a client key. */
type Admission = "admit" | "refuse" | "wait";

/** A domain's rule and where its refusals are counted. */
interface ZapPolicy {
  decide(clientKey: Buffer): Admission;
  refusals: Refusals;
}

interface Waiting {
  reply: Buffer[];
  domain: string;
  address: string;
  key: Buffer;
  since: number;
}

let current: ZapHandler | null = null;

/** The per-process ZAP handler. One per process: libzmq looks it up by a fixed inproc address. */
export class ZapHandler {
  private readonly socket = new Router({ linger: 0 });
  private readonly policies = new Map<string, ZapPolicy>();
  private readonly waiting: Waiting[] = [];
  private running = true;
  private users = 0;
  /** Connections admitted. */
  admitted = 0;

  private constructor(private readonly waitMs: number) {}

  /**
   * The process's handler, started on first use. Each caller that gets it must call
   * {@link release} once; the last release closes it.
   */
  static async acquire(waitMs = 20_000): Promise<ZapHandler> {
    if (!current) {
      const zap = new ZapHandler(waitMs);
      await zap.socket.bind(ZAP_ENDPOINT);
      void zap.loop();
      current = zap;
    }
    current.users++;
    return current;
  }

  /** Installs (or replaces) the policy of `domain`. */
  setPolicy(domain: string, policy: ZapPolicy): void {
    this.policies.set(domain, policy);
  }

  /** Removes the policy of `domain`: its requests are refused from now on. */
  dropPolicy(domain: string): void {
    this.policies.delete(domain);
  }

  /** Decides the requests that were waiting (call it when a policy learns new keys). */
  recheck(): void {
    const now = Date.now();
    for (const w of this.waiting.splice(0)) {
      const policy = this.policies.get(w.domain);
      const verdict = policy ? policy.decide(w.key) : "refuse";
      if (verdict === "wait" && now - w.since < this.waitMs) this.waiting.push(w);
      else this.answer(w, verdict === "admit", verdict === "wait" ? "key still unknown when the wait ran out" : "key not in the job");
    }
  }

  private answer(w: Waiting, ok: boolean, why: string): void {
    if (ok) this.admitted++;
    else (this.policies.get(w.domain)?.refusals ?? null)?.refuse(w.address, why);
    const [rid, empty, version, requestId] = w.reply;
    this.socket.send([rid!, empty!, version!, requestId!, ok ? "200" : "400", ok ? "OK" : why, "", ""]).catch(() => {});
  }

  private async loop(): Promise<void> {
    const sweep = setInterval(() => this.recheck(), 1000);
    sweep.unref();
    try {
      while (this.running) {
        let frames: Buffer[];
        try {
          frames = await this.socket.receive();
        } catch (e) {
          if (this.running && isTransient(e)) continue;
          return; // closed
        }
        // [routing id, empty, version, request id, domain, address, identity, mechanism, ...credentials]
        const [rid, empty, version, requestId, domain, address, , mechanism, key] = frames;
        if (!rid || !empty || !version || !requestId) continue;
        const w: Waiting = {
          reply: [rid, empty, version, requestId],
          domain: domain?.toString() ?? "",
          address: address?.length ? address.toString() : "a local (ipc) peer",
          key: key ?? Buffer.alloc(0),
          since: Date.now(),
        };
        const policy = this.policies.get(w.domain);
        if (!policy) {
          this.answer(w, false, "not a zmpi socket");
          continue;
        }
        if (mechanism?.toString() !== "CURVE" || w.key.length !== 32) {
          this.answer(w, false, `mechanism ${mechanism?.toString() ?? "none"}, not CURVE`);
          continue;
        }
        const verdict = policy.decide(w.key);
        if (verdict !== "wait") this.answer(w, verdict === "admit", "key not in the job");
        else if (this.waiting.length >= MAX_WAITING) this.answer(w, false, "too many connections waiting");
        else this.waiting.push(w);
      }
    } finally {
      clearInterval(sweep);
    }
  }

  /** Gives the handler back; the last user closes it. */
  release(): void {
    if (--this.users > 0) return;
    this.running = false;
    for (const w of this.waiting.splice(0)) this.answer(w, false, "shutting down");
    this.socket.close();
    if (current === this) current = null;
  }
}
