/**
 * A connector definition that does not validate — a file's sections, or a kind's configuration — with every
 * problem as `path: what was expected, got what`. A plugin's config validation and the control plane's file
 * parsing both throw it, so a front end has one error to turn into a 400 or an exit code 2.
 */
export class DefinitionError extends Error {
  override readonly name = 'DefinitionError';
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
  }
}
