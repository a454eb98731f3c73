// The body of a pull request (`CONSUMER.MSG.NEXT`, or the tail of a `+NXT` ack), decoded as
// nats-server's nextReqFromMsg does.

export interface NextRequest {
  batch: number;
  expiresNs: number;
  noWait: boolean;
  maxBytes: number;
  heartbeatNs: number;
}

/** nats-server nextReqFromMsg: empty = one message, a JSON request, or a bare batch number. Error text on failure. */
export function parseNextRequest(body: Uint8Array): NextRequest | string {
  const text = Buffer.from(body).toString('utf8').trim();
  const req: NextRequest = { batch: 1, expiresNs: 0, noWait: false, maxBytes: 0, heartbeatNs: 0 };
  if (text.length === 0) return req;
  if (text.startsWith('{')) {
    let j: Record<string, unknown>;
    try {
      j = JSON.parse(text) as Record<string, unknown>;
    } catch (e) {
      return (e as Error).message;
    }
    const num = (k: string): number | string => {
      const v = j[k];
      if (v === undefined || v === null) return 0;
      if (typeof v !== 'number' || !Number.isInteger(v)) return `json: cannot unmarshal ${typeof v} into Go struct field JSApiConsumerGetNextRequest.${k} of type int`;
      return v;
    };
    const batch = num('batch');
    const expires = num('expires');
    const maxBytes = num('max_bytes');
    const hb = num('idle_heartbeat');
    for (const v of [batch, expires, maxBytes, hb]) if (typeof v === 'string') return v;
    if (j['no_wait'] !== undefined && j['no_wait'] !== null && typeof j['no_wait'] !== 'boolean') {
      return 'json: cannot unmarshal into Go struct field JSApiConsumerGetNextRequest.no_wait of type bool';
    }
    req.batch = Math.max(1, batch as number);
    req.expiresNs = Math.max(0, expires as number);
    req.maxBytes = Math.max(0, maxBytes as number);
    req.noWait = j['no_wait'] === true;
    req.heartbeatNs = Math.max(0, hb as number);
    if (req.heartbeatNs > 0 && req.heartbeatNs * 2 > req.expiresNs) return 'heartbeat value too large';
    return req;
  }
  if (/^[+-]?\d+$/.test(text)) req.batch = Math.max(1, Number(text));
  return req;
}
