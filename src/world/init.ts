/**
 * `init()`: read the environment, bind, rendezvous, and hand back the world. A world of size 1
 * needs no sockets at all.
 */
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Engine, type EngineConfig } from "../comm/engine.js";
import { RankFailedError, RendezvousError, UsageError, ZmpiError, CollectiveMismatchError, TimeoutError } from "../errors.js";
import { detectEnvironment } from "../env/detect.js";
import { resolveHostAddress } from "../env/resolve.js";
import { resolveSecret } from "../env/secret.js";
import type { RankEnvironment } from "../env/types.js";
import { joinJob, type ControlChannel } from "../rendezvous/client.js";
import { Coordinator } from "../rendezvous/coordinator.js";
import type { AbortMsg } from "../rendezvous/protocol.js";
import { MemoryNetwork } from "../transport/memory-transport.js";
import { ZapHandler } from "../transport/zap.js";
import { ZmqTransport } from "../transport/zmq-transport.js";
import { installUncaughtReporter, Logger, parseLogLevel } from "./logger.js";
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
  /** Typed payloads above this many bytes are sent without a copy (default 64 KiB). */
  eagerLimit?: number;
  /** Environment to read instead of `process.env` (tests). */
  env?: Record<string, string | undefined>;
  /** Seed of `world.rng()`: an integer or a string, the same on every rank. Default `ZMPI_SEED`, else 0. */
  seed?: RngSeed;
}

const DEFAULT_OP_TIMEOUT_MS = 1800_000;
const DEFAULT_RENDEZVOUS_TIMEOUT_MS = 120_000;
const DEFAULT_EAGER_LIMIT = 64 * 1024;

function timeoutFromEnv(env: Record<string, string | undefined>): number | undefined {
  const v = env.ZMPI_TIMEOUT;
  if (v === undefined || v === "") return undefined;
  const s = Number(v);
  if (!Number.isFinite(s) || s <= 0) throw new UsageError(`ZMPI_TIMEOUT="${v}" is not a positive number of seconds`);
  return s * 1000;
}

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
  const envVars = opts.env ?? process.env;
  const env = detectEnvironment(envVars);
  const log = new Logger(env.rank, parseLogLevel(envVars.ZMPI_LOG), envVars.ZMPI_PREFIXED !== "1");
  if (envVars.ZMPI_LOG_DIR) log.toDir(envVars.ZMPI_LOG_DIR);
  installUncaughtReporter(env.rank, log);
  for (const w of env.warnings) process.stderr.write(`${w}\n`);
  const envTimeout = timeoutFromEnv(envVars);
  const seed = resolveSeed(opts.seed, envVars);
  const config: EngineConfig = {
    timeoutMs: opts.timeoutMs ?? envTimeout ?? DEFAULT_OP_TIMEOUT_MS,
    eagerLimit: opts.eagerLimit ?? DEFAULT_EAGER_LIMIT,
  };
  const rendezvousTimeoutMs = opts.rendezvousTimeoutMs ?? envTimeout ?? DEFAULT_RENDEZVOUS_TIMEOUT_MS;

  if (env.size === 1) {
    const transport = new MemoryNetwork(1).transports[0]!;
    const engine = new Engine(transport, config);
    engine.nodeName = env.nodeName;
    const ctx = engine.register(0, [0], "world");
    const resources: WorldResources = { goodbye: async () => {}, close: async () => {} };
    return new World(engine, ctx, env, log, resources, seed);
  }
  return initDistributed(env, envVars, config, rendezvousTimeoutMs, log, opts, seed);
}

async function initDistributed(
  env: RankEnvironment,
  envVars: Record<string, string | undefined>,
  config: EngineConfig,
  rendezvousTimeoutMs: number,
  log: Logger,
  opts: InitOptions,
  seed: RngSeed,
): Promise<World> {
  const { secret } = await resolveSecret(envVars, env.method);
  const bindAddress = env.bindAddress ?? (await resolveHostAddress(env.nodeName));
  const coordAddress = await resolveHostAddress(env.coordinator.host);
  const zap = await ZapHandler.start(secret);
  const cleanups: Array<() => void | Promise<void>> = [() => zap.close()];
  const closeAll = async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  };
  try {
    const uid = typeof process.getuid === "function" ? process.getuid() : 0;
    const transport = await ZmqTransport.open({
      rank: env.rank,
      size: env.size,
      bindAddress,
      ipcDir: join(tmpdir(), `zmpi-${uid}`),
      jobTag: `${env.jobId}.${env.stepId}`.replace(/[^A-Za-z0-9._-]/g, "_"),
      secret,
    });
    cleanups.push(() => transport.close());
    let coordinator: Coordinator | null = null;
    if (env.coordinator.runsHere) {
      coordinator = await Coordinator.start({
        bindAddress: coordAddress,
        hostLabel: env.coordinator.host,
        port: env.coordinator.port,
        size: env.size,
        jobId: `${env.jobId}.${env.stepId}`,
        secret,
        timeoutMs: rendezvousTimeoutMs,
        hostname: env.hostname,
        nodeName: env.nodeName,
      });
      cleanups.push(() => coordinator!.close());
    }
    // The engine exists before the table arrives: a faster peer may send to us right after it.
    const engine = new Engine(transport, config);
    // Installed first: an abort can arrive while this rank is still finishing init (a slow rank
    // under load), and the job must still go down on it.
    engine.onFailure((err) => {
      if ((opts.onFailure ?? "exit") !== "exit") return;
      process.stderr.write(`[zmpi rank ${env.rank}] job failed: ${err.message}\n`);
      process.exitCode = 1;
      setTimeout(() => process.exit(1), opts.exitGraceMs ?? 1000).unref();
    });
    let control: ControlChannel | null = null;
    const coordinatorLost = () => {
      const err = new RankFailedError(
        `the coordinator (rank ${control?.coordinatorRank ?? 0}'s process, ${env.coordinator.host}:${env.coordinator.port}) closed its connection: that rank exited or crashed`,
        { ranks: [control?.coordinatorRank ?? 0] },
      );
      if (!control?.finalizing) engine.fail(err);
    };
    const joined = await joinJob(
      transport,
      {
        coordinatorEndpoint: `tcp://${coordAddress}:${env.coordinator.port}`,
        coordinatorLabel: env.coordinator.host,
        secret,
        timeoutMs: rendezvousTimeoutMs,
        hello: {
          rank: env.rank,
          size: env.size,
          job: `${env.jobId}.${env.stepId}`,
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
    const eng = engine;
    // Peers that close after saying goodbye are not failures.
    transport.onFailure((rank, reason) => {
      if (!joined.control.finalizing) eng.fail(new RankFailedError(reason, { ranks: [rank] }));
    });
    joined.control.onAbort((msg) => eng.fail(errorFromAbort(msg)));
    eng.spread = (err) => joined.control.reportFailure(err.message, err.name, err.ranks);
    eng.nodeName = env.nodeName;
    const ctx = eng.register(0, Array.from({ length: env.size }, (_, r) => r), "world");
    const resources: WorldResources = {
      goodbye: () => joined.control.bye(),
      close: closeAll,
    };
    return new World(eng, ctx, env, log, resources, seed);
  } catch (e) {
    await closeAll();
    throw e;
  }
}
