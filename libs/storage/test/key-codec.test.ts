import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@aimaas/runtime';
import { decodeKey, encodeKey, joinKey, splitKey } from '../src/index.js';

describe('encodeKey', () => {
  it('keeps characters KV allows in a key part and escapes the rest as =XX', () => {
    expect(encodeKey('fmnist-v2_small/3')).toBe('fmnist-v2_small/3');
    expect(encodeKey('resnet 50.v2')).toBe('resnet=2050=2Ev2');
    expect(encodeKey('a=b')).toBe('a=3Db');
    expect(encodeKey('*>')).toBe('=2A=3E');
  });

  it('round-trips any text, including non-ASCII, through decodeKey', () => {
    for (const name of ['fmnist', 'résumé classifier', '模型.v1', 'a=2E', 'emoji 🚀', '..', '=', 'x y\tz\n']) {
      const encoded = encodeKey(name);
      expect(encoded).toMatch(/^[-/_=a-zA-Z0-9]+$/);
      expect(decodeKey(encoded)).toBe(name);
    }
  });

  it('gives different parts different encodings', () => {
    const names = ['a.b', 'a=2Eb', 'a b', 'a_b', 'A.b'];
    expect(new Set(names.map(encodeKey)).size).toBe(names.length);
  });

  it('refuses an empty part', () => {
    expect(() => encodeKey('')).toThrow(InvalidArgumentError);
  });
});

describe('decodeKey', () => {
  it('rejects a malformed escape naming the offset', () => {
    expect(() => decodeKey('ab=4')).toThrow(/bad escape at offset 2/);
    expect(() => decodeKey('ab=zz')).toThrow(InvalidArgumentError);
  });

  it('rejects escapes that are not UTF-8', () => {
    expect(() => decodeKey('=FF')).toThrow(/does not decode to UTF-8/);
  });
});

describe('joinKey and splitKey', () => {
  it('build a dotted key from escaped parts and split it back', () => {
    const key = joinKey('models', 'my model.v2', 'versions', 12);
    expect(key).toBe('models.my=20model=2Ev2.versions.12');
    expect(splitKey(key)).toEqual(['models', 'my model.v2', 'versions', '12']);
  });
});
