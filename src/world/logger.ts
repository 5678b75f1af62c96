/**
 * A rank-aware logger: `info`/`warn`/`error` print once (on rank 0) with a `[rank]` prefix so a job's
 * output is not N copies of the same line; `all` prints on every rank. `ZMPI_LOG` sets the level.
 * Optionally every rank also keeps its own file, `<dir>/rank-<r>.log` (`ZMPI_LOG_DIR` or
 * `log.toDir(dir)`), holding every line this rank logged at or above the level, printed or not.
 */
import { appendFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";

/** Log levels, least to most severe. */
export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/** The logger every world carries as `world.log`. */
export class Logger {
  private readonly threshold: number;
  private file: string | null = null;

  constructor(
    private readonly rank: number,
    level: LogLevel = "info",
    /** False when something else (the `zmpi launch` output pipe) already prefixes each line. */
    private readonly prefix: boolean = true,
    private readonly write: (line: string, stream: "out" | "err") => void = (line, s) => (s === "err" ? process.stderr : process.stdout).write(`${line}\n`),
  ) {
    this.threshold = ORDER[level];
  }

  private emit(level: LogLevel, everywhere: boolean, args: unknown[]): void {
    if (ORDER[level] < this.threshold) return;
    if (!everywhere && this.rank !== 0 && this.file === null) return;
    const text = args.map((a) => (typeof a === "string" ? a : a instanceof Error ? (a.stack ?? a.message) : JSON.stringify(a))).join(" ");
    this.toFile(level, text);
    if (!everywhere && this.rank !== 0) return;
    this.write(this.prefix ? `[${this.rank}] ${text}` : text, level === "warn" || level === "error" ? "err" : "out");
  }

  /**
   * Also writes every line this rank logs (including those only rank 0 prints) to
   * `<dir>/rank-<rank>.log`, with a time stamp and level. Appends synchronously, so the file holds
   * everything up to a crash. Returns the file's path.
   */
  toDir(dir: string): string {
    mkdirSync(dir, { recursive: true });
    this.file = join(dir, `rank-${this.rank}.log`);
    return this.file;
  }

  /** The per-rank log file, if one is on. */
  get filePath(): string | null {
    return this.file;
  }

  private toFile(level: string, text: string): void {
    if (this.file === null) return;
    try {
      appendFileSync(this.file, `${new Date().toISOString()} ${level.toUpperCase()} [${this.rank}] ${text}\n`);
    } catch {
      // A full or vanished disk must not turn logging into a crash.
    }
  }

  /** Debug detail, rank 0 only. */
  debug(...args: unknown[]): void {
    this.emit("debug", false, args);
  }
  /** Information, printed once (rank 0). */
  info(...args: unknown[]): void {
    this.emit("info", false, args);
  }
  /** A warning, printed once (rank 0), to stderr. */
  warn(...args: unknown[]): void {
    this.emit("warn", false, args);
  }
  /** An error, printed once (rank 0), to stderr. */
  error(...args: unknown[]): void {
    this.emit("error", false, args);
  }
  /** Printed by every rank, with its prefix. */
  all(...args: unknown[]): void {
    this.emit("info", true, args);
  }
}

let uncaughtInstalled = false;

/**
 * Prints `[zmpi rank N] uncaught exception: <stack>` (and appends it to the rank's log file) when an
 * error escapes on this rank. It listens on `uncaughtExceptionMonitor`, which observes without
 * handling: Node still prints its own report and exits with status 1 exactly as it would have,
 * and unhandled rejections (raised as uncaught under Node's default `--unhandled-rejections=throw`)
 * are covered too. Installed once per process.
 */
export function installUncaughtReporter(rank: number, log: Logger): void {
  if (uncaughtInstalled) return;
  uncaughtInstalled = true;
  process.on("uncaughtExceptionMonitor", (err: unknown, origin: string) => {
    const what = origin === "unhandledRejection" ? "unhandled rejection" : "uncaught exception";
    const text = err instanceof Error ? (err.stack ?? `${err.name}: ${err.message}`) : String(err);
    process.stderr.write(`[zmpi rank ${rank}] ${what}: ${text}\n`);
    const file = log.filePath;
    if (file !== null) {
      try {
        appendFileSync(file, `${new Date().toISOString()} FATAL [${rank}] ${what}: ${text}\n`);
      } catch {
        // Going down anyway.
      }
    }
  });
}
