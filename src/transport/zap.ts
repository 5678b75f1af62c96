/**
 * ZeroMQ authentication (ZAP, RFC 27) for the job secret. Every bound zmpi socket is a PLAIN server
 * in the "zmpi" domain; libzmq asks this handler once per connection, at the handshake, so a
 * stranger is refused before any of its bytes reach the job and data messages pay nothing.
 *
 * PLAIN sends the secret in clear on the wire: it keeps other users' and other jobs' processes
 * out, not an eavesdropper on the cluster network. CURVE would, at about 10x the cost per byte
 * (see ../shared/anchors/node-probe/README.md); choose it when that threat matters.
 */
import { timingSafeEqual } from "node:crypto";
import { Router } from "zeromq";
import { isTransient } from "./zmq-inbox.js";

/** ZAP domain zmpi's server sockets announce. */
export const ZAP_DOMAIN = "zmpi";
/** PLAIN user name clients present; the password is the job secret. */
export const ZAP_USER = "zmpi";

const ZAP_ENDPOINT = "inproc://zeromq.zap.01";

function sameSecret(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The per-process ZAP handler. One per process: libzmq looks it up by a fixed inproc address. */
export class ZapHandler {
  private readonly socket = new Router({ linger: 0 });
  private readonly secret: Buffer;
  private running = true;
  /** Connections refused for a wrong or missing secret or mechanism. */
  refused = 0;
  /** Connections accepted. */
  accepted = 0;

  private constructor(secret: string) {
    this.secret = Buffer.from(secret, "utf8");
  }

  /** Binds the handler and starts answering. */
  static async start(secret: string): Promise<ZapHandler> {
    const zap = new ZapHandler(secret);
    await zap.socket.bind(ZAP_ENDPOINT);
    void zap.loop();
    return zap;
  }

  private async loop(): Promise<void> {
    while (this.running) {
      let frames: Buffer[];
      try {
        frames = await this.socket.receive();
      } catch (e) {
        if (this.running && isTransient(e)) continue;
        return; // closed
      }
      // [routing id, empty, version, request id, domain, address, identity, mechanism, ...credentials]
      const [rid, empty, version, requestId, domain, , , mechanism, user, pass] = frames;
      if (!rid || !empty || !version || !requestId) continue;
      const ok =
        domain?.toString() === ZAP_DOMAIN &&
        mechanism?.toString() === "PLAIN" &&
        user?.toString() === ZAP_USER &&
        pass !== undefined &&
        sameSecret(pass, this.secret);
      if (ok) this.accepted++;
      else this.refused++;
      const reply = [rid, empty, version, requestId, ok ? "200" : "400", ok ? "OK" : "wrong job secret", ok ? ZAP_USER : "", ""];
      try {
        await this.socket.send(reply);
      } catch {
        return;
      }
    }
  }

  /** Stops answering and closes the socket. */
  close(): void {
    this.running = false;
    this.socket.close();
  }
}
