//! Assertions on the synthesized CloudFormation template: least privilege per function, private
//! encrypted TLS-only buckets, the table's keys, the streaming Function URL, routes == routes.json.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Match } from 'aws-cdk-lib/assertions';
import { asList, describe, logicalId, ofType, Resource, synth, tempDir } from './helpers';
import { FUNCTION_NAMES, FunctionName, loadRoutes } from '../lib/routes';
import { METRICS_NAMESPACE, ORIGIN_HEADER, ORIGIN_SECRET_ENV, UPLOADS_PREFIX } from '../lib/ragenie-stack';

const { stack, template, resources } = synth();
const fnId = (name: FunctionName) => logicalId(stack.functions[name]);
const only = (type: string): [string, Resource] => {
  const found = ofType(resources, type);
  assert.equal(found.length, 1, `exactly one ${type}`);
  return found[0];
};
const [tableId] = only('AWS::DynamoDB::Table');
const jwtSecretId = logicalId(stack.node.findChild('JwtSecret'));
const providerKeysId = logicalId(stack.node.findChild('ProviderKeysSecret'));
const originSecretId = logicalId(stack.node.findChild('OriginVerifySecret'));
const documentsBucketId = logicalId(stack.node.findChild('DocumentsBucket'));
const documentsBucket = resources[documentsBucketId];
const documentsArn = `arn:{AWS::Partition}:s3:::${describe(documentsBucket.Properties.BucketName)}`;
const ingestQueueId = logicalId(stack.node.findChild('IngestQueue'));
const ingestDeadLettersId = logicalId(stack.node.findChild('IngestDeadLetterQueue'));

// What the brief grants each function, written out independently of the stack's own table.
const TABLE_RW = ['ConditionCheckItem', 'DeleteItem', 'GetItem', 'PutItem', 'Query', 'UpdateItem']
  .map((a) => `dynamodb:${a}`);
const NEEDS: Record<FunctionName, { bucket: 'none' | 'read' | 'readwrite' | 'delete'; providerKeys: boolean }> = {
  // Deleting an account removes its files: list and delete, never read.
  'ragenie-auth': { bucket: 'delete', providerKeys: false },
  'ragenie-users': { bucket: 'none', providerKeys: false },
  'ragenie-conversations': { bucket: 'none', providerKeys: false },
  'ragenie-documents': { bucket: 'readwrite', providerKeys: true },
  'ragenie-chat': { bucket: 'read', providerKeys: true },
};

function expectedGrants(name: FunctionName): string[] {
  const logs = logicalId(stack.functions[name].logGroup);
  const grants = [`logs:CreateLogStream on {${logs}}`, `logs:PutLogEvents on {${logs}}`];
  for (const a of TABLE_RW) grants.push(`${a} on {${tableId}}`, `${a} on {${tableId}}/index/gsi1`);
  grants.push(`secretsmanager:GetSecretValue on {${jwtSecretId}}`);
  // The admin's backfill of the user index reads every account once: Scan, base table only.
  if (name === 'ragenie-auth') grants.push(`dynamodb:Scan on {${tableId}}`);
  const need = NEEDS[name];
  if (need.providerKeys) grants.push(`secretsmanager:GetSecretValue on {${providerKeysId}}`);
  // The function behind the Function URL reads the value CloudFront proves itself with.
  if (name === 'ragenie-chat') grants.push(`secretsmanager:GetSecretValue on {${originSecretId}}`);
  if (need.bucket === 'delete') {
    grants.push(`s3:DeleteObject on ${documentsArn}/*`, `s3:ListBucket on ${documentsArn}`);
  } else if (need.bucket !== 'none') {
    grants.push(`s3:GetObject on ${documentsArn}/*`, `s3:ListBucket on ${documentsArn}`);
    if (need.bucket === 'readwrite') grants.push(`s3:PutObject on ${documentsArn}/*`, `s3:DeleteObject on ${documentsArn}/*`);
  }
  // The documents function queues ingestion jobs (and does nothing else with the queue).
  if (name === 'ragenie-documents') grants.push(`sqs:SendMessage on {${ingestQueueId}}`);
  return grants.sort();
}

/** Every (action, resource) pair any policy gives the function's role. */
function actualGrants(name: FunctionName | 'ragenie-ingest'): string[] {
  const id = name === 'ragenie-ingest' ? logicalId(stack.ingestFunction) : fnId(name);
  const roleId = resources[id].Properties.Role['Fn::GetAtt'][0];
  const role = resources[roleId];
  assert.equal(role.Properties.ManagedPolicyArns, undefined, `${name}: no managed policies`);
  assert.equal(role.Properties.Policies, undefined, `${name}: no inline policies on the role`);
  assert.deepEqual(role.Properties.AssumeRolePolicyDocument.Statement.map((s: any) => s.Principal),
    [{ Service: 'lambda.amazonaws.com' }]);
  const grants: string[] = [];
  for (const [, p] of [...ofType(resources, 'AWS::IAM::Policy'), ...ofType(resources, 'AWS::IAM::ManagedPolicy')]) {
    if (!asList(p.Properties.Roles).some((r: any) => r.Ref === roleId)) continue;
    for (const s of p.Properties.PolicyDocument.Statement) {
      assert.equal(s.Effect, 'Allow');
      assert.equal(s.Condition, undefined);
      for (const a of asList<string>(s.Action)) for (const r of asList(s.Resource)) grants.push(`${a} on ${describe(r)}`);
    }
  }
  return grants.sort();
}

test('each function has exactly the permissions it needs, and nothing on *', () => {
  for (const name of FUNCTION_NAMES) {
    const grants = actualGrants(name);
    assert.deepEqual(grants, expectedGrants(name), name);
    for (const g of grants) {
      const [action, , resource] = g.split(' ');
      assert.ok(!action.includes('*'), `${name}: wildcard action ${action}`);
      assert.notEqual(resource, '*', `${name}: ${action} on every resource`);
    }
  }
});

test('an embedding model reaches the functions that call providers, and only those', () => {
  const { resources: withEmbeddings } = synth({ embeddingModel: 'text-embedding-3-small', embeddingDimensions: 512 });
  for (const name of FUNCTION_NAMES) {
    const env = withEmbeddings[fnId(name)].Properties.Environment.Variables;
    if (name === 'ragenie-documents' || name === 'ragenie-chat') {
      assert.equal(env.RAGENIE_EMBEDDING_MODEL, 'text-embedding-3-small', name);
      assert.equal(env.RAGENIE_EMBEDDING_DIMENSIONS, '512', name);
    } else {
      assert.equal(env.RAGENIE_EMBEDDING_MODEL, undefined, name);
      assert.equal(env.RAGENIE_EMBEDDING_DIMENSIONS, undefined, name);
    }
  }
});

test('a built-in embedding model ships as a layer on documents and chat, with its folder in the environment', () => {
  const dir = tempDir('ragenie-model-');
  for (const file of ['model.safetensors', 'tokenizer.json', 'config.json', 'sentence_bert_config.json']) {
    fs.writeFileSync(path.join(dir, file), 'x');
  }
  fs.writeFileSync(path.join(dir, 'README.md'), 'not shipped');
  const { resources: r } = synth({ embeddingModel: 'local:all-MiniLM-L6-v2', embeddingModelDir: dir });
  const layers = ofType(r, 'AWS::Lambda::LayerVersion');
  assert.equal(layers.length, 1);
  const [layerId, layer] = layers[0];
  assert.deepEqual(layer.Properties.CompatibleArchitectures, ['arm64']);
  assert.deepEqual(layer.Properties.CompatibleRuntimes, ['provided.al2023']);
  for (const name of FUNCTION_NAMES) {
    const p = r[fnId(name)].Properties;
    const env = p.Environment.Variables;
    if (name === 'ragenie-documents' || name === 'ragenie-chat') {
      assert.deepEqual(p.Layers, [{ Ref: layerId }], name);
      assert.equal(env.RAGENIE_EMBEDDING_MODEL, 'local:all-MiniLM-L6-v2', name);
      assert.equal(env.RAGENIE_EMBEDDING_MODEL_DIR, '/opt/models/all-MiniLM-L6-v2', name);
      assert.ok(p.MemorySize >= 2048, `${name}: a full vCPU for the model (${p.MemorySize} MB)`);
    } else {
      assert.equal(p.Layers, undefined, name);
      assert.equal(env.RAGENIE_EMBEDDING_MODEL_DIR, undefined, name);
    }
  }
});

test('a built-in embedding model without its weights fails at synth', () => {
  assert.throws(() => synth({ embeddingModel: 'local:all-MiniLM-L6-v2' }), /embeddingModelDir/);
  assert.throws(() => synth({ embeddingModel: 'local:all-MiniLM-L6-v2', embeddingModelDir: tempDir('ragenie-empty-') }),
    /model\.safetensors/);
  assert.throws(() => synth({ embeddingModel: 'local:../etc', embeddingModelDir: tempDir('ragenie-empty-') }), /plain name/);
});

test('embedding dimensions without a model, or not a size, fail at synth', () => {
  assert.throws(() => synth({ embeddingDimensions: 512 }), /needs embeddingModel/);
  assert.throws(() => synth({ embeddingModel: 'm', embeddingDimensions: Number('many') }), /whole number/);
  assert.throws(() => synth({ embeddingModel: 'm', embeddingDimensions: 9000 }), /whole number/);
});

test('functions are arm64 provided.al2023 with the agreed environment and a log group with retention', () => {
  for (const name of FUNCTION_NAMES) {
    const p = resources[fnId(name)].Properties;
    assert.deepEqual(p.Architectures, ['arm64']);
    assert.equal(p.Runtime, 'provided.al2023');
    assert.equal(p.Handler, 'bootstrap');
    assert.ok(p.MemorySize >= 256 && p.MemorySize <= 3008, `${name} memory ${p.MemorySize}`);
    const env = p.Environment.Variables;
    assert.deepEqual(Object.keys(env).sort(), ['RAGENIE_BUCKET',
      ...(name === 'ragenie-documents' ? ['RAGENIE_INGEST_QUEUE_URL'] : []), 'RAGENIE_JWT_SECRET_ID', 'RAGENIE_METRICS_NAMESPACE',
      ...(name === 'ragenie-chat' ? [ORIGIN_SECRET_ENV] : []),
      'RAGENIE_PROVIDER_KEYS_SECRET_ID', 'RAGENIE_STORE', 'RAGENIE_TABLE', 'RUST_LOG'].sort());
    assert.equal(env.RAGENIE_STORE, 'aws');
    assert.equal(env.RUST_LOG, 'info');
    assert.deepEqual(env.RAGENIE_TABLE, { Ref: tableId });
    assert.deepEqual(env.RAGENIE_BUCKET, documentsBucket.Properties.BucketName);
    assert.deepEqual(env.RAGENIE_JWT_SECRET_ID, { Ref: jwtSecretId });
    assert.deepEqual(env.RAGENIE_PROVIDER_KEYS_SECRET_ID, { Ref: providerKeysId });
    const logGroup = resources[p.LoggingConfig.LogGroup.Ref];
    assert.equal(logGroup.Type, 'AWS::Logs::LogGroup');
    assert.ok(logGroup.Properties.RetentionInDays > 0, `${name}: log retention`);
  }
});

test('ingestion: the documents function queues jobs; the ingest function consumes them with retries, a dead-letter queue and an alarm', () => {
  const ingestId = logicalId(stack.ingestFunction);
  const fn = resources[ingestId].Properties;
  assert.ok(fn.MemorySize >= 3008 && fn.Timeout === 900, 'sized for 100 MB files');
  assert.deepEqual([fn.Architectures, fn.Runtime], [['arm64'], 'provided.al2023']);
  assert.equal(fn.Environment.Variables.RAGENIE_INGEST_MAX_ATTEMPTS, '3');
  assert.equal(fn.Environment.Variables.RAGENIE_INGEST_QUEUE_URL, undefined, 'the consumer never queues');
  assert.deepEqual(resources[fnId('ragenie-documents')].Properties.Environment.Variables.RAGENIE_INGEST_QUEUE_URL,
    { Ref: ingestQueueId });
  const [, mapping] = only('AWS::Lambda::EventSourceMapping');
  assert.deepEqual(mapping.Properties.FunctionName, { Ref: ingestId });
  assert.deepEqual(mapping.Properties.EventSourceArn, { 'Fn::GetAtt': [ingestQueueId, 'Arn'] });
  assert.equal(mapping.Properties.BatchSize, 1);
  assert.deepEqual(mapping.Properties.FunctionResponseTypes, ['ReportBatchItemFailures']);
  const queue = resources[ingestQueueId].Properties;
  assert.deepEqual(queue.RedrivePolicy, { deadLetterTargetArn: { 'Fn::GetAtt': [ingestDeadLettersId, 'Arn'] }, maxReceiveCount: 3 });
  assert.ok(queue.VisibilityTimeout > fn.Timeout, 'a message stays hidden while an invocation works on it');
  for (const id of [ingestQueueId, ingestDeadLettersId]) {
    assert.equal(resources[id].Properties.SqsManagedSseEnabled, true, `${id}: encrypted`);
    const [, policy] = ofType(resources, 'AWS::SQS::QueuePolicy').find(([, p]) => asList(p.Properties.Queues).some((q: any) => q.Ref === id))!;
    assert.ok(policy.Properties.PolicyDocument.Statement.some((s: any) => s.Effect === 'Deny'
      && s.Condition?.Bool?.['aws:SecureTransport'] === 'false'), `${id}: TLS only`);
  }
  const logs = logicalId(stack.ingestFunction.logGroup);
  const expected = [`logs:CreateLogStream on {${logs}}`, `logs:PutLogEvents on {${logs}}`,
    `secretsmanager:GetSecretValue on {${jwtSecretId}}`, `secretsmanager:GetSecretValue on {${providerKeysId}}`,
    `s3:GetObject on ${documentsArn}/*`, `s3:PutObject on ${documentsArn}/*`, `s3:ListBucket on ${documentsArn}`,
    ...['ReceiveMessage', 'ChangeMessageVisibility', 'GetQueueUrl', 'DeleteMessage', 'GetQueueAttributes']
      .map((a) => `sqs:${a} on {${ingestQueueId}}`)];
  for (const a of TABLE_RW) expected.push(`${a} on {${tableId}}`, `${a} on {${tableId}}/index/gsi1`);
  assert.deepEqual(actualGrants('ragenie-ingest'), expected.sort());
  const alarms = ofType(resources, 'AWS::CloudWatch::Alarm').map(([, a]) => a.Properties);
  assert.ok(alarms.some((a) => a.Namespace === 'AWS/SQS' && a.MetricName === 'ApproximateNumberOfMessagesVisible'
    && a.Dimensions.some((d: any) => JSON.stringify(d.Value).includes(ingestDeadLettersId))), 'dead-letter alarm');
  assert.ok(alarms.some((a) => a.MetricName === 'Errors'
    && a.Dimensions?.some((d: any) => d.Value.Ref === ingestId)), 'ingest errors alarm');
});

test('the chat function, and only it, has a streaming Function URL', () => {
  const [, url] = only('AWS::Lambda::Url');
  assert.equal(url.Properties.InvokeMode, 'RESPONSE_STREAM');
  assert.equal(url.Properties.AuthType, 'NONE');
  assert.deepEqual(url.Properties.TargetFunctionArn, { 'Fn::GetAtt': [fnId('ragenie-chat'), 'Arn'] });
  assert.ok(resources[fnId('ragenie-chat')].Properties.Timeout >= 120, 'a long answer may stream for minutes');
});

test('the Function URL answers only CloudFront: its origin sends a generated secret header the function requires', () => {
  // Every Function URL's function is told which secret to require (crates/common/src/origin.rs
  // refuses, 403, any request without it; tested there).
  const urls = ofType(resources, 'AWS::Lambda::Url');
  assert.ok(urls.length >= 1);
  for (const [, url] of urls) {
    const fn = resources[url.Properties.TargetFunctionArn['Fn::GetAtt'][0]];
    assert.deepEqual(fn.Properties.Environment.Variables[ORIGIN_SECRET_ENV], { Ref: originSecretId });
  }
  // The value is generated by Secrets Manager, never written in a template or source file.
  const secret = resources[originSecretId].Properties;
  assert.equal(secret.SecretString, undefined);
  assert.ok(secret.GenerateSecretString.PasswordLength >= 32);
  // CloudFront adds it to every request for the URL origin, read from the secret at deploy.
  const [[, distribution]] = ofType(resources, 'AWS::CloudFront::Distribution');
  const [urlId] = urls[0];
  const origins = distribution.Properties.DistributionConfig.Origins;
  const chat = origins.find((o: any) => JSON.stringify(o.DomainName).includes(urlId));
  assert.ok(chat, 'the chat Function URL is an origin');
  const custom = chat.OriginCustomHeaders.filter((h: any) => h.HeaderName === ORIGIN_HEADER);
  assert.equal(custom.length, 1, `${ORIGIN_HEADER} on the chat origin`);
  const value = describe(custom[0].HeaderValue);
  assert.equal(value, `{{resolve:secretsmanager:{${originSecretId}}:SecretString:::}}`);
  // No other origin gets it (it would leak the secret to that origin).
  for (const o of origins.filter((x: any) => x !== chat)) {
    assert.ok(!(o.OriginCustomHeaders ?? []).some((h: any) => h.HeaderName === ORIGIN_HEADER), o.Id);
  }
  // The Rust side checks the same header, configured by the same variable.
  const rust = fs.readFileSync(path.join(__dirname, '../../../../crates/common/src/origin.rs'), 'utf8');
  assert.match(rust, new RegExp(`pub const HEADER: &str = "${ORIGIN_HEADER}";`));
  assert.match(rust, new RegExp(`pub const SECRET_ENV: &str = "${ORIGIN_SECRET_ENV}";`));
});

test('the table has pk/sk, the gsi1 index, TTL on expires_at, point-in-time recovery, on-demand billing', () => {
  template.hasResourceProperties('AWS::DynamoDB::Table', {
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
    AttributeDefinitions: Match.arrayWith([
      { AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'S' },
      { AttributeName: 'gsi1pk', AttributeType: 'S' }, { AttributeName: 'gsi1sk', AttributeType: 'S' },
    ]),
    BillingMode: 'PAY_PER_REQUEST',
    GlobalSecondaryIndexes: [{
      IndexName: 'gsi1',
      KeySchema: [{ AttributeName: 'gsi1pk', KeyType: 'HASH' }, { AttributeName: 'gsi1sk', KeyType: 'RANGE' }],
      Projection: { ProjectionType: 'ALL' },
    }],
    TimeToLiveSpecification: { AttributeName: 'expires_at', Enabled: true },
    PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
  });
  assert.equal(resources[tableId].Properties.AttributeDefinitions.length, 4);
  template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Retain' });
});

test('every bucket is private, encrypted and refuses plain HTTP', () => {
  const buckets = ofType(resources, 'AWS::S3::Bucket');
  assert.equal(buckets.length, 2);
  for (const [id, b] of buckets) {
    assert.deepEqual(b.Properties.PublicAccessBlockConfiguration,
      { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true }, id);
    assert.deepEqual(b.Properties.BucketEncryption.ServerSideEncryptionConfiguration,
      [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }], id);
    const policies = ofType(resources, 'AWS::S3::BucketPolicy').filter(([, p]) => p.Properties.Bucket.Ref === id);
    assert.equal(policies.length, 1, `${id}: one bucket policy`);
    const statements = policies[0][1].Properties.PolicyDocument.Statement;
    assert.ok(statements.some((s: any) => s.Effect === 'Deny' && s.Principal?.AWS === '*'
      && s.Condition?.Bool?.['aws:SecureTransport'] === 'false'), `${id}: TLS only`);
    // Nothing but CloudFront (with this distribution as source) may be allowed in.
    for (const s of statements.filter((x: any) => x.Effect === 'Allow')) {
      assert.deepEqual(s.Principal, { Service: 'cloudfront.amazonaws.com' }, `${id}: allowed principal`);
      assert.ok(s.Condition?.StringEquals?.['AWS:SourceArn'], `${id}: allow scoped to the distribution`);
    }
  }
});

test('documents bucket: versioned, old versions and stale multipart uploads expire, CORS for presigned PUT/GET from the app', () => {
  const p = documentsBucket.Properties;
  assert.equal(p.VersioningConfiguration.Status, 'Enabled');
  const rules = p.LifecycleConfiguration.Rules.filter((r: any) => r.Status === 'Enabled');
  assert.ok(rules.some((r: any) => r.NoncurrentVersionExpiration?.NoncurrentDays > 0), 'noncurrent versions expire');
  assert.ok(rules.some((r: any) => r.AbortIncompleteMultipartUpload?.DaysAfterInitiation > 0), 'multipart uploads aborted');
  const [cors] = p.CorsConfiguration.CorsRules;
  assert.deepEqual([...cors.AllowedMethods].sort(), ['GET', 'HEAD', 'PUT']);
  const [distributionId] = only('AWS::CloudFront::Distribution');
  assert.deepEqual(cors.AllowedOrigins.map(describe), [`https://{${distributionId}}`]);
  assert.equal((documentsBucket as any).DeletionPolicy, 'Retain', 'documents outlive the stack');
});

test('documents bucket: uploads never committed are removed after a day, under the prefix the code writes them to', () => {
  const rules = documentsBucket.Properties.LifecycleConfiguration.Rules.filter((r: any) => r.Status === 'Enabled');
  const uploads = rules.filter((r: any) => r.Prefix === UPLOADS_PREFIX);
  assert.equal(uploads.length, 1, 'one rule for the uploads prefix');
  assert.equal(uploads[0].ExpirationInDays, 1);
  assert.equal(uploads[0].NoncurrentVersionExpiration?.NoncurrentDays, 1, 'versioned bucket: the bytes go too');
  // The prefix is the one the Rust code puts uploads under (and nothing else lives there).
  const ids = fs.readFileSync(path.join(__dirname, '../../../../crates/common/src/accounts/ids.rs'), 'utf8');
  assert.match(ids, new RegExp(`pub const UPLOADS_PREFIX: &str = "${UPLOADS_PREFIX}";`));
  const keys = fs.readFileSync(path.join(__dirname, '../../../../crates/corpus/src/keys.rs'), 'utf8');
  assert.match(keys, /pub fn upload_blob\(user: UserId, doc_id: &str\) -> String \{\s*format!\("\{\}\{doc_id\}", user\.upload_prefix\(\)\)/);
});

test('extra app origins (a custom domain) are added to the documents bucket CORS', () => {
  const s = synth({ extraAppOrigins: ['https://chat.example.com'] });
  const [cors] = s.resources[logicalId(s.stack.node.findChild('DocumentsBucket'))].Properties.CorsConfiguration.CorsRules;
  assert.equal(cors.AllowedOrigins.length, 2);
  assert.equal(cors.AllowedOrigins[1], 'https://chat.example.com');
});

test('secrets: a generated 64-character JWT key and provider-key placeholders', () => {
  const jwt = resources[jwtSecretId].Properties;
  assert.equal(jwt.GenerateSecretString.PasswordLength, 64);
  assert.equal(jwt.SecretString, undefined);
  const keys = JSON.parse(resources[providerKeysId].Properties.SecretString);
  assert.deepEqual(keys, { OPENAI_API_KEY: '', ANTHROPIC_API_KEY: '', GEMINI_API_KEY: '' });
});

test('routes.json is served exactly: chat routes by its Function URL, every other route by the HTTP API on its function', () => {
  const integrationFunction = new Map<string, string>();
  for (const [id, i] of ofType(resources, 'AWS::ApiGatewayV2::Integration')) {
    assert.equal(i.Properties.IntegrationType, 'AWS_PROXY');
    assert.equal(i.Properties.PayloadFormatVersion, '2.0');
    integrationFunction.set(id, i.Properties.IntegrationUri['Fn::GetAtt'][0]);
  }
  const byLogicalId = new Map(FUNCTION_NAMES.map((n) => [fnId(n), n]));
  const synthesized = ofType(resources, 'AWS::ApiGatewayV2::Route').map(([, r]) => {
    const integration = r.Properties.Target['Fn::Join'][1][1].Ref;
    return `${byLogicalId.get(integrationFunction.get(integration)!)} ${r.Properties.RouteKey}`;
  });
  const all = loadRoutes();
  const wanted = all.filter((r) => r.function !== 'ragenie-chat').map((r) => `${r.function} ${r.method} ${r.path}`);
  assert.deepEqual(synthesized.sort(), wanted.sort());
  assert.equal(new Set(synthesized).size, synthesized.length, 'no duplicate routes');
  // The chat runtime answers in Lambda's streaming format, which only a Function URL decodes:
  // API Gateway must not invoke it (cloudfront.test.ts checks its routes reach the URL).
  assert.ok(all.some((r) => r.function === 'ragenie-chat'));
  assert.ok(![...integrationFunction.values()].includes(fnId('ragenie-chat')), 'no API integration on chat');
  const apiInvokesChat = ofType(resources, 'AWS::Lambda::Permission').filter(([, p]) =>
    p.Properties.Principal === 'apigateway.amazonaws.com' && JSON.stringify(p.Properties.FunctionName).includes(fnId('ragenie-chat')));
  assert.equal(apiInvokesChat.length, 0);
  for (const name of FUNCTION_NAMES) {
    const prefix = name.replace('ragenie-', '');
    assert.ok(all.some((r) => r.function === name && r.method === 'GET' && r.path === `/${prefix}/health`), `${name} has GET /${prefix}/health`);
  }
});

test('alarms: errors, throttles and p99 duration per function, 5xx for the API and the chat URL, all notifying', () => {
  const alarms = ofType(resources, 'AWS::CloudWatch::Alarm').map(([, a]) => a.Properties);
  const [topicId] = only('AWS::SNS::Topic');
  for (const a of alarms) assert.deepEqual(a.AlarmActions, [{ Ref: topicId }]);
  for (const name of FUNCTION_NAMES) {
    const mine = alarms.filter((a) => a.Namespace === 'AWS/Lambda'
      && a.Dimensions?.some((d: any) => d.Name === 'FunctionName' && d.Value.Ref === fnId(name)));
    for (const metric of ['Errors', 'Throttles']) {
      assert.ok(mine.some((a) => a.MetricName === metric && a.Statistic === 'Sum'), `${name}: ${metric} alarm`);
    }
    assert.ok(mine.some((a) => a.MetricName === 'Duration' && a.ExtendedStatistic === 'p99'
      && a.Threshold < resources[fnId(name)].Properties.Timeout * 1000), `${name}: p99 duration alarm below the timeout`);
  }
  assert.ok(alarms.some((a) => a.Namespace === 'AWS/ApiGateway' && a.MetricName === '5xx'), 'API 5xx alarm');
  assert.ok(alarms.some((a) => a.MetricName === 'Url5xxCount'), 'chat URL 5xx alarm');
  const [, dashboard] = only('AWS::CloudWatch::Dashboard');
  const body = JSON.stringify(dashboard.Properties.DashboardBody);
  for (const name of FUNCTION_NAMES) assert.ok(body.includes(fnId(name)), `dashboard shows ${name}`);
});

test('application metrics: every function names the EMF namespace; alarms on provider error rate, TTFT p95, ingestion failures, budget-refusal spikes', () => {
  for (const name of FUNCTION_NAMES) {
    assert.equal(resources[fnId(name)].Properties.Environment.Variables.RAGENIE_METRICS_NAMESPACE, METRICS_NAMESPACE, name);
  }
  const alarms = ofType(resources, 'AWS::CloudWatch::Alarm').map(([, a]) => a.Properties);
  const plain = (metric: string) => alarms.find((a) => a.Namespace === METRICS_NAMESPACE && a.MetricName === metric);
  // Dimensionless: the totals each EMF document is also published as.
  const ttft = plain('ragenie_answer_ttft_seconds');
  assert.ok(ttft, 'TTFT alarm');
  assert.equal(ttft.ExtendedStatistic, 'p95');
  assert.equal(ttft.Dimensions, undefined);
  assert.ok(ttft.Threshold > 0 && ttft.Threshold <= 30);
  for (const metric of ['ragenie_ingestion_failures_total', 'ragenie_budget_refusals_total', 'ragenie_audit_write_failures_total']) {
    const a = plain(metric);
    assert.ok(a, `${metric} alarm`);
    assert.equal(a.Statistic, 'Sum', metric);
    assert.equal(a.Dimensions, undefined, metric);
  }
  const rate = alarms.find((a) => a.Metrics?.some((m: any) => m.Expression?.includes('errors / ')));
  assert.ok(rate, 'provider error-rate alarm');
  const used = rate.Metrics.filter((m: any) => m.MetricStat).map((m: any) => m.MetricStat.Metric);
  assert.deepEqual(used.map((m: any) => [m.Namespace, m.MetricName]).sort(), [
    [METRICS_NAMESPACE, 'ragenie_provider_errors_total'],
    [METRICS_NAMESPACE, 'ragenie_provider_requests_total'],
  ]);
  assert.ok(rate.Threshold > 0 && rate.Threshold < 100, 'a percentage');
  const [, dashboard] = only('AWS::CloudWatch::Dashboard');
  const body = JSON.stringify(dashboard.Properties.DashboardBody);
  for (const metric of ['ragenie_http_requests_total', 'ragenie_provider_errors_total', 'ragenie_answer_ttft_seconds',
    'ragenie_answer_duration_seconds', 'ragenie_answers_total', 'ragenie_tokens_total', 'ragenie_cost_microdollars_total',
    'ragenie_ingestion_duration_seconds', 'ragenie_ingestion_failures_total', 'ragenie_search_duration_seconds',
    'ragenie_sign_ins_total', 'ragenie_throttled_requests_total', 'ragenie_budget_refusals_total']) {
    assert.ok(body.includes(metric), `dashboard charts ${metric}`);
  }
});

test('built functions are packaged from target/lambda/<name>; deploys can refuse the placeholder', () => {
  const placeholderKeys = new Set(FUNCTION_NAMES.map((n) => resources[fnId(n)].Properties.Code.S3Key));
  assert.equal(placeholderKeys.size, 1, 'unbuilt: one shared placeholder asset');

  const built = tempDir('ragenie-built-');
  for (const n of [...FUNCTION_NAMES, 'ragenie-ingest']) {
    fs.mkdirSync(path.join(built, n));
    fs.writeFileSync(path.join(built, n, 'bootstrap'), `binary of ${n}`);
  }
  const s = synth({ lambdaArtifactsDir: built, requireBuiltLambdas: true });
  const keys = new Set(FUNCTION_NAMES.map((n) => s.resources[logicalId(s.stack.functions[n])].Properties.Code.S3Key));
  assert.equal(keys.size, FUNCTION_NAMES.length, 'built: one asset per function');
  assert.ok(!keys.has([...placeholderKeys][0]));

  fs.rmSync(path.join(built, 'ragenie-chat'), { recursive: true });
  assert.throws(() => synth({ lambdaArtifactsDir: built, requireBuiltLambdas: true }), /ragenie-chat\/bootstrap is missing/);
});

test('the frontend is uploaded (and CloudFront invalidated) only when frontend/dist was built', () => {
  assert.equal(ofType(resources, 'Custom::CDKBucketDeployment').length, 0);
  const dist = tempDir('ragenie-dist-');
  fs.writeFileSync(path.join(dist, 'index.html'), '<!doctype html><title>RaGenie</title>');
  const s = synth({ frontendDistDir: dist });
  const deployments = ofType(s.resources, 'Custom::CDKBucketDeployment');
  assert.equal(deployments.length, 1);
  assert.deepEqual(deployments[0][1].Properties.DistributionPaths, ['/*']);
});

test('stack names that cannot name a bucket are refused', () => {
  assert.throws(() => synth({}, 'RaGenieWithAVeryLongStageName'), /must be at most 24 letters/);
  assert.doesNotThrow(() => synth({}, 'ragenie-staging'));
});

test('reserved concurrency (opt in) gives every function its own share, chat the largest', () => {
  for (const [, fn] of ofType(resources, 'AWS::Lambda::Function')) {
    assert.equal(fn.Properties.ReservedConcurrentExecutions, undefined, 'off by default');
  }
  const reserved = synth({ reservedConcurrency: true }, 'RaGenieReserved');
  const shares: Record<string, number> = {};
  for (const name of FUNCTION_NAMES) {
    const fn = reserved.resources[logicalId(reserved.stack.functions[name])];
    shares[name] = fn.Properties.ReservedConcurrentExecutions;
    assert.ok(shares[name] >= 10, `${name} has a share of its own`);
  }
  assert.equal(Math.max(...Object.values(shares)), shares['ragenie-chat']);
});

test('the optional WAF rate rule blocks an address past the limit and guards the distribution', () => {
  assert.equal(ofType(resources, 'AWS::WAFv2::WebACL').length, 0, 'off by default');
  const waf = synth({ wafRateLimit: 1000 }, 'RaGenieWaf');
  const [aclId, acl] = ofType(waf.resources, 'AWS::WAFv2::WebACL')[0];
  assert.equal(acl.Properties.Scope, 'CLOUDFRONT');
  assert.deepEqual(acl.Properties.Rules[0].Statement.RateBasedStatement, { Limit: 1000, AggregateKeyType: 'IP' });
  assert.deepEqual(acl.Properties.Rules[0].Action, { Block: {} });
  const [, dist] = ofType(waf.resources, 'AWS::CloudFront::Distribution')[0];
  assert.deepEqual(dist.Properties.DistributionConfig.WebACLId, { 'Fn::GetAtt': [aclId, 'Arn'] });
  assert.throws(() => synth({ wafRateLimit: 5 }, 'RaGenieWafBad'), /wafRateLimit/);
});

test('with SES mail configured, auth may send only as that sender, and gets its settings', () => {
  const { stack, resources } = synth({ mail: { from: 'RaGenie <no-reply@mail.example.com>', sesRegion: 'eu-west-1' }, publicUrl: 'https://app.example.com' });
  const auth = resources[logicalId(stack.functions['ragenie-auth'])];
  const env = auth.Properties.Environment.Variables;
  assert.equal(env.RAGENIE_MAIL_FROM, 'RaGenie <no-reply@mail.example.com>');
  assert.equal(env.RAGENIE_SES_REGION, 'eu-west-1');
  assert.equal(env.RAGENIE_PUBLIC_URL, 'https://app.example.com');
  const ses = JSON.stringify(resources).match(/"ses:[A-Za-z]+"/g) ?? [];
  assert.deepEqual([...new Set(ses)], ['"ses:SendEmail"']);
  const policies = ofType(resources, 'AWS::IAM::Policy').map(([, p]) => JSON.stringify(p));
  const withSes = policies.filter((p) => p.includes('ses:SendEmail'));
  assert.equal(withSes.length, 1, 'one role may send');
  assert.match(withSes[0], /identity\/no-reply@mail\.example\.com/);
  assert.match(withSes[0], /identity\/mail\.example\.com/);
  assert.doesNotMatch(withSes[0], /identity\/\*/);
  for (const name of ['ragenie-users', 'ragenie-documents', 'ragenie-chat', 'ragenie-conversations'] as const) {
    assert.equal(resources[logicalId(stack.functions[name])].Properties.Environment.Variables.RAGENIE_SES_REGION, undefined);
  }
});
