import { existsSync } from 'node:fs';
import { buildApp } from '../app.js';
import { DEFAULTS, envName, loadConfig, redactUrl } from '../config.js';
import { createContext, type Context } from '../context.js';
import { addPrincipal } from '../auth/credentials.js';
import { SERVER_FLAGS, asUsage, configInput, parseFlags, type Command, type Io } from './usage.js';

export const SERVER_USAGE = `  --host HOST            address to listen on (${DEFAULTS.host}; ${envName('host')})
  --port PORT            port to listen on, 0 for any free port (${DEFAULTS.port}; ${envName('port')})
  --db URL               sqlite:<path>, sqlite::memory: or postgres://user@host/db
                         (${DEFAULTS.db}; ${envName('db')})
  --auth MODE            static, keystone or none (${DEFAULTS.auth}; ${envName('auth')})
  --credentials FILE     static credentials file (${DEFAULTS.credentials}; ${envName('credentials')});
                         with --auth keystone only its AK/SK pairs are used
  --keystone-url URL     Keystone v3 endpoint for --auth keystone (${envName('keystoneUrl')})
  --keystone-user NAME   service user that validates tokens; its password is read only from
                         ${envName('keystonePassword')} (${envName('keystoneUser')})
  --keystone-project P   the service user's project (${envName('keystoneProject')})
  --keystone-domain NAME domain of that user and project (${DEFAULTS.keystoneDomain}; ${envName('keystoneDomain')})
  --keystone-cache-ttl S seconds a validated token is trusted before asking Keystone again,
                         0 for never (${DEFAULTS.keystoneCacheTtl}; ${envName('keystoneCacheTtl')})
  --keystone-roles FILE  JSON {"roles": {"<role>": ["<action>", ...]}}; "*" applies to every
                         project-scoped token (default: every token reads, admin does all;
                         ${envName('keystoneRoles')})
  --log-level LEVEL      fatal, error, warn, info, debug, trace or silent (${DEFAULTS.logLevel}; ${envName('logLevel')})
  --throttle N           requests per second allowed to each principal, 0 or off for no limit
                         (${DEFAULTS.throttle}; ${envName('throttle')})
  --list-cache-mb N      megabytes of rendered list pages kept in memory, 0 for none
                         (${DEFAULTS.listCacheMb}; ${envName('listCacheMb')})
  --sqlite-cache-mb N    megabytes of database pages SQLite keeps in memory; hold the pages
                         a batch writes and the busy projects' lists touch (${DEFAULTS.sqliteCacheMb}; ${envName('sqliteCacheMb')})
  --request-timeout S    seconds a request may take before it is answered 503 and its store
                         work cancelled; also bounds each PostgreSQL statement and the wait
                         for a connection or a SQLite write lock (${DEFAULTS.requestTimeout}; ${envName('requestTimeout')})
  --drain-seconds S      on SIGTERM, seconds /readyz answers 503 while requests are still
                         served, before the server stops accepting, finishes what is in
                         flight and exits; 0 stops at once, as SIGINT does
                         (${DEFAULTS.drainSeconds}; ${envName('drainSeconds')})
  --retain-days N        delete finished jobs (with their sub-jobs) whose end is more than N
                         days old, except failures still in a list, and webhook deliveries
                         delivered more than N days ago; checked 30 s after start, then
                         hourly (off: keep everything; ${envName('retainDays')})
  --trust-proxy LIST     the proxies whose X-Forwarded-For names the client: addresses and CIDR
                         ranges (10.0.0.0/8) or loopback, linklocal, uniquelocal, comma-separated;
                         true trusts any peer, false none (${DEFAULTS.trustProxy}; ${envName('trustProxy')})
  --auth-failure-limit N failed authentications allowed from one client address per minute;
                         past it the address's requests to authenticated routes answer 429
                         until the minute is over, 0 for no limit (${DEFAULTS.authFailureLimit}; ${envName('authFailureLimit')})
  --headers-timeout S    seconds a client has to send a request's headers, from its first byte
                         or from connecting; then 408 and the connection closes
                         (${DEFAULTS.headersTimeout}; ${envName('headersTimeout')})
  --receive-timeout S    seconds a client has to send a whole request, headers and body; then
                         408 and close; at least --headers-timeout (${DEFAULTS.receiveTimeout}; ${envName('receiveTimeout')})
  --keep-alive-timeout S seconds an idle kept-alive connection stays open; behind a proxy, keep
                         it above the proxy's idle timeout (${DEFAULTS.keepAliveTimeout}; ${envName('keepAliveTimeout')})
  --max-connections N    connections open at once; more are closed as soon as accepted
                         (${DEFAULTS.maxConnections}; ${envName('maxConnections')})
  --emulator             serve the emulator controls under /taskcenter/v1/emulator/ (reset,
                         export/import, faults, progressing jobs, request journal); never in
                         production (${envName('emulator')}=1)
  --faults FILE          with --emulator: JSON fault rules ({"faults": [rule, ...]} or an
                         array) loaded at start (${envName('faults')})
  --init DIR             with --emulator: import DIR's *.json and *.ndjson job files in name
                         order before /readyz says ready (${envName('init')})
  --webhook-allow-private
                         also deliver webhooks to loopback, link-local, private and unique-local
                         addresses (refused by default; ${envName('webhookAllowPrivate')}=1)
  --webhook-retry-window S
                         seconds a webhook delivery is retried before it is dead
                         (${DEFAULTS.webhookRetryWindow}; ${envName('webhookRetryWindow')})
  --webhook-retry-delay S
                         seconds before a delivery's first retry, doubling after each
                         (${DEFAULTS.webhookRetryDelay}; ${envName('webhookRetryDelay')})
  --webhook-lease S      seconds a node holds the deliveries it claimed before another node
                         may send them (${DEFAULTS.webhookLease}; ${envName('webhookLease')})
                         Webhook signing secrets are sealed with ${envName('webhookKey')}
                         (64 hex digits, the same on every node) when it is set.`;

export const serveCommand: Command = {
  name: 'serve',
  usage: `Usage: taskcenter serve [flags]

Runs the server. With --auth static and no credentials file, creates one holding an
admin principal and prints its token and AK/SK once.

Flags (each also read from the environment variable shown):
${SERVER_USAGE}`,
  async run(args, io) {
    const { values } = parseFlags(args, SERVER_FLAGS);
    const config = asUsage(() => loadConfig(configInput(values)));
    if (config.auth === 'static' && !existsSync(config.credentials)) {
      const secrets = addPrincipal(config.credentials, { name: 'admin', projects: ['*'], actions: ['*'], token: true, aksk: true });
      io.out(`Created ${config.credentials} (mode 0600) with principal 'admin', allowed everything.`);
      io.out('Its secrets are shown this once; only the token hash is stored:');
      io.out(`  X-Auth-Token: ${secrets.token}`);
      io.out(`  AK: ${secrets.ak}`);
      io.out(`  SK: ${secrets.sk}`);
    }
    const ctx = await createContext(config);
    return runServer(ctx, io);
  },
};

/** A listening server and how to stop it. */
export interface RunningServer {
  readonly url: string;
  /** Resolves with the exit code once the server has stopped. */
  readonly stopped: Promise<number>;
}

export interface StartOptions {
  /** Where to write a readable line per request (method, path, status, ms, request id); none by default. */
  readonly requestLines?: (line: string) => void;
}

/**
 * Listens on the configured address and serves until SIGTERM or SIGINT. SIGTERM first
 * drains for `--drain-seconds` (`/readyz` answers 503, requests are still served); then,
 * as at once on SIGINT or a second signal, the server stops accepting, finishes the
 * requests in flight and closes the store. SIGHUP re-reads the credentials.
 */
export async function startServer(ctx: Context, io: Io, options: StartOptions = {}): Promise<RunningServer> {
  const { config, logger } = ctx;
  if (config.auth === 'none') {
    const warning = "AUTHENTICATION IS OFF (--auth none): anyone who can reach this port can read and delete every project's jobs";
    logger.warn(warning);
    io.err(`WARNING: ${warning}.`);
  }
  const app = await buildApp(ctx);
  const print = options.requestLines;
  if (print !== undefined) {
    app.addHook('onResponse', (request, reply, done) => {
      print(
        `${new Date().toISOString().slice(11, 19)}  ${request.method} ${request.url}  ${reply.statusCode}  ${reply.elapsedTime.toFixed(1)} ms  ${request.id}`,
      );
      done();
    });
  }
  // While draining, each response closes its connection, so a keep-alive client reconnects
  // (through its load balancer) to a node that is staying.
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (ctx.readiness.draining) reply.header('connection', 'close');
    done(null, payload);
  });

  try {
    await app.listen({ host: config.host, port: config.port });
  } catch (error) {
    await app.close();
    await ctx.close();
    throw error;
  }
  // Every node delivers webhooks: deliveries are claimed under leases, so nodes share them.
  ctx.delivery.start();
  // Every node runs retention rounds; a store-wide lock lets one of them delete at a time.
  ctx.retention?.start();
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `http://${host}:${port}`;
  logger.info({ url, db: redactUrl(config.db), auth: config.auth }, 'listening');

  const stopped = new Promise<number>((resolve) => {
    let draining: NodeJS.Timeout | undefined;
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      clearTimeout(draining);
      logger.info({ signal }, 'draining in-flight requests');
      app
        .close()
        .then(() => ctx.close())
        .then(
          () => {
            logger.info('stopped');
            resolve(0);
          },
          (error: unknown) => {
            logger.error({ err: error }, 'error while stopping');
            resolve(1);
          },
        )
        .finally(() => {
          process.off('SIGTERM', onTerm);
          process.off('SIGINT', onInt);
          process.off('SIGHUP', onHup);
        });
    };
    // SIGTERM (what orchestrators and rolling restarts send) first drains: /readyz answers
    // 503 for --drain-seconds while requests are still served, so the load balancer takes
    // this node out before it stops accepting. SIGINT (Ctrl-C), or a second signal during
    // the drain, stops at once.
    const onTerm = () => {
      if (draining !== undefined || config.drainSeconds === 0) return stop('SIGTERM');
      ctx.readiness.drain();
      logger.info({ signal: 'SIGTERM', seconds: config.drainSeconds }, 'draining: /readyz answers 503, requests are still served');
      draining = setTimeout(() => stop('SIGTERM'), config.drainSeconds * 1000);
    };
    const onInt = () => stop('SIGINT');
    const onHup = () => {
      try {
        ctx.auth.reload();
        logger.info('credentials reloaded');
      } catch (error) {
        logger.error({ err: error }, 'credentials reload failed; keeping the previous credentials');
      }
    };
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onInt);
    process.on('SIGHUP', onHup);
  });
  return { url, stopped };
}

/** Starts the server and waits for it to stop. */
export async function runServer(ctx: Context, io: Io): Promise<number> {
  const { stopped } = await startServer(ctx, io);
  return stopped;
}
