'use strict';

// Serverless v3 variable source: one AWS::EventSchemas::Schema resource per generated JSON
// Schema in docs/schemas/<DetailType>.json (written by `python -m ocrpipe.schemas write` from the
// pydantic contracts in shared/ocrpipe/events.py). Used by shared/bus/serverless.yml as
//   resources: - ${file(./schemas.js):resources}
// Adding an event contract therefore adds its schema to the registry without editing YAML.

const fs = require('fs');
const path = require('path');

const SCHEMAS_DIR = path.join(__dirname, '..', '..', 'docs', 'schemas');

function build() {
  if (!fs.existsSync(SCHEMAS_DIR)) {
    throw new Error(
      `${SCHEMAS_DIR} is missing: run "python -m ocrpipe.schemas write" to generate the event schemas`
    );
  }
  const files = fs
    .readdirSync(SCHEMAS_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort();
  if (files.length === 0) throw new Error(`no *.json event schemas in ${SCHEMAS_DIR}`);
  const resources = {};
  for (const file of files) {
    const detailType = path.basename(file, '.json');
    const content = fs.readFileSync(path.join(SCHEMAS_DIR, file), 'utf8');
    JSON.parse(content); // fail packaging early on a broken schema file
    // Logical ids are alphanumeric; detail types may carry a version suffix ("OcrCompleted.v2").
    const logicalId = `Schema${detailType.replace(/[^A-Za-z0-9]/g, '')}`;
    resources[logicalId] = {
      Type: 'AWS::EventSchemas::Schema',
      Properties: {
        RegistryName: { 'Fn::GetAtt': ['SchemaRegistry', 'RegistryName'] },
        SchemaName: `ocrpipe@${detailType}`,
        Type: 'JSONSchemaDraft4',
        Description: `ocrpipe domain event ${detailType} (generated from shared/ocrpipe/events.py)`,
        Content: content,
      },
    };
  }
  return { Resources: resources };
}

module.exports = async () => ({ resources: build() });
module.exports.build = build;
