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
  });
});
