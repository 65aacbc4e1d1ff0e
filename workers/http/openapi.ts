import fastifySwagger from '@fastify/swagger';
import type {
  FastifyBaseLogger,
  FastifyInstance,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify';
import {
  jsonSchemaTransform,
  jsonSchemaTransformObject,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import type { OpenAPIV3_1 } from 'openapi-types';
import type { z } from 'zod';
import { packageVersion } from '../../config/package-version.js';

/** A plugin's instance whose routes declare their schemas in zod: `api.withTypeProvider<ZodTypeProvider>()`. */
export type ZodApi = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  ZodTypeProvider
>;

/**
 * Makes zod the one way routes declare what they take and give: the same zod schemas validate requests, serialise
 * responses, type the handlers (`withTypeProvider<ZodTypeProvider>()`) and become the OpenAPI 3.1 document
 * served at `GET /v1/openapi.json`. A schema registered in zod's global registry with an `id`
 * (`.meta({ id: 'Dossier' })`) appears once under `components.schemas` and is referenced (`$ref`) wherever used.
 *
 * Registered on the root server before any route, so every route of every plugin is validated and serialised by
 * zod and is in the document.
 */
export async function registerOpenApi(server: FastifyInstance): Promise<void> {
  server.setValidatorCompiler(validatorCompiler);
  server.setSerializerCompiler(serializerCompiler);
  await server.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'dossier-sync',
        version: packageVersion(),
        description:
          'The national portal reads the synced dossiers (scope portal:read); provincial IT teams and operators manage connectors (scope admin); province systems push updates (webhooks, Standard Webhooks signatures). Errors are RFC 9457 problems (application/problem+json) with a stable code.',
      },
      components: {
        securitySchemes: {
          apiKey: { type: 'http', scheme: 'bearer', description: 'a key from `fleet apikey create`' },
        },
      },
    },
    transform: jsonSchemaTransform,
    transformObject: (document) =>
      onlyReferencedComponents(jsonSchemaTransformObject(document) as OpenAPIV3_1.Document),
  });
  server.get('/v1/openapi.json', { schema: { hide: true } }, async () => server.swagger());
}

const componentPrefix = '#/components/schemas/';

/** The `$ref`s to components anywhere in `value`. */
function referencedNames(value: unknown, found: Set<string> = new Set()): Set<string> {
  if (Array.isArray(value)) for (const item of value) referencedNames(item, found);
  else if (value !== null && typeof value === 'object') {
    for (const [key, child] of Object.entries(value)) {
      if (key === '$ref' && typeof child === 'string' && child.startsWith(componentPrefix))
        found.add(child.slice(componentPrefix.length));
      else referencedNames(child, found);
    }
  }
  return found;
}

/**
 * The type provider puts every registered schema in `components` twice, as read (`NameInput`) and as written
 * (`Name`), whether a route uses it or not. Only what the paths reference (and what that references) is kept, and
 * a schema only ever read keeps its plain name: `Problem`, not `ProblemInput`.
 */
function onlyReferencedComponents(document: OpenAPIV3_1.Document): OpenAPIV3_1.Document {
  const schemas = document.components?.schemas ?? {};
  const kept = referencedNames(document.paths);
  for (const pending = [...kept]; pending.length > 0;) {
    for (const name of referencedNames(schemas[pending.pop()!])) {
      if (!kept.has(name)) pending.push(name);
      kept.add(name);
    }
  }
  const renamed = new Map<string, string>();
  for (const name of kept) {
    const plain = name.replace(/Input$/, '');
    if (plain !== name && !kept.has(plain)) renamed.set(name, plain);
  }
  const pruned = Object.fromEntries(
    [...kept].sort().flatMap((name) => (schemas[name] ? [[renamed.get(name) ?? name, schemas[name]]] : [])),
  );
  const renameRefs = (_key: string, value: unknown) =>
    typeof value === 'string' && value.startsWith(componentPrefix) && renamed.has(value.slice(componentPrefix.length))
      ? `${componentPrefix}${renamed.get(value.slice(componentPrefix.length))}`
      : value;
  return JSON.parse(
    JSON.stringify({ ...document, components: { ...document.components, schemas: pruned } }),
    renameRefs,
  ) as OpenAPIV3_1.Document;
}

/**
 * A success response declared with what it means: the OpenAPI document shows `description` (a bare schema would be
 * "Default Response") and the schema as `application/json`, which the serializer picks by the reply's media type.
 */
export function jsonResponse<Schema extends z.ZodType>(description: string, schema: Schema) {
  return { description, content: { 'application/json': { schema } } };
}
