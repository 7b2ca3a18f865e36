/**
 * A real listening server for end-to-end tests with real clients (the official SDK core):
 * a fresh database on one engine, the test credentials of helpers.ts plus access keys for
 * the principals that have none there (so every principal can sign), on 127.0.0.1 and a
 * free port.
 */
import type { FastifyInstance } from 'fastify';
import { hashToken } from '../../src/auth/credentials.js';
import { loadConfig, type ConfigInput } from '../../src/config.js';
import type { Context } from '../../src/context.js';
import type { Engine } from '../../src/db/database.js';
import { ACCESS_KEYS, createTestApp, PROJECT_A, writeTestCredentials } from '../helpers.js';

/** Access keys of every test principal: helpers.ts's, and those added here. */
export const KEYS = {
  ...ACCESS_KEYS,
  /** Read-only actions in project A. */
  reader: { ak: 'READERAKREADERAKREA1', sk: 'reader-secret-key-0123456789abcdefghijklm' },
  /** Everything in project B only. */
  bob: { ak: 'BOBAKBOBAKBOBAKBOBA1', sk: 'bob-secret-key-0123456789abcdefghijklmnopq' },
  /** Everything in project A; only the lockout test uses it, so locking it disturbs nothing else. */
  mallory: { ak: 'MALLORYAKMALLORYAK01', sk: 'mallory-secret-key-0123456789abcdefghijkl' },
} as const;

/** Temporary credentials of principal `temp` (everything in project A): valid for a day from the server's start, and one that expired. */
export const TEMPORARY_KEYS = {
  valid: { ak: 'TEMPVALIDAKTEMPVALI1', sk: 'temp-valid-secret-key-0123456789abcdefgh', securityToken: 'temp-valid-security-token-0123456789abcdefgh' },
  expired: { ak: 'TEMPEXPIREDAKTEMPEX1', sk: 'temp-expired-secret-key-0123456789abcdef', securityToken: 'temp-expired-security-token-0123456789abcde' },
} as const;

/** A temporary key as the credentials file holds it: the security token only as its hash. */
function temporaryKey(key: { ak: string; sk: string; securityToken: string }, expiresAt: Date): object {
  return { ak: key.ak, sk: key.sk, security_token: hashToken(key.securityToken), expires_at: expiresAt.toISOString() };
}

export interface ListeningServer {
  readonly engine: Engine;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly host: string;
  readonly app: FastifyInstance;
  readonly ctx: Context;
  close(): Promise<void>;
}

/** Starts a server over a fresh database on `engine`; `flags` add configuration (`throttle`). */
export async function startServer(engine: Engine, flags: ConfigInput = {}): Promise<ListeningServer> {
  const { app, ctx, close } = await createTestApp(engine, (db, dir) => {
    const credentials = writeTestCredentials(dir, {
      readerKey: KEYS.reader,
      bobKey: KEYS.bob,
      principals: [
        { name: 'mallory', projects: [PROJECT_A], actions: ['*'], access_keys: [KEYS.mallory] },
        {
          name: 'temp',
          projects: [PROJECT_A],
          actions: ['*'],
          access_keys: [
            temporaryKey(TEMPORARY_KEYS.valid, new Date(Date.now() + 24 * 3600 * 1000)),
            temporaryKey(TEMPORARY_KEYS.expired, new Date(Date.now() - 1000)),
          ],
        },
      ],
    });
    return loadConfig({ db, auth: 'static', credentials, logLevel: 'silent', host: '127.0.0.1', port: '0', ...flags }, {});
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('server has no TCP address');
  const host = `127.0.0.1:${address.port}`;
  return { engine, url: `http://${host}`, host, app, ctx, close };
}
