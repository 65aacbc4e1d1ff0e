/** A complete, valid declarative definition; tests break one part at a time. */
export function validDefinition(): Record<string, unknown> {
  return {
    id: 'hcm-igate',
    description: 'Hồ Chí Minh one-stop-shop (iGate)',
    province: { code: '79', codeSet: '2025' },
    schedule: { pollIntervalSeconds: 30 },
    http: { baseUrl: 'https://motcua.example.gov.vn', timeoutMs: 10_000 },
    auth: {
      type: 'oauth2ClientCredentials',
      tokenUrl: '/oauth/token',
      clientId: 'dossier-sync',
      clientSecret: { env: 'HCM_CLIENT_SECRET' },
    },
    request: {
      path: '/api/v1/provinces/{{province}}/dossiers',
      query: { updatedFrom: '{{cursor}}', page: '{{page}}', size: '{{pageSize}}' },
    },
    pagination: { type: 'pageNumber', pageSize: 100, firstPage: 0 },
    incremental: { cursorField: 'updatedAt', cursorFormat: 'yyyy-MM-ddTHH:mm:ss', lookbackSeconds: 120 },
    records: { path: 'content' },
    fields: { dossierCode: 'code', status: 'state', dueAt: { path: 'timeline.dueAt', format: 'iso' } },
    statuses: { preset: 'english' },
    rateLimit: { requestsPerSecond: 10 },
    retry: { maxAttempts: 3 },
  };
}
