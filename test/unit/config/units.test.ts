import { describe, expect, it } from 'vitest';
import { booleanLike, formatGoDuration, formatGoDurationNs, parseGoDuration, parseStorageSize, parseSuffixedInteger } from '../../../src/config/units.ts';

describe('parseGoDuration', () => {
  it.each([
    ['0', 0],
    ['10s', 10_000],
    ['2m', 120_000],
    ['1h30m', 5_400_000],
    ['500ms', 500],
    ['1.5s', 1500],
    ['-2s', -2000],
    ['+3m', 180_000],
    ['100us', 0.1],
    ['100µs', 0.1],
    ['1000000ns', 1],
    ['1h1m1s1ms', 3_661_001],
    ['.5s', 500],
  ])('%s = %d ms', (text, ms) => {
    expect(parseGoDuration(text)).toBeCloseTo(ms, 9);
  });
  it.each([
    ['', 'time: invalid duration ""'],
    ['abc', 'time: invalid duration "abc"'],
    ['10', 'time: missing unit in duration "10"'],
    ['10x', 'time: unknown unit "x" in duration "10x"'],
    ['1h-1m', 'time: unknown unit "h-" in duration "1h-1m"'],
  ])('rejects %j', (text, message) => {
    expect(() => parseGoDuration(text)).toThrow(message);
  });
  it('formats like Go for messages', () => {
    expect(formatGoDuration(0)).toBe('0s');
    expect(formatGoDuration(500)).toBe('500ms');
    expect(formatGoDuration(10_000)).toBe('10s');
    expect(formatGoDuration(90_000)).toBe('1m30s');
    expect(formatGoDuration(3_600_000)).toBe('1h0m0s');
  });
  it.each([
    [0, '0s'],
    [1, '1ns'],
    [800, '800ns'],
    [150_000, '150µs'],
    [123_456, '123.456µs'],
    [1_500_000, '1.5ms'],
    [1_000_000_001, '1.000000001s'],
    [61_000_000_000, '1m1s'],
    [3_723_500_000_000, '1h2m3.5s'],
    [90_061_000_000_000, '25h1m1s'],
    [-1_500_000, '-1.5ms'],
  ])('formats %i ns as Go\'s Duration.String: %s', (ns, text) => {
    expect(formatGoDurationNs(ns)).toBe(text);
  });
  it('formats a sub-millisecond or zero rtt as Go (no "0µs")', () => {
    expect(formatGoDuration(0)).toBe('0s');
    expect(formatGoDuration(0.15)).toBe('150µs');
    expect(formatGoDuration(0.0004)).toBe('400ns');
  });
});

describe('sizes', () => {
  it('reads suffixed integers as nats-server', () => {
    expect(parseSuffixedInteger('64k')).toBe(64_000);
    expect(parseSuffixedInteger('64KB')).toBe(65_536);
    expect(parseSuffixedInteger('1MiB')).toBe(1024 ** 2);
    expect(parseSuffixedInteger('1e')).toBe(1e18);
    expect(() => parseSuffixedInteger('8EB')).toThrow(/out of the range/);
    expect(() => parseSuffixedInteger('1xb')).toThrow(/invalid size suffix/);
  });
  it('reads JetStream string sizes as powers of two', () => {
    expect(parseStorageSize(5)).toBe(5);
    expect(parseStorageSize('1K')).toBe(1024);
    expect(parseStorageSize('10G')).toBe(10 * 1024 ** 3);
    expect(parseStorageSize('')).toBe(0);
    expect(() => parseStorageSize('10X')).toThrow('sizes defined as strings must end in K, M, G, T');
    expect(() => parseStorageSize(true)).toThrow('must be int64 or string');
  });
});

describe('booleanLike', () => {
  it('accepts lexer words and enabled/disabled', () => {
    expect(['true', 'yes', 'on', 'enabled', 'Enable', true].map(booleanLike)).toEqual([true, true, true, true, true, true]);
    expect(['false', 'NO', 'off', 'disabled', false].map(booleanLike)).toEqual([false, false, false, false, false]);
    expect(booleanLike('maybe')).toBeUndefined();
    expect(booleanLike(1)).toBeUndefined();
  });
});
