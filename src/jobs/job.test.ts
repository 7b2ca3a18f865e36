import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ServiceError } from '../errors.js';
import { decideReport, isoTime, toReportedJob, toStoredJob, type ReportedJob } from './job.js';
import type { JobDocument, JobStatus } from './jobs.schema.js';

function sdrs(overrides: Partial<Record<keyof JobDocument, unknown>> = {}): JobDocument {
  return {
    job_id: 'job-1',
    service: 'sdrs',
    job_type: 'createProtectedInstance',
    operation: 'create',
    status: 'FAIL',
    begin_time: '2019-01-21T12:56:35.754Z',
    end_time: '2019-01-21T12:57:01.002Z',
    error_code: 'EVS.2024',
    fail_reason: 'volume is error!',
    resource: { id: 'pi-1', name: 'PI', type: 'protected_instances' },
    server_group_id: 'group-1',
    entities: { protected_instance_id: 'pi-1' },
    ...overrides,
  } as JobDocument;
}

function kps(overrides: Partial<Record<keyof JobDocument, unknown>> = {}): JobDocument {
  return {
    job_id: 'task-1',
    service: 'kps',
    job_type: 'resetKeypair',
    operation: 'reset',
    status: 'RUNNING',
    begin_time: '2018-04-10T06:35:30.000Z',
    server: { id: 'srv-1', name: 'Test' },
    keypair_name: 'KeyPair-xt',
    ...overrides,
  } as JobDocument;
}

const running = { status: 'RUNNING', end_time: null, error_code: null, fail_reason: null };

/** Asserts `fn` throws invalid_parameter naming `field` with a message matching `message`. */
function refuses(fn: () => unknown, field: string, message: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ServiceError, String(error));
    assert.equal(error.kind, 'invalid_parameter');
    assert.equal(error.field, field);
    assert.ok(error.message.startsWith(field + ' '), error.message);
    assert.match(error.message, message);
    return true;
  });
}

describe('toReportedJob', () => {
  it('turns a document into a row with epoch-millisecond times and sorted entities', () => {
    const row = toReportedJob('proj', sdrs({ entities: { volume_ids: 'v1,v2', protected_instance_id: 'pi-1' } }));
    assert.equal(row.project_id, 'proj');
    assert.equal(row.begin_time, Date.UTC(2019, 0, 21, 12, 56, 35, 754));
    assert.equal(row.end_time, Date.UTC(2019, 0, 21, 12, 57, 1, 2));
    assert.equal(row.entities, '{"protected_instance_id":"pi-1","volume_ids":"v1,v2"}');
    assert.equal(row.resource_type, 'protected_instances');
    assert.equal(row.server_group_id, 'group-1');
    assert.equal(row.server_id, null);
  });

  it('reads zone offsets as the instant they name', () => {
    const row = toReportedJob('p', sdrs({ begin_time: '2019-01-21T13:56:35.754+01:00', ...running }));
    assert.equal(row.begin_time, Date.UTC(2019, 0, 21, 12, 56, 35, 754));
  });

  it('takes a group-level job as its own server_group_id', () => {
    const row = toReportedJob('p', sdrs({ resource: { id: 'g-9', name: 'G', type: 'server_groups' }, server_group_id: undefined }));
    assert.equal(row.server_group_id, 'g-9');
  });

  it('keeps a kps job with its server and key pair', () => {
    const row = toReportedJob('p', kps());
    assert.deepEqual([row.server_id, row.server_name, row.keypair_name, row.resource_id], ['srv-1', 'Test', 'KeyPair-xt', null]);
    assert.equal(row.entities, '{}');
  });

  it('refuses dates that do not exist', () => {
    for (const date of [
      '2019-02-30T00:00:00Z',
      '2019-02-29T00:00:00Z',
      '2019-13-01T00:00:00Z',
      '2019-00-10T00:00:00Z',
      '2019-04-31T00:00:00Z',
      '2019-06-00T00:00:00Z',
      '2100-02-29T00:00:00Z',
    ]) {
      refuses(() => toReportedJob('p', sdrs({ begin_time: date })), 'begin_time', /is not a real date/);
    }
    refuses(() => toReportedJob('p', sdrs({ end_time: '2019-02-30T00:00:00Z' })), 'end_time', /is not a real date, got '2019-02-30T00:00:00Z'/);
  });

  it('accepts 29 February in a leap year', () => {
    const row = toReportedJob('p', sdrs({ begin_time: '2020-02-29T00:00:00Z', end_time: '2020-02-29T00:00:01Z' }));
    assert.equal(row.begin_time, Date.UTC(2020, 1, 29));
    assert.equal(toReportedJob('p', sdrs({ ...running, begin_time: '2000-02-29T00:00:00Z' })).begin_time, Date.UTC(2000, 1, 29));
  });

  it('refuses an end_time before begin_time, or on a job that is not finished', () => {
    refuses(() => toReportedJob('p', sdrs({ end_time: '2019-01-21T12:56:35.753Z' })), 'end_time', /must not be before begin_time/);
    refuses(
      () => toReportedJob('p', sdrs({ ...running, end_time: '2019-01-21T12:57:01.002Z' })),
      'end_time',
      /must be null until the job is SUCCESS or FAIL \(status is RUNNING\)/,
    );
  });

  it('refuses error_code and fail_reason on a job that did not fail', () => {
    refuses(() => toReportedJob('p', sdrs({ status: 'SUCCESS', fail_reason: null })), 'error_code', /must be null unless status is FAIL \(status is SUCCESS\)/);
    refuses(() => toReportedJob('p', sdrs({ ...running, fail_reason: 'x' })), 'fail_reason', /must be null unless status is FAIL/);
  });

  it('refuses an operation of the other service, listing those allowed', () => {
    refuses(() => toReportedJob('p', sdrs({ operation: 'reset' })), 'operation', /must be one of create, delete, .*reprotect for service sdrs, got 'reset'/);
    refuses(() => toReportedJob('p', kps({ operation: 'create' })), 'operation', /must be one of reset, replace, unbind for service kps, got 'create'/);
  });

  it('requires what each service needs to show a top-level job', () => {
    refuses(() => toReportedJob('p', sdrs({ resource: undefined })), 'resource', /is required for a top-level sdrs job/);
    refuses(() => toReportedJob('p', sdrs({ server_group_id: null })), 'server_group_id', /is required for a protected_instances job/);
    refuses(() => toReportedJob('p', kps({ server: undefined })), 'server', /is required for a top-level kps job/);
    refuses(() => toReportedJob('p', kps({ keypair_name: null })), 'keypair_name', /is required for a top-level kps job/);
  });

  it('lets sub-jobs leave out what only top-level jobs need', () => {
    const sub = toReportedJob('p', sdrs({ job_id: 'sub-1', parent_job_id: 'job-1', resource: undefined, server_group_id: undefined }));
    assert.equal(sub.parent_job_id, 'job-1');
    assert.equal(toReportedJob('p', kps({ job_id: 'sub-2', parent_job_id: 'task-1', server: undefined, keypair_name: undefined })).server_id, null);
  });

  it('refuses fields of the other service', () => {
    refuses(() => toReportedJob('p', sdrs({ keypair_name: 'k' })), 'keypair_name', /is for kps jobs only/);
    refuses(() => toReportedJob('p', sdrs({ server: { id: 's', name: 'n' } })), 'server', /is for kps jobs only/);
    refuses(() => toReportedJob('p', kps({ resource: { id: 'r', name: 'n', type: 'replications' } })), 'resource', /is for sdrs jobs only/);
    refuses(() => toReportedJob('p', kps({ server_group_id: 'g' })), 'server_group_id', /is for sdrs jobs only/);
    refuses(() => toReportedJob('p', kps({ entities: { nic_id: 'n' } })), 'entities', /is for sdrs jobs only/);
  });

  it('refuses a group-level job naming another group', () => {
    refuses(
      () => toReportedJob('p', sdrs({ resource: { id: 'g-1', name: 'G', type: 'server_groups' }, server_group_id: 'g-2' })),
      'server_group_id',
      /must be the group itself \(resource.id 'g-1'\)/,
    );
  });

  it('refuses a job that is its own parent', () => {
    refuses(() => toReportedJob('p', sdrs({ parent_job_id: 'job-1' })), 'parent_job_id', /must not be the job itself/);
  });

  it('refuses text the store cannot keep as sent, anywhere in the document', () => {
    refuses(() => toReportedJob('p', sdrs({ job_type: 'a\u0000' })), 'job_type', /^job_type must not contain the NUL character \(\\u0000\)$/);
    refuses(() => toReportedJob('p', sdrs({ entities: { volume_ids: 'v\u0000' } })), 'entities.volume_ids', /NUL character/);
    refuses(() => toReportedJob('p', kps({ server: { id: 'srv-1', name: 'x\udfff' } }), 'jobs[2].'), 'jobs[2].server.name', /unpaired surrogate/);
    assert.equal(toReportedJob('p', sdrs({ fail_reason: 'disk \ud83d\udca5 full' })).fail_reason, 'disk \ud83d\udca5 full');
  });

  it('prefixes field names for batch items', () => {
    refuses(() => toReportedJob('p', sdrs({ begin_time: '2019-02-30T00:00:00Z' }), 'jobs[7].'), 'jobs[7].begin_time', /is not a real date/);
  });
});

describe('decideReport: the state machine', () => {
  const at = (status: JobStatus, overrides: Partial<Record<keyof JobDocument, unknown>> = {}): ReportedJob => {
    const terminal = status === 'SUCCESS' || status === 'FAIL';
    return toReportedJob(
      'p',
      sdrs({
        status,
        end_time: terminal ? '2019-01-21T12:57:01.002Z' : null,
        error_code: status === 'FAIL' ? 'EVS.2024' : null,
        fail_reason: status === 'FAIL' ? 'volume is error!' : null,
        ...overrides,
      }),
    );
  };
  const STATUSES: JobStatus[] = ['INIT', 'RUNNING', 'SUCCESS', 'FAIL'];

  it('creates a job it has not seen', () => {
    assert.deepEqual(decideReport(undefined, at('RUNNING')), { result: 'created' });
  });

  it('follows INIT → RUNNING → SUCCESS | FAIL, skipping steps allowed, never back, never out of a terminal state', () => {
    const expected: Record<JobStatus, Record<JobStatus, string>> = {
      INIT: { INIT: 'unchanged', RUNNING: 'updated', SUCCESS: 'updated', FAIL: 'updated' },
      RUNNING: { INIT: 'rejected', RUNNING: 'unchanged', SUCCESS: 'updated', FAIL: 'updated' },
      SUCCESS: { INIT: 'rejected', RUNNING: 'rejected', SUCCESS: 'unchanged', FAIL: 'rejected' },
      FAIL: { INIT: 'rejected', RUNNING: 'rejected', SUCCESS: 'rejected', FAIL: 'unchanged' },
    };
    for (const from of STATUSES) {
      for (const to of STATUSES) {
        const decision = decideReport(at(from), at(to));
        assert.equal(decision.result, expected[from][to], `${from} → ${to}`);
        if (decision.result === 'rejected') {
          assert.equal(decision.error.kind, 'conflict');
          assert.match(decision.error.message, /^job 'job-1': /);
        }
      }
    }
  });

  it('says why a report is refused', () => {
    const back = decideReport(at('RUNNING'), at('INIT'));
    assert.equal(back.result, 'rejected');
    assert.match(back.result === 'rejected' ? back.error.message : '', /status cannot move back from RUNNING to INIT/);
    const done = decideReport(at('FAIL'), at('FAIL', { fail_reason: 'something else' }));
    assert.match(done.result === 'rejected' ? done.error.message : '', /already FAIL and a finished job never changes \(reported fail_reason differ\)/);
  });

  it('updates what a running job may still change', () => {
    assert.equal(decideReport(at('RUNNING'), at('RUNNING', { resource: { id: 'pi-1', name: 'renamed', type: 'protected_instances' } })).result, 'updated');
    assert.equal(decideReport(at('RUNNING'), at('RUNNING', { entities: { protected_instance_id: 'pi-1', nic_id: 'nic-1' } })).result, 'updated');
  });

  it('never lets a report change what identifies a job', () => {
    const changes: [string, Partial<Record<keyof JobDocument, unknown>>][] = [
      ['operation', { operation: 'delete' }],
      ['job_type', { job_type: 'other' }],
      ['begin_time', { begin_time: '2019-01-21T12:56:35.755Z' }],
      ['resource_type', { resource: { id: 'pi-1', name: 'PI', type: 'replications' } }],
      ['resource_id', { resource: { id: 'pi-2', name: 'PI', type: 'protected_instances' } }],
      ['server_group_id', { server_group_id: 'group-2' }],
      ['parent_job_id', { parent_job_id: 'job-0' }],
    ];
    for (const [field, change] of changes) {
      const decision = decideReport(at('RUNNING'), at('RUNNING', change));
      assert.equal(decision.result, 'rejected', field);
      assert.match(decision.result === 'rejected' ? decision.error.message : '', new RegExp(`${field} cannot change once reported`), field);
    }
    const service = decideReport(at('RUNNING'), toReportedJob('p', kps({ job_id: 'job-1' })));
    assert.match(service.result === 'rejected' ? service.error.message : '', /service cannot change once reported \(stored 'sdrs', reported 'kps'\)/);
  });
});

describe('toStoredJob', () => {
  it('shows a row as the producer API document', () => {
    const row = { ...toReportedJob('p', sdrs()), cleared: 1, created_at: 0, updated_at: 1_000 };
    const job = toStoredJob(row);
    assert.equal(job.begin_time, '2019-01-21T12:56:35.754Z');
    assert.deepEqual(job.resource, { id: 'pi-1', name: 'PI', type: 'protected_instances' });
    assert.deepEqual(job.entities, { protected_instance_id: 'pi-1' });
    assert.equal(job.server, null);
    assert.equal(job.failure_cleared, true);
    assert.equal(job.created_at, '1970-01-01T00:00:00.000Z');
    assert.equal(job.updated_at, '1970-01-01T00:00:01.000Z');
  });

  it('formats times as yyyy-MM-ddTHH:mm:ss.SSSZ in UTC', () => {
    assert.equal(isoTime(Date.UTC(2019, 3, 1, 12)), '2019-04-01T12:00:00.000Z');
  });

  it('formats every time as toISOString does, on the same day as the call before or not', () => {
    const day = 86_400_000;
    const times = [0, 1, 999, day - 1, day, Date.UTC(2024, 1, 29, 23, 59, 59, 999), Date.UTC(2024, 2, 1), 253_402_300_799_999];
    // Days apart, then the same day again, then neighbours within one millisecond of midnight.
    for (let t = Date.UTC(2019, 0, 21, 12, 56, 35, 754); t < Date.UTC(2027, 0, 1); t += 7_919_003) times.push(t, t + 3_600_001, t - 1);
    for (const ms of times) assert.equal(isoTime(ms), new Date(ms).toISOString(), String(ms));
    // Outside four-digit years after the epoch, and what is not a whole millisecond, toISOString decides.
    for (const ms of [-1, -day - 5, 253_402_300_800_000, 1.5]) assert.equal(isoTime(ms), new Date(ms).toISOString(), String(ms));
    assert.throws(() => isoTime(Number.NaN), RangeError);
  });
});
