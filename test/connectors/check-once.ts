import { checkConnector, type CheckResult } from '../../workers/control-plane/check-connector.js';
import type { Connector } from '../../connectors/sdk/connector.js';

/** Runs the framework's check (read and map one page, write nothing) on a connector a test built. */
export function checkOnce(connector: Connector): Promise<CheckResult> {
  return checkConnector(
    { id: 'test', sourceProvinceCode: '79', sourceCodeSet: '2025', kind: 'test', config: {} },
    {},
    connector,
  );
}
