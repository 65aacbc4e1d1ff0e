// The two shapes of REDIS_URL: one server (`redis://`, `rediss://`, read by ioredis itself), or a Redis Cluster by
// its seed nodes, which no URL standard covers, hence a scheme of our own.

/** A Redis Cluster named by `redis-cluster://[user:password@]host:port[,host:port…]` (TLS: `rediss-cluster://`). */
export interface ClusterTarget {
  nodes: { host: string; port: number }[];
  username?: string;
  password?: string;
  tls: boolean;
}

const clusterScheme = /^(rediss?)-cluster:\/\/(.*)$/;

/**
 * The Redis Cluster a `redis-cluster://` URL names (its seed nodes: any few of the cluster's masters; ioredis finds
 * the rest), or null for a one-server `redis://` / `rediss://` URL. Throws on a malformed node list, naming it.
 */
export function parseClusterUrl(url: string): ClusterTarget | null {
  const match = clusterScheme.exec(url);
  if (!match) return null;
  const rest = match[2]!;
  const at = rest.lastIndexOf('@');
  const credentials = at >= 0 ? rest.slice(0, at) : '';
  const nodes = (at >= 0 ? rest.slice(at + 1) : rest).replace(/\/.*$/, '').split(',');
  const target: ClusterTarget = { nodes: [], tls: match[1] === 'rediss' };
  for (const node of nodes) {
    const parts = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(node.trim());
    const port = Number(parts?.[2]);
    if (!parts || port < 1 || port > 65535)
      throw new Error(
        `Redis Cluster node ${JSON.stringify(node.slice(0, 60))} is not host:port; expected redis-cluster://host:port[,host:port…]`,
      );
    target.nodes.push({ host: parts[1]!.replace(/^\[|\]$/g, ''), port });
  }
  if (credentials) {
    const colon = credentials.indexOf(':');
    const user = decodeURIComponent(colon >= 0 ? credentials.slice(0, colon) : credentials);
    if (user) target.username = user;
    if (colon >= 0) target.password = decodeURIComponent(credentials.slice(colon + 1));
  }
  return target;
}
