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
