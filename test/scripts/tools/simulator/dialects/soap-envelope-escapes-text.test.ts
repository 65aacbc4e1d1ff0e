import { XMLParser } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import {
  readSoapOperation,
  SoapClientError,
  soapFault,
  soapResponse,
} from '../../../../../scripts/tools/simulator/dialects/soap-envelope.js';

const parser = new XMLParser({ removeNSPrefix: true, parseTagValue: false });
const awkward = 'Công ty A & B <Chi nhánh> "Hà Nội" \'số 1\'';

describe('SOAP envelopes', () => {
  it('escapes Vietnamese text with &, <, > and quotes so a parser reads it back unchanged', () => {
    const xml = soapResponse({ KetQua: { Ten: awkward } });

    expect(xml).not.toContain('A & B');
    expect(xml).not.toContain('<Chi');
    expect((parser.parse(xml) as { Envelope: { Body: { KetQua: { Ten: string } } } }).Envelope.Body.KetQua.Ten).toBe(
      awkward,
    );
  });

  it('escapes a fault string too', () => {
    const xml = soapFault('soap:Client', awkward);

    expect(
      (parser.parse(xml) as { Envelope: { Body: { Fault: { faultstring: string } } } }).Envelope.Body.Fault.faultstring,
    ).toBe(awkward);
  });

  it('reads escaped request text, keeping codes as text ("01" stays "01")', () => {
    const xml = `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><Op xmlns="urn:x"><MaTinh>01</MaTinh><Ten>A &amp; B &lt;C&gt;</Ten></Op></soap:Body></soap:Envelope>`;

    expect(readSoapOperation(xml, 'Op')).toEqual({ MaTinh: '01', Ten: 'A & B <C>' });
  });

  it.each([
    ['not well-formed', '<soap:Envelope><soap:Body><Op></soap:Body></soap:Envelope>'],
    ['not an envelope', '<Op><MaTinh>01</MaTinh></Op>'],
    ['another operation', '<Envelope><Body><Other/></Body></Envelope>'],
  ])('refuses a request that is %s', (_case, xml) => {
    expect(() => readSoapOperation(xml, 'Op')).toThrow(SoapClientError);
  });
});
