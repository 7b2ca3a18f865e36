import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Type } from '@sinclair/typebox';
import { ServiceError, quote } from './errors.js';
import { BatchBody, BatchItem, JobDocument, JobListQuery, Nullable, OneOf, Timestamp } from './jobs/jobs.schema.js';
import { ITEMWISE_BYTES, checkJson, parseJsonBody, parseTextFields } from './validation.js';

/** The ServiceError `fn` throws, asserted to be invalid_parameter. */
function refusal(fn: () => unknown): ServiceError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ServiceError, String(error));
    assert.equal(error.kind, 'invalid_parameter');
    return error;
  }
  assert.fail('expected a refusal');
}

const Query = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000 })),
    offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 2147483647 })),
    unbounded: Type.Optional(Type.Integer({ minimum: 1 })),
    status: Type.Optional(OneOf(['INIT', 'FAIL'])),
    id: Type.Optional(Type.String({ pattern: '^[a-z]+$' })),
    name: Type.Optional(Type.String({ minLength: 2, maxLength: 4 })),
    must: Type.String(),
  },
  { additionalProperties: false },
);

describe('parseTextFields', () => {
  it('turns plain digits into integers and keeps text', () => {
    assert.deepEqual(parseTextFields(Query, { limit: '0', offset: '1000000', status: 'FAIL', id: 'abc', must: 'x' }), {
      limit: 0,
      offset: 1_000_000,
      status: 'FAIL',
      id: 'abc',
      must: 'x',
    });
  });

  it('refuses every integer that is not plain digits in range, naming the field, range and value', () => {
    for (const bad of ['', '1.5', 'abc', '-1', '1001', '1e3', ' 1', '0x10', '+1', '9999999999999999']) {
      const error = refusal(() => parseTextFields(Query, { limit: bad, must: 'x' }));
      assert.equal(error.field, 'limit');
      assert.equal(error.message, `limit must be an integer between 0 and 1000, got '${bad}'`);
    }
    assert.equal(refusal(() => parseTextFields(Query, { offset: '-5', must: 'x' })).message, "offset must be an integer between 0 and 2147483647, got '-5'");
  });

  it('states the upper bound of every integer, past 15 digits too, and reads leading zeros', () => {
    for (const bad of ['2147483648', '9007199254740991', '9'.repeat(40)]) {
      assert.equal(
        refusal(() => parseTextFields(Query, { offset: bad, must: 'x' })).message,
        `offset must be an integer between 0 and 2147483647, got ${quote(bad)}`,
      );
    }
    assert.equal(
      refusal(() => parseTextFields(Query, { unbounded: '9007199254740992', must: 'x' })).message,
      "unbounded must be an integer between 1 and 9007199254740991, got '9007199254740992'",
    );
    assert.deepEqual(parseTextFields(Query, { offset: '2147483647', limit: '0000000000000000007', must: 'x' }), { offset: 2147483647, limit: 7, must: 'x' });
  });

  it('takes an empty optional text field as not given, but refuses an empty integer or required field', () => {
    assert.deepEqual(parseTextFields(Query, { status: '', id: '', name: '', must: 'x' }), { must: 'x' });
    assert.equal(refusal(() => parseTextFields(Query, { limit: '', must: 'x' })).message, "limit must be an integer between 0 and 1000, got ''");
    assert.equal(refusal(() => parseTextFields(Query, { offset: '', must: 'x' })).field, 'offset');
    assert.equal(refusal(() => parseTextFields(Type.Object({ must: Type.String({ minLength: 1 }) }), { must: '' })).message, "must must not be empty, got ''");
  });

  it('refuses a parameter given twice', () => {
    const error = refusal(() => parseTextFields(Query, { limit: ['1', '2'], must: 'x' }));
    assert.equal(error.message, 'limit must be given once, got 2 values');
  });

  it('says which values, pattern or lengths are allowed', () => {
    assert.equal(refusal(() => parseTextFields(Query, { status: 'fail', must: 'x' })).message, "status must be one of INIT, FAIL, got 'fail'");
    assert.equal(refusal(() => parseTextFields(Query, { id: 'A', must: 'x' })).message, "id must match ^[a-z]+$, got 'A'");
    assert.equal(refusal(() => parseTextFields(Query, { name: 'abcde', must: 'x' })).message, "name must be 2 to 4 characters, got 'abcde'");
    assert.equal(refusal(() => parseTextFields(Query, { name: 'a', must: 'x' })).field, 'name');
  });

  it('refuses text the store cannot keep as sent: NUL characters and unpaired surrogates', () => {
    assert.equal(refusal(() => parseTextFields(Query, { must: 'a\u0000b' })).message, "must must not contain the NUL character (\\u0000), got 'a\u0000b'");
    assert.match(refusal(() => parseTextFields(Query, { must: 'a\ud800' })).message, /^must must be well-formed Unicode \(it holds an unpaired surrogate\)/);
    assert.match(refusal(() => parseTextFields(Query, { must: '\udc00a' })).message, /unpaired surrogate/);
    assert.deepEqual(parseTextFields(Query, { must: 'emoji \ud83d\ude00 ok' }), { must: 'emoji \ud83d\ude00 ok' });
  });

  it('requires required parameters and ignores unknown ones', () => {
    assert.equal(refusal(() => parseTextFields(Query, {})).message, 'must is required');
    assert.deepEqual(parseTextFields(Query, { must: 'x', other: 'y' }), { must: 'x' });
  });

  it('cuts a long value short in the message', () => {
    const message = refusal(() => parseTextFields(Query, { id: 'Z'.repeat(500), must: 'x' })).message;
    assert.ok(message.length < 120, message);
    assert.match(message, /ZZZ\.\.\.'$/);
  });

  it('applies the producer list query', () => {
    assert.deepEqual(parseTextFields(JobListQuery, { limit: '1000', marker: 'job-1', service: 'kps' }), { limit: 1000, marker: 'job-1', service: 'kps' });
    assert.match(refusal(() => parseTextFields(JobListQuery, { limit: '0' })).message, /limit must be an integer between 1 and 1000/);
  });
});

describe('checkJson', () => {
  const doc = {
    job_id: 'job-1',
    service: 'sdrs',
    job_type: 't',
    operation: 'create',
    status: 'RUNNING',
    begin_time: '2019-01-21T12:56:35.754Z',
  };

  it('returns a valid value as is', () => {
    assert.equal(checkJson(JobDocument, doc), doc);
  });

  it('names the field by its path under the prefix', () => {
    const error = refusal(() => checkJson(BatchItem, { ...doc, project_id: 'p', resource: { id: 'r', name: 'n', type: 'vm' } }, 'jobs[3]'));
    assert.equal(error.field, 'jobs[3].resource.type');
    assert.equal(error.message, "jobs[3].resource.type must be one of server_groups, protected_instances, replications, disaster_recovery_drills, got 'vm'");
  });

  it('describes the non-null branch of a nullable field', () => {
    const error = refusal(() => checkJson(JobDocument, { ...doc, end_time: 'yesterday' }));
    assert.equal(error.field, 'end_time');
    assert.match(error.message, /^end_time must match \^\\d\{4\}-.*, got 'yesterday'$/);
    assert.equal(
      refusal(() => checkJson(JobDocument, { ...doc, error_code: 'x'.repeat(129) })).message.slice(0, 40),
      'error_code must be 0 to 128 characters, ',
    );
    assert.equal(refusal(() => checkJson(Type.Object({ n: Nullable(Type.Integer()) }), { n: 'x' })).message, "n must be an integer, got 'x'");
  });

  it('lists the known fields when it meets an unknown one', () => {
    const error = refusal(() => checkJson(JobDocument, { ...doc, colour: 'red' }));
    assert.equal(error.field, 'colour');
    assert.match(error.message, /^colour is not a known field; known fields: job_id, service, job_type, operation, status, begin_time, end_time, /);
    assert.equal(refusal(() => checkJson(JobDocument, { ...doc, entities: { vm: 'x' } })).field, 'entities.vm');
  });

  it('says what is required and what type is expected', () => {
    const { service: _service, ...noService } = doc;
    assert.equal(refusal(() => checkJson(JobDocument, noService)).message, 'service is required');
    assert.equal(refusal(() => checkJson(JobDocument, { ...doc, job_type: 5 })).message, "job_type must be a string, got '5'");
    assert.equal(refusal(() => checkJson(JobDocument, { ...doc, job_type: '' })).message, "job_type must be 1 to 128 characters, got ''");
    assert.equal(refusal(() => checkJson(JobDocument, null)).message, "request body must be an object, got 'null'");
    assert.equal(refusal(() => checkJson(JobDocument, undefined)).message, 'request body is required');
    assert.equal(
      refusal(() => checkJson(Timestamp, '2019')).message,
      "request body must match ^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?(Z|[+-]\\d{2}:\\d{2})$, got '2019'",
    );
  });

  it('says how many items an array may hold', () => {
    assert.equal(refusal(() => checkJson(BatchBody, { jobs: [] })).message, 'jobs must hold 1 to 1000 items, got 0');
    assert.equal(refusal(() => checkJson(BatchBody, { jobs: new Array(1001).fill({}) })).message, 'jobs must hold 1 to 1000 items, got 1001');
  });
});

describe('parseJsonBody', () => {
  /** `text` padded with spaces after its first character to at least ITEMWISE_BYTES, so the item-by-item parse is tried. */
  const large = (text: string) => `${text.slice(0, 1)}${' '.repeat(ITEMWISE_BYTES)}${text.slice(1)}`;
  const item = (i: number) => ({ job_id: `j-${i}`, name: 'résumé 名前 "quoted" [x] {y} \\', n: i, list: [i, [i], { i }], none: null });
  /** What JSON.parse of the whole says: its value, or its error's message. */
  const asWhole = (text: string) => {
    try {
      return { value: JSON.parse(text) as unknown };
    } catch (error) {
      return { error: (error as Error).message };
    }
  };
  const asBody = (text: string) => {
    try {
      return { value: parseJsonBody(Buffer.from(text)) };
    } catch (error) {
      return { error: (error as Error).message };
    }
  };

  it('parses a large body of one array in an object exactly as the whole text', () => {
    const items = Array.from({ length: 1000 }, (_, i) => item(i));
    const texts = [
      JSON.stringify({ jobs: items }),
      JSON.stringify({ jobs: items }, null, 2),
      large(`{ "jobs" : [ ${items.map((i) => JSON.stringify(i)).join(' ,\n ')} ] }\n`),
      large('{"jobs":[1, "two", null, true, {"a":[]}, [[]], -3.5e2]}'),
      large('{"__proto__":[{"__proto__":{"x":1}}]}'),
      large('[[{"a":1},{"b":2}]]'),
    ];
    for (const text of texts) {
      assert.ok(Buffer.byteLength(text) >= ITEMWISE_BYTES);
      const parsed = asBody(text);
      assert.deepEqual(parsed, asWhole(text));
      assert.equal(Object.getPrototypeOf(parsed.value), Object.getPrototypeOf(asWhole(text).value));
    }
  });

  it("parses large bodies of other shapes, and gives JSON.parse's own error for malformed ones", () => {
    const texts = [
      '{"jobs":[]}',
      '{"jobs":[{"a":1}],"other":2}',
      '{"jobs":[{"a":1}],"jobs":[{"b":2}]}',
      '{"jobs":[{"a":1}],"jobs":3}',
      '{"jobs":{"a":[1,2]}}',
      '{"a":1,"jobs":[{"a":1},{"b":2}]}',
      '[{"a":1},{"b":2}]',
      '{"jobs":[{"a":1},]}',
      '{"jobs":[,{"a":1}]}',
      '{"jobs":[{"a":1},,{"b":2}]}',
      '{"jobs":[{"a":1} {"b":2}]}',
      '{"jobs":[{"a":1},{"b":2}}',
      '{"jobs":[{"a":1},{"b":2}]]}',
      '{"jobs":[{"a":1},{"b":2}',
      '{"jobs":[{"a":1},{"b":"2}]}',
      '{"jobs":[{"a":1},{"b":2}]} x',
      '\ufeff{"jobs":[{"a":1}]}',
    ];
    for (const text of texts.map(large)) assert.deepEqual(asBody(text), asWhole(text), text.replace(/ +/g, ' '));
  });
});
