// Reads the `authorization` block, user lists and permissions from a parsed
// config into the ServerOptions shapes, with nats-server's rules and messages.
// Permission blocks fail on unknown keys: a misspelt `publsh` silently ignored
// would grant more than the operator meant.

import type { Permissions, ResponsePermission, SubjectPermission, UserEntry } from './options.ts';
import { childPath, describeType, failAt, originIn } from './draft.ts';
import type { ConfigDraft, Origin } from './draft.ts';
import { isConfMap } from './parser.ts';
import type { ConfValue } from './parser.ts';
import { parseGoDuration } from './units.ts';

/** nats-server DEFAULT_ALLOW_RESPONSE_MAX_MSGS. */
const DEFAULT_RESPONSE_MAX_MSGS = 1;
/** nats-server DEFAULT_ALLOW_RESPONSE_EXPIRATION: 2 minutes. */
const DEFAULT_RESPONSE_EXPIRES_MS = 2 * 60_000;
/** Above this nats-server warns that an auth timeout was probably an unquoted duration. */
const AUTH_TIMEOUT_WARN_MS = 60_000;
/** A public user nkey: `U` then 55 base32 characters. */
const PUBLIC_USER_NKEY = /^U[A-Z2-7]{55}$/;

export interface AuthorizationBlock {
  token?: string;
  user?: string;
  password?: string;
  timeoutMs?: number;
  users?: UserEntry[];
  /** `permissions` in the block: the users' default (and, in a cluster, the deprecated route permissions). */
  defaultPermissions?: Permissions;
}

export function readAuthorization(value: ConfValue, origin: Origin, draft: ConfigDraft): AuthorizationBlock {
  if (!isConfMap(value)) failAt(origin, `Expected authorization to be a map, got ${describeType(value)}`);
  const auth: AuthorizationBlock = {};
  for (const key of Object.keys(value)) {
    const v = value[key] as ConfValue;
    const o = originIn(value, key, childPath(origin.key, key));
    switch (key.toLowerCase()) {
      case 'user':
      case 'username':
        auth.user = expectString(v, o);
        break;
      case 'pass':
      case 'password':
        auth.password = expectString(v, o);
        break;
      case 'token':
        auth.token = expectString(v, o);
        break;
      case 'timeout':
        auth.timeoutMs = readSecondsOrDuration(v, o, 'error parsing authorization config, ');
        if (auth.timeoutMs > AUTH_TIMEOUT_WARN_MS) {
          draft.warn(
            o,
            `invalid use of field "${key}": timeout of ${auth.timeoutMs / 1000} seconds is high, consider keeping it under 60 seconds. possibly caused by unquoted duration; use '1m' instead of 1m, for example`,
          );
        }
        break;
      case 'users':
        auth.users = readUsers(v, o, draft);
        break;
      case 'permissions':
      case 'default_permission':
      case 'default_permissions':
        auth.defaultPermissions = readPermissions(v, o);
        break;
      default:
        draft.warn(o, `unknown field "${key}", ignored`);
    }
  }
  if ((auth.user !== undefined || auth.password !== undefined) && auth.token !== undefined) {
    failAt(origin, 'Cannot have a user/pass and token');
  }
  if (auth.users !== undefined) {
    if (auth.user !== undefined) failAt(origin, 'Can not have a single user/pass and a users array');
    if (auth.token !== undefined) failAt(origin, 'Can not have a token and a users array');
    const defaults = auth.defaultPermissions;
    if (defaults !== undefined) {
      for (const user of auth.users) user.permissions ??= defaults;
    }
  }
  return auth;
}

/** A users array (in `authorization` or an account): user/password or nkey entries. */
export function readUsers(value: ConfValue, origin: Origin, draft: ConfigDraft, account?: string): UserEntry[] {
  if (!Array.isArray(value)) failAt(origin, `Expected users field to be an array, got ${describeType(value)}`);
  const users: UserEntry[] = [];
  value.forEach((entry, index) => {
    const o = originIn(value, index, childPath(origin.key, index));
    if (!isConfMap(entry)) failAt(o, `Expected user entry to be a map/struct, got ${describeType(entry)}`);
    const user: UserEntry = {};
    for (const key of Object.keys(entry)) {
      const v = entry[key] as ConfValue;
      const ko = originIn(entry, key, childPath(o.key, key));
      switch (key.toLowerCase()) {
        case 'nkey':
          user.nkey = expectString(v, ko);
          break;
        case 'user':
        case 'username':
          user.user = expectString(v, ko);
          break;
        case 'pass':
        case 'password':
          user.password = expectString(v, ko);
          break;
        case 'permission':
        case 'permissions':
        case 'authorization':
          user.permissions = readPermissions(v, ko);
          break;
        case 'account':
          user.account = expectString(v, ko);
          break;
        default:
          draft.warn(ko, `unknown field "${key}", ignored`);
      }
    }
    if (user.nkey === undefined && user.user === undefined) failAt(o, 'User entry requires a user');
    if (user.nkey !== undefined) {
      if (!PUBLIC_USER_NKEY.test(user.nkey)) failAt(o, 'Not a valid public nkey for a user');
      if (user.user !== undefined || user.password !== undefined) {
        failAt(o, 'Nkey users do not take usernames or passwords');
      }
    }
    if (account !== undefined) user.account = account;
    users.push(user);
  });
  return users;
}

/** Rejects the same user name or nkey twice across all user lists. */
export function checkDuplicateUsers(users: readonly UserEntry[], origin: Origin): void {
  const seen = new Set<string>();
  for (const u of users) {
    const id = u.nkey ?? u.user ?? '';
    if (seen.has(id)) failAt(origin, `Duplicate ${u.nkey !== undefined ? 'nkey' : 'user'} "${id}" detected`);
    seen.add(id);
  }
}

export function readPermissions(value: ConfValue, origin: Origin): Permissions {
  if (!isConfMap(value)) failAt(origin, `Expected permissions to be a map/struct, got ${describeType(value)}`);
  const perms: Permissions = {};
  for (const key of Object.keys(value)) {
    const v = value[key] as ConfValue;
    const o = originIn(value, key, childPath(origin.key, key));
    switch (key.toLowerCase()) {
      case 'pub':
      case 'publish':
      case 'import': {
        const p = readSubjectPermission(v, o, false);
        if (p === undefined) delete perms.publish;
        else perms.publish = p;
        break;
      }
      case 'sub':
      case 'subscribe':
      case 'export': {
        const p = readSubjectPermission(v, o, true);
        if (p === undefined) delete perms.subscribe;
        else perms.subscribe = p;
        break;
      }
      case 'allow_responses':
      case 'publish_allow_responses': {
        const responses = readAllowResponses(v, o);
        if (responses !== undefined) perms.allowResponses = responses;
        break;
      }
      default:
        failAt(o, `Unknown field "${key}" parsing permissions`);
    }
  }
  // As nats-server: allowing responses turns the implicit "publish anything" off.
  if (perms.allowResponses !== undefined && perms.publish?.allow === undefined) {
    perms.publish = { ...perms.publish, allow: [] };
  }
  return perms;
}

/** `["a.>"]` or `"a"` (allow list) or `{ allow, deny }`. An empty map means no restriction. */
function readSubjectPermission(value: ConfValue, origin: Origin, allowQueue: boolean): SubjectPermission | undefined {
  if (!isConfMap(value)) return { allow: readSubjects(value, origin, allowQueue) };
  const keys = Object.keys(value);
  if (keys.length === 0) return undefined;
  const perm: SubjectPermission = {};
  for (const key of keys) {
    const v = value[key] as ConfValue;
    const o = originIn(value, key, childPath(origin.key, key));
    switch (key.toLowerCase()) {
      case 'allow':
        perm.allow = readSubjects(v, o, allowQueue);
        break;
      case 'deny':
        perm.deny = readSubjects(v, o, allowQueue);
        break;
      default:
        failAt(o, `Unknown field name "${key}" parsing subject permissions, only 'allow' or 'deny' are permitted`);
    }
  }
  return perm;
}

function readSubjects(value: ConfValue, origin: Origin, allowQueue: boolean): string[] {
  let subjects: string[];
  if (typeof value === 'string') {
    subjects = [value];
  } else if (Array.isArray(value)) {
    subjects = value.map((s, i) => {
      if (typeof s !== 'string') failAt(originIn(value, i, childPath(origin.key, i)), 'Subject in permissions array cannot be cast to string');
      return s;
    });
  } else {
    failAt(origin, `Expected subject permissions to be a subject, or array of subjects, got ${describeType(value)}`);
  }
  for (const s of subjects) {
    const problem = subjectProblem(s, allowQueue);
    if (problem !== undefined) failAt(origin, problem);
  }
  return subjects;
}

/** nats-server checkPermSubjectArray: a subject, or for subscribe also `subject queue`. */
export function subjectProblem(subject: string, allowQueue: boolean): string | undefined {
  if (isValidSubject(subject)) return undefined;
  const parts = subject.split(/\s+/).filter((p) => p !== '');
  if (!allowQueue || parts.length !== 2) return `subject "${subject}" is not a valid subject`;
  const [subj = '', queue = ''] = parts;
  if (!isValidSubject(subj)) return `subject "${subj}" is not a valid subject`;
  if (!isValidSubject(queue)) return `queue "${queue}" is not a valid queue`;
  return undefined;
}

/** Non-empty tokens, no whitespace, `>` only as the last token. */
function isValidSubject(subject: string): boolean {
  if (subject === '' || /\s/.test(subject)) return false;
  const tokens = subject.split('.');
  return tokens.every((t, i) => t !== '' && (t !== '>' || i === tokens.length - 1));
}

function readAllowResponses(value: ConfValue, origin: Origin): ResponsePermission | undefined {
  const defaults = { maxMsgs: DEFAULT_RESPONSE_MAX_MSGS, expiresMs: DEFAULT_RESPONSE_EXPIRES_MS };
  if (typeof value === 'boolean') return value ? defaults : undefined;
  if (!isConfMap(value)) failAt(origin, 'error parsing response permissions, expected a boolean or a map');
  const rp = { ...defaults };
  for (const key of Object.keys(value)) {
    const v = value[key] as ConfValue;
    const o = originIn(value, key, childPath(origin.key, key));
    switch (key.toLowerCase()) {
      case 'max':
      case 'max_msgs':
      case 'max_messages':
      case 'max_responses': {
        if (typeof v !== 'number' || !Number.isInteger(v)) failAt(o, `expected an integer, got ${describeType(v)}`);
        // 0 keeps the default; a negative number means unlimited.
        if (v !== 0) rp.maxMsgs = v;
        break;
      }
      case 'expires':
      case 'expiration':
      case 'ttl': {
        if (typeof v !== 'string') failAt(o, 'error parsing expires, not a duration string');
        const ms = parseDurationAt(v, o, 'error parsing expires: ');
        if (ms !== 0) rp.expiresMs = ms;
        break;
      }
      default:
        failAt(o, `Unknown field "${key}" parsing permissions`);
    }
  }
  return rp;
}

export function expectString(value: ConfValue, origin: Origin): string {
  if (typeof value !== 'string') failAt(origin, `expected a string, got ${describeType(value)}`);
  return value;
}

export function parseDurationAt(text: string, origin: Origin, prefix: string): number {
  try {
    return parseGoDuration(text);
  } catch (err) {
    return failAt(origin, `${prefix}${(err as Error).message}`);
  }
}

/** Timeouts written as seconds (`2`, `0.5`) or as a duration string (`"2s"`). Returns milliseconds. */
export function readSecondsOrDuration(value: ConfValue, origin: Origin, prefix: string): number {
  const field = origin.key.slice(origin.key.lastIndexOf('.') + 1);
  if (typeof value === 'number') return value * 1000;
  if (typeof value === 'string') return parseDurationAt(value, origin, `${prefix}'${field}' `);
  return failAt(origin, `${prefix}'${field}' wrong type`);
}
