// Versions a client sees. Official clients gate features on the server version they are told,
// so INFO and /varz advertise the nats-server release whose behaviour Petrel matches, and
// Petrel's own version travels in a separate field.
export const PETREL_VERSION = '0.1.0';
/** The nats-server behaviour Petrel implements (Core NATS of 2.9). */
export const NATS_COMPAT_VERSION = '2.9.10';
/** Client protocol level: 1 = supports INFO updates (connect_urls, ldm). */
export const PROTO_VERSION = 1;
