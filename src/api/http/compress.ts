/**
 * Compression of the API's larger replies (readers, health, events, config: JSON that phones fetch over
 * Wi-Fi): br or gzip by Accept-Encoding when a string or Buffer body is 1 KB or more. Streams, upgrades,
 * bodiless statuses, replies already encoded and routes that opt out (the built UI's files, compressed at
 * build time) are left alone.
 */
import { promisify } from 'node:util';
import { brotliCompress, gzip, constants as zc } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { chooseCoding } from './accept-encoding.js';
import { HttpError } from './errors.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** false: never compress this route's replies (they are sent already compressed). */
    compress?: boolean;
  }
}

/** Smaller bodies gain less than the headers and the CPU cost. */
export const COMPRESS_THRESHOLD = 1024;
const COMPRESSIBLE = /^(text\/|application\/(?:[\w.-]+\+)?(?:json|xml|javascript)\b|image\/svg\+xml)/i;
const brotli = promisify(brotliCompress);
const gz = promisify(gzip);
// Quality 4: most of brotli's gain on JSON at a small part of the CPU of its default 11 (per reply, on a board).
const BROTLI = { params: { [zc.BROTLI_PARAM_MODE]: zc.BROTLI_MODE_TEXT, [zc.BROTLI_PARAM_QUALITY]: 4 } };

export function registerCompression(app: FastifyInstance): void {
  // The API reads JSON as sent (no client of ours compresses a few hundred bytes of APDUs): a compressed
  // body is refused by name rather than failing later as "not valid JSON".
  app.addHook('onRequest', async (req) => {
    const enc = req.headers['content-encoding'];
    const body = req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0';
    if (body && enc !== undefined && enc.trim().toLowerCase() !== 'identity') {
      throw new HttpError(415, `request bodies are read as sent: send them without Content-Encoding (got ${JSON.stringify(enc)})`);
    }
  });
  app.addHook('onSend', async (req, reply, payload) => {
    if (typeof payload !== 'string' && !Buffer.isBuffer(payload)) return payload;
    if (req.routeOptions.config?.compress === false || req.headers.upgrade !== undefined) return payload;
    const status = reply.statusCode;
    if (status < 200 || status === 204 || status === 304 || reply.hasHeader('content-encoding')) return payload;
    if (!COMPRESSIBLE.test(String(reply.getHeader('content-type') ?? ''))) return payload;
    const vary = reply.getHeader('vary');
    if (!vary) reply.header('vary', 'accept-encoding');
    else if (!/\baccept-encoding\b/i.test(String(vary))) reply.header('vary', `${String(vary)}, accept-encoding`);
    if (Buffer.byteLength(payload) < COMPRESS_THRESHOLD) return payload;
    const coding = chooseCoding(req.headers['accept-encoding'], ['br', 'gzip', 'identity']);
    if (coding !== 'br' && coding !== 'gzip') return payload;
    const out = coding === 'br' ? await brotli(payload, BROTLI) : await gz(payload);
    reply.header('content-encoding', coding);
    reply.removeHeader('content-length');
    return out;
  });
}
