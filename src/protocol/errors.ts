// Errors a protocol parser reports. The texts are part of the wire contract:
// `errText` is exactly what nats-server puts inside `-ERR '...'`, and
// `closeReason` is the text nats-server shows as the /connz close reason.

export const ProtocolErrorCode = {
  /** A byte that starts or continues no known operation. */
  UNKNOWN_OPERATION: 'PROTO_UNKNOWN_OPERATION',
  /** PUB/HPUB announced a size above max_payload. */
  MAX_PAYLOAD: 'PROTO_MAX_PAYLOAD',
  /** A control line (the part before CRLF) is longer than max_control_line. */
  MAX_CONTROL_LINE: 'PROTO_MAX_CONTROL_LINE',
  /** PUB arguments are not `<subject> [reply] <size>` with a valid size. */
  INVALID_PUB: 'PROTO_INVALID_PUB',
  /** HPUB arguments are not `<subject> [reply] <hdr_len> <total_len>` with valid sizes. */
  INVALID_HPUB: 'PROTO_INVALID_HPUB',
  /** SUB arguments are not `<subject> [queue] <sid>`. */
  INVALID_SUB: 'PROTO_INVALID_SUB',
  /** UNSUB arguments are not `<sid> [max]`. */
  INVALID_UNSUB: 'PROTO_INVALID_UNSUB',
  /** INFO from a client whose argument is not JSON. */
  INVALID_INFO: 'PROTO_INVALID_INFO',
  /** The peer sent `-ERR`; nats-server logs it and closes a client connection. */
  PEER_ERROR: 'PROTO_PEER_ERROR',
  /** RS+/LS+ arguments are not `[origin] <account> <subject> [<queue> <weight>]`. */
  INVALID_REMOTE_SUB: 'PROTO_INVALID_REMOTE_SUB',
  /** RS-/LS- arguments are not `<account> <subject> [<queue>]`. */
  INVALID_REMOTE_UNSUB: 'PROTO_INVALID_REMOTE_UNSUB',
  /** RMSG/HMSG/LMSG arguments are malformed (count, reply indicator, sizes). */
  INVALID_ROUTED_MSG: 'PROTO_INVALID_ROUTED_MSG',
  /** A+/A- (gateway account interest) without exactly one account name. */
  INVALID_ACCOUNT_INTEREST: 'PROTO_INVALID_ACCOUNT_INTEREST',
} as const;
export type ProtocolErrorCode = (typeof ProtocolErrorCode)[keyof typeof ProtocolErrorCode];

/** Close reasons as nats-server names them in /connz. */
export const CloseReason = {
  PROTOCOL_VIOLATION: 'Protocol Violation',
  PARSE_ERROR: 'Parse Error',
  MAX_PAYLOAD: 'Maximum Message Payload Exceeded',
  MAX_CONTROL_LINE: 'Maximum Control Line Exceeded',
} as const;
export type CloseReason = (typeof CloseReason)[keyof typeof CloseReason];

/** `-ERR` texts nats-server sends for parser-level failures (exact case). */
export const ErrText = {
  UNKNOWN_OPERATION: 'Unknown Protocol Operation',
  MAX_PAYLOAD: 'Maximum Payload Violation',
  // nats-server sends the text of its ErrMaxControlLine error, which is lower case.
  MAX_CONTROL_LINE: 'maximum control line exceeded',
} as const;

export class ProtocolError extends Error {
  readonly code: ProtocolErrorCode;
  /** Text to send as `-ERR '<errText>'`, or null when nats-server sends nothing before closing. */
  readonly errText: string | null;
  /** Every parser error ends the connection in nats-server; kept explicit for callers. */
  readonly closesConnection: boolean;
  readonly closeReason: CloseReason;

  constructor(
    code: ProtocolErrorCode,
    logMessage: string,
    errText: string | null,
    closeReason: CloseReason,
    closesConnection = true,
  ) {
    super(logMessage);
    this.name = 'ProtocolError';
    this.code = code;
    this.errText = errText;
    this.closeReason = closeReason;
    this.closesConnection = closesConnection;
  }
}
