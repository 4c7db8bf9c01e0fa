// The Caddyfile's generated parts: each service's route and its instances as upstream defaults.
// The upstream policy, headers and error answers around them are hand-kept.
import { envName, instancesOf, type MeshList } from './mesh-list.js';

export function caddyfileRegions(mesh: MeshList): Record<string, string[]> {
  const variables = mesh.services.map((s) => `${envName(s.name)}_UPSTREAMS`).join(' ');
  return {
    'upstream-variables': [`#   ${variables}   space-separated host:port lists`],
    routes: mesh.services.flatMap((s) => {
      const defaults = instancesOf(s)
        .map((i) => `127.0.0.1:${i.port}`)
        .join(' ');
      return [
        `handle /api/${s.name}/* {`,
        `\turi strip_prefix /api/${s.name}`,
        '\t@public path /trpc /trpc/* /.well-known/*',
        '\thandle @public {',
        `\t\treverse_proxy {$${envName(s.name)}_UPSTREAMS:${defaults}} {`,
        '\t\t\timport upstream',
        '\t\t}',
        '\t}',
        '\thandle {',
        '\t\timport not_found',
        '\t}',
        '}',
      ];
    }),
  };
}
