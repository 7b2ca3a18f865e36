import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ACTIONS, ANONYMOUS, allows, type Principal } from './principal.js';

const principal = (actions: string[], projects: string[] = ['p1']): Principal => ({ name: 'x', projects, actions });

describe('allows', () => {
  it('grants exactly the listed actions in the listed projects', () => {
    const p = principal(['sdrs:failureJobs:list']);
    assert.equal(allows(p, 'sdrs:failureJobs:list', 'p1'), true);
    assert.equal(allows(p, 'sdrs:failureJobs:list', 'p2'), false);
    assert.equal(allows(p, 'sdrs:failureJobs:delete', 'p1'), false);
  });

  it('matches * in a grant against any run of characters, and nothing else as a pattern', () => {
    const p = principal(['sdrs:*', 'kps::get*Task']);
    assert.equal(allows(p, 'sdrs:failureJobs:delete', 'p1'), true);
    assert.equal(allows(p, 'sdrs:jobs:get', 'p1'), true);
    assert.equal(allows(p, 'kps::getFailedTask', 'p1'), true);
    assert.equal(allows(p, 'kps::getTask', 'p1'), true);
    assert.equal(allows(p, 'kps::deleteFailedTask', 'p1'), false);
    assert.equal(allows(p, 'taskcenter:jobs:read', 'p1'), false);
    // Regex metacharacters in a grant are literal: '.' does not match ':'.
    assert.equal(allows(principal(['sdrs.failureJobs.list']), 'sdrs:failureJobs:list', 'p1'), false);
    assert.equal(allows(principal(['sdrs:(failureJobs|jobs):*']), 'sdrs:jobs:get', 'p1'), false);
  });

  it('anchors a grant at both ends', () => {
    assert.equal(allows(principal(['*:jobs:read']), 'taskcenter:jobs:read', 'p1'), true);
    assert.equal(allows(principal(['jobs:*']), 'taskcenter:jobs:read', 'p1'), false);
    assert.equal(allows(principal(['taskcenter:jobs']), 'taskcenter:jobs:read', 'p1'), false);
  });

  it('grants every project with "*" and checks only the action when no project is given', () => {
    const everywhere = principal(['taskcenter:*'], ['*']);
    assert.equal(allows(everywhere, 'taskcenter:jobs:write', 'any-project'), true);
    assert.equal(allows(principal(['taskcenter:*'], ['p1']), 'taskcenter:jobs:write'), true);
    assert.equal(allows(principal(['sdrs:*'], ['*']), 'taskcenter:jobs:write'), false);
  });

  it('grants nothing to a principal with no projects or no actions', () => {
    assert.equal(allows(principal(['*'], []), 'sdrs:jobs:get', 'p1'), false);
    assert.equal(allows(principal([], ['*']), 'sdrs:jobs:get', 'p1'), false);
  });

  it('lets the anonymous principal of --auth none do everything', () => {
    for (const action of ACTIONS) assert.equal(allows(ANONYMOUS, action, 'p'), true, action);
    assert.ok(Object.isFrozen(ANONYMOUS));
  });
});
