/**
 * Where a webhook may point. Only `http` and `https`; by default no address a server
 * should not be made to call on a tenant's behalf: loopback, link-local (cloud metadata
 * endpoints live there), private, carrier-grade NAT, unique-local, multicast and
 * reserved ranges. The check runs on the addresses a name resolves to, on every
 * delivery, and the request then goes to the address checked, so a name that changes
 * to a private address after the subscription was made is still refused.
 */
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

const BLOCKED = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, cloud metadata
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) {
  BLOCKED.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['fc00::', 7], // unique-local
  ['fe80::', 10], // link-local
  ['fec0::', 10], // old site-local
  ['ff00::', 8], // multicast
] as const) {
  BLOCKED.addSubnet(net, prefix, 'ipv6');
}

/** The IPv4 address inside an IPv4-mapped, -compatible or NAT64 IPv6 address (`::ffff:127.0.0.1`), or null. */
function embeddedIpv4(address: string): string | null {
  const match = /^(?:::ffff:|::|64:ff9b::)(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (match !== null) return match[1] as string;
  const hex = /^(?:::ffff:|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(address);
  if (hex === null) return null;
  const high = parseInt(hex[1] as string, 16);
  const low = parseInt(hex[2] as string, 16);
  return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
}

/** Why `address` (an IP literal) may not be called by default, or null when it may. */
export function blockedReason(address: string): string | null {
  const family = isIP(address);
  if (family === 0) return `'${address}' is not an IP address`;
  const v4 = family === 6 ? embeddedIpv4(address) : address;
  const blocked = v4 !== null ? BLOCKED.check(v4, 'ipv4') : BLOCKED.check(address, 'ipv6');
  return blocked ? `${address} is a loopback, link-local, private, unique-local or reserved address` : null;
}

/** A URL a subscription may hold, checked for form only (addresses are checked by {@link resolveTarget}). */
export interface WebhookUrl {
  readonly url: URL;
  /** The host without IPv6 brackets: a name or an IP literal. */
  readonly hostname: string;
  readonly port: number;
}

/** Why a URL is refused, said to the caller. */
export class WebhookUrlError extends Error {
  override name = 'WebhookUrlError';
}

/** Parses and checks a subscription URL's form; throws {@link WebhookUrlError}. */
export function parseWebhookUrl(text: string): WebhookUrl {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new WebhookUrlError('must be an absolute http or https URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new WebhookUrlError(`must use http or https, got ${url.protocol.slice(0, -1)}`);
  if (url.username !== '' || url.password !== '') throw new WebhookUrlError('must not hold a user name or password: requests are signed instead');
  if (url.hash !== '') throw new WebhookUrlError('must not have a #fragment');
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
  return { url, hostname, port };
}

/** Thrown by {@link resolveTarget} when a URL's host resolves to an address that is refused. */
export class BlockedAddressError extends Error {
  override name = 'BlockedAddressError';
}

/**
 * The address to send to: the host's own when it is an IP literal, else the first the
 * name resolves to. Unless `allowPrivate`, throws {@link BlockedAddressError} when any
 * address the name resolves to is refused (a name with one public and one private
 * address is refused: which one a client would use is not ours to choose). DNS
 * failures are thrown as they come (a network error, retried).
 */
export async function resolveTarget(target: WebhookUrl, allowPrivate: boolean): Promise<{ address: string; family: 4 | 6 }> {
  const literal = isIP(target.hostname);
  const addresses = literal !== 0 ? [{ address: target.hostname, family: literal }] : await lookup(target.hostname, { all: true, verbatim: true });
  const first = addresses[0];
  if (first === undefined) throw new Error(`${target.hostname} resolves to no address`);
  if (!allowPrivate) {
    for (const { address } of addresses) {
      const reason = blockedReason(address);
      if (reason !== null) {
        const via = literal !== 0 ? '' : ` (${target.hostname} resolves to it)`;
        throw new BlockedAddressError(`refused: ${reason}${via}; the server delivers there only with --webhook-allow-private`);
      }
    }
  }
  return { address: first.address, family: first.family === 6 ? 6 : 4 };
}
