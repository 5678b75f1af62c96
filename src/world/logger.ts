/**
 * A rank-aware logger: `info`/`warn`/`error` print once (on rank 0) with a `[rank]` prefix so a job's
 * output is not N copies of the same line; `all` prints on every rank. `ZMPI_LOG` sets the level.
 */

/** Log levels, least to most severe. */
export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/** The logger every world carries as `world.log`. */
export class Logger {
  private readonly threshold: number;

  constructor(
    private readonly rank: number,
    level: LogLevel = "info",
    /** False when something else (the `zmpi launch` output pipe) already prefixes each line. */
    private readonly prefix: boolean = true,
    private readonly write: (line: string, stream: "out" | "err") => void = (line, s) =>
      (s === "err" ? process.stderr : process.stdout).write(line + "\n"),
  ) {
    this.threshold = ORDER[level];
  }

  private emit(level: LogLevel, everywhere: boolean, args: unknown[]): void {
    if (ORDER[level] < this.threshold) return;
    if (!everywhere && this.rank !== 0) return;
    const text = args.map((a) => (typeof a === "string" ? a : a instanceof Error ? (a.stack ?? a.message) : JSON.stringify(a))).join(" ");
    this.write(this.prefix ? `[${this.rank}] ${text}` : text, level === "warn" || level === "error" ? "err" : "out");
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

/** Parses `ZMPI_LOG`; unknown values fall back to "info". */
export function parseLogLevel(v: string | undefined): LogLevel {
  const l = (v ?? "info").toLowerCase();
  return l in ORDER ? (l as LogLevel) : "info";
}
