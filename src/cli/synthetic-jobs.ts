/**
 * Realistic synthetic job documents, as producers would report them: SDRS jobs on the
 * protection groups of a project (with their protected instances, replication pairs and
 * DR drills, some with sub-jobs) and KPS key-pair tasks on its servers. Everything comes
 * from a seeded {@link Random}, so the same seed gives the same documents. Used by
 * `seed` (at scale) and `demo` (a small, complete set).
 */
import type { Entities, JobDocument, JobStatus, SdrsResourceType } from '../jobs/jobs.schema.js';
import type { Random } from './random.js';

type SdrsOperation = 'create' | 'delete' | 'attach' | 'detach' | 'expand' | 'resize' | 'start' | 'stop' | 'reverse' | 'failover' | 'reprotect';
type KpsOperation = 'reset' | 'replace' | 'unbind';

/** What each SDRS operation is called on each resource type it applies to, and how often it happens. */
const SDRS_JOB_TYPES: Readonly<Record<SdrsResourceType, readonly (readonly [SdrsOperation, string, number])[]>> = {
  server_groups: [
    ['create', 'createServerGroup', 20],
    ['delete', 'deleteServerGroup', 8],
    ['start', 'startServerGroup', 16],
    ['stop', 'stopServerGroup', 14],
    ['reverse', 'reverseServerGroup', 14],
    ['failover', 'failoverServerGroup', 10],
    ['reprotect', 'reprotectServerGroup', 12],
  ],
  protected_instances: [
    ['create', 'createProtectedInstance', 40],
    ['delete', 'deleteProtectedInstance', 18],
    ['attach', 'addProtectedInstanceNic', 12],
    ['detach', 'deleteProtectedInstanceNic', 10],
    ['resize', 'resizeProtectedInstance', 20],
  ],
  replications: [
    ['create', 'createReplicationPair', 34],
    ['delete', 'deleteReplicationPair', 18],
    ['expand', 'expandReplicationPair', 20],
    ['attach', 'attachReplicationPair', 16],
    ['detach', 'detachReplicationPair', 12],
  ],
  disaster_recovery_drills: [
    ['create', 'createDisasterRecoveryDrill', 70],
    ['delete', 'deleteDisasterRecoveryDrill', 30],
  ],
};

/** Every (resource type, operation) pair a producer reports, each with its job type. */
export const SDRS_COMBINATIONS: readonly { readonly resourceType: SdrsResourceType; readonly operation: SdrsOperation; readonly jobType: string }[] =
  Object.entries(SDRS_JOB_TYPES).flatMap(([resourceType, ops]) =>
    ops.map(([operation, jobType]) => ({ resourceType: resourceType as SdrsResourceType, operation, jobType })),
  );

const KPS_JOB_TYPES: Readonly<Record<KpsOperation, string>> = { reset: 'resetKeypair', replace: 'replaceKeypair', unbind: 'unbindKeypair' };
/** Every KPS operation a producer reports. */
export const KPS_OPERATION_NAMES: readonly KpsOperation[] = ['reset', 'replace', 'unbind'];

type Failure = readonly [code: string | null, reason: string];
/** A failure and, when it is specific, the operations it happens in. */
type SdrsFailure = readonly [code: string, reason: string, operations?: readonly SdrsOperation[]];

/** Failures as the failing step reports them: often another service's code. */
const SDRS_FAILURES: Readonly<Record<SdrsResourceType, readonly SdrsFailure[]>> = {
  server_groups: [
    ['SDRS.1014', 'The protection group is in a state that does not allow this operation.'],
    ['SDRS.1305', 'Failed to start protection: a replication pair of the group is in the error state.', ['start', 'reprotect']],
    ['ECS.0005', 'Stopping the production site servers timed out.', ['stop', 'reverse', 'failover']],
    ['SDRS.1403', 'A DR site server could not be started.', ['failover', 'reverse']],
    ['VPC.0012', 'The VPC of the DR site does not exist.', ['create']],
    ['SDRS.1016', 'The protection group still has protected instances.', ['delete']],
  ],
  protected_instances: [
    ['SDRS.1014', 'The protection group is in a state that does not allow this operation.'],
    ['EVS.2024', 'volume is error!', ['create', 'delete', 'resize']],
    ['ECS.0013', 'Insufficient ECS instance quota in the DR availability zone.', ['create']],
    ['ECS.0114', 'The flavor is sold out in the DR availability zone.', ['create', 'resize']],
    ['VPC.0115', 'The subnet has no free IP address for the DR site NIC.', ['create', 'attach']],
    ['ECS.0221', 'The primary NIC of a server cannot be detached.', ['detach']],
  ],
  replications: [
    ['EVS.2024', 'volume is error!', ['create', 'expand', 'delete']],
    ['EVS.1004', 'Insufficient EVS disk quota.', ['create', 'expand']],
    ['SDRS.1501', 'The replication pair is not in the available state.', ['expand', 'attach', 'detach', 'delete']],
    ['SDRS.1604', 'The volume is already attached to another server.', ['attach']],
  ],
  disaster_recovery_drills: [
    ['SDRS.1702', 'DR drill failed: no IP address left in the drill VPC.', ['create']],
    ['ECS.0013', 'Insufficient ECS instance quota for the drill servers.', ['create']],
    ['ECS.0005', 'Deleting the drill servers timed out.', ['delete']],
  ],
};

function sdrsFailure(rng: Random, resourceType: SdrsResourceType, operation: SdrsOperation): Failure {
  const [code, reason] = rng.pick(SDRS_FAILURES[resourceType].filter(([, , ops]) => ops === undefined || ops.includes(operation)));
  return [code, reason];
}

const KPS_FAILURES: Readonly<Record<KpsOperation, readonly Failure[]>> = {
  reset: [
    [null, 'Update public key error'],
    ['KPS.2060', 'The ECS must be stopped before its key pair is reset.'],
    ['ECS.0114', 'The server was deleted while the task was running.'],
  ],
  replace: [
    [null, 'Update public key error'],
    ['KPS.2060', 'The ECS must be stopped before its key pair is replaced.'],
    ['KPS.0010', 'The new key pair no longer exists.'],
  ],
  unbind: [
    [null, 'Unbind key pair failed: the server did not answer.'],
    ['KPS.2061', 'The key pair is not bound to this server.'],
  ],
};

const APPS = ['erp', 'crm', 'billing', 'web', 'mes', 'hr', 'payroll', 'gitlab', 'oa', 'dw', 'sap_hana', 'mail'];
const ENVS = ['prod', 'dr', 'staging', 'test'];

interface Instance {
  readonly id: string;
  readonly name: string;
  readonly serverId: string;
  readonly nicId: string;
  readonly volumeIds: readonly string[];
  readonly replication: { readonly id: string; readonly name: string };
}

/** A protection group and the members its jobs act on. */
export interface ProtectionGroup {
  readonly id: string;
  readonly name: string;
  readonly instances: readonly Instance[];
  readonly drills: readonly { readonly id: string; readonly name: string }[];
}

interface Server {
  readonly id: string;
  readonly name: string;
}

/** Everything a project's jobs act on. */
export interface Estate {
  readonly groups: readonly ProtectionGroup[];
  readonly servers: readonly Server[];
  readonly keypairs: readonly string[];
}

/** A project's protection groups (1–6 instances, 0–2 drills each), servers and key pairs. */
export function createEstate(rng: Random, size: { readonly groups: number; readonly servers: number }): Estate {
  const groups = Array.from({ length: size.groups }, (_, g): ProtectionGroup => {
    const instances = Array.from({ length: rng.int(1, 6) }, (): Instance => {
      const tag = rng.hex(4);
      return {
        id: rng.uuid(),
        name: `Protected-Instance-${tag}`,
        serverId: rng.uuid(),
        nicId: rng.uuid(),
        volumeIds: Array.from({ length: rng.int(1, 3) }, () => rng.uuid()),
        replication: { id: rng.uuid(), name: `replication-${tag}` },
      };
    });
    const drills = Array.from({ length: rng.int(0, 2) }, () => ({ id: rng.uuid(), name: `drill-${rng.hex(6)}` }));
    return { id: rng.uuid(), name: `${rng.pick(APPS)}-${rng.pick(ENVS)}-pg${String(g + 1).padStart(2, '0')}`, instances, drills };
  });
  const servers = Array.from({ length: size.servers }, (_, s) => ({
    id: rng.uuid(),
    name: `ecs-${rng.pick(APPS)}-${String(s + 1).padStart(2, '0')}`,
  }));
  const keypairs = Array.from({ length: Math.max(2, Math.ceil(size.servers / 3)) }, () => `KeyPair-${rng.hex(4)}`);
  return { groups, servers, keypairs };
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** What an SDRS job to build is: the caller decides, the estate and the seed supply the rest. */
export interface SdrsJobSpec {
  readonly resourceType: SdrsResourceType;
  readonly operation: SdrsOperation;
  readonly status: JobStatus;
  readonly beginTime: number;
  readonly group?: ProtectionGroup;
  /** Report the steps as sub-jobs, where the operation has steps (default false). */
  readonly subJobs?: boolean;
}

/**
 * One top-level SDRS job followed by its sub-jobs, if any: a failed parent's last
 * sub-job failed with the parent's error; a running parent's steps are partly done.
 */
export function sdrsJobs(rng: Random, estate: Estate, spec: SdrsJobSpec): JobDocument[] {
  const group = spec.group ?? rng.pick(estate.groups);
  const instance = rng.pick(group.instances);
  const jobType = SDRS_JOB_TYPES[spec.resourceType].find(([op]) => op === spec.operation)?.[1];
  if (jobType === undefined) throw new Error(`no SDRS ${spec.operation} job on ${spec.resourceType}`);
  const duration = rng.int(10 * SECOND, 25 * MINUTE);
  const terminal = spec.status === 'SUCCESS' || spec.status === 'FAIL';
  const failure = spec.status === 'FAIL' ? sdrsFailure(rng, spec.resourceType, spec.operation) : null;

  let resource: { id: string; name: string };
  const entities: Entities = { server_group_id: group.id };
  switch (spec.resourceType) {
    case 'server_groups':
      resource = group;
      break;
    case 'protected_instances':
      resource = instance;
      entities.protected_instance_id = instance.id;
      entities.native_server_id = instance.serverId;
      if (spec.operation === 'create') entities.volume_ids = instance.volumeIds.join(',');
      if (spec.operation === 'attach' || spec.operation === 'detach') entities.nic_id = instance.nicId;
      break;
    case 'replications':
      resource = instance.replication;
      entities.replication_pair_id = instance.replication.id;
      entities.volume_ids = instance.volumeIds.join(',');
      if (spec.operation === 'attach' || spec.operation === 'detach') entities.protected_instance_id = instance.id;
      break;
    case 'disaster_recovery_drills': {
      resource = group.drills[0] ?? { id: rng.uuid(), name: `drill-${rng.hex(6)}` };
      break;
    }
  }

  const parent: JobDocument = {
    job_id: rng.hex(32),
    service: 'sdrs',
    job_type: jobType,
    operation: spec.operation,
    status: spec.status,
    begin_time: iso(spec.beginTime),
    end_time: terminal ? iso(spec.beginTime + duration) : null,
    error_code: failure?.[0] ?? null,
    fail_reason: failure?.[1] ?? null,
    resource: { id: resource.id, name: resource.name, type: spec.resourceType },
    server_group_id: group.id,
    entities,
    parent_job_id: null,
  };
  if (spec.subJobs !== true || spec.status === 'INIT') return [parent];

  const steps = subJobSteps(spec, group, instance);
  if (steps.length === 0) return [parent];
  // A failed parent stopped at its failing step; a running one is somewhere in the middle.
  const last = spec.status === 'SUCCESS' ? steps.length - 1 : rng.int(0, steps.length - 1);
  const stepTime = Math.floor(duration / steps.length);
  return [
    parent,
    ...steps
      .map((step, i): JobDocument => {
        const status: JobStatus = spec.status === 'SUCCESS' || i < last ? 'SUCCESS' : i > last ? 'INIT' : spec.status === 'FAIL' ? 'FAIL' : 'RUNNING';
        const begin = spec.beginTime + i * (spec.status === 'RUNNING' ? 15 * SECOND : stepTime);
        return {
          job_id: rng.hex(32),
          service: 'sdrs',
          job_type: step.jobType,
          operation: step.operation,
          status,
          begin_time: iso(begin),
          end_time: status === 'SUCCESS' || status === 'FAIL' ? iso(begin + (spec.status === 'RUNNING' ? 10 * SECOND : stepTime)) : null,
          error_code: status === 'FAIL' ? (failure?.[0] ?? null) : null,
          fail_reason: status === 'FAIL' ? (failure?.[1] ?? null) : null,
          resource: step.resource,
          server_group_id: group.id,
          entities: step.entities,
          parent_job_id: parent.job_id,
        };
      })
      .slice(0, spec.status === 'FAIL' ? last + 1 : steps.length),
  ];
}

interface Step {
  readonly jobType: string;
  readonly operation: SdrsOperation;
  readonly resource: { id: string; name: string; type: SdrsResourceType };
  readonly entities: Entities;
}

/** The steps an operation runs as sub-jobs: per instance for group actions, per part for a new instance. */
function subJobSteps(spec: SdrsJobSpec, group: ProtectionGroup, instance: Instance): Step[] {
  const onInstance = (i: Instance) => ({ id: i.id, name: i.name, type: 'protected_instances' as const });
  if (spec.resourceType === 'protected_instances' && spec.operation === 'create') {
    const pair = { id: instance.replication.id, name: instance.replication.name, type: 'replications' as const };
    const pairEntities = { server_group_id: group.id, replication_pair_id: instance.replication.id, volume_ids: instance.volumeIds.join(',') };
    return [
      {
        jobType: 'createNativeServer',
        operation: 'create',
        resource: onInstance(instance),
        entities: { server_group_id: group.id, native_server_id: instance.serverId },
      },
      { jobType: 'createReplicationPair', operation: 'create', resource: pair, entities: pairEntities },
      { jobType: 'attachReplicationPair', operation: 'attach', resource: pair, entities: { ...pairEntities, protected_instance_id: instance.id } },
    ];
  }
  if (spec.resourceType === 'server_groups' && ['start', 'stop', 'reverse', 'failover', 'reprotect'].includes(spec.operation)) {
    return group.instances.slice(0, 4).map((i) => ({
      jobType: `${spec.operation}ProtectedInstance`,
      operation: spec.operation,
      resource: onInstance(i),
      entities: { server_group_id: group.id, protected_instance_id: i.id, native_server_id: i.serverId },
    }));
  }
  return [];
}

/** True when {@link sdrsJobs} can report steps for this operation. */
export function hasSubJobs(resourceType: SdrsResourceType, operation: SdrsOperation): boolean {
  return (
    (resourceType === 'protected_instances' && operation === 'create') || (resourceType === 'server_groups' && operation !== 'create' && operation !== 'delete')
  );
}

/** What a KPS task to build is. */
export interface KpsJobSpec {
  readonly operation: KpsOperation;
  readonly status: JobStatus;
  readonly beginTime: number;
}

/** One KPS key-pair task (no sub-jobs); task ids are UUIDs, as KPS issues them. */
export function kpsJob(rng: Random, estate: Estate, spec: KpsJobSpec): JobDocument {
  const server = rng.pick(estate.servers);
  const failure = spec.status === 'FAIL' ? rng.pick(KPS_FAILURES[spec.operation]) : null;
  const terminal = spec.status === 'SUCCESS' || spec.status === 'FAIL';
  return {
    job_id: rng.uuid(),
    service: 'kps',
    job_type: KPS_JOB_TYPES[spec.operation],
    operation: spec.operation,
    status: spec.status,
    // KPS reports task times to the second.
    begin_time: iso(Math.floor(spec.beginTime / SECOND) * SECOND),
    end_time: terminal ? iso((Math.floor(spec.beginTime / SECOND) + rng.int(5, 180)) * SECOND) : null,
    error_code: failure?.[0] ?? null,
    fail_reason: failure?.[1] ?? null,
    server: { id: server.id, name: server.name },
    keypair_name: rng.pick(estate.keypairs),
  };
}

/** Where begin times fall: terminal jobs anywhere in the span, unfinished ones in its last half hour. */
export interface TimeSpan {
  /** The newest begin time, epoch milliseconds. */
  readonly endTime: number;
  /** How far back terminal jobs go, milliseconds. */
  readonly spanMs: number;
}

const STATUS_MIX: readonly (readonly [JobStatus, number])[] = [
  ['SUCCESS', 84],
  ['FAIL', 11],
  ['RUNNING', 3],
  ['INIT', 2],
];
const RESOURCE_MIX: readonly (readonly [SdrsResourceType, number])[] = [
  ['server_groups', 25],
  ['protected_instances', 40],
  ['replications', 28],
  ['disaster_recovery_drills', 7],
];

/** A begin time for a job in `status`: recent when it is still going. */
export function beginTimeFor(rng: Random, status: JobStatus, span: TimeSpan): number {
  const terminal = status === 'SUCCESS' || status === 'FAIL';
  const window = terminal ? span.spanMs : Math.min(span.spanMs, 30 * MINUTE);
  return span.endTime - Math.floor(rng.next() * window);
}

/** One random report: an SDRS job (70%, often with sub-jobs) or a KPS task, mostly finished, some failed. */
export function randomJobs(rng: Random, estate: Estate, span: TimeSpan): JobDocument[] {
  const status = rng.weighted(STATUS_MIX);
  const beginTime = beginTimeFor(rng, status, span);
  if (rng.chance(0.3)) {
    return [
      kpsJob(rng, estate, {
        operation: rng.weighted([
          ['reset', 50],
          ['replace', 35],
          ['unbind', 15],
        ] as const),
        status,
        beginTime,
      }),
    ];
  }
  const resourceType = rng.weighted(RESOURCE_MIX);
  const operation = rng.weighted(SDRS_JOB_TYPES[resourceType].map(([op, , weight]) => [op, weight] as const));
  return sdrsJobs(rng, estate, { resourceType, operation, status, beginTime, subJobs: rng.chance(0.5) });
}

/** How many groups and servers a project with `jobs` jobs has: more jobs, more resources. */
export function estateSize(jobs: number): { groups: number; servers: number } {
  return { groups: Math.min(400, Math.max(1, Math.ceil(jobs / 50))), servers: Math.min(2000, Math.max(1, Math.ceil(jobs / 25))) };
}

/**
 * Exactly `count` job documents for one project, parents before their sub-jobs (a last
 * parent may lose some). The sequence depends only on `rng`'s seed, `count` and `span`.
 */
export function* projectJobs(rng: Random, count: number, span: TimeSpan): Generator<JobDocument> {
  const estate = createEstate(rng, estateSize(count));
  let left = count;
  while (left > 0) {
    for (const doc of randomJobs(rng, estate, span)) {
      if (left === 0) break;
      left--;
      yield doc;
    }
  }
}
