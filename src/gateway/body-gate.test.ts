import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { it } from 'node:test';
import { BodyGate, GATED_BODY_BYTES } from './body-gate.js';

const LARGE = GATED_BODY_BYTES + 1;

/** Admits a body of `bytes`; `went` says whether its `go` ran, `close` ends its response. */
function request(gate: BodyGate, bytes: number) {
  const response = new EventEmitter();
  const state = { went: false, close: () => void response.emit('close') };
  gate.admit(bytes, response, () => (state.went = true));
  return state;
}

it('lets small bodies through at once, even with every place taken', () => {
  const gate = new BodyGate(1);
  const large = request(gate, LARGE);
  const small = request(gate, GATED_BODY_BYTES);
  assert.deepEqual([large.went, small.went], [true, true]);
});

it('holds large bodies beyond its places until an answer is sent, then lets them in in arrival order', () => {
  const gate = new BodyGate(2);
  const [a, b, c, d] = [request(gate, LARGE), request(gate, LARGE), request(gate, LARGE), request(gate, LARGE)] as const;
  assert.deepEqual([a.went, b.went, c.went, d.went], [true, true, false, false]);
  b.close();
  assert.deepEqual([c.went, d.went], [true, false]);
  b.close();
  assert.equal(d.went, false, 'a response closing twice frees one place');
  a.close();
  assert.equal(d.went, true);
});

it('drops a waiting request whose response closed, and never lets it in', () => {
  const gate = new BodyGate(1);
  const holder = request(gate, LARGE);
  const gone = request(gate, LARGE);
  const next = request(gate, LARGE);
  gone.close();
  holder.close();
  assert.deepEqual([gone.went, next.went], [false, true]);
  next.close();
  assert.equal(request(gate, LARGE).went, true, 'the dropped request took no place');
});
