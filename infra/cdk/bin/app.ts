#!/usr/bin/env node
//! The CDK app: one RaGenie stack. Context (`cdk synth -c key=value`):
//!   stackName (default RaGenie), alarmEmail, appOrigins (comma-separated extra CORS origins),
//!   requireBuiltLambdas=true (deploy.sh: refuse the placeholder bootstrap),
//!   embeddingModel, embeddingDimensions (hybrid retrieval; unset: BM25 alone),
//!   reservedConcurrency=true (reserve each function's share of the account's concurrency),
//!   wafRateLimit=N (a WAF rate-based rule: N requests per address per 5 minutes; us-east-1).
//!   mailFrom + sesRegion (password-reset mail through SES), publicUrl (where reset links point).
//!   embeddingModel=local:<name> with embeddingModelDir (default .tools/models/<name>): the
//!   built-in model, its weights shipped as a Lambda layer.
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { RaGenieStack } from '../lib/ragenie-stack';
import { loadRoutes } from '../lib/routes';

const repo = path.resolve(__dirname, '..', '..', '..', '..');
const app = new App();
const ctx = (key: string): string | undefined => {
  const v = app.node.tryGetContext(key);
  return v === undefined || v === '' ? undefined : String(v);
};

new RaGenieStack(app, ctx('stackName') ?? 'RaGenie', {
  description: 'RaGenie: chat with your documents (serverless, Rust on Lambda)',
  env: process.env.CDK_DEFAULT_ACCOUNT
    ? { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION }
    : undefined,
  routes: loadRoutes(),
  lambdaArtifactsDir: path.join(repo, 'target', 'lambda'),
  requireBuiltLambdas: ctx('requireBuiltLambdas') === 'true',
  frontendDistDir: path.join(repo, 'frontend', 'dist'),
  extraAppOrigins: ctx('appOrigins')?.split(',').map((s) => s.trim()).filter(Boolean),
  alarmEmail: ctx('alarmEmail'),
  embeddingModel: ctx('embeddingModel'),
  embeddingDimensions: ctx('embeddingDimensions') ? Number(ctx('embeddingDimensions')) : undefined,
  reservedConcurrency: ctx('reservedConcurrency') === 'true',
  wafRateLimit: ctx('wafRateLimit') ? Number(ctx('wafRateLimit')) : undefined,
  mail: ctx('mailFrom') && ctx('sesRegion') ? { from: ctx('mailFrom')!, sesRegion: ctx('sesRegion')! } : undefined,
  publicUrl: ctx('publicUrl'),
  embeddingModelDir: ctx('embeddingModelDir') ??
    (ctx('embeddingModel')?.startsWith('local:')
      ? path.join(repo, '.tools', 'models', ctx('embeddingModel')!.slice('local:'.length))
      : undefined),
});
