/** Example BackupPolicies: good ones the API server accepts, bad ones (spec, a phrase of the expected refusal) it refuses. */
export const policy = (spec: Record<string, unknown>, status?: Record<string, unknown>) => ({
  apiVersion: "backup.openshift.io/v1alpha1",
  kind: "BackupPolicy",
  metadata: { name: "nightly" },
  spec,
  ...(status === undefined ? {} : { status }),
})
export const s3 = { s3: { bucket: "etcd-backups", prefix: "prod", region: "eu-central-1", credentialsSecret: { name: "backup-s3" } } }
export const pvc = { pvc: { claimName: "etcd-backups", subPath: "cluster-a" } }

export const good = {
  "nightly to S3 in Berlin time, with retention and test restores": policy(
    {
      schedule: "30 2 * * *",
      timeZone: "Europe/Berlin",
      store: s3,
      retention: { keepLast: 7, keepDaily: 14, keepWeekly: 8, keepMonthly: 12, maxAge: "400d", maxTotalSize: "50Gi" },
      verify: "TestRestore",
    },
    {
      observedGeneration: 3,
      conditions: [
        { type: "Ready", status: "True", reason: "Healthy", message: "last backup 2h ago", lastTransitionTime: "2026-05-01T00:30:00Z", observedGeneration: 3 },
        { type: "Degraded", status: "False", reason: "AsExpected", message: "", lastTransitionTime: "2026-05-01T00:30:00Z" },
      ],
      lastScheduleTime: "2026-05-01T00:30:00Z",
      nextScheduleTime: "2026-05-02T00:30:00Z",
      lastSuccessfulBackup: {
        id: "2026-05-01_003000",
        location: "s3://etcd-backups/prod/2026-05-01_003000",
        time: "2026-05-01T00:31:12Z",
        pod: "cluster-backup-7kq2x",
        revisions: { etcd: 7, kubeApiserver: 12, kubeControllerManager: 5, kubeScheduler: 4 },
        etcdRevision: 918273,
        snapshotBytes: 104857600,
        resourcesBytes: 81920,
        totalBytes: 104939520,
        verdict: "consistent",
        verified: true,
      },
      lastFailure: { time: "2026-04-30T00:30:40Z", pod: "cluster-backup-x1", reason: "StoreUnreachable", message: "PUT s3://... timed out" },
    },
  ),
  "revision changes only, into a PVC": policy({ onRevisionChange: true, minInterval: "30m", store: pvc }),
  "a schedule and a PVC, nothing else": policy({ schedule: "0 */6 * * *", store: { pvc: { claimName: "backups" } } }),
  "encrypted: S3 and a PVC with age recipients, the key bundle to its own": policy({
    schedule: "0 3 * * *",
    store: { s3: { ...s3.s3, recipientsSecret: { name: "backup-recipients" }, resourcesRecipientsSecret: { name: "bundle-recipients" } } },
  }),
  "S3 with SSE-KMS under a key of its own": policy({
    schedule: "0 3 * * *",
    store: { s3: { ...s3.s3, serverSideEncryption: "aws:kms", kmsKeyId: "arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab" } },
  }),
  "S3 over a slow link, at a bandwidth limit": policy({ schedule: "0 3 * * *", store: { ...s3, bandwidthLimit: "20Mi" } }),
  "encrypted into a PVC": policy({ onRevisionChange: true, store: { pvc: { claimName: "backups", recipientsSecret: { name: "backup-recipients" } } } }),
  "S3 with web identity and a private CA, suspended": policy({
    schedule: "0 * * * *",
    suspend: true,
    store: {
      s3: {
        bucket: "b.example",
        endpoint: "https://s3.example:8443",
        forcePathStyle: true,
        caBundleConfigMap: { name: "s3-ca" },
        webIdentityRoleARN: "arn:aws:iam::123456789012:role/etcd-backup",
      },
    },
  }),
}

export const bad: ReadonlyArray<readonly [string, Record<string, unknown>, string]> = [
  ["both store kinds", { schedule: "0 * * * *", store: { ...s3, ...pvc } }, "exactly one store kind"],
  ["no store kind", { schedule: "0 * * * *", store: {} }, "exactly one store kind"],
  ["no store", { schedule: "0 * * * *" }, 'missing required field "store"'],
  ["no trigger", { store: pvc }, "needs a trigger"],
  ["onRevisionChange false and no schedule", { onRevisionChange: false, store: pvc }, "needs a trigger"],
  ["keepLast 0", { schedule: "0 * * * *", store: pvc, retention: { keepLast: 0 } }, "below the minimum 1"],
  ["empty retention", { schedule: "0 * * * *", store: pvc, retention: {} }, "at least one rule"],
  ["empty timeZone", { schedule: "0 * * * *", timeZone: "", store: pvc }, "shorter than 1"],
  ["unknown verify mode", { schedule: "0 * * * *", store: pvc, verify: "Quick" }, "is not one of"],
  ["an escaping subPath", { schedule: "0 * * * *", store: { pvc: { claimName: "c", subPath: "a/../../etc" } } }, "no '..' component"],
  ["an absolute subPath", { schedule: "0 * * * *", store: { pvc: { claimName: "c", subPath: "/etc" } } }, "no '..' component"],
  [
    "static keys and web identity",
    { schedule: "0 * * * *", store: { s3: { ...s3.s3, webIdentityRoleARN: "arn:aws:iam::123456789012:role/r" } } },
    "are alternatives",
  ],
  ["an S3 store without credentials", { schedule: "0 * * * *", store: { s3: { bucket: "etcd-backups" } } }, "set exactly one of them"],
  [
    "a KMS key with SSE-S3",
    { schedule: "0 * * * *", store: { s3: { ...s3.s3, serverSideEncryption: "AES256", kmsKeyId: "1234abcd" } } },
    "kmsKeyId goes with serverSideEncryption aws:kms",
  ],
  ["an unknown server-side encryption", { schedule: "0 * * * *", store: { s3: { ...s3.s3, serverSideEncryption: "SSE-C" } } }, "is not one of"],
  ["a misspelt field", { schedule: "0 * * * *", store: pvc, scheduel: "0 * * * *" }, "unknown field"],
  ["minInterval in words", { onRevisionChange: true, minInterval: "1 hour", store: pvc }, "does not match"],
  ["maxTotalSize in GB", { schedule: "0 * * * *", store: pvc, retention: { maxTotalSize: "50GB" } }, "does not match"],
  // A bare number would be bytes: "50" meant as GiB removed every backup but the newest.
  ["maxTotalSize without its unit", { schedule: "0 * * * *", store: pvc, retention: { maxTotalSize: "50" } }, "does not match"],
  // A bare number would be bytes a second.
  ["a bandwidth limit without its unit", { schedule: "0 * * * *", store: { ...pvc, bandwidthLimit: "50" } }, "does not match"],
  ["a bandwidth limit in bits", { schedule: "0 * * * *", store: { ...pvc, bandwidthLimit: "100Mbps" } }, "does not match"],
  ["a negative history limit", { schedule: "0 * * * *", store: pvc, failedPodsHistoryLimit: -1 }, "below the minimum 0"],
  ["an S3 bucket name with capitals", { schedule: "0 * * * *", store: { s3: { bucket: "Backups" } } }, "does not match"],
]
