import { describe, expect, it } from 'vitest';
import {
  NationalRestConnector,
  nationalRestConfig,
} from '../../../connectors/national-rest/national-rest-connector.js';

function connector(lookbackSeconds?: number): NationalRestConnector {
  return new NationalRestConnector({
    id: 'hcm-rest',
    sourceProvinceCode: '79',
    sourceCodeSet: '2025',
    config: nationalRestConfig.parse({ baseUrl: 'http://127.0.0.1:9', lookbackSeconds }),
  });
}

describe('startFrom re-reads a look-back window from the committed cursor', () => {
  it('rewinds updatedSince by lookbackSeconds and drops afterCode', () => {
    expect(connector(120).startFrom({ updatedSince: '20261127080000', afterCode: 'H56-0002' })).toMatchObject({
      updatedSince: '20261127075800',
      afterCode: null,
    });
  });

  it('uses the default look-back of 120 seconds', () => {
    expect(connector().startFrom({ updatedSince: '20261127080000', afterCode: 'H56-0002' })).toMatchObject({
      updatedSince: '20261127075800',
      afterCode: null,
    });
  });

  it('rewinds across midnight, month and year in Vietnam time', () => {
    expect(connector(90).startFrom({ updatedSince: '20270101000030', afterCode: 'X' })).toMatchObject({
      updatedSince: '20261231235900',
      afterCode: null,
    });
  });

  it('a look-back of 0 keeps the time but still drops afterCode', () => {
    expect(connector(0).startFrom({ updatedSince: '20261127080000', afterCode: 'H56-0002' })).toMatchObject({
      updatedSince: '20261127080000',
      afterCode: null,
    });
  });

  it('starts from the beginning without a committed cursor', () => {
    expect(connector(120).startFrom(null)).not.toHaveProperty('updatedSince');
    expect(connector(120).startFrom({ somethingElse: 1 })).not.toHaveProperty('updatedSince');
  });
});
