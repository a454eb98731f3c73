// The one error type configuration loading throws. It names where the problem is
// (file, line, column, key) so the CLI can print one line and exit 1.

/** Where a value came from: a place in a config file, or a command-line flag. */
export interface Position {
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
}

export interface ConfigErrorDetails {
  file?: string;
  line?: number;
  column?: number;
  /** Dotted config key path (`jetstream.max_file_store`) or flag name (`-p`). */
  key?: string;
  /** Usage text the CLI should print after the message (flag errors). */
  usage?: string;
}

export class ConfigError extends Error {
  readonly file?: string;
  readonly line?: number;
  readonly column?: number;
  readonly key?: string;
  /** The message without the location prefix. */
  readonly problem: string;
  readonly usage?: string;

  constructor(problem: string, details: ConfigErrorDetails = {}) {
    super(formatConfigMessage(problem, details));
    this.name = 'ConfigError';
    this.problem = problem;
    this.file = details.file;
    this.line = details.line;
    this.column = details.column;
    this.key = details.key;
    this.usage = details.usage;
  }

  static at(position: Position | undefined, key: string | undefined, problem: string): ConfigError {
    return new ConfigError(problem, { ...position, key });
  }
}

/** `<file>:<line>:<col>: <key>: <problem>`, dropping the parts that are unknown. */
export function formatConfigMessage(problem: string, d: ConfigErrorDetails): string {
  let prefix = '';
  if (d.file !== undefined) {
    prefix = d.line !== undefined ? `${d.file}:${d.line}:${d.column ?? 0}: ` : `${d.file}: `;
  }
  const key = d.key !== undefined && d.key !== '' ? `${d.key}: ` : '';
  return `${prefix}${key}${problem}`;
}
