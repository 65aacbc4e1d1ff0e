// Writes connectors/declarative/schema.json from the zod declarations (npm run schema). A test fails when the
// committed file differs from what this generates.
import { writeFileSync } from 'node:fs';
import { definitionJsonSchema } from '../../workers/control-plane/definition-json-schema.js';

const target = new URL('../../connectors/declarative/schema.json', import.meta.url);
writeFileSync(target, `${JSON.stringify(definitionJsonSchema(), null, 2)}\n`);
console.log(`wrote ${target.pathname}`);
