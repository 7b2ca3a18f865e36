/**
 * The ceiling: a bare node:http server answering every request with one precomputed
 * body, byte-identical to the real server's answer. Nothing can serve that body faster
 * through Node's HTTP stack, so each scenario reports its ratio to this.
 *
 * Usage: node dist/bench/ceiling.js <port> <body-file> <content-type> [<status> <etag>]
 * With a status of 304, every answer is a 304 with that ETag and no body, as the real
 * server answers an If-None-Match that names the current page.
 * Prints `listening <port>` once ready.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

const [portText = '0', bodyFile = '', contentType = 'application/json', statusText = '200', etag = ''] = process.argv.slice(2);
const status = Number(statusText);
const body = status === 304 ? Buffer.alloc(0) : readFileSync(bodyFile);
const headers: Record<string, string> = status === 304 ? { etag } : { 'content-type': contentType, 'content-length': String(body.length) };

const server = createServer((request, response) => {
  request.resume();
  request.on('end', () => {
    response.writeHead(status, headers);
    response.end(body);
  });
});
server.keepAliveTimeout = 72_000;
server.listen(Number(portText), '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`listening ${typeof address === 'object' && address !== null ? address.port : portText}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
