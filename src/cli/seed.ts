import { UsageError, type Command } from './usage.js';

export const seedCommand: Command = {
  name: 'seed',
  summary: 'not written yet',
  usage: 'Usage: taskcenter seed',
  async run() {
    throw new UsageError('seed is not written yet');
  },
};
