import { canRead, type Connector, type ConnectorPlugin, type ConnectorSettings } from './sdk/connector.js';
import { DefinitionError } from './sdk/definition-error.js';
import type { RequestGate } from './sdk/request-gate.js';
import { declarativePlugin } from './declarative/declarative-connector.js';
import { lgspSoapPlugin } from './lgsp-soap/lgsp-soap-connector.js';
import { nationalRestPlugin } from './national-rest/national-rest-connector.js';

/** Every connector kind, by the name a definition uses. */
export const connectorPlugins: ReadonlyMap<string, ConnectorPlugin> = new Map(
  [declarativePlugin as ConnectorPlugin, nationalRestPlugin as ConnectorPlugin, lgspSoapPlugin as ConnectorPlugin].map(
    (plugin) => [plugin.kind, plugin],
  ),
);

/** A connector as the registry holds it: its kind and the settings it is built with. */
export interface RegisteredConnector extends Omit<ConnectorSettings<unknown>, 'gate'> {
  /** `declarative`, or the plugin's name. */
  kind: string;
}

/** Validates a stored or submitted configuration against its kind's spec and builds the connector. */

export function createConnector(settings: RegisteredConnector & { gate?: RequestGate }): Connector {
  const plugin = connectorPlugins.get(settings.kind);
  if (!plugin) {
    throw new DefinitionError([
      `connector ${settings.id}: kind ${JSON.stringify(settings.kind)} is unknown; expected one of ${[...connectorPlugins.keys()].join(', ')}`,
    ]);
  }
  const parsed = plugin.configSchema.safeParse(settings.config);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new DefinitionError([
      `connector ${settings.id}: config.${issue.path.join('.') || '(root)'}: ${issue.message}`,
    ]);
  }
  const connectorSettings: ConnectorSettings<unknown> = { ...settings, config: parsed.data };
  return plugin.create(connectorSettings);
}

/**
 * Whether a connector of these settings is polled: false when its system only pushes (a connector without
 * `read`). Settings that do not build a connector count as polled, so that the poller records why as the
 * connector's last error rather than the connector going quiet.
 */
export function isPolled(settings: RegisteredConnector): boolean {
  try {
    return canRead(createConnector(settings));
  } catch {
    return true;
  }
}
