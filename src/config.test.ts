import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, envName, kebab, loadConfig, redactUrl } from './config.js';

/** The problems loadConfig reports for these flags and environment. */
function problems(flags: Record<string, string | undefined>, env: NodeJS.ProcessEnv = {}): readonly string[] {
  try {
    loadConfig(flags, env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    assert.equal(error.message, error.problems.join('\n'));
    return error.problems;
  }
  assert.fail('expected a ConfigError');
}

describe('loadConfig', () => {
  it('has working defaults', () => {
    const config = loadConfig({}, {});
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.port, 8080);
    assert.equal(config.db, 'sqlite:./data/taskcenter.db');
    assert.equal(config.auth, 'static');
    assert.equal(config.credentials, './data/credentials.json');
    assert.equal(config.keystoneUrl, null);
    assert.equal(config.logLevel, 'info');
    assert.equal(config.listCacheMb, 16);
    assert.equal(config.sqliteCacheMb, 16);
  });

  it('takes --sqlite-cache-mb as whole megabytes from 1, and says what is allowed otherwise', () => {
    assert.equal(loadConfig({ sqliteCacheMb: '1' }, {}).sqliteCacheMb, 1);
    assert.equal(loadConfig({}, { TASKCENTER_SQLITE_CACHE_MB: '512' }).sqliteCacheMb, 512);
    for (const bad of ['0', '-1', '1.5', 'lots', '', '100000']) {
      assert.deepEqual(problems({ sqliteCacheMb: bad }), [`--sqlite-cache-mb must be a whole number of megabytes between 1 and 99999, got '${bad}'`]);
    }
  });

  it('takes --list-cache-mb as whole megabytes, 0 for none, and says what is allowed otherwise', () => {
    assert.equal(loadConfig({ listCacheMb: '0' }, {}).listCacheMb, 0);
    assert.equal(loadConfig({}, { TASKCENTER_LIST_CACHE_MB: '64' }).listCacheMb, 64);
    for (const bad of ['-1', '1.5', 'lots', '', '100000']) {
      assert.deepEqual(problems({ listCacheMb: bad }), [
        `--list-cache-mb must be a whole number of megabytes between 0 and 99999 (0 keeps no list pages), got '${bad}'`,
      ]);
    }
    assert.deepEqual(problems({}, { TASKCENTER_LIST_CACHE_MB: 'x' }), [
      "TASKCENTER_LIST_CACHE_MB must be a whole number of megabytes between 0 and 99999 (0 keeps no list pages), got 'x'",
    ]);
  });

  it('takes --request-timeout in seconds, 10 by default, and says what is allowed otherwise', () => {
    assert.equal(loadConfig({}, {}).requestTimeout, 10);
    assert.equal(loadConfig({ requestTimeout: '0.5' }, {}).requestTimeout, 0.5);
    assert.equal(loadConfig({}, { TASKCENTER_REQUEST_TIMEOUT: '30' }).requestTimeout, 30);
    for (const bad of ['0', '0.05', '-1', '3601', '1.2345', '10s', '']) {
      assert.deepEqual(problems({ requestTimeout: bad }), [`--request-timeout must be a number of seconds between 0.1 and 3600, got '${bad}'`]);
    }
    assert.deepEqual(problems({}, { TASKCENTER_REQUEST_TIMEOUT: 'x' }), [
      "TASKCENTER_REQUEST_TIMEOUT must be a number of seconds between 0.1 and 3600, got 'x'",
    ]);
  });

  it('takes --drain-seconds in seconds, 5 by default, 0 for none, and says what is allowed otherwise', () => {
    assert.equal(loadConfig({}, {}).drainSeconds, 5);
    assert.equal(loadConfig({ drainSeconds: '0' }, {}).drainSeconds, 0);
    assert.equal(loadConfig({ drainSeconds: '0.25' }, {}).drainSeconds, 0.25);
    assert.equal(loadConfig({}, { TASKCENTER_DRAIN_SECONDS: '30' }).drainSeconds, 30);
    for (const bad of ['-1', '3601', '1.2345', '5s', '']) {
      assert.deepEqual(problems({ drainSeconds: bad }), [`--drain-seconds must be a number of seconds between 0 and 3600, got '${bad}'`]);
    }
    assert.deepEqual(problems({}, { TASKCENTER_DRAIN_SECONDS: 'x' }), ["TASKCENTER_DRAIN_SECONDS must be a number of seconds between 0 and 3600, got 'x'"]);
  });

  it('takes --retain-days as whole days, off by default, 0 or off for off, and says what is allowed otherwise', () => {
    assert.equal(loadConfig({}, {}).retainDays, null);
    assert.equal(loadConfig({ retainDays: '90' }, {}).retainDays, 90);
    assert.equal(loadConfig({}, { TASKCENTER_RETAIN_DAYS: '7' }).retainDays, 7);
    assert.equal(loadConfig({ retainDays: '0' }, { TASKCENTER_RETAIN_DAYS: '7' }).retainDays, null);
    assert.equal(loadConfig({ retainDays: 'off' }, {}).retainDays, null);
    for (const bad of ['-1', '1.5', '30d', '', '36501', 'never']) {
      assert.deepEqual(problems({ retainDays: bad }), [
        `--retain-days must be a whole number of days between 1 and 36500 (0 or off keeps every job), got '${bad}'`,
      ]);
    }
    assert.deepEqual(problems({}, { TASKCENTER_RETAIN_DAYS: 'x' }), [
      "TASKCENTER_RETAIN_DAYS must be a whole number of days between 1 and 36500 (0 or off keeps every job), got 'x'",
    ]);
  });

  it('trusts no proxy by default; takes true, false, or addresses, CIDRs and range names; reports each bad entry', () => {
    assert.equal(loadConfig({}, {}).trustProxy, false);
    assert.equal(loadConfig({ trustProxy: 'true' }, {}).trustProxy, true);
    assert.equal(loadConfig({ trustProxy: '0' }, {}).trustProxy, false);
    assert.deepEqual(loadConfig({}, { TASKCENTER_TRUST_PROXY: '10.0.0.0/8, 192.0.2.7,loopback,fd00::/8' }).trustProxy, [
      '10.0.0.0/8',
      '192.0.2.7',
      'loopback',
      'fd00::/8',
    ]);
    assert.deepEqual(problems({ trustProxy: '10.0.0.0/33,haproxy,10.0.0.1,::1/129,1.2.3.4/8/8' }), [
      "--trust-proxy must be true, false, or a comma-separated list of proxy addresses, CIDR ranges (10.0.0.0/8) and loopback, linklocal, uniquelocal; '10.0.0.0/33', 'haproxy', '::1/129', '1.2.3.4/8/8' is none of those",
    ]);
  });

  it('limits failed authentications to 100 per address per minute by default, 0 for none, and says what is allowed otherwise', () => {
    assert.equal(loadConfig({}, {}).authFailureLimit, 100);
    assert.equal(loadConfig({ authFailureLimit: '0' }, {}).authFailureLimit, 0);
    assert.equal(loadConfig({}, { TASKCENTER_AUTH_FAILURE_LIMIT: '5' }).authFailureLimit, 5);
    for (const bad of ['-1', '1.5', 'off', '']) {
      assert.deepEqual(problems({ authFailureLimit: bad }), [
        `--auth-failure-limit must be a whole number of failed authentications per client address per minute (0 for no limit), got '${bad}'`,
      ]);
    }
  });

  it('bounds slow clients by default: headers 10 s, whole request 60 s, idle keep-alive 72 s, 1024 connections', () => {
    const config = loadConfig({}, {});
    assert.deepEqual([config.headersTimeout, config.receiveTimeout, config.keepAliveTimeout, config.maxConnections], [10, 60, 72, 1024]);
    const set = loadConfig({ headersTimeout: '0.5', receiveTimeout: '2' }, { TASKCENTER_KEEP_ALIVE_TIMEOUT: '5', TASKCENTER_MAX_CONNECTIONS: '100' });
    assert.deepEqual([set.headersTimeout, set.receiveTimeout, set.keepAliveTimeout, set.maxConnections], [0.5, 2, 5, 100]);
  });

  it('reports every bad slow-client setting at once, and a request timeout shorter than the header one', () => {
    assert.deepEqual(problems({ headersTimeout: '0', keepAliveTimeout: '10s', maxConnections: '0' }, { TASKCENTER_RECEIVE_TIMEOUT: '3601' }), [
      "--headers-timeout must be a number of seconds between 0.1 and 3600 (how long a client may take to send a request's headers), got '0'",
      "TASKCENTER_RECEIVE_TIMEOUT must be a number of seconds between 0.1 and 3600 (how long a client may take to send a whole request), got '3601'",
      "--keep-alive-timeout must be a number of seconds between 0.1 and 3600 (how long an idle kept-alive connection stays open), got '10s'",
      "--max-connections must be a whole number of connections of at least 1, got '0'",
    ]);
    assert.deepEqual(problems({ headersTimeout: '30', receiveTimeout: '20' }), [
      '--receive-timeout (20 s) must be at least --headers-timeout (30 s): the whole request includes its headers',
    ]);
  });

  it('takes the flag over the environment over the default', () => {
    const env = { TASKCENTER_PORT: '9000', TASKCENTER_DB: 'sqlite::memory:', TASKCENTER_LOG_LEVEL: 'warn' };
    const config = loadConfig({ port: '9001' }, env);
    assert.equal(config.port, 9001);
    assert.equal(config.db, 'sqlite::memory:');
    assert.equal(config.logLevel, 'warn');
  });

  it('returns a frozen object', () => {
    const config = loadConfig({}, {});
    assert.ok(Object.isFrozen(config));
    assert.throws(() => {
      (config as { port: number }).port = 1;
    }, TypeError);
  });

  it('accepts every documented database URL form', () => {
    for (const db of ['sqlite:./x.db', 'sqlite::memory:', 'postgres://u@h/db', 'postgresql://u:p@h:5433/db']) {
      assert.equal(loadConfig({ db }, {}).db, db);
    }
  });

  it('reports every bad value at once, naming its flag or variable', () => {
    const found = problems({ port: '70000', auth: 'ldap', logLevel: 'loud', host: '' }, { TASKCENTER_DB: 'mysql://x' });
    assert.equal(found.length, 5, found.join('\n'));
    assert.ok(found.includes("--port must be an integer between 0 and 65535, got '70000'"), found.join('\n'));
    assert.ok(found.includes("--auth must be one of static, keystone, none, got 'ldap'"));
    assert.ok(found.includes("--log-level must be one of fatal, error, warn, info, debug, trace, silent, got 'loud'"));
    assert.ok(found.includes('--host must not be empty'));
    assert.ok(found.some((p) => p.startsWith('TASKCENTER_DB must be sqlite:<path>, sqlite::memory: or postgres://..., got ')));
  });

  it('refuses ports that are not plain integers', () => {
    for (const port of ['', '-1', '1.5', 'http', '80a', '65536']) {
      assert.equal(problems({ port }).length, 1, port);
    }
    assert.equal(loadConfig({ port: '0' }, {}).port, 0);
  });

  it('needs a keystone URL for keystone auth, and an http(s) one', () => {
    assert.ok(problems({ auth: 'keystone' }).includes('--auth keystone needs --keystone-url (or TASKCENTER_KEYSTONE_URL)'));
    assert.deepEqual(problems({ keystoneUrl: 'ftp://x' }), ["--keystone-url must be an http(s) URL, got 'ftp://x'"]);
  });

  it('never repeats a database password in a problem', () => {
    const found = problems({ db: 'mysql://admin:hunter2@db/x' });
    assert.equal(found.length, 1);
    assert.doesNotMatch(found[0] ?? '', /hunter2/);
  });
});

describe('config helpers', () => {
  it('names each environment variable after its flag', () => {
    assert.equal(envName('keystoneUrl'), 'TASKCENTER_KEYSTONE_URL');
    assert.equal(envName('logLevel'), 'TASKCENTER_LOG_LEVEL');
    assert.equal(envName('db'), 'TASKCENTER_DB');
    assert.equal(kebab('keystoneUrl'), 'keystone-url');
  });

  it('redacts the password of a URL and nothing else', () => {
    assert.equal(redactUrl('postgres://app:s3cr%40t@db:5432/tc'), 'postgres://app:***@db:5432/tc');
    assert.equal(redactUrl('postgres://app@db/tc'), 'postgres://app@db/tc');
    assert.equal(redactUrl('sqlite:./data/x.db'), 'sqlite:./data/x.db');
  });
});
