import assert from 'node:assert/strict';
import { it } from 'node:test';
import { blockedReason, BlockedAddressError, parseWebhookUrl, resolveTarget, WebhookUrlError } from './webhook-url.js';

it('refuses loopback, link-local, private, unique-local and reserved addresses', () => {
  for (const address of [
    '127.0.0.1',
    '127.5.6.7',
    '10.1.2.3',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '224.0.0.1',
    '255.255.255.255',
    '::1',
    '::',
    'fe80::1',
    'fc00::1',
    'fd12:3456::1',
    'ff02::1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:a9fe:a9fe',
    '64:ff9b::10.0.0.1',
  ]) {
    assert.notEqual(blockedReason(address), null, address);
  }
});

it('allows public addresses', () => {
  for (const address of ['8.8.8.8', '1.1.1.1', '172.32.0.1', '192.169.0.1', '2001:4860:4860::8888', '::ffff:8.8.8.8']) {
    assert.equal(blockedReason(address), null, address);
  }
});

it('accepts only absolute http and https URLs without credentials', () => {
  assert.equal(parseWebhookUrl('https://example.com/hook').port, 443);
  assert.equal(parseWebhookUrl('http://example.com:8081/hook?x=1').port, 8081);
  assert.equal(parseWebhookUrl('http://[::1]:9/x').hostname, '::1');
  for (const bad of [
    'ftp://example.com/',
    'file:///etc/passwd',
    'example.com/hook',
    '',
    'https://user:pw@example.com/',
    'https://example.com/#x',
    'javascript:alert(1)',
  ]) {
    assert.throws(() => parseWebhookUrl(bad), WebhookUrlError, bad);
  }
});

it('refuses 127.0.0.1 and names resolving to loopback unless private addresses are allowed', async () => {
  await assert.rejects(resolveTarget(parseWebhookUrl('http://127.0.0.1:9/hook'), false), BlockedAddressError);
  await assert.rejects(resolveTarget(parseWebhookUrl('http://localhost:9/hook'), false), /resolves to it/);
  await assert.rejects(resolveTarget(parseWebhookUrl('http://[::ffff:127.0.0.1]:9/hook'), false), BlockedAddressError);
  assert.deepEqual(await resolveTarget(parseWebhookUrl('http://127.0.0.1:9/hook'), true), { address: '127.0.0.1', family: 4 });
});
