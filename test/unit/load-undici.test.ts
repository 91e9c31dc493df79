import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { undici } from '../../src/probes/load-undici.js';

// load-undici.ts loads undici's files one by one instead of its index (which loads fetch, caches, mocks,
// cookies and EventSource too): each part must be what the index exports, with the index's request API.

describe('undici, part by part', () => {
  // First: undici's index, once loaded (the next test), gives every dispatcher the API itself.
  it('a pool has the request API (scenario modules\' ctx.http uses pool.request)', () => {
    const pool = new (undici().Pool)('http://127.0.0.1:9');
    expect(typeof pool.request).toBe('function');
    void pool.close();
  });
  it('each part is the one undici exports', () => {
    const index = createRequire(import.meta.url)('undici') as typeof import('undici');
    const parts = undici();
    expect(parts.Pool).toBe(index.Pool);
    expect(parts.Client).toBe(index.Client);
    expect(parts.WebSocket).toBe(index.WebSocket);
    expect(parts.buildConnector).toBe(index.buildConnector);
  });

});
