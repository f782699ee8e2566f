#!/bin/bash
# LocalStack init hook (ready.d): deploys OrchestraLink's bundle as soon as
# LocalStack serves requests. It runs inside the LocalStack container, on every
# start: LocalStack keeps no state across restarts (PERSISTENCE=0), so a restarted
# container comes back with the stack deployed, migrated and the dashboard served.
#
# The bundle is written by `make deploy-local TARGET=localstack` into
# .state/localstack/bundle and mounted read-only at /etc/orchestralink/bundle:
#   stack.env                 STACK_NAME, ARTIFACT_BUCKET, REGION
#   parameters.txt            Key=Value lines for the stack (0600: the DB password)
#   template.json             template.yaml with its code pointing at the artifacts
#   artifacts/                the function and layer zips, laid out as their S3 keys
#   dashboard/                the dashboard build (optional)
#   dashboard-config.json.in  its config.json, with @API_ID@ for the REST API id
#
# The deploy tooling then deploys the same bundle again from the host (a change set
# without changes when this hook already did it), so a failure here is reported
# there too; here it shows in `docker compose logs localstack` and, as ERROR, in
# http://127.0.0.1:4566/_localstack/init/ready.
set -euo pipefail

bundle=${ORCHESTRALINK_BUNDLE:-/etc/orchestralink/bundle}
log() { echo "orchestralink init hook: $*"; }

if [[ ! -f $bundle/stack.env ]]; then
    log "no deploy bundle in $bundle; run make deploy-local TARGET=localstack"
    exit 0
fi
# shellcheck source=/dev/null
source "$bundle/stack.env"
export AWS_DEFAULT_REGION="$REGION"

log "uploading the function and layer artifacts to s3://$ARTIFACT_BUCKET"
awslocal s3api head-bucket --bucket "$ARTIFACT_BUCKET" >/dev/null 2>&1 \
    || awslocal s3 mb "s3://$ARTIFACT_BUCKET" >/dev/null
awslocal s3 sync --only-show-errors "$bundle/artifacts/" "s3://$ARTIFACT_BUCKET/"

log "deploying stack $STACK_NAME"
mapfile -t parameters < "$bundle/parameters.txt"
# The template goes inline (TemplateBody, up to 51,200 bytes on AWS; this one is
# about 32 KB): a TemplateURL would name a host only the container can resolve.
awslocal cloudformation deploy \
    --stack-name "$STACK_NAME" \
    --template-file "$bundle/template.json" \
    --parameter-overrides "${parameters[@]}" \
    --capabilities CAPABILITY_IAM CAPABILITY_NAMED_IAM CAPABILITY_AUTO_EXPAND \
    --no-fail-on-empty-changeset

output() {
    awslocal cloudformation describe-stacks --stack-name "$STACK_NAME" \
        --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
}

# Migrations are idempotent. The first invocation pulls Lambda's Python image, and
# the database may still be starting: retry for a few minutes.
migrate=$(output MigrateFunctionName)
log "migrating the database ($migrate)"
for attempt in $(seq 1 40); do
    if error=$(awslocal lambda invoke --function-name "$migrate" \
            --cli-read-timeout 600 --query FunctionError --output text \
            /tmp/orchestralink-migrate.json) && [[ $error == None ]]; then
        log "migrated: $(cat /tmp/orchestralink-migrate.json)"
        break
    fi
    if [[ $attempt == 40 ]]; then
        log "the migration keeps failing: $(cat /tmp/orchestralink-migrate.json 2>/dev/null)"
        exit 1
    fi
    sleep 5
done

if [[ -d $bundle/dashboard ]]; then
    bucket=$(output DashboardBucketName)
    # The REST API gets a new id whenever LocalStack starts empty: config.json is
    # written with the id of this deploy.
    # ApiUrl is https://{api-id}.execute-api.{region}.{suffix}/{stage}/.
    api_url=$(output ApiUrl)
    api_id=${api_url#*://}
    api_id=${api_id%%.*}
    log "uploading the dashboard to s3://$bucket (REST API $api_id)"
    awslocal s3 sync --only-show-errors --delete --exclude config.json \
        "$bundle/dashboard/" "s3://$bucket/"
    sed "s/@API_ID@/$api_id/g" "$bundle/dashboard-config.json.in" \
        > /tmp/orchestralink-config.json
    awslocal s3 cp --only-show-errors --content-type application/json \
        --cache-control no-cache /tmp/orchestralink-config.json "s3://$bucket/config.json"
fi
log "done"
