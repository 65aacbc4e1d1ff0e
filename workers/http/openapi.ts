import fastifySwagger from '@fastify/swagger';
import type { FastifyInstance, FastifySchema } from 'fastify';
import {
  jsonSchemaTransform,
  jsonSchemaTransformObject,
  serializerCompiler,
  validatorCompiler,
} from 'fastify-type-provider-zod';
import { $ZodType } from 'zod/v4/core';
import { packageVersion } from '../../config/package-version.js';

/**
 * Makes zod the one way routes declare what they take and give: the same zod schemas validate requests, serialise
 * responses, type the handlers (`withTypeProvider<ZodTypeProvider>()`) and become the OpenAPI 3.1 document
 * served at `GET /v1/openapi.json`. A schema registered in zod's global registry with an `id`
 * (`.meta({ id: 'Dossier' })`) appears once under `components.schemas` and is referenced (`$ref`) wherever used.
 *
 * Registered on the root server before any route, so every route of every plugin is in the document.
 */
export async function registerOpenApi(server: FastifyInstance): Promise<void> {
  await server.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'dossier-sync',
        version: packageVersion(),
        description:
          'The national portal reads the synced dossiers (scope portal:read); provincial IT teams and operators manage connectors (scope admin); province systems push updates (webhooks, Standard Webhooks signatures).',
      },
      components: {
        securitySchemes: {
          apiKey: { type: 'http', scheme: 'bearer', description: 'a key from `fleet apikey create`' },
        },
      },
    },
    // Until every route is declared in zod, a route still declared in JSON Schema passes through as it is.
    transform: (route) => (declaredInZod(route.schema) ? jsonSchemaTransform(route) : route),
    transformObject: jsonSchemaTransformObject,
  });
  server.get('/v1/openapi.json', { schema: { hide: true } }, async () => server.swagger());
}

/** Sets zod as the validator and serializer of the routes of `scope` (a plugin's instance, or the root). */
export function useZodSchemas(scope: FastifyInstance): void {
  scope.setValidatorCompiler(validatorCompiler);
  scope.setSerializerCompiler(serializerCompiler);
}

function declaredInZod(schema: FastifySchema | undefined): boolean {
  if (!schema) return true;
  const parts = [
    schema.params,
    schema.querystring,
    schema.body,
    schema.headers,
    ...Object.values(schema.response ?? {}),
  ];
  return parts.every((part) => part === undefined || part instanceof $ZodType);
}
