import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newestFirst } from './list-page.js';

describe('newestFirst', () => {
  it('takes keys newest first, ties by job id descending', () => {
    assert.equal(newestFirst('1700000000300 job-b,1700000000200 job-z,1700000000200 job-a,5 a'), true);
    assert.equal(newestFirst('1700000000300 only'), true);
    assert.equal(newestFirst(''), true);
  });

  it('refuses keys out of that order', () => {
    assert.equal(newestFirst('1700000000200 job-a,1700000000300 job-b'), false, 'older first');
    assert.equal(newestFirst('1700000000200 job-a,1700000000200 job-b'), false, 'a tie by job id ascending');
    assert.equal(newestFirst('1700000000200 job-a,1700000000200 job-a'), false, 'the same key twice');
    // Compared as numbers, not text: 9 is older than 10.
    assert.equal(newestFirst('9 a,10 b'), false);
    assert.equal(newestFirst('10 b,9 a'), true);
  });

  it('refuses keys it cannot read', () => {
    assert.equal(newestFirst('1700000000300'), false, 'no job id');
    assert.equal(newestFirst('later job-a'), false, 'a time that is not a number');
    assert.equal(newestFirst(' job-a'), false, 'no time');
  });

  it('reads times before 1970 (negative) and agrees with reading each key apart', () => {
    assert.equal(newestFirst('5 a,-5 b,-10 c'), true);
    assert.equal(newestFirst('-10 c,-5 b'), false);
    // Every order of small keys, against the plain reading: split, parse, compare.
    const plain = (keys: string) => {
      const read = keys.split(',').map((key) => [Number(key.slice(0, key.indexOf(' '))), key.slice(key.indexOf(' ') + 1)] as const);
      return read.every(([time, id], i) => {
        const before = read[i - 1];
        return before === undefined || time < before[0] || (time === before[0] && id < before[1]);
      });
    };
    const times = [-62135596800000, -10, 0, 7, 1700000000200, 253402300799999];
    const ids = ['a', 'b', 'ab', 'a.b', 'B', 'a-1', 'a_', 'z'];
    for (let n = 0; n < 20000; n++) {
      const keys = Array.from(
        { length: 1 + (n % 4) },
        (_, i) => `${times[(n * 7 + i * 3) % times.length]} ${ids[(n * 5 + i * 11 + (n >> 3)) % ids.length]}`,
      ).join(',');
      assert.equal(newestFirst(keys), plain(keys), keys);
    }
  });
});
