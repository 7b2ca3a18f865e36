import type { FastifyInstance } from 'fastify';
import type { SdrsService } from './sdrs.service.js';

/** The SDRS task center routes (to be written). */
export function sdrsRoutes(_app: FastifyInstance, _sdrs: SdrsService): void {}
