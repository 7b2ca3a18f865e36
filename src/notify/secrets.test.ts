import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { it } from 'node:test';
import { newSecret, SecretBox, SecretUnavailableError } from './secrets.js';

const KEY = randomBytes(32).toString('hex');

it('makes distinct secrets of 32 random bytes', () => {
  const a = newSecret();
  assert.match(a, /^whsec_[A-Za-z0-9_-]{43}$/);
  assert.notEqual(a, newSecret());
});

it('seals a secret so the stored form does not hold it, and opens it again', () => {
  const box = new SecretBox(KEY);
  const secret = newSecret();
  const stored = box.seal('sub-1', secret);
  assert.ok(!stored.includes(secret.slice(6)));
  assert.notEqual(box.seal('sub-1', secret), stored, 'a fresh IV each time');
  assert.equal(box.open('sub-1', stored), secret);
  assert.equal(new SecretBox(KEY).open('sub-1', stored), secret, 'another node with the same key');
});

it('refuses a secret moved to another subscription, a wrong key and no key', () => {
  const stored = new SecretBox(KEY).seal('sub-1', newSecret());
  assert.throws(() => new SecretBox(KEY).open('sub-2', stored), SecretUnavailableError);
  assert.throws(() => new SecretBox(randomBytes(32).toString('hex')).open('sub-1', stored), /sealed with key [0-9a-f]{8}, this node has key/);
  assert.throws(() => new SecretBox(null).open('sub-1', stored), /TASKCENTER_WEBHOOK_KEY is not set/);
});

it('stores and opens plain secrets without a key, and opens them once a key is set', () => {
  const secret = newSecret();
  const stored = new SecretBox(null).seal('sub-1', secret);
  assert.equal(stored, `plain:${secret}`);
  assert.equal(new SecretBox(KEY).open('sub-1', stored), secret);
});
