/** Values for the placeholders of a request (declarative-config.ts lists which exist). */
export type TemplateValues = Partial<Record<string, string | number | null>>;

/** Fills `{{name}}` placeholders; a placeholder without a value renders empty. */
export function renderTemplate(template: string, values: TemplateValues): string {
  return template.replace(/\{\{\s*([^}\s]+)\s*\}\}/g, (_, name: string) => {
    const value = values[name];
    return value === null || value === undefined ? '' : String(value);
  });
}

/**
 * Renders every string inside a JSON value (a POST body). A string that is one placeholder alone, such as
 * '{{scopes}}', named in `whole` becomes that value as it is (a list, a boolean), not its text.
 */
export function renderJson(
  value: unknown,
  values: TemplateValues,
  whole: Readonly<Record<string, unknown>> = {},
): unknown {
  if (typeof value === 'string') {
    const alone = /^\{\{\s*([^}\s]+)\s*\}\}$/.exec(value);
    if (alone && Object.hasOwn(whole, alone[1]!)) return whole[alone[1]!];
    return renderTemplate(value, values);
  }
  if (Array.isArray(value)) return value.map((item) => renderJson(item, values, whole));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, renderJson(item, values, whole)]));
  }
  return value;
}
