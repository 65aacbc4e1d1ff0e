// `fleet` in a checkout (scripts/fleet.js, npx fleet, npm run demo): the production verbs and the tools beside
// them: simulate, demo, bench. The production image runs scripts/cli/fleet.ts, which has no tool.
import { createProgram, runCli } from './cli/program.js';
import { addToolCommands } from './tools/tool-commands.js';

const program = createProgram();
addToolCommands(program);
await runCli(program);
