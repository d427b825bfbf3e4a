/**
 * What a stand-down of a host running its four static pods, with etcd's member and revision.json and nothing kept
 * yet, records in `stood-down.json` as its moves: the control plane's manifests, etcd's, the member, revision.json.
 */
export const fullHostStandDownMoves = [
  ...["kube-apiserver-pod", "kube-controller-manager-pod", "kube-scheduler-pod", "etcd-pod"].map((pod) => ({
    from: `/etc/kubernetes/manifests/${pod}.yaml`,
    to: `/etc/kubernetes/manifests-stopped/${pod}.yaml`,
  })),
  { from: "/var/lib/etcd/member", to: "/var/lib/etcd-backup/member" },
  { from: "/var/lib/etcd/revision.json", to: "/var/lib/etcd-backup/revision.json" },
]
