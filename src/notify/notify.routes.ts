/** Webhook subscriptions and their deliveries, under the producer API. HTTP only. */
import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { errorResponses } from '../gateway/dialects.js';
import { sendEmpty } from '../gateway/send-empty.js';
import { ProjectParams } from '../jobs/jobs.schema.js';
import {
  Delivery,
  DeliveryDetail,
  DeliveryList,
  DeliveryParams,
  DeliveryQuery,
  Subscription,
  SubscriptionBody,
  SubscriptionList,
  SubscriptionParams,
  SubscriptionWithSecret,
} from './notify.schema.js';
import type { NotifyService } from './notify.service.js';

const TAG = ['Notifications'];
const Deleted = Type.Null({ description: 'Deleted' });
const BASE = '/taskcenter/v1/projects/:project_id/subscriptions';

export function notifyRoutes(fastify: FastifyInstance, notify: NotifyService): void {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const write = { dialect: 'taskcenter', action: 'taskcenter:subscriptions:write' } as const;
  const read = { dialect: 'taskcenter', action: 'taskcenter:subscriptions:read' } as const;

  app.post(
    BASE,
    {
      config: write,
      schema: {
        tags: TAG,
        operationId: 'CreateSubscription',
        summary: 'Subscribe a webhook to job events; the answer holds its signing secret, shown this once',
        params: ProjectParams,
        body: SubscriptionBody,
        response: { 201: SubscriptionWithSecret, ...errorResponses('taskcenter', [400, 403, 409, 413]) },
      },
    },
    async (request, reply) => reply.code(201).send(await notify.create(request.params.project_id, request.body)),
  );

  app.get(
    BASE,
    {
      config: read,
      schema: {
        tags: TAG,
        operationId: 'ListSubscriptions',
        summary: "List a project's subscriptions (never their secrets)",
        params: ProjectParams,
        response: { 200: SubscriptionList, ...errorResponses('taskcenter', [400, 403]) },
      },
    },
    async (request) => notify.list(request.params.project_id),
  );

  app.get(
    `${BASE}/:subscription_id`,
    {
      config: read,
      schema: {
        tags: TAG,
        operationId: 'ShowSubscription',
        summary: 'Read one subscription (never its secret)',
        params: SubscriptionParams,
        response: { 200: Subscription, ...errorResponses('taskcenter', [400, 403, 404]) },
      },
    },
    async (request) => notify.get(request.params.project_id, request.params.subscription_id),
  );

  app.delete(
    `${BASE}/:subscription_id`,
    {
      config: write,
      schema: {
        tags: TAG,
        operationId: 'DeleteSubscription',
        summary: 'Delete a subscription and its deliveries',
        params: SubscriptionParams,
        response: { 204: Deleted, ...errorResponses('taskcenter', [400, 403, 404]) },
      },
    },
    async (request, reply) => {
      await notify.delete(request.params.project_id, request.params.subscription_id);
      return sendEmpty(reply.code(204));
    },
  );

  app.post(
    `${BASE}/:subscription_id/rotate-secret`,
    {
      config: write,
      schema: {
        tags: TAG,
        operationId: 'RotateSubscriptionSecret',
        summary: 'Give a subscription a new signing secret, shown this once; the old one also signs for 24 hours',
        params: SubscriptionParams,
        response: { 200: SubscriptionWithSecret, ...errorResponses('taskcenter', [400, 403, 404]) },
      },
    },
    async (request) => notify.rotateSecret(request.params.project_id, request.params.subscription_id),
  );

  app.get(
    `${BASE}/:subscription_id/deliveries`,
    {
      config: read,
      schema: {
        tags: TAG,
        operationId: 'ListDeliveries',
        summary: "List a subscription's deliveries, newest first (state=dead: the ones given up)",
        params: SubscriptionParams,
        querystring: DeliveryQuery,
        response: { 200: DeliveryList, ...errorResponses('taskcenter', [400, 403, 404]) },
      },
    },
    async (request) => notify.deliveries(request.params.project_id, request.params.subscription_id, request.query),
  );

  app.get(
    `${BASE}/:subscription_id/deliveries/:delivery_id`,
    {
      config: read,
      schema: {
        tags: TAG,
        operationId: 'ShowDelivery',
        summary: 'Read one delivery with the log of its attempts',
        params: DeliveryParams,
        response: { 200: DeliveryDetail, ...errorResponses('taskcenter', [400, 403, 404]) },
      },
    },
    async (request) => notify.delivery(request.params.project_id, request.params.subscription_id, request.params.delivery_id),
  );

  app.post(
    `${BASE}/:subscription_id/deliveries/:delivery_id/redeliver`,
    {
      config: write,
      schema: {
        tags: TAG,
        operationId: 'RedeliverDelivery',
        summary: 'Send a dead or delivered delivery again, after the ones already queued',
        params: DeliveryParams,
        response: { 202: Delivery, ...errorResponses('taskcenter', [400, 403, 404, 409]) },
      },
    },
    async (request, reply) =>
      reply.code(202).send(await notify.redeliver(request.params.project_id, request.params.subscription_id, request.params.delivery_id)),
  );
}
