//! routes.json is well-formed, and malformed entries are refused with the entry named.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tempDir } from './helpers';
import { FUNCTION_NAMES, loadRoutes } from '../lib/routes';

test('routes.json names every function and only known ones', () => {
  const routes = loadRoutes();
  assert.deepEqual([...new Set(routes.map((r) => r.function))].sort(), [...FUNCTION_NAMES].sort());
});

test('malformed routes are refused', () => {
  const dir = tempDir('ragenie-routes-');
  const bad = (entry: unknown, message: RegExp) => {
    const file = path.join(dir, 'routes.json');
    fs.writeFileSync(file, JSON.stringify([{ function: 'ragenie-auth', method: 'GET', path: '/auth/health' }, entry]));
    assert.throws(() => loadRoutes(file), message);
  };
  bad({ function: 'ragenie-billing', method: 'GET', path: '/billing' }, /unknown function/);
  bad({ function: 'ragenie-auth', method: 'HEAD', path: '/auth/x' }, /unsupported method/);
  bad({ function: 'ragenie-auth', method: 'GET', path: '/auth/:id' }, /malformed path/);
  bad({ function: 'ragenie-auth', method: 'GET', path: '/auth/' }, /malformed path/);
  bad({ function: 'ragenie-auth', method: 'GET', path: '/auth/health' }, /duplicate route/);
  bad({ function: 'ragenie-auth', method: 'GET', path: '/auth/x', stream: true }, /keys must be/);
});
