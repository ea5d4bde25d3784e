/** When a TTL check's last heartbeat expires. Pure: the caller passes the time. */
export class TtlClock {
  private lastHeartbeatAt: number | undefined;

  constructor(readonly ttlMs: number) {}

  heartbeat(now: number): void {
    this.lastHeartbeatAt = now;
  }

  /** The time the check fails if no heartbeat arrives first; undefined before the first one. */
  get expiresAt(): number | undefined {
    return this.lastHeartbeatAt === undefined ? undefined : this.lastHeartbeatAt + this.ttlMs;
  }

  get lastHeartbeat(): number | undefined {
    return this.lastHeartbeatAt;
  }

  isAlive(now: number): boolean {
    const expiresAt = this.expiresAt;
    return expiresAt !== undefined && now < expiresAt;
  }
}
