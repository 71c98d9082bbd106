//! The whole of RaGenie on AWS in one stack: the single DynamoDB table, the documents bucket,
//! the two secrets, one Lambda per function behind an HTTP API, the chat function's streaming
//! Function URL, the single-page app on S3 behind CloudFront, and alarms plus a dashboard.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  Annotations,
  Aws,
  CfnOutput,
  Duration,
  Fn,
  RemovalPolicy,
  SecretValue,
  Stack,
  StackProps,
  SymlinkFollowMode,
} from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { apiRoutes, cloudFrontBehaviours, FunctionName, HttpMethodName, Route, STREAMING_FUNCTION } from './routes';

/** The CloudWatch namespace of RaGenie's own metrics (EMF lines written by the functions). */
export const METRICS_NAMESPACE = 'RaGenie';
/** Where presigned uploads wait for their commit: `UPLOADS_PREFIX` in crates/common/src/accounts/ids.rs. */
export const UPLOADS_PREFIX = 'uploads/';
/** The origin header CloudFront adds for the chat Function URL, and the variable naming its
 * secret to the function: `HEADER` and `SECRET_ENV` in crates/common/src/origin.rs. */
export const ORIGIN_HEADER = 'x-ragenie-origin-verify';
export const ORIGIN_SECRET_ENV = 'RAGENIE_ORIGIN_SECRET_ID';

/** What each function may touch beyond its own log group: least privilege, spelled out. */
export interface FunctionSpec {
  readonly name: FunctionName;
  /** Logical-id stem: `AuthFunction`, `AuthRole`… */
  readonly id: string;
  readonly memoryMb: number;
  readonly timeout: Duration;
  /** `delete`: list and delete only (auth, deleting an account's files). */
  readonly bucket: 'none' | 'read' | 'readwrite' | 'delete';
  readonly providerKeys: boolean;
  /** Concurrent executions set aside for this function when `reservedConcurrency` is on. */
  readonly reserved: number;
}

export const FUNCTIONS: readonly FunctionSpec[] = [
  // Argon2id is CPU-bound and Lambda's CPU share grows with memory.
  { name: 'ragenie-auth', id: 'Auth', memoryMb: 1024, timeout: Duration.seconds(29), bucket: 'delete', providerKeys: false, reserved: 10 },
  { name: 'ragenie-users', id: 'Users', memoryMb: 512, timeout: Duration.seconds(10), bucket: 'none', providerKeys: false, reserved: 10 },
  // Text extraction, chunking and embedding calls; API Gateway gives up after 30 s anyway.
  { name: 'ragenie-documents', id: 'Documents', memoryMb: 1024, timeout: Duration.seconds(29), bucket: 'readwrite', providerKeys: true, reserved: 10 },
  { name: 'ragenie-conversations', id: 'Conversations', memoryMb: 512, timeout: Duration.seconds(10), bucket: 'none', providerKeys: false, reserved: 10 },
  // A long answer streams for minutes through the Function URL.
  { name: 'ragenie-chat', id: 'Chat', memoryMb: 1024, timeout: Duration.minutes(5), bucket: 'read', providerKeys: true, reserved: 20 },
];

/**
 * The ingest function (functions/ingest): no HTTP routes; SQS events from the ingest queue the
 * documents function sends a job to after storing an upload. Sized for 100 MB files: the
 * extraction sandbox may use 2 GB, and extraction, embedding and the segment write 15 minutes.
 */
export const INGEST = {
  name: 'ragenie-ingest',
  id: 'Ingest',
  memoryMb: 3008,
  timeout: Duration.minutes(15),
  /** Deliveries before the dead-letter queue (the function's RAGENIE_INGEST_MAX_ATTEMPTS). */
  maxAttempts: 3,
} as const;

/** DynamoDB actions of the item-table port: no table management, and Scan only for the auth
 * function (below). */
export const TABLE_ACTIONS = [
  'dynamodb:ConditionCheckItem',
  'dynamodb:DeleteItem',
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:Query',
  'dynamodb:UpdateItem',
];

export const PROVIDER_KEYS_PLACEHOLDER = { OPENAI_API_KEY: '', ANTHROPIC_API_KEY: '', GEMINI_API_KEY: '' };

/** infra/security-headers.json: the response headers CloudFront and the local server send. */
export const SECURITY_HEADERS_FILE = path.resolve(__dirname, '..', '..', '..', 'security-headers.json');

export interface SecurityHeaders {
  content_security_policy: string;
  referrer_policy: string;
  frame_options: string;
  hsts_max_age_seconds: number;
}

export function loadSecurityHeaders(file: string = SECURITY_HEADERS_FILE): SecurityHeaders {
  const raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  if (typeof raw.content_security_policy !== 'string' || typeof raw.hsts_max_age_seconds !== 'number') {
    throw new Error(`${file}: needs content_security_policy (string) and hsts_max_age_seconds (number)`);
  }
  if (raw.referrer_policy !== 'no-referrer' || raw.frame_options !== 'DENY') {
    throw new Error(`${file}: the stack sets referrer_policy no-referrer and frame_options DENY; change both together`);
  }
  return raw as SecurityHeaders;
}

export interface RaGenieStackProps extends StackProps {
  readonly routes: readonly Route[];
  /** `target/lambda` of the workspace: `<dir>/<function>/bootstrap` after `cargo lambda build`. */
  readonly lambdaArtifactsDir: string;
  /** Fail instead of using a placeholder when a function was not built (set by deploy.sh). */
  readonly requireBuiltLambdas?: boolean;
  /** `frontend/dist`; when it has no index.html the site bucket is created but left empty. */
  readonly frontendDistDir?: string;
  /** Extra browser origins allowed to PUT/GET presigned URLs, e.g. a custom domain. */
  readonly extraAppOrigins?: readonly string[];
  /** Subscribed to the alarm topic when given. */
  readonly alarmEmail?: string;
  /**
   * Hybrid retrieval: the embedding model documents and questions are embedded with (set on the
   * functions that call providers, documents and chat); unset, search ranks by BM25 alone.
   */
  readonly embeddingModel?: string;
  /** The embedding size to request (default: the model's own). */
  readonly embeddingDimensions?: number;
  /**
   * Reserve each function's share of the account's concurrency (`FUNCTIONS[].reserved`), so a
   * flood on one (chat) cannot starve the others. Off by default: an account needs at least
   * 100 unreserved executions beyond the 60 reserved here, which new accounts lack.
   */
  readonly reservedConcurrency?: boolean;
  /**
   * A WAF web ACL on the distribution with a rate-based rule: at most this many requests per
   * client address in 5 minutes (10 to 2,000,000,000). CloudFront web ACLs live in us-east-1,
   * so deploy the stack there to use it.
   */
  readonly wafRateLimit?: number;
  /**
   * For a built-in model (`embeddingModel: 'local:<name>'`): the folder with its weights
   * (model.safetensors, tokenizer.json, config.json; scripts/lib/common.sh `ensure_minilm`).
   * They ship as a Lambda layer on the documents and chat functions, at /opt/models/<name>.
   */
  readonly embeddingModelDir?: string;
  /**
   * Password-reset mail through Amazon SES: the sender (a verified identity, `name@domain` or
   * `Name <name@domain>`) and the SES region. The auth function may send only as that address
   * or its domain. Unset: reset links are written to the auth function's log only.
   */
  readonly mail?: { readonly from: string; readonly sesRegion: string };
  /** The web app's origin as users reach it (CloudFront or a custom domain): reset links point here. */
  readonly publicUrl?: string;
}

/** The SES identities a sender may be authorised by: its address and its domain. */
export function sesIdentities(from: string): string[] {
  const address = (from.match(/<([^>]+)>/)?.[1] ?? from).trim();
  const domain = address.split('@')[1];
  if (!domain) throw new Error(`mail.from must be an email address, not ${from}`);
  return [address, domain];
}

/** The files of a built-in model's folder the embedder reads (the rest stays out of the layer). */
export const EMBEDDING_MODEL_FILES = [
  'model.safetensors',
  'tokenizer.json',
  'config.json',
  'sentence_bert_config.json',
  path.join('1_Pooling', 'config.json'),
];

/** Where a built-in model's layer puts its folder in the function's file system. */
export function embeddingModelPath(name: string): string {
  return `/opt/models/${name}`;
}

/** Memory (so CPU: a full vCPU from 1,769 MB) of a function that runs the built-in model. */
export const LOCAL_EMBEDDING_MEMORY_MB = 2048;

export class RaGenieStack extends Stack {
  readonly functions: Record<FunctionName, lambda.Function>;
  /** The SQS-triggered ingest function (no HTTP routes). */
  readonly ingestFunction: lambda.Function;

  constructor(scope: Construct, id: string, props: RaGenieStackProps) {
    super(scope, id, props);
    // The functions would refuse to start on these; fail at synth instead.
    if (props.embeddingDimensions !== undefined) {
      if (!props.embeddingModel) throw new Error('embeddingDimensions needs embeddingModel');
      if (!Number.isInteger(props.embeddingDimensions) || props.embeddingDimensions < 1 || props.embeddingDimensions > 8192) {
        throw new Error(`embeddingDimensions must be a whole number from 1 to 8192, not ${props.embeddingDimensions}`);
      }
    }
    const localModel = props.embeddingModel?.startsWith('local:') ? props.embeddingModel.slice('local:'.length).trim() : undefined;
    let modelLayer: lambda.LayerVersion | undefined;
    if (localModel !== undefined) {
      if (!/^[A-Za-z0-9._-]+$/.test(localModel)) throw new Error(`embeddingModel local:<name> needs a plain name, not "${localModel}"`);
      modelLayer = new lambda.LayerVersion(this, 'EmbeddingModelLayer', {
        description: `RaGenie built-in embedding model ${localModel} (at ${embeddingModelPath(localModel)})`,
        code: embeddingModelLayerCode(localModel, props.embeddingModelDir),
        compatibleArchitectures: [lambda.Architecture.ARM_64],
        compatibleRuntimes: [lambda.Runtime.PROVIDED_AL2023],
      });
    }

    // ---- data --------------------------------------------------------------------------
    const table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: 'expires_at',
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    table.addGlobalSecondaryIndex({
      indexName: 'gsi1',
      partitionKey: { name: 'gsi1pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'gsi1sk', type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });

    // The documents bucket's CORS names the CloudFront domain, and CloudFront's chat origin is
    // the chat function's URL. Were the chat function to reference the bucket resource, that
    // would be a cycle; so the bucket gets a name computed from the stack, account and region,
    // and every function (and policy) uses that name instead of a reference.
    const stackSlug = this.stackName.toLowerCase();
    if (!/^[a-z0-9][a-z0-9-]{0,23}$/.test(stackSlug)) {
      throw new Error(`stack name "${this.stackName}" must be at most 24 letters, digits or dashes (it names the documents bucket)`);
    }
    const documentsBucketName = `${stackSlug}-documents-${Aws.ACCOUNT_ID}-${Aws.REGION}`;
    const documentsBucketArn = `arn:${Aws.PARTITION}:s3:::${documentsBucketName}`;

    const jwtSecret = new secretsmanager.Secret(this, 'JwtSecret', {
      description: 'RaGenie: key that signs access tokens (generated)',
      generateSecretString: { passwordLength: 64, excludePunctuation: true, includeSpace: false },
    });
    const providerKeysSecret = new secretsmanager.Secret(this, 'ProviderKeysSecret', {
      description: 'RaGenie: LLM provider API keys as JSON; fill with `aws secretsmanager put-secret-value`',
      secretObjectValue: Object.fromEntries(
        Object.entries(PROVIDER_KEYS_PLACEHOLDER).map(([k, v]) => [k, SecretValue.unsafePlainText(v)]),
      ),
      removalPolicy: RemovalPolicy.RETAIN,
    });

    // The chat Function URL is public (AuthType NONE: see below); CloudFront proves a request
    // came through it with this generated value in an origin header, and the function refuses
    // every request without it (crates/common/src/origin.rs).
    const originSecret = new secretsmanager.Secret(this, 'OriginVerifySecret', {
      description: 'RaGenie: value CloudFront sends to the chat Function URL (generated; only CloudFront may call the URL)',
      generateSecretString: { passwordLength: 48, excludePunctuation: true, includeSpace: false },
    });

    // ---- functions ---------------------------------------------------------------------
    const artefact = lambdaArtefacts(this, props.lambdaArtifactsDir, props.requireBuiltLambdas ?? false);
    const fns = {} as Record<FunctionName, lambda.Function>;
    // What every function (the ingest one included) needs to find the store and report.
    const storeEnvironment = {
      RAGENIE_STORE: 'aws',
      RAGENIE_TABLE: table.tableName,
      RAGENIE_BUCKET: documentsBucketName,
      RAGENIE_JWT_SECRET_ID: jwtSecret.secretArn,
      RAGENIE_PROVIDER_KEYS_SECRET_ID: providerKeysSecret.secretArn,
      RUST_LOG: 'info',
      RAGENIE_METRICS_NAMESPACE: METRICS_NAMESPACE,
    };
    for (const spec of FUNCTIONS) {
      const { logGroup, role } = functionLogsAndRole(this, spec, table);
      role.addToPolicy(new iam.PolicyStatement({
        actions: ['secretsmanager:GetSecretValue'],
        resources: [jwtSecret.secretArn],
      }));
      // The one Scan: an admin's one-off backfill of the user index (POST /admin/users-index)
      // over accounts made before it existed. The base table only, never the index.
      if (spec.name === 'ragenie-auth') {
        role.addToPolicy(new iam.PolicyStatement({
          actions: ['dynamodb:Scan'],
          resources: [table.tableArn],
        }));
      }
      if (spec.providerKeys) {
        role.addToPolicy(new iam.PolicyStatement({
          actions: ['secretsmanager:GetSecretValue'],
          resources: [providerKeysSecret.secretArn],
        }));
      }
      if (spec.name === STREAMING_FUNCTION) {
        role.addToPolicy(new iam.PolicyStatement({
          actions: ['secretsmanager:GetSecretValue'],
          resources: [originSecret.secretArn],
        }));
      }
      if (spec.name === 'ragenie-auth' && props.mail) {
        role.addToPolicy(new iam.PolicyStatement({
          actions: ['ses:SendEmail'],
          resources: sesIdentities(props.mail.from).map(
            (identity) => `arn:${Aws.PARTITION}:ses:${props.mail!.sesRegion}:${Aws.ACCOUNT_ID}:identity/${identity}`,
          ),
        }));
      }
      if (spec.bucket !== 'none') {
        role.addToPolicy(new iam.PolicyStatement({
          actions: spec.bucket === 'readwrite'
            ? ['s3:GetObject', 's3:PutObject', 's3:DeleteObject']
            : spec.bucket === 'delete' ? ['s3:DeleteObject'] : ['s3:GetObject'],
          resources: [`${documentsBucketArn}/*`],
        }));
        role.addToPolicy(new iam.PolicyStatement({
          actions: ['s3:ListBucket'],
          resources: [documentsBucketArn],
        }));
      }

      fns[spec.name] = new lambda.Function(this, `${spec.id}Function`, {
        description: `RaGenie ${spec.name}`,
        runtime: lambda.Runtime.PROVIDED_AL2023,
        architecture: lambda.Architecture.ARM_64,
        handler: 'bootstrap',
        code: artefact(spec.name),
        memorySize: spec.providerKeys && modelLayer ? Math.max(spec.memoryMb, LOCAL_EMBEDDING_MEMORY_MB) : spec.memoryMb,
        layers: spec.providerKeys && modelLayer ? [modelLayer] : undefined,
        timeout: spec.timeout,
        reservedConcurrentExecutions: props.reservedConcurrency ? spec.reserved : undefined,
        role,
        logGroup,
        environment: {
          ...storeEnvironment,
          ...(spec.name === STREAMING_FUNCTION ? { [ORIGIN_SECRET_ENV]: originSecret.secretArn } : {}),
          ...(spec.providerKeys && props.embeddingModel ? { RAGENIE_EMBEDDING_MODEL: props.embeddingModel } : {}),
          ...(spec.name === 'ragenie-auth' && props.mail
            ? { RAGENIE_MAIL_FROM: props.mail.from, RAGENIE_SES_REGION: props.mail.sesRegion }
            : {}),
          ...(spec.name === 'ragenie-auth' && props.publicUrl ? { RAGENIE_PUBLIC_URL: props.publicUrl } : {}),
          ...(spec.providerKeys && props.embeddingModel && props.embeddingDimensions
            ? { RAGENIE_EMBEDDING_DIMENSIONS: String(props.embeddingDimensions) }
            : {}),
          ...(spec.providerKeys && localModel ? { RAGENIE_EMBEDDING_MODEL_DIR: embeddingModelPath(localModel) } : {}),
        },
      });
    }
    this.functions = fns;

    // ---- asynchronous ingestion: queue, dead-letter queue, ingest function ----------------
    const ingestDeadLetters = new sqs.Queue(this, 'IngestDeadLetterQueue', {
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    const ingestQueue = new sqs.Queue(this, 'IngestQueue', {
      // A message is invisible while an invocation works on it: the function's whole timeout.
      visibilityTimeout: INGEST.timeout.plus(Duration.minutes(1)),
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: ingestDeadLetters, maxReceiveCount: INGEST.maxAttempts },
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    const { logGroup: ingestLogs, role: ingestRole } = functionLogsAndRole(this, INGEST, table);
    // The JWT key: every function's state loads it at start; the provider keys: embeddings.
    ingestRole.addToPolicy(new iam.PolicyStatement({
      actions: ['secretsmanager:GetSecretValue'],
      resources: [jwtSecret.secretArn, providerKeysSecret.secretArn],
    }));
    // Reads the stored bytes, writes the extracted text and the index segment; deletes nothing.
    ingestRole.addToPolicy(new iam.PolicyStatement({
      actions: ['s3:GetObject', 's3:PutObject'],
      resources: [`${documentsBucketArn}/*`],
    }));
    // Without ListBucket a missing object reads as 403 instead of 404.
    ingestRole.addToPolicy(new iam.PolicyStatement({
      actions: ['s3:ListBucket'],
      resources: [documentsBucketArn],
    }));
    const ingestFunction = new lambda.Function(this, `${INGEST.id}Function`, {
      description: `RaGenie ${INGEST.name}`,
      runtime: lambda.Runtime.PROVIDED_AL2023,
      architecture: lambda.Architecture.ARM_64,
      handler: 'bootstrap',
      code: artefact(INGEST.name),
      memorySize: INGEST.memoryMb,
      layers: modelLayer ? [modelLayer] : undefined,
      timeout: INGEST.timeout,
      role: ingestRole,
      logGroup: ingestLogs,
      environment: {
        ...storeEnvironment,
        RAGENIE_INGEST_MAX_ATTEMPTS: String(INGEST.maxAttempts),
        ...(props.embeddingModel ? { RAGENIE_EMBEDDING_MODEL: props.embeddingModel } : {}),
        ...(props.embeddingModel && props.embeddingDimensions
          ? { RAGENIE_EMBEDDING_DIMENSIONS: String(props.embeddingDimensions) }
          : {}),
        ...(localModel ? { RAGENIE_EMBEDDING_MODEL_DIR: embeddingModelPath(localModel) } : {}),
      },
    });
    // One message per invocation (a 100 MB file fills one); failures go back one by one.
    ingestFunction.addEventSource(new SqsEventSource(ingestQueue, { batchSize: 1, reportBatchItemFailures: true }));
    this.ingestFunction = ingestFunction;
    // The documents function only sends jobs.
    fns['ragenie-documents'].addEnvironment('RAGENIE_INGEST_QUEUE_URL', ingestQueue.queueUrl);
    fns['ragenie-documents'].addToRolePolicy(new iam.PolicyStatement({
      actions: ['sqs:SendMessage'],
      resources: [ingestQueue.queueArn],
    }));

    // The chat router answers with Server-Sent Events, which API Gateway would buffer, so it
    // is also served by a streaming Function URL. Auth is NONE at the URL: the router checks
    // the JWT or API key on every request itself, and CloudFront's origin access control for
    // Lambda (AWS_IAM) would overwrite the client's Authorization header and require clients
    // to send x-amz-content-sha256 of every POST body, which OpenAI SDKs do not. Instead only
    // CloudFront knows the origin secret it adds (ORIGIN_HEADER): direct calls get a 403.
    const chatUrl = fns[STREAMING_FUNCTION].addFunctionUrl({
      authType: lambda.FunctionUrlAuthType.NONE,
      invokeMode: lambda.InvokeMode.RESPONSE_STREAM,
    });

    // ---- HTTP API ----------------------------------------------------------------------
    const api = new apigwv2.HttpApi(this, 'HttpApi', {
      apiName: `${this.stackName}-api`,
      description: 'RaGenie JSON API (the non-streaming routes of infra/routes.json)',
      createDefaultStage: false,
    });
    const apiLogs = new logs.LogGroup(this, 'HttpApiAccessLogs', {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const stage = new apigwv2.HttpStage(this, 'HttpApiStage', {
      httpApi: api,
      autoDeploy: true,
      throttle: { rateLimit: 100, burstLimit: 200 },
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(apiLogs),
        format: apigw.AccessLogFormat.custom(JSON.stringify({
          requestId: '$context.requestId',
          ip: '$context.identity.sourceIp',
          time: '$context.requestTime',
          method: '$context.httpMethod',
          route: '$context.routeKey',
          status: '$context.status',
          latencyMs: '$context.responseLatency',
          integrationError: '$context.integrationErrorMessage',
        })),
      },
    });
    // The streaming function's routes are not on the HTTP API: its runtime answers in Lambda's
    // streaming format (a JSON prelude, eight NUL bytes, then the body), which only a Function
    // URL decodes; through an API Gateway integration a client would get those raw bytes.
    const integrations = new Map<FunctionName, HttpLambdaIntegration>();
    for (const route of apiRoutes(props.routes)) {
      const spec = FUNCTIONS.find((f) => f.name === route.function)!;
      if (!integrations.has(spec.name)) {
        integrations.set(spec.name, new HttpLambdaIntegration(`${spec.id}Integration`, fns[spec.name]));
      }
      api.addRoutes({
        path: route.path,
        methods: [httpMethod(route.method)],
        integration: integrations.get(spec.name)!,
      });
    }

    // ---- single-page app behind CloudFront ---------------------------------------------
    const siteBucket = new s3.Bucket(this, 'FrontendBucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    });
    const spaRewrite = new cloudfront.Function(this, 'SpaRewrite', {
      comment: 'RaGenie SPA fallback: extension-less paths serve /index.html',
      runtime: cloudfront.FunctionRuntime.JS_2_0,
      code: cloudfront.FunctionCode.fromFile({ filePath: path.join(__dirname, '..', '..', 'lib', 'cloudfront', 'spa-rewrite.js') }),
    });
    const apiOrigin = new origins.HttpOrigin(Fn.select(2, Fn.split('/', api.apiEndpoint)), {
      protocolPolicy: cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
    });
    const streamOrigin = new origins.FunctionUrlOrigin(chatUrl, {
      readTimeout: Duration.seconds(60),
      // A dynamic reference: CloudFormation reads the secret at deploy time; it is in no
      // template or source file. CloudFront replaces a viewer's header of the same name.
      customHeaders: { [ORIGIN_HEADER]: originSecret.secretValue.unsafeUnwrap() },
    });
    // The same security headers on every answer, app and API alike (values shared with the
    // local server through infra/security-headers.json): the CSP keeps a rendered answer from
    // loading anything from another origin; HSTS, no framing, no sniffing, no referrer.
    const headers = loadSecurityHeaders();
    const securityHeaders = new cloudfront.ResponseHeadersPolicy(this, 'SecurityHeaders', {
      comment: 'RaGenie: CSP, HSTS, frame-ancestors, nosniff, referrer policy',
      securityHeadersBehavior: {
        contentSecurityPolicy: { contentSecurityPolicy: headers.content_security_policy, override: true },
        strictTransportSecurity: {
          accessControlMaxAge: Duration.seconds(headers.hsts_max_age_seconds),
          includeSubdomains: true,
          override: true,
        },
        frameOptions: { frameOption: cloudfront.HeadersFrameOption.DENY, override: true },
        contentTypeOptions: { override: true },
        referrerPolicy: { referrerPolicy: cloudfront.HeadersReferrerPolicy.NO_REFERRER, override: true },
      },
    });
    const dynamic = (origin: cloudfront.IOrigin): cloudfront.BehaviorOptions => ({
      origin,
      responseHeadersPolicy: securityHeaders,
      viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
      allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
      cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
      // Everything the viewer sent (Authorization, query string, cookies) except Host, which
      // API Gateway and Lambda URLs need to be their own.
      originRequestPolicy: cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
      compress: false,
    });
    const additionalBehaviors: Record<string, cloudfront.BehaviorOptions> = {};
    for (const b of cloudFrontBehaviours(props.routes)) {
      additionalBehaviors[b.pattern] = dynamic(b.origin === 'stream' ? streamOrigin : apiOrigin);
    }
    let webAclId: string | undefined;
    if (props.wafRateLimit !== undefined) {
      const limit = props.wafRateLimit;
      if (!Number.isInteger(limit) || limit < 10 || limit > 2_000_000_000) {
        throw new Error(`wafRateLimit must be a whole number from 10 to 2000000000, not ${limit}`);
      }
      const acl = new wafv2.CfnWebACL(this, 'WebAcl', {
        scope: 'CLOUDFRONT',
        defaultAction: { allow: {} },
        visibilityConfig: { cloudWatchMetricsEnabled: true, metricName: `${this.stackName}-waf`, sampledRequestsEnabled: true },
        rules: [{
          name: 'rate-per-address',
          priority: 0,
          action: { block: {} },
          statement: { rateBasedStatement: { limit, aggregateKeyType: 'IP' } },
          visibilityConfig: { cloudWatchMetricsEnabled: true, metricName: `${this.stackName}-rate`, sampledRequestsEnabled: true },
        }],
      });
      webAclId = acl.attrArn;
    }
    const distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: `${this.stackName}: RaGenie app, API and streaming chat`,
      webAclId,
      defaultRootObject: 'index.html',
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
      priceClass: cloudfront.PriceClass.PRICE_CLASS_100,
      defaultBehavior: {
        origin: origins.S3BucketOrigin.withOriginAccessControl(siteBucket),
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        cachePolicy: cloudfront.CachePolicy.CACHING_OPTIMIZED,
        functionAssociations: [{ function: spaRewrite, eventType: cloudfront.FunctionEventType.VIEWER_REQUEST }],
        responseHeadersPolicy: securityHeaders,
        compress: true,
      },
      additionalBehaviors,
    });

    const frontendDist = props.frontendDistDir;
    if (frontendDist && fs.existsSync(path.join(frontendDist, 'index.html'))) {
      new s3deploy.BucketDeployment(this, 'FrontendDeployment', {
        sources: [s3deploy.Source.asset(frontendDist)],
        destinationBucket: siteBucket,
        distribution,
        distributionPaths: ['/*'],
        logGroup: new logs.LogGroup(this, 'FrontendDeploymentLogs', {
          retention: logs.RetentionDays.ONE_WEEK,
          removalPolicy: RemovalPolicy.DESTROY,
        }),
      });
    } else {
      Annotations.of(this).addInfo('frontend/dist has no index.html: the site bucket is left empty (run scripts/build-lambdas.sh)');
    }

    // ---- documents bucket (after the distribution: its CORS names the app's origin) -----
    new s3.Bucket(this, 'DocumentsBucket', {
      bucketName: documentsBucketName,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: true,
      removalPolicy: RemovalPolicy.RETAIN,
      cors: [{
        // Presigned uploads and downloads straight from the browser.
        allowedMethods: [s3.HttpMethods.PUT, s3.HttpMethods.GET, s3.HttpMethods.HEAD],
        allowedOrigins: [`https://${distribution.distributionDomainName}`, ...(props.extraAppOrigins ?? [])],
        allowedHeaders: ['*'],
        exposedHeaders: ['ETag'],
        maxAge: 3600,
      }],
      lifecycleRules: [
        { id: 'expire-old-versions', noncurrentVersionExpiration: Duration.days(30), abortIncompleteMultipartUploadAfter: Duration.days(1) },
        // Presigned uploads wait under one prefix until their commit moves them into the
        // user's documents; those never committed (and the bytes a commit left behind as a
        // noncurrent version) go after a day.
        { id: 'expire-uncommitted-uploads', prefix: UPLOADS_PREFIX, expiration: Duration.days(1), noncurrentVersionExpiration: Duration.days(1) },
        { id: 'remove-expired-delete-markers', expiredObjectDeleteMarker: true },
      ],
    });

    // ---- operations --------------------------------------------------------------------
    const alarmTopic = new sns.Topic(this, 'AlarmTopic', { displayName: 'RaGenie alarms' });
    if (props.alarmEmail) alarmTopic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
    const alarmAction = new cwActions.SnsAction(alarmTopic);
    const alarm = (id: string, description: string, metric: cloudwatch.IMetric, threshold: number, periods = 1) => {
      const a = new cloudwatch.Alarm(this, id, {
        alarmDescription: description,
        metric,
        threshold,
        evaluationPeriods: periods,
        datapointsToAlarm: periods,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      a.addAlarmAction(alarmAction);
      a.addOkAction(alarmAction);
      return a;
    };
    const fiveMinutes = Duration.minutes(5);
    for (const spec of FUNCTIONS) {
      const fn = fns[spec.name];
      alarm(`${spec.id}ErrorsAlarm`, `${spec.name}: invocations failed (unhandled errors or timeouts)`,
        fn.metricErrors({ period: fiveMinutes, statistic: 'Sum' }), 1);
      alarm(`${spec.id}ThrottlesAlarm`, `${spec.name}: invocations throttled`,
        fn.metricThrottles({ period: fiveMinutes, statistic: 'Sum' }), 1);
      alarm(`${spec.id}DurationP99Alarm`, `${spec.name}: p99 duration above 80% of the timeout`,
        fn.metricDuration({ period: fiveMinutes, statistic: 'p99' }), spec.timeout.toMilliseconds() * 0.8, 3);
    }
    alarm(`${INGEST.id}ErrorsAlarm`, `${INGEST.name}: invocations failed (unhandled errors or timeouts)`,
      ingestFunction.metricErrors({ period: fiveMinutes, statistic: 'Sum' }), 1);
    alarm(`${INGEST.id}DurationP99Alarm`, `${INGEST.name}: p99 duration above 80% of the timeout`,
      ingestFunction.metricDuration({ period: fiveMinutes, statistic: 'p99' }), INGEST.timeout.toMilliseconds() * 0.8, 3);
    // A job that failed every attempt: its document is `failed` and waits for the user's retry.
    alarm('IngestDeadLettersAlarm', 'ingest jobs failed every attempt (dead-letter queue not empty)',
      ingestDeadLetters.metricApproximateNumberOfMessagesVisible({ period: fiveMinutes, statistic: 'Maximum' }), 1);
    alarm('HttpApi5xxAlarm', 'HTTP API answered 5xx', api.metricServerError({ period: fiveMinutes, statistic: 'Sum' }), 5);
    const chatUrl5xx = new cloudwatch.Metric({
      namespace: 'AWS/Lambda',
      metricName: 'Url5xxCount',
      dimensionsMap: { FunctionName: fns[STREAMING_FUNCTION].functionName },
      period: fiveMinutes,
      statistic: 'Sum',
    });
    alarm('ChatUrl5xxAlarm', 'chat Function URL answered 5xx', chatUrl5xx, 5);

    // Application metrics: the functions write them as EMF lines (crates/common/src/metrics).
    // Each is also published without dimensions, the totals these alarms watch.
    const app = (metricName: string, statistic: string, label?: string) => new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE, metricName, period: fiveMinutes, statistic, label,
    });
    const providerErrorRate = new cloudwatch.MathExpression({
      expression: '100 * errors / MAX([requests, 1])',
      usingMetrics: {
        errors: app('ragenie_provider_errors_total', 'Sum'),
        requests: app('ragenie_provider_requests_total', 'Sum'),
      },
      period: fiveMinutes,
      label: 'provider error rate (%)',
    });
    alarm('ProviderErrorRateAlarm', 'Model providers: over 25% of requests failed (2 of 5-minute periods)',
      providerErrorRate, 25, 2);
    alarm('TtftP95Alarm', 'Answers: time to first token p95 above 10 s (3 periods)',
      app('ragenie_answer_ttft_seconds', 'p95'), 10, 3);
    alarm('IngestionFailuresAlarm', 'Documents: 5 or more ingestion failures in 5 minutes',
      app('ragenie_ingestion_failures_total', 'Sum'), 5);
    alarm('BudgetRefusalsAlarm', 'Chat: 20 or more budget refusals in 5 minutes (a spike)',
      app('ragenie_budget_refusals_total', 'Sum'), 20);
    alarm('AuditWriteFailuresAlarm', 'Security events could not be written to the audit trail',
      app('ragenie_audit_write_failures_total', 'Sum'), 1);
    /** One line per value of the dimensions (a dashboard search; alarms cannot use these). */
    const byDims = (metricName: string, dims: string[], statistic: string, label: string) => new cloudwatch.MathExpression({
      expression: `SEARCH('{${METRICS_NAMESPACE},${dims.join(',')}} MetricName="${metricName}"', '${statistic}', 300)`,
      usingMetrics: {},
      period: fiveMinutes,
      label,
    });

    const fnMetric = (m: (fn: lambda.Function) => cloudwatch.IMetric) =>
      FUNCTIONS.map((s) => m(fns[s.name]));
    new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: `${this.stackName}-operations`,
      widgets: [
        [
          new cloudwatch.GraphWidget({ title: 'HTTP API requests and errors', width: 12, left: [
            api.metricCount({ period: fiveMinutes }),
            api.metricClientError({ period: fiveMinutes }),
            api.metricServerError({ period: fiveMinutes }),
          ] }),
          new cloudwatch.GraphWidget({ title: 'HTTP API latency p50 / p99', width: 12, left: [
            api.metricLatency({ period: fiveMinutes, statistic: 'p50' }),
            api.metricLatency({ period: fiveMinutes, statistic: 'p99' }),
          ] }),
        ],
        [
          new cloudwatch.GraphWidget({ title: 'Invocations', width: 8,
            left: fnMetric((f) => f.metricInvocations({ period: fiveMinutes, label: f.node.id })) }),
          new cloudwatch.GraphWidget({ title: 'Errors', width: 8,
            left: fnMetric((f) => f.metricErrors({ period: fiveMinutes, label: f.node.id })) }),
          new cloudwatch.GraphWidget({ title: 'Throttles', width: 8,
            left: fnMetric((f) => f.metricThrottles({ period: fiveMinutes, label: f.node.id })) }),
        ],
        [
          new cloudwatch.GraphWidget({ title: 'Duration p99 (ms)', width: 12,
            left: fnMetric((f) => f.metricDuration({ period: fiveMinutes, statistic: 'p99', label: f.node.id })) }),
          new cloudwatch.GraphWidget({ title: 'Chat Function URL', width: 12, left: [
            chatUrl5xx,
            new cloudwatch.Metric({ namespace: 'AWS/Lambda', metricName: 'UrlRequestCount',
              dimensionsMap: { FunctionName: fns[STREAMING_FUNCTION].functionName }, period: fiveMinutes, statistic: 'Sum' }),
          ] }),
        ],
        [
          new cloudwatch.GraphWidget({ title: 'Provider error rate (%) and errors by kind', width: 12,
            left: [providerErrorRate],
            right: [byDims('ragenie_provider_errors_total', ['provider', 'kind'], 'Sum', 'errors')] }),
          new cloudwatch.GraphWidget({ title: 'Time to first token and answer time (s)', width: 12, left: [
            app('ragenie_answer_ttft_seconds', 'p50', 'TTFT p50'),
            app('ragenie_answer_ttft_seconds', 'p95', 'TTFT p95'),
            app('ragenie_answer_duration_seconds', 'p95', 'answer p95'),
          ], right: [byDims('ragenie_answer_ttft_seconds', ['provider', 'model'], 'p95', 'TTFT p95')] }),
        ],
        [
          new cloudwatch.GraphWidget({ title: 'Answers by outcome', width: 8,
            left: [byDims('ragenie_answers_total', ['provider', 'model', 'outcome'], 'Sum', 'answers')] }),
          new cloudwatch.GraphWidget({ title: 'Tokens by model', width: 8,
            left: [byDims('ragenie_tokens_total', ['provider', 'model', 'kind'], 'Sum', 'tokens')] }),
          new cloudwatch.GraphWidget({ title: 'Cost by model (millionths of USD)', width: 8,
            left: [byDims('ragenie_cost_microdollars_total', ['provider', 'model'], 'Sum', 'cost')] }),
        ],
        [
          new cloudwatch.GraphWidget({ title: 'Ingestion: p95 time (s) and failures by file type', width: 8,
            left: [app('ragenie_ingestion_duration_seconds', 'p95', 'ingestion p95')],
            right: [byDims('ragenie_ingestion_failures_total', ['file_type'], 'Sum', 'failures')] }),
          new cloudwatch.GraphWidget({ title: 'Search latency (s)', width: 8, left: [
            app('ragenie_search_duration_seconds', 'p50', 'search p50'),
            app('ragenie_search_duration_seconds', 'p95', 'search p95'),
          ] }),
          new cloudwatch.GraphWidget({ title: 'Requests by route and status', width: 8,
            left: [byDims('ragenie_http_requests_total', ['function', 'route', 'method', 'status'], 'Sum', 'requests')] }),
        ],
        [
          new cloudwatch.GraphWidget({ title: 'Sign-ins by outcome', width: 8,
            left: [byDims('ragenie_sign_ins_total', ['outcome'], 'Sum', 'sign-ins')] }),
          new cloudwatch.GraphWidget({ title: 'Throttled requests and budget refusals', width: 8, left: [
            app('ragenie_throttled_requests_total', 'Sum', 'throttled'),
            app('ragenie_budget_refusals_total', 'Sum', 'budget refusals'),
          ] }),
          new cloudwatch.GraphWidget({ title: 'Audit write failures', width: 8,
            left: [app('ragenie_audit_write_failures_total', 'Sum', 'audit write failures')] }),
        ],
        [
          new cloudwatch.GraphWidget({ title: 'DynamoDB consumed capacity', width: 12, left: [
            table.metricConsumedReadCapacityUnits({ period: fiveMinutes }),
            table.metricConsumedWriteCapacityUnits({ period: fiveMinutes }),
          ] }),
          new cloudwatch.GraphWidget({ title: 'DynamoDB throttled requests', width: 12, left: [
            table.metric('ThrottledRequests', { period: fiveMinutes, statistic: 'Sum' }),
          ] }),
        ],
      ],
    });

    // ---- outputs -----------------------------------------------------------------------
    new CfnOutput(this, 'AppUrl', { value: `https://${distribution.distributionDomainName}` });
    new CfnOutput(this, 'DistributionId', { value: distribution.distributionId });
    new CfnOutput(this, 'ApiEndpoint', { value: stage.url });
    new CfnOutput(this, 'ChatFunctionUrl', { value: chatUrl.url });
    new CfnOutput(this, 'TableName', { value: table.tableName });
    new CfnOutput(this, 'DocumentsBucketName', { value: documentsBucketName });
    new CfnOutput(this, 'FrontendBucketName', { value: siteBucket.bucketName });
    new CfnOutput(this, 'JwtSecretArn', { value: jwtSecret.secretArn });
    new CfnOutput(this, 'ProviderKeysSecretArn', { value: providerKeysSecret.secretArn });
    new CfnOutput(this, 'AlarmTopicArn', { value: alarmTopic.topicArn });
  }
}

/**
 * A function's log group (a month of retention) and its own role, which may write those logs
 * and use the table and its index; the caller adds what else the function needs. Our own role:
 * no AWSLambdaBasicExecutionRole, whose logs actions are on `*`.
 */
function functionLogsAndRole(
  scope: Construct,
  fn: { id: string; name: string },
  table: dynamodb.ITable,
): { logGroup: logs.LogGroup; role: iam.Role } {
  const logGroup = new logs.LogGroup(scope, `${fn.id}Logs`, {
    retention: logs.RetentionDays.ONE_MONTH,
    removalPolicy: RemovalPolicy.DESTROY,
  });
  const role = new iam.Role(scope, `${fn.id}Role`, {
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    description: `RaGenie ${fn.name}: least privilege`,
  });
  role.addToPolicy(new iam.PolicyStatement({
    actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
    resources: [logGroup.logGroupArn],
  }));
  role.addToPolicy(new iam.PolicyStatement({
    actions: TABLE_ACTIONS,
    resources: [table.tableArn, `${table.tableArn}/index/gsi1`],
  }));
  return { logGroup, role };
}

function httpMethod(m: HttpMethodName): apigwv2.HttpMethod {
  return apigwv2.HttpMethod[m];
}

/**
 * Code for each function: `target/lambda/<name>` when `cargo lambda build` produced its
 * `bootstrap`, else (tests, offline synth) one placeholder directory whose bootstrap only
 * exits with an error, so a synthesized template never needs a 20-minute release build.
 */
/**
 * The layer of a built-in model: its folder's files under `models/<name>/` (a layer unpacks at
 * /opt). Staged as symbolic links in a temporary folder and followed when CDK packs the asset,
 * so the 90 MB of weights are not copied at every synth.
 */
function embeddingModelLayerCode(name: string, dir: string | undefined): lambda.Code {
  if (!dir || !fs.existsSync(path.join(dir, 'model.safetensors'))) {
    throw new Error(`embeddingModel local:${name} needs embeddingModelDir, a folder with model.safetensors (scripts/lib/common.sh: ensure_minilm), not ${dir ?? 'none'}`);
  }
  const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'ragenie-embedding-layer-'));
  for (const file of EMBEDDING_MODEL_FILES) {
    const source = path.resolve(dir, file);
    if (!fs.existsSync(source)) {
      if (file === 'model.safetensors' || file === 'tokenizer.json' || file === 'config.json') {
        throw new Error(`embeddingModelDir ${dir} has no ${file}`);
      }
      continue;
    }
    const target = path.join(stage, 'models', name, file);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.symlinkSync(source, target);
  }
  return lambda.Code.fromAsset(stage, { followSymlinks: SymlinkFollowMode.ALWAYS });
}

function lambdaArtefacts(scope: Construct, dir: string, requireBuilt: boolean): (name: string) => lambda.Code {
  let placeholder: string | undefined;
  return (name) => {
    const built = path.join(dir, name);
    if (fs.existsSync(path.join(built, 'bootstrap'))) return lambda.Code.fromAsset(built);
    if (requireBuilt) throw new Error(`${built}/bootstrap is missing: run scripts/build-lambdas.sh first`);
    if (!placeholder) {
      placeholder = path.join(os.tmpdir(), 'ragenie-lambda-placeholder');
      fs.mkdirSync(placeholder, { recursive: true });
      fs.writeFileSync(path.join(placeholder, 'bootstrap'),
        '#!/bin/sh\necho "placeholder: build the functions with scripts/build-lambdas.sh" >&2\nexit 1\n', { mode: 0o755 });
      Annotations.of(scope).addWarning(`no cargo-lambda build in ${dir}: functions use a placeholder bootstrap`);
    }
    return lambda.Code.fromAsset(placeholder);
  };
}
