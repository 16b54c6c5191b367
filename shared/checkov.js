'use strict';

// Serverless v3 variable source: checkov suppressions, with their justification, for the
// resources Serverless Framework generates itself (functions, log groups, deployment bucket)
// and therefore cannot carry a `Metadata:` block in serverless.yml. Used as
//
//   resources:
//     - extensions: ${file(../../shared/checkov.js):extensions}
//
// The justification travels inside the packaged template (Metadata.checkov.skip[].comment),
// so checkov reports it next to the resource. Resources we write ourselves carry their own
// Metadata in serverless.yml / shared/topology.js.

const FUNCTION_SKIPS = [
  {
    id: 'CKV_AWS_116',
    comment:
      'Not invoked asynchronously: consumers read SQS queues whose redrive policy parks failures in a DLQ; the API is synchronous.',
  },
  {
    id: 'CKV_AWS_117',
    comment:
      'Talks only to AWS public endpoints (S3, DynamoDB, SQS, EventBridge, KMS, SES, Textract) and webhooks on the internet; a VPC would add NAT cost and no isolation.',
  },
  {
    id: 'CKV_AWS_115',
    // "topology.json" predates per-service declarations (ocrpipe-service.json); the wording is
    // kept so that moving the subscriptions deployed as a no-op (byte-identical templates).
    comment:
      'Concurrency is capped by the SQS event source maximumConcurrency from topology.json (and by HTTP API throttling for the API); reserved concurrency would fail on accounts with a low concurrency quota.',
  },
  {
    id: 'CKV_AWS_173',
    comment:
      'Environment holds resource names and settings (the webhook key comes from Secrets Manager at deploy time); Lambda encrypts it at rest with the AWS managed key.',
  },
];

const LOG_GROUP_SKIPS = [
  {
    id: 'CKV_AWS_158',
    comment:
      'Logs carry no personal data (house rule: recipients are never logged) and CloudWatch Logs encrypts at rest; a CMK per log group adds cost and key-policy coupling.',
  },
];

const DEPLOYMENT_BUCKET_SKIPS = [
  {
    id: 'CKV_AWS_18',
    comment:
      'Serverless deployment artifacts only (versioned, encrypted, public access blocked, TLS enforced); CloudFormation and CloudTrail record who deployed what.',
  },
];

// Serverless v3 naming (lib/plugins/aws/lib/naming.js): "onObjectCreated" -> "OnObjectCreated".
function normalizedName(functionName) {
  const upper = functionName[0].toUpperCase() + functionName.slice(1);
  return upper.replace(/-/g, 'Dash').replace(/_/g, 'Underscore');
}

function metadata(skip) {
  return { Metadata: { checkov: { skip } } };
}

module.exports = async ({ resolveConfigurationProperty }) => {
  let functions = (await resolveConfigurationProperty(['functions'])) || {};
  if (Array.isArray(functions)) functions = Object.assign({}, ...functions);
  const extensions = {};
  for (const name of Object.keys(functions)) {
    const id = normalizedName(name);
    extensions[`${id}LambdaFunction`] = metadata(FUNCTION_SKIPS);
    extensions[`${id}LogGroup`] = metadata(LOG_GROUP_SKIPS);
  }
  extensions.ServerlessDeploymentBucket = metadata(DEPLOYMENT_BUCKET_SKIPS);
  const httpApi = await resolveConfigurationProperty(['provider', 'logs', 'httpApi']);
  if (httpApi) extensions.HttpApiLogGroup = metadata(LOG_GROUP_SKIPS);
  return { extensions };
};
