/**
 * `init()`: read the environment, bind, rendezvous, and hand back the world. A world of size 1
 * needs no sockets at all.
 */
import { writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_EAGER_LIMIT, Engine, type EngineConfig } from "../comm/engine.js";
import { checkDeadlineOption, checkEngineOptions } from "../comm/options.js";
import { RankFailedError, RendezvousError, type ZmpiError, CollectiveMismatchError, TimeoutError, UsageError } from "../errors.js";
import { detectEnvironment } from "../env/detect.js";
import { resolveHostAddress } from "../env/resolve.js";
import { deriveJobKey, resolveSecret } from "../env/secret.js";
import { readSettings, type Settings } from "../env/settings.js";
import type { RankEnvironment } from "../env/types.js";
import { joinJob, type ControlChannel } from "../rendezvous/client.js";
import { Coordinator } from "../rendezvous/coordinator.js";
import { controlFrames, type AbortMsg } from "../rendezvous/protocol.js";
import { lossReason, probePeer } from "../transport/liveness.js";
import { MemoryNetwork } from "../transport/memory-transport.js";
import { makeProcessDir, removeProcessDir } from "../transport/private-dir.js";
import { Refusals } from "../transport/refusals.js";
import { nativeSegments } from "../transport/shm-segment.js";
import { ZapHandler } from "../transport/zap.js";
import { HEARTBEAT_TIMEOUT_MS } from "../transport/zmq-link.js";
import { ZmqTransport } from "../transport/zmq-transport.js";
import { checkAlgorithmSettings } from "./algorithm-settings.js";
import { installUncaughtReporter, Logger } from "./logger.js";
import { World, type WorldResources } from "./world.js";
import { resolveSeed, type RngSeed } from "../rng/index.js";

/** Options of {@link init}. */
export interface InitOptions {
  /** Default deadline of every wait after rendezvous, ms. Default: `ZMPI_TIMEOUT` seconds, else 1800 s (torch.distributed's default). */
  timeoutMs?: number;
  /** Deadline for every rank to arrive at rendezvous, ms. Default: `ZMPI_TIMEOUT` seconds, else 120 s. */
  rendezvousTimeoutMs?: number;
  /** What a rank does when the job fails (a rank died, a mismatch): reject pending operations, then
   * exit with status 1 after `exitGraceMs` ("exit", default, like MPI_ERRORS_ARE_FATAL), or only reject ("throw"). */
  onFailure?: "exit" | "throw";
  /** Grace before the forced exit, ms (default 1000), so the error can be printed. */
  exitGraceMs?: number;
  /** Typed payloads above this many bytes are sent without a copy: their send resolves when the receiver has them. Default `ZMPI_EAGER_LIMIT`, else 16 KiB. */
  eagerLimit?: number;
  /** Environment to read instead of `process.env` (tests). */
  env?: Record<string, string | undefined>;
  /** Seed of `world.rng()`: an integer or a string, the same on every rank. Default `ZMPI_SEED`, else 0. */
  seed?: RngSeed;
}

const DEFAULT_OP_TIMEOUT_MS = 1800_000;
const DEFAULT_RENDEZVOUS_TIMEOUT_MS = 120_000;

function errorFromAbort(msg: AbortMsg): ZmpiError {
  const ctx = { ranks: msg.ranks ?? (msg.rank >= 0 ? [msg.rank] : []) };
  switch (msg.errorName) {
    case "CollectiveMismatchError":
      return new CollectiveMismatchError(msg.reason, ctx);
    case "RendezvousError":
      return new RendezvousError(msg.reason, ctx);
    case "TimeoutError":
      return new TimeoutError(msg.reason, ctx);
    default:
      return new RankFailedError(msg.reason, ctx);
  }
}

/**
 * Starts this rank: detects the launcher (Slurm, `zmpi launch`, torchrun, Open MPI, or none),
 * binds its sockets, meets the other ranks at the coordinator and returns the world communicator.
 */
export async function init(opts: InitOptions = {}): Promise<World> {
  checkEngineOptions("init", opts);
  checkDeadlineOption("init", "rendezvousTimeoutMs", opts.rendezvousTimeoutMs);
  if (opts.exitGraceMs !== undefined && !(typeof opts.exitGraceMs === "number" && opts.exitGraceMs >= 0 && Number.isFinite(opts.exitGraceMs)))
    throw new UsageError(`exitGraceMs ${String(opts.exitGraceMs)} is invalid: a finite number of milliseconds, 0 or more`, { op: "init" });
  const envVars = opts.env ?? process.env;
  // Every ZMPI_* setting read and checked once, here (env/settings.ts); a bad one throws before anything starts.
  const settings = readSettings(envVars);
  checkAlgorithmSettings(envVars);
  const env = detectEnvironment(envVars);
  const log = new Logger(env.rank, settings.log, !settings.prefixed);
  if (settings.logDir) log.toDir(settings.logDir);
  installUncaughtReporter(env.rank, log);
  for (const w of env.warnings) process.stderr.write(`${w}\n`);
  const envTimeout = settings.timeoutSec === undefined ? undefined : settings.timeoutSec * 1000;
  const seed = resolveSeed(opts.seed, envVars);
  const config: EngineConfig = {
    timeoutMs: opts.timeoutMs ?? envTimeout ?? DEFAULT_OP_TIMEOUT_MS,
    eagerLimit: opts.eagerLimit ?? settings.eagerLimit ?? DEFAULT_EAGER_LIMIT,
    algorithmEnv: envVars,
  };
  const rendezvousTimeoutMs = opts.rendezvousTimeoutMs ?? envTimeout ?? DEFAULT_RENDEZVOUS_TIMEOUT_MS;

  if (env.size === 1) {
    const transport = new MemoryNetwork(1).transports[0]!;
    const engine = new Engine(transport, config);
    engine.nodeName = env.nodeName;
    const ctx = engine.register(0, [0], "world");
    const resources: WorldResources = { goodbye: async () => {}, close: async () => {}, settings };
    return new World(engine, ctx, env, log, resources, seed);
  }
  return initDistributed(env, envVars, settings, config, rendezvousTimeoutMs, log, opts, seed);
}

async function initDistributed(
  env: RankEnvironment,
  envVars: Record<string, string | undefined>,
  settings: Settings,
  config: EngineConfig,
  rendezvousTimeoutMs: number,
  log: Logger,
  opts: InitOptions,
  seed: RngSeed,
): Promise<World> {
  const { secret } = await resolveSecret(envVars, env.method);
  const job = `${env.jobId}.${env.stepId}`;
  // The secret stays here: everything on the wire proves knowledge of keys derived from this.
  const jobKey = deriveJobKey(secret, job);
  const bindAddress = env.bindAddress ?? (await resolveHostAddress(env.nodeName));
  const coordAddress = await resolveHostAddress(env.coordinator.host);
  const launcher = launcherChannel(settings.launchFd);
  launcher.say(`rendezvous ${env.rank}`);
  const warn = (line: string) => process.stderr.write(`[zmpi rank ${env.rank}] ${line}\n`);
  const zap = await ZapHandler.acquire();
  const cleanups: Array<() => void | Promise<void>> = [() => zap.release()];
  const closeAll = async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  };
  try {
    const uid = typeof process.getuid === "function" ? process.getuid() : 0;
    const ipcDir = makeProcessDir(join(tmpdir(), `zmpi-${uid}`));
    cleanups.push(() => removeProcessDir(ipcDir));
    let engine: Engine | null = null;
    let exhausted = (reason: string) => engine?.fail(new RankFailedError(reason, { ranks: [env.rank] }));
    const transport = await ZmqTransport.open({
      rank: env.rank,
      size: env.size,
      bindAddress,
      ipcDir,
      jobKey,
      zap,
      refusals: new Refusals(`rank ${env.rank}`, warn),
      warn,
      stream: settings.stream,
      tcpLink: settings.tcpLink,
      cma: settings.cma,
      segments: settings.shm && settings.stream ? nativeSegments() : null,
      shmSpinUs: settings.shmSpinUs,
      tcpSpinUs: settings.tcpSpinUs,
      onExhausted: (why) => exhausted(`rank ${env.rank} ${why}`),
    });
    cleanups.push(() => transport.close());
    let coordinator: Coordinator | null = null;
    if (env.coordinator.runsHere) {
      coordinator = await Coordinator.start({
        bindAddress: coordAddress,
        hostLabel: env.coordinator.host,
        port: env.coordinator.port,
        size: env.size,
        jobId: job,
        jobKey,
        zap,
        log: (line) => process.stderr.write(`[zmpi coordinator] ${line}\n`),
        timeoutMs: rendezvousTimeoutMs,
        hostname: env.hostname,
        nodeName: env.nodeName,
      });
      cleanups.push(() => coordinator!.close());
      transport.coordinatorRefusals = coordinator.refusals;
    }
    // The engine exists before the table arrives: a faster peer may send to us right after it.
    engine = new Engine(transport, config);
    const eng = engine;
    // Installed first: an abort can arrive while this rank is still finishing init (a slow rank
    // under load), and the job must still go down on it.
    eng.onFailure((err) => {
      if ((opts.onFailure ?? "exit") !== "exit") return;
      process.stderr.write(`[zmpi rank ${env.rank}] job failed: ${err.message}\n`);
      process.exitCode = 1;
      setTimeout(() => process.exit(1), opts.exitGraceMs ?? 1000).unref();
    });
    let control: ControlChannel | null = null;
    // A loss seen here is told to the peers directly as well as to the coordinator: when the
    // coordinator's own rank is what was lost, nobody else would, and a peer that only saw this
    // rank exit next would blame it.
    const lostHere = (culprit: number, reason: string) => {
      if (control?.finalizing || eng.failed) return;
      eng.fail(new RankFailedError(reason, { ranks: [culprit] }));
      transport.notifyPeers(controlFrames(env.rank, { type: "fail", rank: culprit, reason, ranks: [culprit] }));
      control?.reportLoss(culprit, reason);
    };
    // Flooded past its descriptors: this rank is the one failing, and says so to everyone.
    exhausted = (reason) => lostHere(env.rank, reason);
    const coordinatorLost = () => {
      const c = control?.coordinatorRank ?? 0;
      const p = transport.peer(c);
      const where = `${env.coordinator.host}:${env.coordinator.port}`;
      if (!p) return lostHere(c, `the coordinator (rank ${c}'s process, ${where}) closed its connection: that rank exited or crashed`);
      const sameMachine = p.hostname === env.hostname && p.nodeName === env.nodeName;
      void probePeer(p, sameMachine).then((state) =>
        lostHere(c, `the coordinator at ${where}: ${lossReason(`rank ${c} (pid ${p.pid} on ${p.nodeName})`, state, HEARTBEAT_TIMEOUT_MS)}`),
      );
    };
    const joined = await joinJob(
      transport,
      {
        coordinatorEndpoint: `tcp://${coordAddress}:${env.coordinator.port}`,
        coordinatorLabel: env.coordinator.host,
        jobKey,
        timeoutMs: rendezvousTimeoutMs,
        hello: {
          rank: env.rank,
          size: env.size,
          job,
          nodeName: env.nodeName,
          hostname: env.hostname,
          nodeIndex: env.nodeIndex,
          localRank: env.localRank,
          pid: process.pid,
        },
      },
      coordinatorLost,
    );
    control = joined.control;
    cleanups.push(() => joined.control.close());
    transport.setPeers(joined.peers);
    launcher.say(`joined ${env.rank}`);
    // Peers that close after saying goodbye are not failures.
    transport.onFailure(lostHere);
    joined.control.onAbort((msg) => eng.fail(errorFromAbort(msg)));
    eng.spread = (err) => joined.control.reportFailure(err.message, err.name, err.ranks);
    eng.nodeName = env.nodeName;
    // Same host and node name = one machine (as the transport's same-machine test): node-aware collectives read it.
    eng.nodes = joined.peers.map((p) => `${p.hostname}\u0000${p.nodeName}`);
    const ctx = eng.register(
      0,
      Array.from({ length: env.size }, (_, r) => r),
      "world",
    );
    const resources: WorldResources = {
      goodbye: () => joined.control.bye(),
      close: closeAll,
      settings,
    };
    return new World(eng, ctx, env, log, resources, seed);
  } catch (e) {
    await closeAll();
    throw e;
  }
}

/**
 * The line `zmpi launch` gives each rank (fd `ZMPI_LAUNCH_FD`) to say how far it got: a rank that
 * exits before it has joined while another waits in rendezvous dooms the job, and the launcher
 * stops it at once instead of letting the others wait for the rendezvous deadline.
 */
function launcherChannel(fd: number | undefined): { say(line: string): void } {
  if (fd === undefined) return { say: () => {} };
  return {
    say(line: string) {
      try {
        writeSync(fd, `${line}\n`);
      } catch {
        // the launcher is gone or the descriptor is not its pipe: nothing to tell
      }
    },
  };
}
