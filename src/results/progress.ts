/**
 * Progress of a farm on rank 0: a live bar (cli-progress) on a terminal; plain `[k/n] completed
 * <task>` lines otherwise, which read well in CI logs and Slurm output files, where a redrawn bar
 * would be thousands of carriage returns.
 */
import type CliProgress from "cli-progress";
import { lazyModule } from "../env/lazy-module.js";

/** cli-progress loads with the first live bar, not with every rank. */
const cliProgressModule = lazyModule<typeof CliProgress>("cli-progress");

/** How progress is shown: `auto` picks `bar` on a TTY (stderr), `lines` otherwise. */
export type ProgressMode = "auto" | "bar" | "lines" | "none";

/** What the farm reports to. */
export interface Progress {
  /** The number of tasks submitted so far. */
  total(n: number): void;
  /** One task settled; `rank` ran its last attempt, -1 when it never ran (an input failed). */
  settled(name: string, ok: boolean, rank: number): void;
  /** Ends the display. */
  stop(): void;
}

/** A progress display for `mode`. */
export function createProgress(mode: ProgressMode, out: NodeJS.WritableStream = process.stdout): Progress {
  const m = mode === "auto" ? (process.stderr.isTTY ? "bar" : "lines") : mode;
  if (m === "none") return { total() {}, settled() {}, stop() {} };
  if (m === "lines") return new LineProgress(out);
  return new BarProgress();
}

class LineProgress implements Progress {
  private n = 0;
  private k = 0;
  constructor(private readonly out: NodeJS.WritableStream) {}
  total(n: number): void {
    this.n = n;
  }
  settled(name: string, ok: boolean, rank: number): void {
    this.k++;
    this.out.write(`[${this.k}/${this.n}] ${ok ? "completed" : "failed"} ${name} (${rank >= 0 ? `rank ${rank}` : "not run"})\n`);
  }
  stop(): void {}
}

class BarProgress implements Progress {
  private readonly bar = new (cliProgressModule().SingleBar)(
    { format: "tasks |{bar}| {value}/{total} {last}", hideCursor: true, clearOnComplete: false, stopOnComplete: false },
    cliProgressModule().Presets.shades_classic,
  );
  private started = false;
  private failed = 0;
  total(n: number): void {
    if (!this.started) {
      this.bar.start(n, 0, { last: "" });
      this.started = true;
    } else this.bar.setTotal(n);
  }
  settled(name: string, ok: boolean): void {
    if (!ok) this.failed++;
    this.bar.increment(1, { last: `${ok ? "done" : "FAILED"} ${name}${this.failed ? ` (${this.failed} failed)` : ""}` });
  }
  stop(): void {
    if (this.started) this.bar.stop();
  }
}
