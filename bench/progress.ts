/**
 * One progress line on stderr: rewritten in place on a terminal, one line per phase (and a
 * line every few seconds) otherwise, so logs of CI runs stay readable.
 */
export class Progress {
  private readonly tty = process.stderr.isTTY === true;
  private prefix = '';
  private lastPrinted = 0;
  private lineOpen = false;

  constructor(private readonly store: string) {}

  /** A new phase: "put, 64 in flight". */
  phase(label: string): void {
    this.prefix = `[${this.store}] ${label}`;
    this.write(this.prefix, true);
  }

  /** Updates the current phase: "3.2 s, 12,345 ops". */
  update(detail: string): void {
    this.write(`${this.prefix}: ${detail}`, false);
  }

  /** A finished row's one-line summary, kept on screen. */
  result(summary: string): void {
    this.clear();
    process.stderr.write(`[${this.store}] ${summary}\n`);
  }

  note(text: string): void {
    this.clear();
    process.stderr.write(`[${this.store}] ${text}\n`);
  }

  clear(): void {
    if (this.tty && this.lineOpen) process.stderr.write('\r\x1b[2K');
    this.lineOpen = false;
  }

  private write(text: string, force: boolean): void {
    if (this.tty) {
      process.stderr.write(`\r\x1b[2K${text.slice(0, (process.stderr.columns ?? 120) - 1)}`);
      this.lineOpen = true;
      return;
    }
    const now = Date.now();
    if (!force && now - this.lastPrinted < 5_000) return;
    this.lastPrinted = now;
    process.stderr.write(`${text}\n`);
  }
}
