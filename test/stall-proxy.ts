/**
 * A TCP proxy for tests that need a store which stops answering: it forwards each
 * connection to the target (PostgreSQL) until told to stall, then holds every byte both
 * ways, as a network partition does (TCP keeps the data and delivers it once the path is
 * back), and accepts new connections without opening them upstream.
 */
import net from 'node:net';

export class StallProxy {
  readonly #server: net.Server;
  readonly #pairs = new Set<{ client: net.Socket; upstream: net.Socket | null }>();
  #stalled = false;
  #waiting: (() => void)[] = [];

  private constructor(
    server: net.Server,
    readonly port: number,
  ) {
    this.#server = server;
  }

  /** Starts a proxy on 127.0.0.1 (any free port) to `target`. */
  static async start(target: { host: string; port: number }): Promise<StallProxy> {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const proxy = new StallProxy(server, (server.address() as net.AddressInfo).port);
    server.on('connection', (client) => proxy.#accept(client, target));
    return proxy;
  }

  /** `url` (a postgres:// URL) pointed at this proxy. */
  route(url: string): string {
    const routed = new URL(url);
    routed.host = `127.0.0.1:${this.port}`;
    return routed.toString();
  }

  #accept(client: net.Socket, target: { host: string; port: number }): void {
    const pair: { client: net.Socket; upstream: net.Socket | null } = { client, upstream: null };
    this.#pairs.add(pair);
    client.on('error', () => {});
    client.pause();
    const open = () => {
      if (client.destroyed) return;
      const upstream = net.connect(target.port, target.host);
      pair.upstream = upstream;
      upstream.on('error', () => client.destroy());
      client.on('data', (chunk) => upstream.write(chunk));
      upstream.on('data', (chunk) => client.write(chunk));
      // One side gone: the other goes too, without passing on what is held.
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
      if (this.#stalled) upstream.pause();
      else client.resume();
    };
    client.on('close', () => this.#pairs.delete(pair));
    if (this.#stalled) this.#waiting.push(open);
    else open();
  }

  /** Holds every byte from now on, both ways; new connections wait unopened. */
  stall(): void {
    this.#stalled = true;
    for (const { client, upstream } of this.#pairs) {
      client.pause();
      upstream?.pause();
    }
  }

  /** Delivers what was held and forwards again. */
  resume(): void {
    this.#stalled = false;
    for (const { client, upstream } of this.#pairs) {
      client.resume();
      upstream?.resume();
    }
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const open of waiting) open();
  }

  /** Number of client connections open through the proxy now. */
  get connections(): number {
    return this.#pairs.size;
  }

  async close(): Promise<void> {
    for (const { client, upstream } of this.#pairs) {
      client.destroy();
      upstream?.destroy();
    }
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
