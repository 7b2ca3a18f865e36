/**
 * The AK/SK lockout across processes (issue 11 item 6): two apps over one store (each
 * its own context and connections, as two server processes are) count the same bad
 * signatures per access key and client address. A lockout one of them starts is seen by
 * the other; a bad actor at one address does not lock the key for another; the lockout is
 * logged once, with the key and the address, never the SK.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { signRequest } from '../../src/auth/aksk.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/context.js';
import { ACCESS_KEYS, buildTestApp, engines, freshDatabase, PROJECT_A, writeTestCredentials, type TestApp } from '../helpers.js';

const URL_PATH = `/v1/${PROJECT_A}/task-center/failure-jobs`;

/** A signed list request from `address`; with the wrong SK when `bad`. */
function signedFrom(app: FastifyInstance, address: string, bad: boolean) {
  const key = bad ? { ak: ACCESS_KEYS.alice.ak, sk: 'not-the-secret' } : ACCESS_KEYS.alice;
  const headers = signRequest({ method: 'GET', url: URL_PATH, host: 'localhost:80' }, key);
  return app.inject({ method: 'GET', url: URL_PATH, headers, remoteAddress: address });
}

for (const engine of engines) {
  describe(`AK/SK lockout shared by two processes [${engine}]`, () => {
    it('locks the key for the failing address in both, leaves other addresses alone, and logs it once', async () => {
      const database = await freshDatabase(engine);
      const dir = mkdtempSync(join(tmpdir(), 'taskcenter-lockout-'));
      const credentials = writeTestCredentials(dir);
      let logs = '';
      const sink = new Writable({
        write(chunk: Buffer, _encoding, done) {
          logs += chunk.toString();
          done();
        },
      });
      const apps: TestApp[] = [];
      try {
        for (let i = 0; i < 2; i++) {
          const config = loadConfig({ db: database.url, auth: 'static', credentials, logLevel: 'info' }, {});
          apps.push(await buildTestApp(config, { logger: createLogger(config, sink) }));
        }
        const [one, two] = apps.map((a) => a.app) as [FastifyInstance, FastifyInstance];
        const attacker = '203.0.113.7';
        const producer = '198.51.100.20';

        assert.equal((await signedFrom(one, producer, false)).statusCode, 200);
        // Five bad signatures from one address, spread over both processes.
        for (const app of [one, two, one, two]) {
          const response = await signedFrom(app, attacker, true);
          assert.equal(response.statusCode, 401);
          assert.match(response.json().error_msg, /signature mismatch: check the SK/);
        }
        const fifth = await signedFrom(two, attacker, true);
        assert.match(fifth.json().error_msg, /is now locked from this address for 5 minutes/);

        // Both processes refuse the key from that address, even correctly signed...
        for (const app of [one, two]) {
          const response = await signedFrom(app, attacker, false);
          assert.equal(response.statusCode, 401);
          assert.match(response.json().error_msg, /access key 'ALICEAKALICEAKALICE1' is locked from this address for another \d+ s/);
        }
        // ...and both still let the producer in from its own address.
        for (const app of [one, two]) assert.equal((await signedFrom(app, producer, false)).statusCode, 200);

        const lockouts = logs
          .split('\n')
          .filter((line) => line.includes('access key locked'))
          .map((line) => JSON.parse(line) as Record<string, unknown>);
        assert.equal(lockouts.length, 1, logs);
        assert.equal(lockouts[0]?.access_key, ACCESS_KEYS.alice.ak);
        assert.equal(lockouts[0]?.address, attacker);
        assert.ok(!logs.includes(ACCESS_KEYS.alice.sk), 'the SK is never logged');
      } finally {
        for (const app of apps) await app.close();
        rmSync(dir, { recursive: true, force: true });
        await database.drop();
      }
    });

    it('forgets the failures of an address after a good signature from it', async () => {
      const database = await freshDatabase(engine);
      const dir = mkdtempSync(join(tmpdir(), 'taskcenter-lockout-'));
      const credentials = writeTestCredentials(dir);
      const apps: TestApp[] = [];
      try {
        for (let i = 0; i < 2; i++) {
          apps.push(await buildTestApp(loadConfig({ db: database.url, auth: 'static', credentials, logLevel: 'silent' }, {})));
        }
        const [one, two] = apps.map((a) => a.app) as [FastifyInstance, FastifyInstance];
        const address = '192.0.2.44';
        for (let i = 0; i < 4; i++) assert.equal((await signedFrom(one, address, true)).statusCode, 401);
        assert.equal((await signedFrom(two, address, false)).statusCode, 200);
        for (let i = 0; i < 4; i++) assert.match((await signedFrom(two, address, true)).json().error_msg, /check the SK/);
        assert.equal((await signedFrom(one, address, false)).statusCode, 200);
      } finally {
        for (const app of apps) await app.close();
        rmSync(dir, { recursive: true, force: true });
        await database.drop();
      }
    });
  });
}
