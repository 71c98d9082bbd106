//! CloudFront sends each route of routes.json to the right origin (first matching behaviour, as
//! CloudFront evaluates them), the rest to the private site bucket with the SPA fallback.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, logicalId, ofType, synth } from './helpers';
import { loadSecurityHeaders } from '../lib/ragenie-stack';
import { cloudFrontBehaviours, cloudFrontMatches, loadRoutes, Route, samplePath, STREAMING_FUNCTION } from '../lib/routes';

const { stack, resources } = synth();
const [[, distribution]] = ofType(resources, 'AWS::CloudFront::Distribution');
const config = distribution.Properties.DistributionConfig;
const apiId = logicalId(stack.node.findChild('HttpApi'));
const [[urlId]] = ofType(resources, 'AWS::Lambda::Url');
const siteBucketId = logicalId(stack.node.findChild('FrontendBucket'));

function originKind(originId: string): 'api' | 'stream' | 'site' {
  const origin = config.Origins.find((o: any) => o.Id === originId);
  assert.ok(origin, `origin ${originId} exists`);
  const domain = describe(origin.DomainName);
  const raw = JSON.stringify(origin.DomainName);
  if (raw.includes(apiId)) return 'api';
  if (raw.includes(urlId)) return 'stream';
  if (raw.includes(siteBucketId)) return 'site';
  throw new Error(`unexpected origin ${domain}`);
}

/** The origin CloudFront picks for a request path: the first behaviour whose pattern matches. */
function routeTo(urlPath: string): { kind: 'api' | 'stream' | 'site'; behaviour: any } {
  const behaviour = (config.CacheBehaviors ?? []).find((b: any) => cloudFrontMatches(b.PathPattern, urlPath))
    ?? config.DefaultCacheBehavior;
  return { kind: originKind(behaviour.TargetOriginId), behaviour };
}

test('every route reaches its function: chat through its streaming URL, the others through the HTTP API', () => {
  for (const route of loadRoutes()) {
    const { kind, behaviour } = routeTo(samplePath(route));
    const want = route.function === STREAMING_FUNCTION ? 'stream' : 'api';
    assert.equal(kind, want, `${route.method} ${route.path} (pattern ${behaviour.PathPattern})`);
    assert.ok(behaviour.AllowedMethods.includes(route.method), `${route.method} allowed on ${behaviour.PathPattern}`);
    // No caching, and the viewer's Authorization and query string reach the function.
    assert.equal(behaviour.CachePolicyId, '4135ea2d-6df8-44a3-9df3-4b5a84be39ad', 'CachingDisabled');
    assert.equal(behaviour.OriginRequestPolicyId, 'b689b0a8-53d0-40ab-baf2-68738e2966ac', 'AllViewerExceptHostHeader');
    assert.notEqual(behaviour.ViewerProtocolPolicy, 'allow-all');
  }
});

test('the streaming paths the product promises go to the chat Function URL', () => {
  for (const p of ['/conversations/abc/messages', '/conversations/abc/messages/m1/regenerate', '/v1/chat/completions',
    '/v1/models', '/chat/estimate', '/models']) {
    assert.equal(routeTo(p).kind, 'stream', p);
  }
  for (const p of ['/conversations', '/conversations/abc', '/conversations/abc/export', '/auth/login', '/search', '/usage']) {
    assert.equal(routeTo(p).kind, 'api', p);
  }
});

test('everything else is the single-page app from the private bucket, through origin access control', () => {
  for (const p of ['/', '/index.html', '/assets/index-3f2a.js', '/favicon.ico', '/login', '/settings/keys']) {
    assert.equal(routeTo(p).kind, 'site', p);
  }
  const site = config.Origins.find((o: any) => o.Id === config.DefaultCacheBehavior.TargetOriginId);
  assert.ok(site.OriginAccessControlId, 'origin access control');
  assert.equal(site.S3OriginConfig.OriginAccessIdentity, '', 'no legacy OAI');
  assert.equal(config.DefaultRootObject, 'index.html');
  assert.equal(config.DefaultCacheBehavior.ViewerProtocolPolicy, 'redirect-to-https');
  // The SPA fallback is a viewer-request function on the site behaviour only: distribution-wide
  // 403/404 error pages would replace the API's problem+json errors with index.html.
  assert.equal(config.CustomErrorResponses, undefined);
  const [fn] = config.DefaultCacheBehavior.FunctionAssociations;
  assert.equal(fn.EventType, 'viewer-request');
  for (const b of config.CacheBehaviors) assert.equal(b.FunctionAssociations, undefined, b.PathPattern);
});

test('the SPA fallback function rewrites client-side routes and leaves files alone', () => {
  const code = fs.readFileSync(path.join(__dirname, '..', '..', 'lib', 'cloudfront', 'spa-rewrite.js'), 'utf8');
  const [[, cfFunction]] = ofType(resources, 'AWS::CloudFront::Function');
  assert.equal(cfFunction.Properties.FunctionCode, code, 'deployed code is the file the test runs');
  assert.equal(cfFunction.Properties.FunctionConfig.Runtime, 'cloudfront-js-2.0');
  const handler = new Function(`${code}; return handler;`)() as (e: unknown) => { uri: string };
  const rewrite = (uri: string) => handler({ request: { uri, method: 'GET', headers: {} } }).uri;
  assert.equal(rewrite('/'), '/index.html');
  assert.equal(rewrite('/conversations-view/123'), '/index.html');
  assert.equal(rewrite('/settings'), '/index.html');
  assert.equal(rewrite('/assets/index-3f2a.js'), '/assets/index-3f2a.js');
  assert.equal(rewrite('/favicon.ico'), '/favicon.ico');
});

test('behaviours are derived from the routes, so a new route is routed without editing CloudFront', () => {
  const routes: Route[] = [
    { function: 'ragenie-users', method: 'GET', path: '/teams/{id}' },
    { function: 'ragenie-chat', method: 'POST', path: '/teams/{id}/chat' },
    { function: 'ragenie-chat', method: 'GET', path: '/realtime' },
  ];
  const behaviours = cloudFrontBehaviours(routes);
  const pick = (p: string) => behaviours.find((b) => cloudFrontMatches(b.pattern, p))?.origin;
  assert.equal(pick('/teams/1'), 'api');
  assert.equal(pick('/teams/1/chat'), 'stream');
  assert.equal(pick('/realtime'), 'stream');
  assert.equal(pick('/elsewhere'), undefined);
  assert.ok(cloudFrontBehaviours(loadRoutes()).length <= 25, 'within the default CloudFront quota of 25 behaviours');
});

test('API and chat origins speak HTTPS only, and the chat origin waits long enough for a first token', () => {
  for (const o of config.Origins) {
    if (o.CustomOriginConfig) assert.equal(o.CustomOriginConfig.OriginProtocolPolicy, 'https-only', o.Id);
  }
  const chat = config.Origins.find((o: any) => JSON.stringify(o.DomainName).includes(urlId));
  assert.ok(chat.CustomOriginConfig.OriginReadTimeout >= 60);
});

test('every answer (app and API) carries the security headers of infra/security-headers.json', () => {
  const headers = loadSecurityHeaders();
  const [[policyId, policy]] = ofType(resources, 'AWS::CloudFront::ResponseHeadersPolicy');
  const sec = policy.Properties.ResponseHeadersPolicyConfig.SecurityHeadersConfig;
  assert.equal(sec.ContentSecurityPolicy.ContentSecurityPolicy, headers.content_security_policy);
  assert.match(headers.content_security_policy, /img-src 'self' data: blob:;/);
  assert.match(headers.content_security_policy, /frame-ancestors 'none'/);
  assert.equal(sec.StrictTransportSecurity.AccessControlMaxAgeSec, headers.hsts_max_age_seconds);
  assert.equal(sec.StrictTransportSecurity.IncludeSubdomains, true);
  assert.equal(sec.FrameOptions.FrameOption, 'DENY');
  assert.equal(sec.ContentTypeOptions.Override, true);
  assert.equal(sec.ReferrerPolicy.ReferrerPolicy, 'no-referrer');
  for (const b of [config.DefaultCacheBehavior, ...(config.CacheBehaviors ?? [])]) {
    assert.deepEqual(b.ResponseHeadersPolicyId, { Ref: policyId }, `behaviour ${b.PathPattern ?? 'default'}`);
  }
});
