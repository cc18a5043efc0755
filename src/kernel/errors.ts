// A problem with the machine rather than with tcpwhy: the CLI prints it as
// "what is missing" plus "what to do" and exits 2, never with a stack trace.
export class SetupError extends Error {
  constructor(
    message: string,
    readonly fix: string,
  ) {
    super(message);
    this.name = 'SetupError';
  }
}

/** Bad command-line input: printed with a hint to --help, exit 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/**
 * The output could not be written: its reader went away (EPIPE: the command
 * ends quietly, as `| head` expects) or its disk is full (one line, exit 2).
 */
export class OutputError extends Error {
  override name = 'OutputError';
  constructor(
    readonly code: string | undefined,
    detail: string,
  ) {
    super(`cannot write the output: ${detail}`);
  }

  static of(e: unknown): OutputError {
    if (e instanceof OutputError) return e;
    const code = (e as NodeJS.ErrnoException).code;
    const detail = code === 'ENOSPC' ? 'no space left on the device (ENOSPC)' : code === 'EPIPE' ? 'the reader went away (EPIPE)' : (e as Error).message;
    return new OutputError(code, detail);
  }
}
