import { UsageError, type Command } from './usage.js';

export const demoCommand: Command = {
  name: 'demo',
  summary: 'not written yet',
  usage: 'Usage: taskcenter demo',
  async run() {
    throw new UsageError('demo is not written yet');
  },
};
