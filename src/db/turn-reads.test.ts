import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { TurnReads } from './turn-reads.js';

describe('TurnReads', () => {
  it('reads the keys asked for in one turn together, each once, after they have all asked', async () => {
    const calls: string[][] = [];
    const reads = new TurnReads<number>(async (keys) => {
      calls.push([...keys]);
      return new Map(keys.filter((key) => key !== 'none').map((key) => [key, key.length]));
    }, -1);
    const answers = Promise.all([reads.read('a'), reads.read('bbb'), reads.read('a'), reads.read('none')]);
    assert.deepEqual(calls, [], 'nothing is read while the turn still asks');
    assert.deepEqual(await answers, [1, 3, 1, -1]);
    assert.deepEqual(calls, [['a', 'bbb', 'none']]);

    await nextTurn();
    assert.equal(await reads.read('a'), 1);
    assert.deepEqual(calls, [['a', 'bbb', 'none'], ['a']], 'a later turn reads again');
  });

  it('fails every asker of the turn when the read fails, and reads afresh the turn after', async () => {
    let fail = true;
    const reads = new TurnReads<number>(async (keys) => {
      if (fail) throw new Error('store down');
      return new Map(keys.map((key) => [key, 7]));
    }, 0);
    const results = await Promise.allSettled([reads.read('a'), reads.read('b')]);
    assert.deepEqual(
      results.map((r) => (r.status === 'rejected' ? (r.reason as Error).message : r.value)),
      ['store down', 'store down'],
    );
    fail = false;
    assert.equal(await reads.read('a'), 7);
  });
});
