import type { Migration } from 'kysely';
import * as initialSchema from './0001-initial-schema.js';
import * as connectorRegistry from './0002-connector-registry.js';
import * as webhookSecrets from './0003-webhook-secrets.js';
import * as breakerState from './0004-breaker-state.js';
import * as failedBatches from './0005-failed-batches.js';
import * as connectorActivity from './0006-connector-activity.js';
import * as portalReadScope from './0007-portal-read-scope.js';
import * as dossierChangeFeed from './0008-dossier-change-feed.js';
import * as provinceDailyStats from './0009-province-daily-stats.js';
import * as apiKeyProvinces from './0010-api-key-provinces.js';
import * as auditTrail from './0011-audit-trail.js';
import * as webhookSecretKeyId from './0012-webhook-secret-key-id.js';
import * as dossierAnomalies from './0013-dossier-anomalies.js';
import * as backfillRuns from './0014-backfill-runs.js';
import * as reconcileRuns from './0015-reconcile-runs.js';
import * as anomaliesKeyedByProvince from './0016-anomalies-keyed-by-province.js';
import * as dossierRevision from './0017-dossier-revision.js';
import * as reconcileDossiersCompared from './0018-reconcile-dossiers-compared.js';
import * as storedSummaryDigest from './0019-stored-summary-digest.js';

/** Every migration, by name in the order they run. A new one is a new file, listed here. */
export const migrations: Record<string, Migration> = {
  '0001-initial-schema': initialSchema,
  '0002-connector-registry': connectorRegistry,
  '0003-webhook-secrets': webhookSecrets,
  '0004-breaker-state': breakerState,
  '0005-failed-batches': failedBatches,
  '0006-connector-activity': connectorActivity,
  '0007-portal-read-scope': portalReadScope,
  '0008-dossier-change-feed': dossierChangeFeed,
  '0009-province-daily-stats': provinceDailyStats,
  '0010-api-key-provinces': apiKeyProvinces,
  '0011-audit-trail': auditTrail,
  '0012-webhook-secret-key-id': webhookSecretKeyId,
  '0013-dossier-anomalies': dossierAnomalies,
  '0014-backfill-runs': backfillRuns,
  '0015-reconcile-runs': reconcileRuns,
  '0016-anomalies-keyed-by-province': anomaliesKeyedByProvince,
  '0017-dossier-revision': dossierRevision,
  '0018-reconcile-dossiers-compared': reconcileDossiersCompared,
  '0019-stored-summary-digest': storedSummaryDigest,
};
