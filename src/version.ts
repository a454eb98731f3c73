// Versions a client sees. Official clients gate features on the server version they are told,
// so INFO and /varz advertise the nats-server release whose behaviour Petrel matches, and
// Petrel's own version travels in a separate field.
export const PETREL_VERSION = '0.1.0';
/**
 * The nats-server release whose behaviour Petrel implements: Core NATS plus the JetStream
 * feature set of 2.10 (multi-filter consumers, subject transforms, metadata, first_seq,
 * compression accepted). Clients unlock those features only for a server that says 2.10.
 */
export const NATS_COMPAT_VERSION = '2.10.29';
/** Client protocol level: 1 = supports INFO updates (connect_urls, ldm). */
export const PROTO_VERSION = 1;
