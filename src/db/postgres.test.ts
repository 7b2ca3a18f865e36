import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { poolingOf } from './postgres.js';

describe('poolingOf', () => {
  it('is session unless the URL asks for transaction pooling, and takes its parameter out of the URL', () => {
    const base = 'postgres://tc:secret@db.example.com:6432/taskcenter';
    assert.deepEqual(poolingOf(base), { connectionString: base, pooling: 'session' });
    assert.deepEqual(poolingOf(`${base}?pooling=transaction`), { connectionString: base, pooling: 'transaction' });
    assert.deepEqual(poolingOf(`${base}?pooling=session`), { connectionString: base, pooling: 'session' });
    assert.deepEqual(poolingOf(`${base}?pooling=transaction&sslmode=require`), { connectionString: `${base}?sslmode=require`, pooling: 'transaction' });
    assert.deepEqual(poolingOf(`${base}?sslmode=require&pooling=transaction`), { connectionString: `${base}?sslmode=require`, pooling: 'transaction' });
    assert.deepEqual(poolingOf(`${base}?a=1&pooling=transaction&b=2`), { connectionString: `${base}?a=1&b=2`, pooling: 'transaction' });
    assert.deepEqual(poolingOf(`${base}?xpooling=transaction`), { connectionString: `${base}?xpooling=transaction`, pooling: 'session' });
  });

  it('refuses any other value, naming it', () => {
    assert.throws(() => poolingOf('postgres://h/db?pooling=statement'), /pooling parameter must be session or transaction, got 'statement'/);
    assert.throws(() => poolingOf('postgres://h/db?pooling='), /got ''/);
  });
});
