/**
 * Lets a repeated event through at most once per `intervalMs` per key, reporting how many were held
 * back since the last one: `if (t.allow('jwks')) log.warn({ suppressed: t.suppressed('jwks') }, ...)`.
 * Keeps logs readable when a dependency is down or someone sprays forged tokens.
 */
export class Throttle {
  private readonly last = new Map<string, { at: number; held: number }>();

  constructor(
    private readonly intervalMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** True when the event may be reported now; otherwise counts it as held back. */
  allow(key: string): boolean {
    const now = this.now();
    const entry = this.last.get(key);
    if (entry && now - entry.at < this.intervalMs) {
      entry.held += 1;
      return false;
    }
    this.last.set(key, { at: now, held: entry?.held ?? 0 });
    return true;
  }

  /** Events held back since the previous report for `key` (resets the count). */
  suppressed(key: string): number {
    const entry = this.last.get(key);
    if (!entry) return 0;
    const held = entry.held;
    entry.held = 0;
    return held;
  }
}
