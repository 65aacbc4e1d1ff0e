/** Values for the placeholders of a request (declarative-config.ts lists which exist). */
export type TemplateValues = Partial<Record<string, string | number | null>>;

/** Fills `{{name}}` placeholders; a placeholder without a value renders empty. */
export function renderTemplate(template: string, values: TemplateValues): string {
  return template.replace(/\{\{\s*([^}\s]+)\s*\}\}/g, (_, name: string) => {
    const value = values[name];
    return value === null || value === undefined ? '' : String(value);
  });
}

/** Renders every string inside a JSON value (a POST body). */
export function renderJson(value: unknown, values: TemplateValues): unknown {
  if (typeof value === 'string') return renderTemplate(value, values);
  if (Array.isArray(value)) return value.map((item) => renderJson(item, values));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, renderJson(item, values)]));
  }
  return value;
}
