'use strict';

// Serverless Framework v3 variable source for ocrpipe's wiring, as seen by ONE service.
//
// A service's serverless.yml reads its own declaration and the shared naming rules through this
// file, and nothing else:
//
//   custom:
//     topo: ${file(../../shared/topology.js)}
//   resources:
//     - ${file(../../shared/topology.js):subscriptions.ocr}
//
// * shared/ocrpipe/names.json: the naming rules (bus, queue, table... names from the stage,
//   service and consumer). Shared by everyone.
// * ./ocrpipe-service.json of the calling service (resolved by Serverless relative to the
//   service directory, like any ${file(...)}): the events the service consumes (rule
//   pattern, handler, queue settings), its HTTP routes and the storage it owns. No other
//   service's declaration is read, so adding a consumer changes no producer's template.
//   The bus stack (shared/bus) has no declaration and gets the names only.
//
// Storage names of other services (ocr reads ingest's uploads/, wordcount ocr's text/...) are
// naming rules too: `services.<name>` is derived from names.json for every service folder
// name under services/ (and the caller's own service), without reading their declarations.
//
// Serverless v3 `file` source: a .js file that exports a function is called with
// ({ options, resolveConfigurationProperty, resolveVariable }) and the address after ":" is
// looked up (dot separated) in what it returns.
//
// Placeholders: {stage} is filled here (from --stage / provider.stage). {account} and {region}
// are only known to CloudFormation, so any string containing them becomes
// { "Fn::Sub": "...${AWS::AccountId}...${AWS::Region}..." }. CloudFormation resolves intrinsic
// functions inside Json properties such as AWS::Events::Rule EventPattern, so rule patterns can
// carry them too.

const fs = require('fs');
const path = require('path');

const NAMES_PATH = path.join(__dirname, 'ocrpipe', 'names.json');
const SERVICES_DIR = path.join(__dirname, '..', 'services');
// Resolved by Serverless relative to the calling service's directory; the bus stack has no
// declaration, and the fallback '' stands for "none".
const DECLARATION = "file(./ocrpipe-service.json), ''";

// Infrastructure-only names: nothing in the Python code or the local runtime needs them, so
// they live here rather than in names.json.
const INFRA_NAMES = {
  alarm_topic: 'ocrpipe-{stage}-alarms',
  textract_topic: 'ocrpipe-{stage}-textract-completed',
  textract_queue: 'ocrpipe-{stage}-textract-completed',
  textract_dlq: 'ocrpipe-{stage}-textract-completed-dlq',
  schema_registry: 'ocrpipe-{stage}',
  // IAM role paths: the notify key policy grants kms:Encrypt / kms:Decrypt by role path.
  role_path: '/ocrpipe/{stage}/{service}/',
};

const OBJECT_PREFIXES = ['uploads', 'text', 'results'];

// checkov suppressions, justified, for resources generated here.
const SQS_SSE_SKIP = {
  id: 'CKV_AWS_27',
  comment:
    'Encrypted with SQS-managed SSE (SqsManagedSseEnabled). A KMS key would need a CMK whose policy admits EventBridge/SNS (the AWS managed aws/sqs key cannot be used by them).',
};
const DYNAMODB_CMK_SKIP = {
  id: 'CKV_AWS_119',
  comment:
    'Encrypted at rest with the AWS owned key; items hold ids, hashes and recipient KMS ciphertext only, never plaintext personal data.',
};

const STAGE_RE = /^[a-z][a-z0-9]{0,9}$/;
// Same rules as ocrpipe.topology.ServiceName / ConsumerName (the pydantic model validates
// every declaration in the contract tests; this only guards what names are built from).
const SERVICE_RE = /^[a-z][a-z0-9]{0,15}$/;
const CONSUMER_RE = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

function loadNames() {
  const raw = JSON.parse(fs.readFileSync(NAMES_PATH, 'utf8'));
  return Object.fromEntries(Object.entries(raw).filter(([k]) => !k.startsWith('_')));
}

// Service folder names: each gets its storage names (a naming rule, no declaration read).
function serviceFolderNames() {
  if (!fs.existsSync(SERVICES_DIR)) return [];
  return fs
    .readdirSync(SERVICES_DIR, { withFileTypes: true })
    .filter((d) => d.isDirectory() && SERVICE_RE.test(d.name))
    .map((d) => d.name)
    .sort();
}

function checkDeclaration(declaration) {
  if (!declaration) return { service: null, consumers: {}, http: {}, storage: null };
  const where = 'ocrpipe-service.json';
  if (typeof declaration.service !== 'string' || !SERVICE_RE.test(declaration.service)) {
    throw new Error(`${where}: "service" must match ${SERVICE_RE}`);
  }
  for (const name of Object.keys(declaration.consumers || {})) {
    if (!CONSUMER_RE.test(name)) throw new Error(`${where}: consumer ${name} must match ${CONSUMER_RE}`);
  }
  return {
    service: declaration.service,
    consumers: declaration.consumers || {},
    http: declaration.http || {},
    storage: { bucket: false, table: false, idempotency_table: false, ...(declaration.storage || {}) },
  };
}

function fill(template, values) {
  let out = template;
  for (const [key, value] of Object.entries(values)) {
    out = out.split(`{${key}}`).join(value);
  }
  return out;
}

// Fill {stage}/{service}/{consumer}; turn {account}/{region} into a CloudFormation Fn::Sub.
function cfnString(template, values) {
  const filled = fill(template, values);
  if (!filled.includes('{account}') && !filled.includes('{region}')) return filled;
  const sub = filled
    .split('${')
    .join('${!') // escape any literal "${" for Fn::Sub
    .split('{account}')
    .join('${AWS::AccountId}')
    .split('{region}')
    .join('${AWS::Region}');
  return { 'Fn::Sub': sub };
}

function cfnDeep(value, values) {
  if (typeof value === 'string') return cfnString(value, values);
  if (Array.isArray(value)) return value.map((v) => cfnDeep(v, values));
  if (value && typeof value === 'object') {
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = cfnDeep(v, values);
    return out;
  }
  return value;
}

function arn(template) {
  return { 'Fn::Sub': template };
}

// "pkg.handlers.on_event" -> "pkg/handlers.on_event"
function lambdaHandler(dotted) {
  const parts = dotted.split('.');
  const fn = parts.pop();
  return `${parts.join('/')}.${fn}`;
}

// `declaration`: the calling service's parsed ocrpipe-service.json, or null (the bus stack).
function build(stage, declaration = null) {
  if (!STAGE_RE.test(stage)) {
    throw new Error(`stage ${JSON.stringify(stage)} must match ${STAGE_RE} (see OCRPIPE_STAGE)`);
  }
  const own = checkDeclaration(declaration);
  const n = loadNames();
  const name = (kind, extra = {}) => fill(n[kind], { stage, ...extra });
  const infra = (kind, extra = {}) => fill(INFRA_NAMES[kind], { stage, ...extra });

  const busName = name('bus');
  const busArn = (bus) =>
    arn(`arn:\${AWS::Partition}:events:\${AWS::Region}:\${AWS::AccountId}:event-bus/${bus}`);

  const services = {};
  const serviceNames = new Set(serviceFolderNames());
  if (own.service) serviceNames.add(own.service);
  for (const service of [...serviceNames].sort()) {
    const bucketTemplate = fill(n.bucket, { stage, service });
    const bucketSub = bucketTemplate
      .split('{account}')
      .join('${AWS::AccountId}')
      .split('{region}')
      .join('${AWS::Region}');
    services[service] = {
      bucket: cfnString(n.bucket, { stage, service }),
      bucketArn: arn(`arn:\${AWS::Partition}:s3:::${bucketSub}`),
      bucketObjectsArn: arn(`arn:\${AWS::Partition}:s3:::${bucketSub}/*`),
      // Key prefixes the services write under (ingest/keys.py uploads/, ocr/cache.py text/,
      // wordcount results/), for IAM grants narrower than the whole bucket.
      objectsArn: Object.fromEntries(
        OBJECT_PREFIXES.map((p) => [p, arn(`arn:\${AWS::Partition}:s3:::${bucketSub}/${p}/*`)])
      ),
      table: name('table', { service }),
      idempotencyTable: name('idempotency_table', { service }),
      rolePath: infra('role_path', { service }),
    };
  }

  const consumers = {};
  for (const [consumer, c] of Object.entries(own.consumers)) {
    const bus = c.bus === 'default' ? 'default' : busName;
    const queue = name('queue', { consumer });
    const dlq = name('dlq', { consumer });
    const rule = name('rule', { consumer });
    consumers[consumer] = {
      service: own.service,
      handler: lambdaHandler(c.handler),
      dottedHandler: c.handler,
      busName: bus,
      busArn: busArn(bus),
      queue,
      dlq,
      rule,
      ruleArn: arn(
        bus === 'default'
          ? `arn:\${AWS::Partition}:events:\${AWS::Region}:\${AWS::AccountId}:rule/${rule}`
          : `arn:\${AWS::Partition}:events:\${AWS::Region}:\${AWS::AccountId}:rule/${bus}/${rule}`
      ),
      pattern: cfnDeep(c.pattern, { stage }),
      batchSize: c.batch_size,
      maxReceiveCount: c.max_receive_count,
      visibilityTimeout: c.visibility_timeout_s,
      maxConcurrency: c.max_concurrency,
    };
  }

  const http = {};
  for (const [api, h] of Object.entries(own.http)) {
    http[api] = {
      service: own.service,
      handler: lambdaHandler(h.handler),
      dottedHandler: h.handler,
      routes: h.routes,
    };
  }

  const alarmTopic = infra('alarm_topic');
  const alarmTopicArn = arn(
    `arn:\${AWS::Partition}:sns:\${AWS::Region}:\${AWS::AccountId}:${alarmTopic}`
  );

  const subscriptions = {};
  for (const [consumer, c] of Object.entries(consumers)) {
    subscriptions[consumer] = subscriptionResources(consumer, c, alarmTopicArn);
  }
  const tables = {};
  if (own.service) tables[own.service] = tableResources(services[own.service], own.storage);

  const keyAlias = name('notify_key_alias');
  return {
    stage,
    names: {
      bus: busName,
      busArn: busArn(busName),
      defaultBusArn: busArn('default'),
      archive: name('archive'),
      schemaRegistry: infra('schema_registry'),
      alarmTopic,
      alarmTopicArn,
      notifyKeyAlias: keyAlias,
      notifyKeyAliasArn: arn(`arn:\${AWS::Partition}:kms:\${AWS::Region}:\${AWS::AccountId}:${keyAlias}`),
      // For IAM policies: kms actions on any key of this account/region, narrowed by a
      // kms:ResourceAliases condition to the notify key (IAM cannot name a key by its alias).
      anyKeyArn: arn('arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/*'),
      textractTopic: infra('textract_topic'),
      textractQueue: infra('textract_queue'),
      textractDlq: infra('textract_dlq'),
    },
    rolePathArn: Object.fromEntries(
      Object.keys(services).map((s) => [
        s,
        arn(`arn:\${AWS::Partition}:iam::\${AWS::AccountId}:role${services[s].rolePath}*`),
      ])
    ),
    services,
    consumers,
    http,
    // Ready-made CloudFormation: `resources: - ${file(../../shared/topology.js):subscriptions.ocr}`
    subscriptions,
    tables,
  };
}

// "ingest-uploads" -> "IngestUploads" (CloudFormation logical id prefix of a consumer)
function logicalPrefix(consumer) {
  return consumer
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((p) => p[0].toUpperCase() + p.slice(1))
    .join('');
}

// A consumer's subscription plumbing: rule on its bus -> queue (+ DLQ), the queue policy that
// lets exactly that rule send, and an alarm when anything lands in the DLQ. The Lambda event
// source mapping is declared with the function in the service's serverless.yml
// (`${prefix}Queue` is the queue's logical id).
function subscriptionResources(consumer, c, alarmTopicArn) {
  const id = logicalPrefix(consumer);
  const queue = `${id}Queue`;
  const dlq = `${id}DeadLetterQueue`;
  const rule = `${id}Rule`;
  const sendFromRule = (resourceId) => ({
    Sid: `EventBridgeRule${resourceId}`,
    Effect: 'Allow',
    Principal: { Service: 'events.amazonaws.com' },
    Action: 'sqs:SendMessage',
    Resource: { 'Fn::GetAtt': [resourceId, 'Arn'] },
    Condition: { ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [rule, 'Arn'] } } },
  });
  const denyInsecure = (resourceId) => ({
    Sid: `DenyInsecureTransport${resourceId}`,
    Effect: 'Deny',
    Principal: '*',
    Action: 'sqs:*',
    Resource: { 'Fn::GetAtt': [resourceId, 'Arn'] },
    Condition: { Bool: { 'aws:SecureTransport': 'false' } },
  });
  return {
    Resources: {
      [dlq]: {
        Type: 'AWS::SQS::Queue',
        Metadata: { checkov: { skip: [SQS_SSE_SKIP] } },
        Properties: {
          QueueName: c.dlq,
          MessageRetentionPeriod: 1209600, // 14 days (the maximum) to inspect and redrive
          SqsManagedSseEnabled: true,
        },
      },
      [queue]: {
        Type: 'AWS::SQS::Queue',
        Metadata: { checkov: { skip: [SQS_SSE_SKIP] } },
        Properties: {
          QueueName: c.queue,
          VisibilityTimeout: c.visibilityTimeout,
          MessageRetentionPeriod: 345600, // 4 days
          SqsManagedSseEnabled: true,
          RedrivePolicy: {
            deadLetterTargetArn: { 'Fn::GetAtt': [dlq, 'Arn'] },
            maxReceiveCount: c.maxReceiveCount,
          },
        },
      },
      [rule]: {
        Type: 'AWS::Events::Rule',
        Properties: {
          Name: c.rule,
          // The wording predates per-service declarations; kept so that moving the
          // subscriptions into each service deployed as a no-op (byte-identical templates).
          Description: `ocrpipe consumer ${consumer} (${c.dottedHandler}); pattern from topology.json`,
          EventBusName: c.busName,
          EventPattern: c.pattern,
          State: 'ENABLED',
          Targets: [
            {
              Id: 'queue',
              Arn: { 'Fn::GetAtt': [queue, 'Arn'] },
              // Events EventBridge fails to deliver to the queue are parked in the same DLQ.
              DeadLetterConfig: { Arn: { 'Fn::GetAtt': [dlq, 'Arn'] } },
              RetryPolicy: { MaximumEventAgeInSeconds: 86400, MaximumRetryAttempts: 185 },
            },
          ],
        },
      },
      [`${id}QueuePolicy`]: {
        Type: 'AWS::SQS::QueuePolicy',
        Properties: {
          Queues: [{ Ref: queue }, { Ref: dlq }],
          PolicyDocument: {
            Version: '2012-10-17',
            Statement: [
              sendFromRule(queue),
              sendFromRule(dlq),
              denyInsecure(queue),
              denyInsecure(dlq),
            ],
          },
        },
      },
      [`${id}DeadLetterAlarm`]: {
        Type: 'AWS::CloudWatch::Alarm',
        Properties: {
          AlarmName: `${c.dlq}-not-empty`,
          AlarmDescription: `Messages for ${consumer} are parked in ${c.dlq}: inspect, fix, redrive.`,
          Namespace: 'AWS/SQS',
          MetricName: 'ApproximateNumberOfMessagesVisible',
          Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [dlq, 'QueueName'] } }],
          Statistic: 'Maximum',
          Period: 300,
          EvaluationPeriods: 1,
          Threshold: 0,
          ComparisonOperator: 'GreaterThanThreshold',
          TreatMissingData: 'notBreaching',
          AlarmActions: [alarmTopicArn],
          OKActions: [alarmTopicArn],
        },
      },
    },
  };
}

// The service's own tables, per its declaration's "storage": service table (pk / expires_at)
// and powertools idempotency table (id / expiration). On-demand, encrypted, TTL on.
function tableResources(s, owns) {
  const resources = {};
  if (owns.table) {
    resources.ServiceTable = {
      Type: 'AWS::DynamoDB::Table',
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Metadata: { checkov: { skip: [DYNAMODB_CMK_SKIP] } },
      Properties: {
        TableName: s.table,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        TimeToLiveSpecification: { AttributeName: 'expires_at', Enabled: true },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true },
      },
    };
  }
  if (owns.idempotency_table) {
    resources.IdempotencyTable = {
      Type: 'AWS::DynamoDB::Table',
      Metadata: {
        checkov: {
          skip: [
            DYNAMODB_CMK_SKIP,
            {
              id: 'CKV_AWS_28',
              comment:
                'Idempotency records expire by TTL (days) and are rebuilt by processing; a backup has nothing to restore.',
            },
          ],
        },
      },
      Properties: {
        TableName: s.idempotencyTable,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        TimeToLiveSpecification: { AttributeName: 'expiration', Enabled: true },
        SSESpecification: { SSEEnabled: true },
      },
    };
  }
  return { Resources: resources };
}

module.exports = async ({ options, resolveConfigurationProperty, resolveVariable }) => {
  let stage = options && options.stage;
  if (!stage) stage = await resolveConfigurationProperty(['provider', 'stage']);
  const declaration = await resolveVariable(DECLARATION);
  return build(stage || 'dev', declaration);
};

// Exposed for scripts and tests:
//   node -e "require('./shared/topology.js').build('prod', require('./services/ocr/ocrpipe-service.json'))"

module.exports.build = build;
module.exports.lambdaHandler = lambdaHandler;
