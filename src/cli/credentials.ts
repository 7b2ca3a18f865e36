import { UsageError, type Command } from './usage.js';

export const credentialsCommand: Command = {
  name: 'credentials',
  summary: 'not written yet',
  usage: 'Usage: taskcenter credentials',
  async run() {
    throw new UsageError('credentials is not written yet');
  },
};
