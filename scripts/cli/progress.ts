/** Where progress goes: stderr, or a stand-in in a test. */
export interface ProgressStream {
  isTTY?: boolean;
  write(text: string): unknown;
}

/**
 * The progress of a long command (a replay, a retry, the demo's sync), on stderr so that stdout stays the
 * command's result. On a terminal, one line redrawn in place; otherwise (a pipe, a CI log) a plain line every
 * `everyMs` at most, and the last state when it is done, so that a log is not flooded with carriage returns.
 */
export class Progress {
  private lastLineAt: number;
  private pending: string | undefined;
  private drawn = false;

  constructor(
    private readonly stream: ProgressStream = process.stderr,
    private readonly everyMs = 10_000,
    private readonly now: () => number = () => Date.now(),
  ) {
    // A command done within the first interval writes no progress line to a log at all: its result says it all.
    this.lastLineAt = now();
  }

  /** The state now, e.g. `replaying: 1200/5000`. */
  update(text: string): void {
    if (this.stream.isTTY) {
      // \x1b[K clears what a longer line before left.
      this.stream.write(`\r${text}\x1b[K`);
      this.drawn = true;
      return;
    }
    const now = this.now();
    if (now - this.lastLineAt < this.everyMs) {
      this.pending = text;
      return;
    }
    this.stream.write(`${text}\n`);
    this.lastLineAt = now;
    this.drawn = true;
    this.pending = undefined;
  }

  /** Ends the progress: the terminal's line is kept and ended; a log that had progress lines gets the last state. */
  done(): void {
    if (this.stream.isTTY) {
      if (this.drawn) this.stream.write('\n');
    } else if (this.drawn && this.pending !== undefined) {
      this.stream.write(`${this.pending}\n`);
    }
    this.drawn = false;
    this.pending = undefined;
  }
}
