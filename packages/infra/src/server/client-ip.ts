import type { IncomingMessage } from 'node:http';

const normalise = (address: string) => (address.startsWith('::ffff:') ? address.slice(7) : address);

/**
 * The caller's address: the peer's, unless the peer is a trusted proxy, in which case the
 * rightmost `X-Forwarded-For` entry that is not itself a trusted proxy (entries further left are
 * written by the client and could be forged).
 */
export function clientIpOf(req: IncomingMessage, trustedProxies: ReadonlySet<string>): string {
  const peer = normalise(req.socket.remoteAddress ?? 'unknown');
  const forwarded = req.headers['x-forwarded-for'];
  if (!trustedProxies.has(peer) || typeof forwarded !== 'string') return peer;
  const hops = forwarded
    .split(',')
    .map((h) => normalise(h.trim()))
    .filter(Boolean);
  for (let i = hops.length - 1; i >= 0; i--) if (!trustedProxies.has(hops[i]!)) return hops[i]!.slice(0, 64);
  return peer;
}
