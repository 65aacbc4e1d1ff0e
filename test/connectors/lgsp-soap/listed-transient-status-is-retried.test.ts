import { it } from 'vitest';
import { LgspSoapConnector, lgspSoapConfig } from '../../../connectors/lgsp-soap/lgsp-soap-connector.js';
import { expectListedStatusesRetried } from '../transient-status-retries.js';

const emptyPage = `<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><LayDanhSachHoSoResponse xmlns="http://motcua.gov.vn/"><KetQua><DanhSachHoSo/></KetQua></LayDanhSachHoSoResponse></soap:Body></soap:Envelope>`;

it('retries a status its retry section lists, and not a 4xx it does not list', async () => {
  process.env.TEST_TRANSIENT_LGSP_PASSWORD = 'lgsp-password';
  await expectListedStatusesRetried(
    (baseUrl, transientStatusCodes) => {
      const config = lgspSoapConfig.parse({
        baseUrl,
        username: 'lgsp-user',
        password: { env: 'TEST_TRANSIENT_LGSP_PASSWORD' },
        rateLimit: { requestsPerSecond: 1000 },
        ...(transientStatusCodes ? { retry: { transientStatusCodes } } : {}),
      });
      return {
        connector: new LgspSoapConnector({
          id: 'transient-statuses',
          sourceProvinceCode: '01',
          sourceCodeSet: '2025',
          config,
        }),
        config,
      };
    },
    { status: 200, body: emptyPage, contentType: 'text/xml; charset=utf-8' },
  );
});
