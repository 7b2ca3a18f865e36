/**
 * Raw HTTP/1.1 over a TCP socket, for what an HTTP client library will not send:
 * requests without a Host header, garbage after pipelined requests, broken request lines.
 */
import net from 'node:net';

/** One HTTP response as read off the wire. */
export interface RawResponse {
  readonly status: number;
  /** Header names lowercased. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/**
 * Sends `bytes` on a new connection to `port` (in `chunks` written one after another),
 * then reads until the server closes the connection or `idleMs` pass without a byte;
 * resolves with everything read and whether the server closed the connection. With
 * `hangUp`, the client closes its side once everything is written (a client that sends
 * part of a request and goes away).
 */
export function exchange(port: number, chunks: readonly (string | Buffer)[], idleMs = 3000, hangUp = false): Promise<{ raw: Buffer; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    const received: Buffer[] = [];
    let settled = false;
    const finish = (closed: boolean) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      resolve({ raw: Buffer.concat(received), closed });
    };
    socket.setTimeout(idleMs, () => finish(false));
    socket.on('data', (data) => received.push(data));
    socket.on('end', () => finish(true));
    socket.on('close', () => finish(true));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      // A reset after the answers were written still counts as the server closing.
      if (error.code === 'ECONNRESET' || error.code === 'EPIPE') finish(true);
      else if (!settled) {
        settled = true;
        reject(error);
      }
    });
    socket.on('connect', async () => {
      for (const chunk of chunks) {
        if (!socket.writable) break;
        await new Promise<void>((done) => socket.write(chunk, () => done()));
      }
      if (hangUp && socket.writable) socket.end();
    });
  });
}

/** Splits bytes read off a connection into the responses they hold (by Content-Length). */
export function parseResponses(raw: Buffer): RawResponse[] {
  const out: RawResponse[] = [];
  let at = 0;
  while (at < raw.length) {
    const headEnd = raw.indexOf('\r\n\r\n', at);
    if (headEnd < 0) throw new Error(`incomplete response head: ${JSON.stringify(raw.subarray(at).toString('latin1'))}`);
    const lines = raw.toString('latin1', at, headEnd).split('\r\n');
    const statusLine = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
    if (statusLine === null) throw new Error(`not a status line: ${JSON.stringify(lines[0])}`);
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const length = Number(headers['content-length'] ?? 0);
    if (headers['transfer-encoding'] === 'chunked') throw new Error('chunked responses are not expected here');
    const bodyStart = headEnd + 4;
    out.push({ status: Number(statusLine[1]), headers, body: raw.toString('utf8', bodyStart, bodyStart + length) });
    at = bodyStart + length;
  }
  return out;
}
