// Typed store errors. Messages are nats-server's store error texts, so upper layers can map them
// onto the same JetStream API errors.

export const StoreErrorCode = {
  Closed: 'STORE_CLOSED',
  MaxMsgs: 'MAX_MSGS',
  MaxBytes: 'MAX_BYTES',
  MaxMsgsPerSubject: 'MAX_MSGS_PER_SUBJECT',
  MsgTooLarge: 'MSG_TOO_LARGE',
  SequenceMismatch: 'SEQUENCE_MISMATCH',
  BadSubject: 'BAD_SUBJECT',
  Corrupt: 'CORRUPT',
  WriteFailed: 'WRITE_FAILED',
} as const;

export type StoreErrorCode = (typeof StoreErrorCode)[keyof typeof StoreErrorCode];

const MESSAGES: Record<StoreErrorCode, string> = {
  STORE_CLOSED: 'store is closed',
  MAX_MSGS: 'maximum messages exceeded',
  MAX_BYTES: 'maximum bytes exceeded',
  MAX_MSGS_PER_SUBJECT: 'maximum messages per subject exceeded',
  MSG_TOO_LARGE: 'message too large',
  SEQUENCE_MISMATCH: 'expected sequence does not match store',
  BAD_SUBJECT: 'invalid subject',
  CORRUPT: 'stored state is corrupt',
  WRITE_FAILED: 'write to store failed',
};

export class StoreError extends Error {
  readonly code: StoreErrorCode;

  constructor(code: StoreErrorCode, detail?: string, options?: ErrorOptions) {
    super(detail ? `${MESSAGES[code]}: ${detail}` : MESSAGES[code], options);
    this.name = 'StoreError';
    this.code = code;
  }
}
