import { Flag } from "effect/cli"
import { defaultEtcdPrefix, etcdPrefixProblem } from "../domain/etcd-prefix.ts"
import { checkedWith } from "./flag-checks.ts"

/** `--etcd-prefix`: where the API server keeps its objects in etcd (operator, render, backup-init, verify). */
export const etcdPrefixFlag = Flag.String("etcd-prefix").pipe(
  checkedWith(etcdPrefixProblem),
  Flag.withDefault(defaultEtcdPrefix),
  Flag.withDescription(
    "The etcd key prefix the API server stores its objects under (kube-apiserver's --etcd-prefix): /kubernetes.io on OpenShift, /registry upstream. The operator CRs are read from etcd under it.",
  ),
)
