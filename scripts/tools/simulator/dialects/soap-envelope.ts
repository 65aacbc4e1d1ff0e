import { XMLBuilder, XMLParser, XMLValidator } from 'fast-xml-parser';

// SOAP 1.1 envelopes (https://www.w3.org/TR/2000/NOTE-SOAP-20000508/): reading the one operation a request
// carries, and writing a response or a fault. A library does the XML, so text with Vietnamese letters, `&`
// or `<` is escaped on the way out and unescaped on the way in without hand-written rules.

export const soapNamespace = 'http://schemas.xmlsoap.org/soap/envelope/';

/** A request the caller got wrong: answered with a `soap:Client` fault. */
export class SoapClientError extends Error {
  override readonly name = 'SoapClientError';
}

const parser = new XMLParser({
  // Elements are matched by local name, so a client may pick its own prefixes (soap:, s:, soapenv:).
  removeNSPrefix: true,
  ignoreAttributes: true,
  // Keep every value as text: a province code "01" must not become the number 1.
  parseTagValue: false,
});

const builder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  suppressEmptyNode: false,
  processEntities: true,
});

/**
 * The child elements of operation `operation` in the envelope's Body, as text (an element given twice comes
 * as an array, an element with children as an object). Throws SoapClientError for anything else.
 */
export function readSoapOperation(xml: string, operation: string): Record<string, unknown> {
  // The parser is lenient (it would read `<a><b></a>`), so well-formedness is checked first.
  const validation = XMLValidator.validate(xml);
  if (validation !== true)
    throw new SoapClientError(
      `the request is not well-formed XML: ${validation.err.msg} (line ${validation.err.line})`,
    );
  const document = parser.parse(xml) as Record<string, unknown>;
  const body = child(child(document, 'Envelope'), 'Body');
  if (body === undefined) throw new SoapClientError('expected a SOAP 1.1 envelope: Envelope, then Body');
  const request = child(body, operation);
  if (request === undefined) throw new SoapClientError(`the Body must hold the operation ${operation}`);
  // An operation without children (`<LayDanhSachHoSo/>`) reads as empty text.
  return typeof request === 'object' && request !== null ? (request as Record<string, unknown>) : {};
}

/** A response envelope whose Body holds `content`: element name → text, number, nested object or array of repeats. */
export function soapResponse(content: Record<string, unknown>): string {
  return envelope({ 'soap:Body': content });
}

/** A fault envelope: `soap:Client` for the caller's mistakes, `soap:Server` for the simulator's own. */
export function soapFault(faultcode: 'soap:Client' | 'soap:Server', faultstring: string): string {
  return envelope({ 'soap:Body': { 'soap:Fault': { faultcode, faultstring } } });
}

function envelope(content: Record<string, unknown>): string {
  return `<?xml version="1.0" encoding="utf-8"?>${builder.build({ 'soap:Envelope': { '@_xmlns:soap': soapNamespace, ...content } })}`;
}

function child(parent: unknown, name: string): unknown {
  return typeof parent === 'object' && parent !== null ? (parent as Record<string, unknown>)[name] : undefined;
}
