import type { FastifyInstance } from 'fastify';
import type { KpsService } from './kps.service.js';

/** The KPS key-pair task routes (to be written). */
export function kpsRoutes(_app: FastifyInstance, _kps: KpsService): void {}
