import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import type { ServiceError } from '../errors.js';
import {
  canonicalQuery,
  canonicalRequestOf,
  canonicalUri,
  formatSdkDate,
  parseAuthorization,
  parseSdkDate,
  segmentwiseCanonicalUri,
  signingEncode,
} from './aksk.js';

const SIG = '0123456789abcdef'.repeat(4);

function refused(fn: () => unknown, reason: string): void {
  assert.throws(fn, (error: ServiceError) => {
    assert.equal(error.kind, 'unauthenticated');
    assert.equal(error.message, `Incorrect IAM authentication information: ${reason}`);
    return true;
  });
}

describe('parseAuthorization', () => {
  it('reads the three fields, lowercasing the header names and the signature', () => {
    assert.deepEqual(parseAuthorization(`SDK-HMAC-SHA256 Access=AK1, SignedHeaders=Host;X-Sdk-Date, Signature=${SIG.toUpperCase()}`), {
      access: 'AK1',
      signedHeaders: ['host', 'x-sdk-date'],
      signature: SIG,
    });
  });

  it('trims spaces around the header, the fields, the = and each signed header name, but keeps inner ones in values', () => {
    const parts = parseAuthorization(`  SDK-HMAC-SHA256   Access = A K ,SignedHeaders= host ; x-sdk-date ;content-type ,  Signature =${SIG}  `);
    assert.equal(parts.access, 'A K');
    assert.deepEqual(parts.signedHeaders, ['host', 'x-sdk-date', 'content-type']);
    assert.equal(parts.signature, SIG);
  });

  it('keeps the last of a repeated field, ignores unknown ones and reads fields in any order', () => {
    const parts = parseAuthorization(`SDK-HMAC-SHA256 Signature=${SIG}, Access=first, Extra=x=y, SignedHeaders=host, Access=second`);
    assert.equal(parts.access, 'second');
    assert.deepEqual(parts.signedHeaders, ['host']);
  });

  it('keeps a = inside a value', () => {
    assert.equal(parseAuthorization(`SDK-HMAC-SHA256 Access=a=b, SignedHeaders=host, Signature=${SIG}`).access, 'a=b');
  });

  it('refuses another scheme, and the scheme without a space after it', () => {
    refused(() => parseAuthorization(`AWS4-HMAC-SHA256 Access=a, SignedHeaders=host, Signature=${SIG}`), 'the Authorization scheme must be SDK-HMAC-SHA256');
    refused(() => parseAuthorization(`SDK-HMAC-SHA256,Access=a, SignedHeaders=host, Signature=${SIG}`), 'the Authorization scheme must be SDK-HMAC-SHA256');
  });

  it('refuses a field without =, naming it, even when a later field has one', () => {
    refused(() => parseAuthorization(`SDK-HMAC-SHA256 Access, SignedHeaders=host, Signature=${SIG}`), "malformed Authorization header near 'Access'");
    refused(() => parseAuthorization(`SDK-HMAC-SHA256 Access=a, SignedHeaders=host, Signature=${SIG},`), "malformed Authorization header near ''");
    refused(() => parseAuthorization(`SDK-HMAC-SHA256 Access=a,, SignedHeaders=host, Signature=${SIG}`), "malformed Authorization header near ''");
  });

  it('refuses a missing or empty field', () => {
    refused(() => parseAuthorization(`SDK-HMAC-SHA256 Access=, SignedHeaders=host, Signature=${SIG}`), 'the Authorization header has no Access=<AK>');
    refused(() => parseAuthorization(`SDK-HMAC-SHA256 Access=a, Signature=${SIG}`), 'the Authorization header has no SignedHeaders=<a;b;c>');
    refused(() => parseAuthorization('SDK-HMAC-SHA256 Access=a, SignedHeaders=host'), 'the Authorization header has no Signature=<hex>');
  });

  it('refuses a signature that is not exactly 64 hexadecimal characters', () => {
    for (const signature of [SIG.slice(1), SIG + '0', SIG.slice(1) + 'g', SIG.slice(1) + 'é', SIG.slice(2) + ' 0']) {
      refused(
        () => parseAuthorization(`SDK-HMAC-SHA256 Access=a, SignedHeaders=host, Signature=${signature}`),
        'the Signature must be 64 hexadecimal characters',
      );
    }
  });

  it('refuses an empty or invalid signed header name, naming the first one', () => {
    const withNames = (names: string) => () => parseAuthorization(`SDK-HMAC-SHA256 Access=a, SignedHeaders=${names}, Signature=${SIG}`);
    refused(withNames('host;;x-sdk-date'), "SignedHeaders holds an invalid header name ''");
    refused(withNames('host;'), "SignedHeaders holds an invalid header name ''");
    refused(withNames('host;x sdk;a b'), "SignedHeaders holds an invalid header name 'x sdk'");
    refused(withNames('host;x:date'), "SignedHeaders holds an invalid header name 'x:date'");
    refused(withNames('host;hôte'), "SignedHeaders holds an invalid header name 'hôte'");
    assert.deepEqual(parseAuthorization(`SDK-HMAC-SHA256 Access=a, SignedHeaders=x!#$%&'*+.^_\`|~-9, Signature=${SIG}`).signedHeaders, ["x!#$%&'*+.^_`|~-9"]);
  });
});

describe('parseSdkDate', () => {
  it('reads a UTC time', () => {
    assert.equal(parseSdkDate('20240517T103000Z'), Date.UTC(2024, 4, 17, 10, 30, 0));
    assert.equal(parseSdkDate('20240229T235959Z'), Date.UTC(2024, 1, 29, 23, 59, 59));
  });

  it('accepts exactly the strings formatSdkDate writes, over every edge of every field', () => {
    // The oracle: a time is real when Date.UTC's reading of it formats back to the same text.
    const years = [0, 1, 99, 100, 1899, 1900, 1970, 2000, 2023, 2024, 2100, 2400, 9999];
    let accepted = 0;
    for (const year of years) {
      for (let month = 0; month <= 13; month++) {
        for (let day = 0; day <= 32; day++) {
          for (const [hour, minute, second] of [
            [0, 0, 0],
            [23, 59, 59],
            [24, 0, 0],
            [0, 60, 0],
            [0, 0, 60],
            [99, 99, 99],
          ] as const) {
            const pad = (n: number, width = 2) => String(n).padStart(width, '0');
            const text = `${pad(year, 4)}${pad(month)}${pad(day)}T${pad(hour)}${pad(minute)}${pad(second)}Z`;
            const ms = Date.UTC(year, month - 1, day, hour, minute, second);
            const expected = formatSdkDate(ms) === text ? ms : undefined;
            assert.equal(parseSdkDate(text), expected, text);
            if (expected !== undefined) accepted += 1;
          }
        }
      }
    }
    // The ten years from 100 on, three of them leap years (2000, 2024, 2400), two real times a day.
    assert.equal(accepted, (10 * 365 + 3) * 2);
  });

  it('refuses other shapes: separators, lowercase letters, signs, non-ASCII digits, other lengths', () => {
    for (const text of [
      '2024-05-17T10:30:00Z',
      '20240517t103000z',
      '20240517T103000',
      '20240517T1030000Z',
      '20240517 103000Z',
      '+2024051T103000Z',
      '2024051-T103000Z',
      '２０２４0517T103000Z',
      '20240517T10300 Z',
      '',
    ]) {
      assert.equal(parseSdkDate(text), undefined, text);
    }
  });
});

/** API.md §4's recipe for the canonical URI, word for word: decoded as a whole, split, each segment encoded. */
function recipeUri(rawPath: string): string {
  const uri = decodeURIComponent(rawPath).split('/').map(signingEncode).join('/');
  return uri.endsWith('/') ? uri : uri + '/';
}

/** The per-segment form API.md §4 also accepts: each raw segment decoded and encoded on its own. */
function segmentwiseRecipeUri(rawPath: string): string {
  const uri = rawPath
    .split('/')
    .map((segment) => signingEncode(decodeURIComponent(segment)))
    .join('/');
  return uri.endsWith('/') ? uri : uri + '/';
}

/** API.md §4's recipe for the canonical query, word for word (`+` read as a space first). */
function recipeQuery(rawQuery: string): string {
  const pairs = rawQuery
    .split('&')
    .filter((part) => part !== '')
    .map((part) => {
      const at = part.indexOf('=');
      const [key, value] = at < 0 ? [part, ''] : [part.slice(0, at), part.slice(at + 1)];
      return [signingEncode(decodeURIComponent(key.replace(/\+/g, ' '))), signingEncode(decodeURIComponent(value.replace(/\+/g, ' ')))] as const;
    });
  pairs.sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
  return pairs.map(([key, value]) => `${key}=${value}`).join('&');
}

/** Deterministic pseudo-random strings over the characters that matter to the canonical forms. */
function* samples(count: number, alphabet: readonly string[]): Generator<string> {
  let seed = 42;
  const next = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  for (let i = 0; i < count; i++) {
    let text = '';
    for (let length = next(12); length > 0; length--) text += alphabet[next(alphabet.length)];
    yield text;
  }
}

const PIECES = ['a', 'Z', '0', '-', '_', '.', '~', '/', '&', '=', '+', ' ', '*', "'", '(', '!', '%20', '%2F', '%2a', '%7E', '%C3%A9', 'é', '✓', '%', '%zz'];

describe('canonicalUri', () => {
  it('leaves segments of unreserved characters as they are and adds the trailing slash once', () => {
    assert.equal(canonicalUri('/v1/proj-a/task-center/failure-jobs'), '/v1/proj-a/task-center/failure-jobs/');
    assert.equal(canonicalUri('/v1/a_b.c~d/'), '/v1/a_b.c~d/');
    assert.equal(canonicalUri('/'), '/');
    assert.equal(canonicalUri(''), '/');
  });

  it('keeps empty segments', () => {
    assert.equal(canonicalUri('//v1//x'), '//v1//x/');
  });

  it('decodes then re-encodes percent-encoded and non-ASCII segments', () => {
    assert.equal(canonicalUri('/v1/a%2db/%7e/%2a'), '/v1/a-b/~/%2A/');
    assert.equal(canonicalUri('/v1/caf%C3%A9/café/✓'), '/v1/caf%C3%A9/caf%C3%A9/%E2%9C%93/');
    assert.equal(canonicalUri("/v1/a b+c*(!)'"), '/v1/a%20b%2Bc%2A%28%21%29%27/');
  });

  it('splits a segment at an encoded slash, as the official signers do; the segment-wise form keeps it inside', () => {
    assert.equal(canonicalUri('/v1/p/jobs/ab%2Fcd'), '/v1/p/jobs/ab/cd/');
    assert.equal(canonicalUri('/v1/a%2fb%2F/%7e'), '/v1/a/b//~/');
    assert.equal(segmentwiseCanonicalUri('/v1/p/jobs/ab%2Fcd'), '/v1/p/jobs/ab%2Fcd/');
    assert.equal(segmentwiseCanonicalUri('/v1/a%2fb/%7e/%2a'), '/v1/a%2Fb/~/%2A/');
  });

  it('refuses a segment that is not valid percent-encoded UTF-8, naming it', () => {
    for (const uri of [canonicalUri, segmentwiseCanonicalUri]) {
      refused(() => uri('/v1/ok/%C3'), "the path segment '%C3' is not valid percent-encoded UTF-8");
      refused(() => uri('/v1/%zz/ok'), "the path segment '%zz' is not valid percent-encoded UTF-8");
    }
  });

  for (const [name, uri, recipe] of [
    ['canonicalUri', canonicalUri, recipeUri],
    ['segmentwiseCanonicalUri', segmentwiseCanonicalUri, segmentwiseRecipeUri],
  ] as const) {
    it(`${name} agrees with its recipe on many mixed paths`, () => {
      let compared = 0;
      for (const path of samples(3000, PIECES)) {
        let expected: string | undefined;
        try {
          expected = recipe('/' + path);
        } catch {
          assert.throws(() => uri('/' + path), /is not valid percent-encoded UTF-8/);
          continue;
        }
        assert.equal(uri('/' + path), expected, path);
        compared += 1;
      }
      assert.ok(compared > 1000, `only ${compared} valid paths`);
    });
  }
});

describe('canonicalQuery', () => {
  it('sorts by key, then by value for a repeated key', () => {
    assert.equal(canonicalQuery('limit=10&offset=0&a=2&a=10&a=1'), 'a=1&a=10&a=2&limit=10&offset=0');
  });

  it('reads a key without = and a key with = but nothing after it as an empty value', () => {
    assert.equal(canonicalQuery('b&a='), 'a=&b=');
    assert.equal(canonicalQuery('=x'), '=x');
  });

  it('keeps a = inside a value, skips empty pairs, and reads an empty query as empty', () => {
    assert.equal(canonicalQuery('a=b=c'), 'a=b%3Dc');
    assert.equal(canonicalQuery('&&x=1&&y=2&'), 'x=1&y=2');
    assert.equal(canonicalQuery(''), '');
    assert.equal(canonicalQuery('&'), '');
  });

  it('decodes then re-encodes keys and values, + as a space, sorting by the encoded forms', () => {
    assert.equal(canonicalQuery('name=caf%C3%A9&name=café&x=a+b%2Bc'), 'name=caf%C3%A9&name=caf%C3%A9&x=a%20b%2Bc');
    // %7e decodes to ~, which sorts after b once re-encoded, though '%' sorts before it.
    assert.equal(canonicalQuery('%7e=%7E&b[]=2&b%5B%5D=1'), 'b%5B%5D=1&b%5B%5D=2&~=~');
  });

  it('refuses a key or value that is not valid percent-encoded UTF-8, naming it', () => {
    refused(() => canonicalQuery('ok=1&%E0%A4=2'), "the query parameter '%E0%A4' is not valid percent-encoded UTF-8");
    refused(() => canonicalQuery('ok=1&x=%zz'), "the query value '%zz' is not valid percent-encoded UTF-8");
  });

  it('agrees with the recipe on many mixed queries', () => {
    let compared = 0;
    for (const query of samples(3000, PIECES)) {
      let expected: string | undefined;
      try {
        expected = recipeQuery(query);
      } catch {
        assert.throws(() => canonicalQuery(query), /is not valid percent-encoded UTF-8/);
        continue;
      }
      assert.equal(canonicalQuery(query), expected, query);
      compared += 1;
    }
    assert.ok(compared > 1000, `only ${compared} valid queries`);
  });
});

describe('canonicalRequestOf', () => {
  const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
  const request = (headers: Record<string, string | string[]>, body = '') => ({
    method: 'get',
    url: '/v1/p/jobs?b=2&a=1',
    headers: { host: 'h:1', 'x-sdk-date': '20240517T103000Z', ...headers },
    body: Buffer.from(body),
  });

  it('lists each signed header in the given order, trimmed at both ends but with its inner spaces, and hashes an empty body', () => {
    const canonical = canonicalRequestOf(request({ 'x-note': '  a  b\tc  ', 'x-many': ['1', ' 2 '] }), ['x-sdk-date', 'host', 'x-note', 'x-many']);
    assert.equal(
      canonical,
      `GET\n/v1/p/jobs/\na=1&b=2\nx-sdk-date:20240517T103000Z\nhost:h:1\nx-note:a  b\tc\nx-many:1, 2\n\nx-sdk-date;host;x-note;x-many\n${EMPTY_SHA256}`,
    );
  });

  it('hashes the raw body bytes, or says UNSIGNED-PAYLOAD when the client opted out', () => {
    const body = '{"a": "é"}';
    const hashed = createHash('sha256').update(Buffer.from(body)).digest('hex');
    assert.ok(canonicalRequestOf(request({}, body), ['host']).endsWith(`\nhost\n${hashed}`));
    assert.ok(canonicalRequestOf(request({ 'x-sdk-content-sha256': 'UNSIGNED-PAYLOAD' }, body), ['host']).endsWith('\nhost\nUNSIGNED-PAYLOAD'));
    assert.ok(canonicalRequestOf(request({ 'x-sdk-content-sha256': 'not-a-hash' }, body), ['host']).endsWith(`\nhost\n${hashed}`));
    assert.ok(canonicalRequestOf(request({}), ['host']).endsWith(`\nhost\n${EMPTY_SHA256}`));
  });

  it('refuses a signed header the request does not have', () => {
    refused(() => canonicalRequestOf(request({}), ['host', 'x-missing']), "the signed header 'x-missing' is not in the request");
  });
});
