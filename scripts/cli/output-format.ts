import { Option, type Command } from 'commander';
import { stringify as toYaml } from 'yaml';

// `-o json` / `-o yaml` for every verb that shows something, as kubectl has it: the same view the admin API
// returns, whole, for scripts; without `-o`, the text a person reads (tables, comments) as before.

/** A machine format a verb can print its view in. */
export type MachineFormat = 'json' | 'yaml';

/** What `-o` was given: a machine format, or undefined for the text a person reads. */
export type OutputFormat = MachineFormat | undefined;

/**
 * Adds `-o, --output <format>` to a verb (its value is `options.output`); commander refuses any other value (exit 2).
 */
export function addOutputOption(command: Command, formats: readonly MachineFormat[] = ['json']): Command {
  return command.addOption(
    new Option(
      '-o, --output <format>',
      `print the view as ${formats.join(' or ')} (as the admin API returns it) instead of text`,
    ).choices(formats),
  );
}

/** Prints `view` as JSON or YAML when asked for, else the text `renderText` makes of it. */
export function printView<T>(view: T, format: OutputFormat, renderText: (view: T) => string | readonly string[]): void {
  if (format === 'json') console.log(JSON.stringify(view, null, 2));
  else if (format === 'yaml') console.log(toYaml(view).trimEnd());
  else {
    const text = renderText(view);
    console.log(typeof text === 'string' ? text : text.join('\n'));
  }
}
