import { existsSync } from 'node:fs';
import { addPrincipal, readCredentialsFile } from '../auth/credentials.js';
import { ACTIONS, allows } from '../auth/principal.js';
import { DEFAULTS, envName, loadConfig } from '../config.js';
import { PROJECT_ID_PATTERN } from '../jobs/jobs.schema.js';
import { UsageError, asUsage, parseFlags, type Command } from './usage.js';

/** Bounds of --ttl: IAM issues temporary credentials for at most a day; a minute is short enough to test expiry. */
const MIN_TTL = 60;
const MAX_TTL = 86_400;

export const credentialsCommand: Command = {
  name: 'credentials',
  usage: `Usage: taskcenter credentials add --name N --project P... --action A... [--token] [--aksk] [--file F] [--json]
       taskcenter credentials add --name N --project P... --action A... --temporary --ttl SECONDS [--file F] [--json]

Adds a principal to the static credentials file (created with mode 0600 if missing) and
prints its new secrets once: the token and the security token are stored only as their
SHA-256 hashes, so they cannot be shown again. A running server reads the file again on
SIGHUP.

  --file F        credentials file (${DEFAULTS.credentials}; ${envName('credentials')})
  --name N        principal name, unique in the file
  --project P     project id it may touch, or * for every project; repeatable
  --action A      action it may perform, * wildcards allowed (sdrs:*, *); repeatable.
                  Actions: ${ACTIONS.join(', ')}
  --token         issue an X-Auth-Token
  --aksk          issue an access key / secret key pair (SDK-HMAC-SHA256 signing)
  --temporary     issue temporary credentials instead, as IAM does: an AK/SK with a
                  security token, which every request must carry in X-Security-Token,
                  valid for --ttl seconds
  --ttl SECONDS   how long temporary credentials are valid, ${MIN_TTL} to ${MAX_TTL} seconds
  --json          print the secrets as one JSON object, for scripts

At least one of --token, --aksk and --temporary is required.

Example:
  taskcenter credentials add --name ci --project 0a5f2d7c6e8b4a9d8c1e3f5a7b9d2c4e \\
    --action 'sdrs:*' --action 'kps:*' --action 'taskcenter:jobs:*' --token`,
  async run(args, io) {
    const [sub, ...rest] = args;
    if (sub !== 'add') {
      throw new UsageError(sub === undefined ? "missing subcommand: the only one is 'add'" : `unknown subcommand '${sub}': the only one is 'add'`);
    }
    const values = parseFlags(rest, {
      file: { type: 'string' },
      name: { type: 'string' },
      project: { type: 'string', multiple: true },
      action: { type: 'string', multiple: true },
      token: { type: 'boolean' },
      aksk: { type: 'boolean' },
      temporary: { type: 'boolean' },
      ttl: { type: 'string' },
      json: { type: 'boolean' },
    }).values as {
      file?: string;
      name?: string;
      project?: string[];
      action?: string[];
      token?: boolean;
      aksk?: boolean;
      temporary?: boolean;
      ttl?: string;
      json?: boolean;
    };

    const problems: string[] = [];
    const name = values.name ?? '';
    if (name.trim() === '') problems.push('--name is required');
    const projects = values.project ?? [];
    if (projects.length === 0) problems.push('--project is required (repeat it for several projects, or * for all)');
    for (const p of projects) {
      if (p !== '*' && !new RegExp(PROJECT_ID_PATTERN).test(p))
        problems.push(`--project must be * or a project id of 1-64 letters, digits, _ or -, got '${p}'`);
    }
    const actions = values.action ?? [];
    if (actions.length === 0) problems.push('--action is required (repeat it for several actions, or * for all)');
    for (const action of actions) {
      // A grant that matches no action is a typo that would silently deny everything.
      const principal = { name, projects: ['*'], actions: [action] };
      if (!ACTIONS.some((known) => allows(principal, known))) problems.push(`--action '${action}' matches none of: ${ACTIONS.join(', ')}`);
    }
    const temporary = values.temporary === true;
    let ttl: number | undefined;
    if (temporary) {
      // A token never expires: it would outlive the temporary credentials it came with.
      if (values.token === true || values.aksk === true) problems.push('--temporary issues an AK/SK with a security token: give it without --token and --aksk');
      ttl = /^\d{1,6}$/.test(values.ttl ?? '') ? Number(values.ttl) : NaN;
      if (values.ttl === undefined) problems.push(`--temporary needs --ttl SECONDS (${MIN_TTL} to ${MAX_TTL})`);
      else if (Number.isNaN(ttl) || ttl < MIN_TTL || ttl > MAX_TTL)
        problems.push(`--ttl must be an integer between ${MIN_TTL} and ${MAX_TTL} seconds, got '${values.ttl}'`);
    } else {
      if (values.ttl !== undefined) problems.push('--ttl applies only to --temporary credentials');
      if (values.token !== true && values.aksk !== true) problems.push('give --token, --aksk or both, or --temporary: a principal needs a way to authenticate');
    }
    if (problems.length > 0) throw new UsageError(problems.join('\n'));

    // Only the file path matters here; pinning auth keeps unrelated Keystone settings out of it.
    const file = asUsage(() => loadConfig({ credentials: values.file, auth: 'none' })).credentials;
    if (existsSync(file) && readCredentialsFile(file).principals.some((p) => p.name === name)) {
      throw new Error(`principal '${name}' already exists in ${file}; pick another --name`);
    }
    const secrets = addPrincipal(file, {
      name,
      projects,
      actions,
      token: values.token === true,
      aksk: values.aksk === true || temporary,
      ...(ttl === undefined ? {} : { temporaryTtlSeconds: ttl }),
    });
    if (values.json === true) {
      io.out(JSON.stringify({ file, name, ...secrets }));
      return 0;
    }
    io.out(`Added principal '${name}' to ${file} (mode 0600): projects ${projects.join(', ')}; actions ${actions.join(', ')}.`);
    io.out(`Its secrets are shown this once; only the hash of ${temporary ? 'the security token' : 'the token'} is stored:`);
    if (secrets.token !== undefined) io.out(`  X-Auth-Token: ${secrets.token}`);
    if (secrets.ak !== undefined) io.out(`  AK: ${secrets.ak}`);
    if (secrets.sk !== undefined) io.out(`  SK: ${secrets.sk}`);
    if (secrets.security_token !== undefined) io.out(`  X-Security-Token: ${secrets.security_token}`);
    if (secrets.expires_at !== undefined) io.out(`  expires at ${secrets.expires_at}`);
    io.out('A running server picks it up on SIGHUP (kill -HUP <pid>) or at its next start.');
    return 0;
  },
};
