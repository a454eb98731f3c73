// The JetStream JSON API on `$JS.API.>` (and `$JS.<domain>.API.>`): decodes each request the way
// nats-server does, answers with its response types and error codes, and hands `CONSUMER.*` to the
// consumer engine after finding the stream. Direct gets (`DIRECT.GET.<stream>[.<subject>]`) answer
// with the stored message itself, as headers plus payload.

import { subjectsCollide } from '../routing/subjects.ts';
import { buildHeaders } from '../protocol/headers.ts';
import type { ApiError, ApiRequest, ConsumerApi, JsContext } from './seams.ts';
import {
  JS_ERR,
  invalidJson,
  isApiError,
  sequenceNotFound,
  streamInvalidConfig,
  streamMsgDeleteFailed,
  streamPurgeFailed,
  streamRestoreFailed,
  streamSnapshotFailed,
} from './errors.ts';
import { appendHeaders } from './header_block.ts';
import { parseRfc3339, rfc3339Nano } from './json_time.ts';
import type { MsgGetRequest, Stream } from './stream.ts';
import { decodeStreamConfig, type StreamConfig } from './stream_config.ts';
import type { StoredMessage } from './store/index.ts';

export const API_PREFIX = '$JS.API';
const RESPONSE_TYPE_PREFIX = 'io.nats.jetstream.api.v1.';
/** nats-server JSApiNamesLimit / JSApiListLimit: page sizes of NAMES and LIST. */
export const NAMES_LIMIT = 1024;
export const LIST_LIMIT = 256;
/** nats-server JSMaxSubjectDetails: subjects reported in one STREAM.INFO page. */
const MAX_SUBJECT_DETAILS = 100_000;

const TYPE = {
  ACCOUNT_INFO: 'account_info_response',
  STREAM_CREATE: 'stream_create_response',
  STREAM_UPDATE: 'stream_update_response',
  STREAM_INFO: 'stream_info_response',
  STREAM_NAMES: 'stream_names_response',
  STREAM_LIST: 'stream_list_response',
  STREAM_DELETE: 'stream_delete_response',
  STREAM_PURGE: 'stream_purge_response',
  MSG_GET: 'stream_msg_get_response',
  MSG_DELETE: 'stream_msg_delete_response',
  CONSUMER_CREATE: 'consumer_create_response',
  CONSUMER_INFO: 'consumer_info_response',
  CONSUMER_NAMES: 'consumer_names_response',
  CONSUMER_LIST: 'consumer_list_response',
  CONSUMER_DELETE: 'consumer_delete_response',
  CONSUMER_PAUSE: 'consumer_pause_response',
  CONSUMER_UNPIN: 'consumer_unpin_response',
  CONSUMER_LEADER_STEPDOWN: 'consumer_leader_stepdown_response',
  STREAM_LEADER_STEPDOWN: 'stream_leader_stepdown_response',
  STREAM_REMOVE_PEER: 'stream_remove_peer_response',
  STREAM_SNAPSHOT: 'stream_snapshot_response',
  STREAM_RESTORE: 'stream_restore_response',
  META_LEADER_STEPDOWN: 'meta_leader_stepdown_response',
} as const;

/** What the API needs of the engine (implemented by JetStream). */
export interface ApiHost {
  readonly ctx: JsContext;
  readonly consumers: ConsumerApi;
  stream(name: string): Stream | undefined;
  /** All streams, sorted by name. */
  streams(): Stream[];
  createStream(cfg: StreamConfig): Promise<Stream | ApiError>;
  /** Validates (config, then the subject's name, then existence) and applies an update. */
  updateStream(cfg: StreamConfig, nameInSubject: string): Promise<Stream | ApiError>;
  deleteStream(name: string): Promise<ApiError | null>;
  accountInfo(): Record<string, unknown>;
  /** Counts a request (`api.total`) and, when answered with an error, `api.errors`. */
  noteApiCall(): void;
  noteApiError(): void;
}

type Response = Record<string, unknown>;
type FieldKind = 'int' | 'uint' | 'string' | 'bool' | 'time' | 'strings';

const NO_RESPONDERS = buildHeaders({ status: 503 });
const EMPTY = new Uint8Array(0);

export class JsApi {
  private readonly host: ApiHost;
  /** Stream create/update/delete run one at a time, in arrival order. */
  private adminChain: Promise<void> = Promise.resolve();

  constructor(host: ApiHost) {
    this.host = host;
  }

  /** Handles one message on the API subjects. `tokens` are the subject tokens after `$JS.API.`. */
  dispatch(tokens: readonly string[], reply: string | null, hdr: Uint8Array | null, data: Uint8Array): void {
    const op = tokens[0];
    if (op === 'DIRECT') {
      if (tokens[1] === 'GET' && tokens.length >= 3) this.directGet(tokens, reply, data);
      return;
    }
    // MSG.NEXT goes to the consumer in nats-server, not through the API dispatcher it counts.
    if (!(op === 'CONSUMER' && tokens[1] === 'MSG')) this.host.noteApiCall();
    if (op === 'INFO' && tokens.length === 1) {
      this.respond(reply, TYPE.ACCOUNT_INFO, this.host.accountInfo());
      return;
    }
    if (op === 'STREAM') {
      this.streamOp(tokens, reply, data);
      return;
    }
    if (op === 'META' && tokens[1] === 'LEADER' && tokens[2] === 'STEPDOWN') {
      this.fail(reply, TYPE.META_LEADER_STEPDOWN, JS_ERR.CLUSTER_REQUIRED);
      return;
    }
    if (op === 'CONSUMER') this.consumerOp(tokens, reply, hdr, data);
  }

  private streamOp(t: readonly string[], reply: string | null, data: Uint8Array): void {
    const [, a, b, c] = t;
    const name1 = t.length === 3 ? b! : undefined;
    switch (a) {
      case 'CREATE':
        if (name1 !== undefined) this.admin(() => this.create(name1, reply, data));
        return;
      case 'UPDATE':
        if (name1 !== undefined) this.admin(() => this.update(name1, reply, data));
        return;
      case 'DELETE':
        if (name1 !== undefined) this.admin(() => this.delete(name1, reply, data));
        return;
      case 'INFO':
        if (name1 !== undefined) this.info(name1, reply, data);
        return;
      case 'NAMES':
        if (t.length === 2) this.names(reply, data);
        return;
      case 'LIST':
        if (t.length === 2) this.list(reply, data);
        return;
      case 'PURGE':
        if (name1 !== undefined) this.purge(name1, reply, data);
        return;
      case 'LEADER':
        // Single server: nothing to step down from (nats-server answers "clustering required").
        if (b === 'STEPDOWN' && t.length === 4) this.fail(reply, TYPE.STREAM_LEADER_STEPDOWN, JS_ERR.CLUSTER_REQUIRED);
        return;
      case 'PEER':
        if (b === 'REMOVE' && t.length === 4) this.fail(reply, TYPE.STREAM_REMOVE_PEER, JS_ERR.CLUSTER_REQUIRED);
        return;
      case 'SNAPSHOT':
        if (name1 !== undefined) this.fail(reply, TYPE.STREAM_SNAPSHOT, streamSnapshotFailed('not supported by this server'));
        return;
      case 'RESTORE':
        if (name1 !== undefined) this.fail(reply, TYPE.STREAM_RESTORE, streamRestoreFailed('not supported by this server'));
        return;
      case 'MSG':
        if (t.length !== 4 || c === undefined) return;
        if (b === 'GET') this.msgGet(c, reply, data);
        else if (b === 'DELETE') this.msgDelete(c, reply, data);
        return;
      default:
        return;
    }
  }

  // ---- streams ----

  /** The config of a STREAM.CREATE or STREAM.UPDATE request, with the checks nats-server makes before its own. */
  decodeStreamRequest(kind: 'create' | 'update', name: string, data: Uint8Array): StreamConfig | ApiError {
    const req = decodeStreamConfig(data);
    if (isApiError(req)) return req;
    const cfg = req.cfg;
    if (kind === 'update') return cfg;
    if (name !== cfg.name) return JS_ERR.STREAM_MISMATCH;
    if (/[\\/]/.test(name)) return JS_ERR.STREAM_NAME_CONTAINS_PATH_SEPARATORS;
    if (cfg.sealed) return streamInvalidConfig('stream configuration for create can not be sealed');
    if (cfg.mirror_direct && cfg.mirror === undefined) return streamInvalidConfig('stream has no mirror but does have mirror direct');
    return cfg;
  }

  private async create(name: string, reply: string | null, data: Uint8Array): Promise<void> {
    const type = TYPE.STREAM_CREATE;
    const cfg = this.decodeStreamRequest('create', name, data);
    if (isApiError(cfg)) return this.fail(reply, type, cfg);
    const res = await this.host.createStream(cfg);
    if (isApiError(res)) return this.fail(reply, type, res);
    this.respond(reply, type, { ...res.info(), did_create: true });
  }

  private async update(name: string, reply: string | null, data: Uint8Array): Promise<void> {
    const type = TYPE.STREAM_UPDATE;
    const cfg = this.decodeStreamRequest('update', name, data);
    if (isApiError(cfg)) return this.fail(reply, type, cfg);
    const res = await this.host.updateStream(cfg, name);
    if (isApiError(res)) return this.fail(reply, type, res);
    this.respond(reply, type, res.info());
  }

  private async delete(name: string, reply: string | null, data: Uint8Array): Promise<void> {
    const type = TYPE.STREAM_DELETE;
    if (!isEmptyRequest(data)) return this.fail(reply, type, JS_ERR.NOT_EMPTY_REQUEST);
    const err = await this.host.deleteStream(name);
    if (err !== null) return this.fail(reply, type, err);
    this.respond(reply, type, { success: true });
  }

  private info(name: string, reply: string | null, data: Uint8Array): void {
    const type = TYPE.STREAM_INFO;
    let req: Record<string, unknown> = {};
    if (isJsonObjectOrArray(data)) {
      const r = decodeRequest(data, 'JSApiStreamInfoRequest', { offset: 'int', deleted_details: 'bool', subjects_filter: 'string' });
      if (isApiError(r)) return this.fail(reply, type, r);
      req = r;
    }
    const stream = this.host.stream(name);
    if (stream === undefined) return this.fail(reply, type, JS_ERR.STREAM_NOT_FOUND);
    // A replicated stream's leader answers once what it already decided (removals of acked
    // work, purges) has applied, so a client reads its own writes.
    if (stream.isReplicated && !stream.isSettled) {
      void stream.whenSettled().then(() => this.info(name, reply, data));
      return;
    }
    const subjectsFilter = (req['subjects_filter'] as string | undefined) ?? '';
    const info = stream.info({ deletedDetails: req['deleted_details'] === true });
    let total = 0;
    let offset = Math.max(0, (req['offset'] as number | undefined) ?? 0);
    let limit = 0;
    if (subjectsFilter !== '') {
      const subjects = [...stream.store.subjectsState(subjectsFilter)];
      if (subjects.length > 0) {
        total = subjects.length;
        limit = MAX_SUBJECT_DETAILS;
        subjects.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
        offset = Math.min(offset, subjects.length);
        const page: Record<string, number> = {};
        for (const [s, ss] of subjects.slice(offset, offset + MAX_SUBJECT_DETAILS)) page[s] = ss.msgs;
        (info['state'] as Response)['subjects'] = page;
      } else {
        offset = 0;
      }
    } else {
      offset = 0;
    }
    this.respond(reply, type, { total, offset, limit, ...info });
  }

  private names(reply: string | null, data: Uint8Array): void {
    const type = TYPE.STREAM_NAMES;
    const page = this.pageRequest(data, 'JSApiStreamNamesRequest');
    if (isApiError(page)) return this.fail(reply, type, page);
    const all = this.filtered(page.subject).map((s) => s.name);
    const offset = Math.min(page.offset, all.length);
    this.respond(reply, type, { total: all.length, offset, limit: NAMES_LIMIT, streams: all.slice(offset, offset + NAMES_LIMIT) });
  }

  private list(reply: string | null, data: Uint8Array): void {
    const type = TYPE.STREAM_LIST;
    const page = this.pageRequest(data, 'JSApiStreamListRequest');
    if (isApiError(page)) return this.fail(reply, type, page);
    const all = this.filtered(page.subject);
    const offset = Math.min(page.offset, all.length);
    const streams = all.slice(offset, offset + LIST_LIMIT).map((s) => s.info());
    this.respond(reply, type, { total: all.length, offset, limit: LIST_LIMIT, streams });
  }

  pageRequest(data: Uint8Array, goType: string): { offset: number; subject: string } | ApiError {
    if (!isJsonObjectOrArray(data)) return { offset: 0, subject: '' };
    const r = decodeRequest(data, goType, { offset: 'int', subject: 'string' });
    if (isApiError(r)) return r;
    return { offset: Math.max(0, (r['offset'] as number | undefined) ?? 0), subject: (r['subject'] as string | undefined) ?? '' };
  }

  private filtered(subject: string): Stream[] {
    const all = this.host.streams();
    if (subject === '') return all;
    return all.filter((s) => {
      const subjects = s.subjects.length > 0 ? s.subjects : [s.name];
      return subjects.some((x) => subjectsCollide(subject, x));
    });
  }

  private purge(name: string, reply: string | null, data: Uint8Array): void {
    const type = TYPE.STREAM_PURGE;
    let req: Record<string, unknown> = {};
    if (isJsonObjectOrArray(data)) {
      const r = decodeRequest(data, 'JSApiStreamPurgeRequest', { seq: 'uint', filter: 'string', keep: 'uint' });
      if (isApiError(r)) return this.fail(reply, type, r);
      if (r['seq'] && r['keep']) return this.fail(reply, type, JS_ERR.BAD_REQUEST);
      req = r;
    }
    const stream = this.host.stream(name);
    if (stream === undefined) return this.fail(reply, type, JS_ERR.STREAM_NOT_FOUND);
    const cfg = stream.config();
    if (cfg.sealed) return this.fail(reply, type, JS_ERR.STREAM_SEALED);
    if (cfg.deny_purge) return this.fail(reply, type, streamPurgeFailed('stream purge not permitted'));
    stream
      .purge({
        filter: req['filter'] as string | undefined,
        seq: req['seq'] as number | undefined,
        keep: req['keep'] as number | undefined,
      })
      .then(
        (purged) => this.respond(reply, type, { success: true, purged }),
        (err: unknown) => this.fail(reply, type, isApiError(err) ? err : streamPurgeFailed(String((err as Error)?.message ?? err))),
      );
  }

  private msgGet(name: string, reply: string | null, data: Uint8Array): void {
    const type = TYPE.MSG_GET;
    if (isEmptyRequest(data)) return this.fail(reply, type, JS_ERR.BAD_REQUEST);
    const r = decodeRequest(data, 'JSApiMsgGetRequest', MSG_GET_FIELDS);
    if (isApiError(r)) return this.fail(reply, type, r);
    if ((r['batch'] as number) > 0 || (r['max_bytes'] as number) > 0) return this.fail(reply, type, JS_ERR.BAD_REQUEST);
    const req = msgGetRequest(r);
    if (
      req === null ||
      req.multiLast ||
      (req.seq === 0 && !req.last && !req.next && req.startTime === null) ||
      (req.seq > 0 && req.last !== '') ||
      (req.seq > 0 && req.startTime !== null) ||
      (req.startTime !== null && req.last !== '') ||
      (req.last !== '' && req.next !== '')
    ) {
      return this.fail(reply, type, JS_ERR.BAD_REQUEST);
    }
    const stream = this.host.stream(name);
    if (stream === undefined) return this.fail(reply, type, JS_ERR.STREAM_NOT_FOUND);
    const msg = lookup(stream, req);
    if (msg === null) return this.fail(reply, type, JS_ERR.NO_MESSAGE_FOUND);
    const message: Response = { subject: msg.subject, seq: msg.seq };
    if (!req.noHeaders && msg.hdr !== null && msg.hdr.length > 0) message['hdrs'] = Buffer.from(msg.hdr).toString('base64');
    if (msg.data.length > 0) message['data'] = Buffer.from(msg.data).toString('base64');
    message['time'] = rfc3339Nano(msg.time);
    this.respond(reply, type, { message });
  }

  private msgDelete(name: string, reply: string | null, data: Uint8Array): void {
    const type = TYPE.MSG_DELETE;
    if (isEmptyRequest(data)) return this.fail(reply, type, JS_ERR.BAD_REQUEST);
    const r = decodeRequest(data, 'JSApiMsgDeleteRequest', { seq: 'uint', no_erase: 'bool' });
    if (isApiError(r)) return this.fail(reply, type, r);
    const stream = this.host.stream(name);
    if (stream === undefined) return this.fail(reply, type, JS_ERR.STREAM_NOT_FOUND);
    const cfg = stream.config();
    if (cfg.sealed) return this.fail(reply, type, JS_ERR.STREAM_SEALED);
    if (cfg.deny_delete) return this.fail(reply, type, streamMsgDeleteFailed('message delete not permitted'));
    const seq = (r['seq'] as number | undefined) ?? 0;
    stream.deleteMsg(seq, r['no_erase'] === true).then(
      (removed) => (removed ? this.respond(reply, type, { success: true }) : this.fail(reply, type, sequenceNotFound(seq))),
      (err: unknown) => this.fail(reply, type, isApiError(err) ? err : streamMsgDeleteFailed(String((err as Error)?.message ?? err))),
    );
  }

  // ---- direct get ----

  private directGet(t: readonly string[], reply: string | null, data: Uint8Array): void {
    if (reply === null || reply.length === 0) return;
    const stream = this.host.stream(t[2]!);
    if (stream === undefined || !(stream.config().allow_direct || stream.config().mirror_direct)) {
      // Nobody would be subscribed in nats-server: answer as "no responders".
      this.host.ctx.bus.publish(reply, null, NO_RESPONDERS, EMPTY);
      return;
    }
    const status = (code: number, text: string): void => {
      this.host.ctx.bus.publish(reply, null, buildHeaders({ status: code, description: text }), EMPTY);
    };
    let req: DecodedGet | null;
    if (t.length > 3) {
      // Last message for the subject in the request subject; the body may not select anything else.
      let body: Record<string, unknown> = {};
      if (data.length > 0) {
        const r = parseLoose(data);
        if (r === null) return status(408, 'Malformed Request');
        body = r;
      }
      req = msgGetRequest(body);
      if (req === null) return status(408, 'Malformed Request');
      if (req.last || req.next || req.multiLast || req.seq !== 0 || req.batch !== 0 || req.startTime !== null) {
        return status(408, 'Bad Request');
      }
      req.last = t.slice(3).join('.');
    } else {
      if (data.length === 0) return status(408, 'Empty Request');
      const body = parseLoose(data);
      req = body === null ? null : msgGetRequest(body);
      if (req === null) return status(408, 'Malformed Request');
      if (req.seq === 0 && !req.last && !req.next && !req.multiLast && req.startTime === null) return status(408, 'Empty Request');
      if (
        (req.seq > 0 && req.last) ||
        (req.seq > 0 && req.startTime !== null) ||
        (req.startTime !== null && req.last) ||
        (req.last && req.next) ||
        (req.last && req.batch > 0) ||
        req.multiLast
      ) {
        return status(408, 'Bad Request');
      }
    }
    if (req.batch > 0) {
      this.directBatch(stream, req, reply);
      return;
    }
    const msg = lookup(stream, req);
    if (msg === null) return status(404, 'Message Not Found');
    this.host.ctx.bus.publish(reply, null, directHeaders(stream.name, msg, req.noHeaders, null), msg.data);
  }

  /** Batched direct get: up to `batch` messages, each with pending counts, then a 204 EOB. */
  private directBatch(stream: Stream, req: DecodedGet, reply: string): void {
    const filter = req.next || '>';
    let seq = req.startTime !== null ? stream.store.seqForTime(req.startTime) : req.seq;
    let pending = stream.store.numPending(filter, seq, false);
    let last = 0;
    let sentBytes = 0;
    for (let i = 0; i < req.batch; i++) {
      const msg = stream.store.loadNext(filter, seq);
      if (msg === null) {
        if (i === 0) {
          this.host.ctx.bus.publish(reply, null, buildHeaders({ status: 404, description: 'Message Not Found' }), EMPTY);
          return;
        }
        break;
      }
      if (pending > 0) pending--;
      this.host.ctx.bus.publish(reply, null, directHeaders(stream.name, msg, req.noHeaders, { pending, last }), msg.data);
      last = msg.seq;
      seq = msg.seq + 1;
      sentBytes += msg.subject.length + (msg.hdr?.length ?? 0) + msg.data.length;
      if (req.maxBytes > 0 && sentBytes >= req.maxBytes) break;
    }
    const eob = buildHeaders({
      status: 204,
      description: 'EOB',
      headers: [
        ['Nats-Num-Pending', String(pending)],
        ['Nats-Last-Sequence', String(last)],
      ],
    });
    this.host.ctx.bus.publish(reply, null, eob, EMPTY);
  }

  // ---- consumers ----

  private consumerOp(t: readonly string[], reply: string | null, hdr: Uint8Array | null, data: Uint8Array): void {
    const op = t[1];
    let streamIndex = 2;
    let type: string = TYPE.CONSUMER_CREATE;
    switch (op) {
      case 'CREATE':
        break;
      case 'DURABLE':
        if (t[2] !== 'CREATE') return;
        streamIndex = 3;
        break;
      case 'MSG':
        if (t[2] !== 'NEXT') return;
        streamIndex = 3;
        type = '';
        break;
      case 'LEADER':
        if (t[2] === 'STEPDOWN') this.fail(reply, TYPE.CONSUMER_LEADER_STEPDOWN, JS_ERR.CLUSTER_REQUIRED);
        return;
      case 'INFO':
        type = TYPE.CONSUMER_INFO;
        break;
      case 'NAMES':
        type = TYPE.CONSUMER_NAMES;
        break;
      case 'LIST':
        type = TYPE.CONSUMER_LIST;
        break;
      case 'DELETE':
        type = TYPE.CONSUMER_DELETE;
        break;
      case 'PAUSE':
        type = TYPE.CONSUMER_PAUSE;
        break;
      case 'UNPIN':
        type = TYPE.CONSUMER_UNPIN;
        break;
      default:
        return;
    }
    const streamName = t[streamIndex];
    if (streamName === undefined) return;
    const stream = this.host.stream(streamName);
    if (stream === undefined) {
      if (type === '') {
        if (reply) this.host.ctx.bus.publish(reply, null, NO_RESPONDERS, EMPTY);
        return;
      }
      return this.fail(reply, type, JS_ERR.STREAM_NOT_FOUND);
    }
    const req: ApiRequest = { tokens: t, reply, data, hdr };
    let res: Record<string, unknown> | ApiError | undefined;
    try {
      res = this.host.consumers.handle(stream, req);
    } catch (err) {
      this.host.ctx.logger.error({ subject: `${API_PREFIX}.${t.join('.')}`, err: String(err) }, 'JetStream consumer API failed');
      res = { code: 500, err_code: 10012, description: String((err as Error)?.message ?? err) };
    }
    if (res === undefined) return;
    if (isApiError(res)) return this.fail(reply, type, res);
    const typed = typeof res['type'] === 'string' ? res : { type: RESPONSE_TYPE_PREFIX + type, ...res };
    if (typed['error'] !== undefined) this.host.noteApiError();
    this.send(reply, typed);
  }

  // ---- plumbing ----

  private admin(op: () => Promise<void>): void {
    this.adminChain = this.adminChain.then(op).catch((err: unknown) => {
      this.host.ctx.logger.error({ err: String(err) }, 'JetStream API request failed');
    });
  }

  /** Resolves once every queued create/update/delete has been answered (tests, shutdown). */
  idle(): Promise<void> {
    return this.adminChain;
  }

  private respond(reply: string | null, type: string, body: Response): void {
    this.send(reply, { type: RESPONSE_TYPE_PREFIX + type, ...body });
  }

  private fail(reply: string | null, type: string, error: ApiError): void {
    this.host.noteApiError();
    this.send(reply, { type: RESPONSE_TYPE_PREFIX + type, error });
  }

  private send(reply: string | null, body: Response): void {
    if (reply === null || reply.length === 0) return;
    this.host.ctx.bus.publish(reply, null, null, Buffer.from(JSON.stringify(body)));
  }
}

// ---- request decoding ----

const MSG_GET_FIELDS: Record<string, FieldKind> = {
  seq: 'uint',
  last_by_subj: 'string',
  next_by_subj: 'string',
  batch: 'int',
  max_bytes: 'int',
  start_time: 'time',
  multi_last: 'strings',
  up_to_seq: 'uint',
  up_to_time: 'time',
  no_hdr: 'bool',
};

interface DecodedGet {
  seq: number;
  last: string;
  next: string;
  batch: number;
  maxBytes: number;
  startTime: bigint | null;
  multiLast: boolean;
  noHeaders: boolean;
}

function msgGetRequest(r: Record<string, unknown>): DecodedGet | null {
  const num = (k: string): number => {
    const v = r[k];
    return typeof v === 'number' && Number.isInteger(v) ? v : 0;
  };
  const s = (k: string): string => (typeof r[k] === 'string' ? (r[k] as string) : '');
  let startTime: bigint | null = null;
  if (typeof r['start_time'] === 'string') {
    startTime = parseRfc3339(r['start_time']);
    if (startTime === null) return null;
  }
  return {
    seq: Math.max(0, num('seq')),
    last: s('last_by_subj'),
    next: s('next_by_subj'),
    batch: Math.max(0, num('batch')),
    maxBytes: Math.max(0, num('max_bytes')),
    startTime,
    multiLast: Array.isArray(r['multi_last']) && r['multi_last'].length > 0,
    noHeaders: r['no_hdr'] === true,
  };
}

function lookup(stream: Stream, req: DecodedGet): StoredMessage | null {
  const seq = req.startTime !== null ? stream.store.seqForTime(req.startTime) : req.seq;
  const get: MsgGetRequest = { seq };
  if (req.next) get.next_by_subj = req.next;
  else if (req.last) get.last_by_subj = req.last;
  else if (req.startTime !== null) get.next_by_subj = '>';
  return stream.getMsg(get);
}

function directHeaders(stream: string, msg: StoredMessage, noHeaders: boolean, batch: { pending: number; last: number } | null): Uint8Array {
  const entries: Array<[string, string]> = [
    ['Nats-Stream', stream],
    ['Nats-Subject', msg.subject],
    ['Nats-Sequence', String(msg.seq)],
    ['Nats-Time-Stamp', rfc3339Nano(msg.time)],
  ];
  if (batch !== null) {
    entries.push(['Nats-Num-Pending', String(batch.pending)]);
    entries.push(['Nats-Last-Sequence', String(batch.last)]);
  }
  return appendHeaders(noHeaders ? null : msg.hdr, entries);
}

function bodyText(data: Uint8Array): string {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8');
}

/** nats-server isJSONObjectOrArray: only such bodies are decoded by the optional-body requests. */
function isJsonObjectOrArray(data: Uint8Array): boolean {
  for (const c of data) {
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) continue;
    return c === 0x7b || c === 0x5b;
  }
  return false;
}

/** nats-server isEmptyRequest: nothing, `{}`, or a JSON object without keys. */
function isEmptyRequest(data: Uint8Array): boolean {
  if (data.length === 0) return true;
  try {
    const v: unknown = JSON.parse(bodyText(data));
    return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 0;
  } catch {
    return false;
  }
}

/** JSON object, or null when the body is not one (direct get answers 408 then). */
function parseLoose(data: Uint8Array): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(bodyText(data));
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return null;
    const r = decodeFields(v as Record<string, unknown>, 'JSApiMsgGetRequest', MSG_GET_FIELDS);
    return isApiError(r) ? null : r;
  } catch {
    return null;
  }
}

/**
 * Decodes a request body like Go's json.Unmarshal into the named request struct: unknown fields
 * are ignored, wrong types give nats-server's "invalid JSON" error.
 */
export function decodeRequest(data: Uint8Array, goType: string, fields: Record<string, FieldKind>): Record<string, unknown> | ApiError {
  const text = bodyText(data);
  if (text.trim().length === 0) return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    return invalidJson((err as Error).message);
  }
  if (v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) {
    return invalidJson(`json: cannot unmarshal ${Array.isArray(v) ? 'array' : typeof v} into Go value of type server.${goType}`);
  }
  return decodeFields(v as Record<string, unknown>, goType, fields);
}

/** Each request struct's fields as a list, made once: decoding runs per request (direct gets). */
const fieldLists = new WeakMap<Record<string, FieldKind>, Array<[string, FieldKind]>>();

function decodeFields(v: Record<string, unknown>, goType: string, fields: Record<string, FieldKind>): Record<string, unknown> | ApiError {
  const out: Record<string, unknown> = {};
  let list = fieldLists.get(fields);
  if (list === undefined) fieldLists.set(fields, (list = Object.entries(fields)));
  for (const [key, kind] of list) {
    const value = v[key];
    if (value === undefined || value === null) continue;
    const wrong = (goKind: string): ApiError =>
      invalidJson(`json: cannot unmarshal ${typeof value === 'number' ? `number ${value}` : typeof value} into Go struct field ${goType}.${key} of type ${goKind}`);
    switch (kind) {
      case 'int':
        if (typeof value !== 'number' || !Number.isInteger(value)) return wrong('int');
        break;
      case 'uint':
        if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) return wrong('uint64');
        break;
      case 'string':
        if (typeof value !== 'string') return wrong('string');
        break;
      case 'bool':
        if (typeof value !== 'boolean') return wrong('bool');
        break;
      case 'time':
        if (typeof value !== 'string' || parseRfc3339(value) === null) return wrong('time.Time');
        break;
      case 'strings':
        if (!Array.isArray(value) || value.some((x) => typeof x !== 'string')) return wrong('[]string');
        break;
    }
    out[key] = value;
  }
  return out;
}
