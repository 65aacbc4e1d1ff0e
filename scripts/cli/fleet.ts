// The production `fleet`, which the image runs bundled (dist/fleet.js, scripts/build-bundle.ts): the verbs that
// operate a fleet, none of the tools. A checkout's `fleet` (scripts/fleet.ts) adds the simulator, the demo and the
// benchmark.
import { createProgram, runCli } from './program.js';

await runCli(createProgram());
