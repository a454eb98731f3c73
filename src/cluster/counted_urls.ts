// URLs counted by the servers that announce them (the cluster's client connect URLs, gateway URLs
// and leafnode URLs, as nats-server's refCountedUrlSet): a URL stays while any server announces it.

export class CountedUrls {
  private readonly counts = new Map<string, number>();

  /** True when the URL is new. */
  add(url: string): boolean {
    const n = this.counts.get(url) ?? 0;
    this.counts.set(url, n + 1);
    return n === 0;
  }

  /** True when no server announces the URL any more. */
  remove(url: string): boolean {
    const n = this.counts.get(url);
    if (n === undefined) return false;
    if (n > 1) {
      this.counts.set(url, n - 1);
      return false;
    }
    this.counts.delete(url);
    return true;
  }

  keys(): string[] {
    return [...this.counts.keys()];
  }
}
