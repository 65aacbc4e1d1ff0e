import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { codeSets, resolveProvince, type CodeSet } from '../../config/provinces.js';
import {
  declarativeSections,
  isPushOnly,
  sectionNames,
  type SectionName,
} from '../../connectors/declarative/declarative-config.js';
import { DefinitionError } from '../../connectors/sdk/definition-error.js';
import type { ConnectorDefinition } from '../../db/queries/connectors.js';
import { connectorPlugins } from '../../connectors/plugins.js';

/**
 * A connector definition: the one file a provincial IT team writes to connect its system (YAML or JSON).
 * Either the declarative REST sections of a polled system (http, auth, request, pagination, incremental,
 * records, webhook, fields, statuses, rateLimit, retry; see declarative/README.md), those of a system that only
 * pushes (webhook, fields, statuses), or a `plugin` with its own config.
 */
export const definitionFile = z
  .object({
    /** The connector's id: lowercase letters, digits and dashes, e.g. hcm-igate. */
    id: z.string({ error: 'expected an id such as hcm-igate' }).regex(/^[a-z0-9][a-z0-9-]{0,62}$/, {
      error: 'expected an id of lowercase letters, digits and dashes (at most 63), such as hcm-igate',
    }),
    /** One line on what system this is. */
    description: z.string({ error: 'expected text' }).max(500, { error: 'expected at most 500 characters' }).optional(),
    /** The province the system belongs to. */
    province: z
      .object({
        /** Two-digit province code, e.g. 79. */
        code: z
          .string({ error: 'expected a two-digit province code as text, such as "79"' })
          .regex(/^\d{2}$/, { error: 'expected a two-digit province code as text, such as "79"' }),
        /** The code set the code belongs to: 2025 (default, after the merger) or 2008 (a system not yet migrated). */
        codeSet: z.enum(codeSets as [CodeSet, ...CodeSet[]], { error: 'expected "2025" or "2008"' }).default('2025'),
      })
      .strict(),
    /** When it is polled (not for a system that only pushes). */
    schedule: z
      .object({
        /** Seconds between poll runs. Default 60. */
        pollIntervalSeconds: z
          .number({ error: 'expected a whole number of seconds from 1 to 86400' })
          .int({ error: 'expected a whole number of seconds from 1 to 86400' })
          .min(1, { error: 'expected a whole number of seconds from 1 to 86400' })
          .max(86_400, { error: 'expected a whole number of seconds from 1 to 86400' })
          .default(60),
        /**
         * Hours between scheduled reconciles of the connector's last 30 days (README, Reconciliation), run by the
         * reconciler role. Absent: reconciled only on demand (`fleet reconcile`, the admin API).
         */
        reconcileEveryHours: z
          .number({ error: 'expected a whole number of hours from 1 to 8760' })
          .int({ error: 'expected a whole number of hours from 1 to 8760' })
          .min(1, { error: 'expected a whole number of hours from 1 to 8760' })
          .max(8760, { error: 'expected a whole number of hours from 1 to 8760' })
          .optional(),
      })
      .strict()
      .default({ pollIntervalSeconds: 60 }),
    /** How `fleet backfill` reads the connector's history (not for a system that only pushes). */
    backfill: z
      .object({
        /**
         * Hours of source update time each backfill window covers (`fleet backfill --window-hours` overrides it).
         * Default 24; a source that refuses long ranges wants fewer.
         */
        windowHours: z
          .number({ error: 'expected a whole number of hours from 1 to 8760' })
          .int({ error: 'expected a whole number of hours from 1 to 8760' })
          .min(1, { error: 'expected a whole number of hours from 1 to 8760' })
          .max(8760, { error: 'expected a whole number of hours from 1 to 8760' })
          .default(24),
      })
      .strict()
      .optional(),
    /** A code plugin instead of the declarative sections: its name and its own configuration. */
    plugin: z
      .object({
        name: z.string({ error: 'expected a plugin name' }),
        config: z.record(z.string(), z.unknown()).default({}),
      })
      .strict()
      .optional(),
    ...(Object.fromEntries(sectionNames.map((name) => [name, z.unknown().optional()])) as Record<
      SectionName,
      z.ZodOptional<z.ZodUnknown>
    >),
  })
  .strict();

function shown(input: unknown): string {
  if (input === undefined) return 'nothing';
  const json = JSON.stringify(input);
  if (json === undefined) return typeof input;
  return json.length > 60 ? `${json.slice(0, 57)}...` : json;
}

/** One line per zod issue, with the path from the top of the file. */
function describeIssues(error: z.ZodError, prefix: (string | number)[] = []): string[] {
  return error.issues.map((issue) => {
    const path = [...prefix, ...issue.path].join('.') || '(top level)';
    if (issue.code === 'unrecognized_keys')
      return `${path}: unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((key) => JSON.stringify(key)).join(', ')}`;
    // A value under auth may be a secret written in clear by mistake: never echo it.
    const secret = path.startsWith('auth.') && !path.endsWith('.type');
    const got = 'input' in issue && issue.code !== 'custom' && !secret ? `, got ${shown(issue.input)}` : '';
    return `${path}: ${issue.message}${got}`;
  });
}

/** Reads a definition file's text (YAML, of which JSON is a subset); throws DefinitionError. */
export function parseDefinitionText(text: string, fileName = 'definition'): ConnectorDefinition {
  let document: unknown;
  try {
    document = parseYaml(text, { uniqueKeys: true, maxAliasCount: 50 });
  } catch (error) {
    throw new DefinitionError([
      `${fileName}: not valid YAML or JSON: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`,
    ]);
  }
  return parseDefinition(document);
}

/** Validates a parsed definition; throws DefinitionError listing every problem. Nothing is stored by this. */
export function parseDefinition(document: unknown): ConnectorDefinition {
  if (document === null || typeof document !== 'object' || Array.isArray(document)) {
    throw new DefinitionError([
      `(top level): expected a mapping with id, province and the connector's sections, got ${shown(document)}`,
    ]);
  }
  const file = definitionFile.safeParse(document, { reportInput: true });
  if (!file.success) throw new DefinitionError(describeIssues(file.error));
  const definition = file.data;
  const problems: string[] = [];
  const province = resolveProvince(definition.province.code, definition.province.codeSet);
  if (!province) {
    problems.push(
      `province.code: "${definition.province.code}" is not a province of the ${definition.province.codeSet} code set; expected a code of config/provinces.json such as "01" or "79"`,
    );
  }
  const sections = Object.fromEntries(
    sectionNames.filter((key) => definition[key] !== undefined).map((key) => [key, definition[key]]),
  );

  let kind = 'declarative';
  let config: unknown = null;
  if (definition.plugin) {
    kind = definition.plugin.name;
    const plugin = connectorPlugins.get(kind);
    if (Object.keys(sections).length > 0)
      problems.push(
        `${Object.keys(sections)[0]}: a plugin connector takes its settings in plugin.config, not in declarative sections`,
      );
    if (!plugin || kind === 'declarative') {
      problems.push(
        `plugin.name: "${kind}" is not a connector plugin; expected one of ${[...connectorPlugins.keys()].filter((name) => name !== 'declarative').join(', ')}`,
      );
    } else {
      const parsed = plugin.configSchema.safeParse(definition.plugin.config, { reportInput: true });
      if (parsed.success) config = parsed.data;
      else problems.push(...describeIssues(parsed.error, ['plugin', 'config']));
    }
  } else {
    const parsed = declarativeSections.safeParse(sections, { reportInput: true });
    if (parsed.success) config = parsed.data;
    else problems.push(...describeIssues(parsed.error));
    if (parsed.success && isPushOnly(parsed.data) && Object.hasOwn(document, 'schedule')) {
      problems.push(
        'schedule: a push-only connector (webhook without http, request and records) is never polled, so it has no schedule; remove it, or add http, request and records to poll the system',
      );
    }
    if (parsed.success && isPushOnly(parsed.data) && Object.hasOwn(document, 'backfill')) {
      problems.push(
        'backfill: a push-only connector (webhook without http, request and records) cannot be read, so it has no backfill; remove it, or add http, request and records to read the system',
      );
    }
  }
  if (problems.length > 0) throw new DefinitionError(problems);
  return {
    id: definition.id,
    description: definition.description ?? null,
    sourceProvinceCode: definition.province.code,
    sourceCodeSet: definition.province.codeSet,
    kind,
    config,
    pollIntervalMs: definition.schedule.pollIntervalSeconds * 1000,
  };
}
