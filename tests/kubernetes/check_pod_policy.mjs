// Checks what issue 6 asks of agentauth's Deployment, on rendered manifests (the chart's or the
// kustomization's), so that a template change cannot quietly drop it:
//
//   node tests/kubernetes/check_pod_policy.mjs FILE.yaml
//
// For every Deployment: each container runs as non-root with a read-only root file system, no
// privilege escalation, all capabilities dropped and seccomp RuntimeDefault, with memory
// requested and limited; agentauthd has native gRPC startup, readiness and liveness probes and
// no exec probe; the pod template carries checksum/config and checksum/secret (chart only: the
// kustomization's generated ConfigMap name does that job); terminationGracePeriodSeconds covers
// the preStop sleep plus --shutdown-grace; pods are spread over nodes exactly when more than one
// replica may run. Every Service has a gRPC port with appProtocol grpc. Every test Pod runs
// hardened too. Prints one line per problem and exits 1, or exits 0.
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';

const problems = [];
const expect = (condition, where, what) => {
  if (!condition) problems.push(`${where}: ${what}`);
};

function checkContainer(container, pod, where) {
  const context = container.securityContext ?? {};
  const podContext = pod.securityContext ?? {};
  expect(context.runAsNonRoot ?? podContext.runAsNonRoot, where, 'runAsNonRoot is not true');
  expect(context.readOnlyRootFilesystem === true, where, 'readOnlyRootFilesystem is not true');
  expect(context.allowPrivilegeEscalation === false, where, 'allowPrivilegeEscalation is not false');
  expect(context.capabilities?.drop?.includes('ALL'), where, 'capabilities.drop lacks ALL');
  const seccomp = context.seccompProfile?.type ?? podContext.seccompProfile?.type;
  expect(seccomp === 'RuntimeDefault', where, `seccompProfile is ${seccomp}, not RuntimeDefault`);
  expect(container.resources?.requests?.memory, where, 'no memory request');
  expect(container.resources?.limits?.memory, where, 'no memory limit');
}

function seconds(duration) {
  const match = /^(\d+)s$/.exec(duration ?? '');
  return match ? Number(match[1]) : NaN;
}

function checkDeployment(deployment, objects, where) {
  const template = deployment.spec.template;
  const pod = template.spec;
  for (const container of pod.containers) checkContainer(container, pod, `${where} ${container.name}`);

  const daemon = pod.containers.find((c) => c.name === 'agentauthd');
  expect(daemon, where, 'no container named agentauthd');
  if (!daemon) return;
  for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
    expect(daemon[probe]?.grpc?.port, where, `${probe} is not a native gRPC probe`);
    expect(!daemon[probe]?.exec, where, `${probe} is an exec probe`);
  }

  const fromChart = deployment.metadata.labels?.['helm.sh/chart'] !== undefined;
  if (fromChart) {
    for (const annotation of ['checksum/config', 'checksum/secret']) {
      expect(template.metadata.annotations?.[annotation], where, `no ${annotation} annotation`);
    }
  }

  const grace = seconds(daemon.args.find((a) => a.startsWith('--shutdown-grace='))?.split('=')[1]);
  const preStop = daemon.lifecycle?.preStop?.sleep?.seconds ?? 0;
  expect(Number.isFinite(grace), where, 'no --shutdown-grace=<N>s argument');
  expect(
    (pod.terminationGracePeriodSeconds ?? 30) > preStop + grace,
    where,
    `terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds} does not cover ` +
      `preStop ${preStop}s + shutdown grace ${grace}s`,
  );

  const autoscaled = objects.some(
    (o) => o.kind === 'HorizontalPodAutoscaler' && o.spec.scaleTargetRef.name === deployment.metadata.name,
  );
  const several = autoscaled || (deployment.spec.replicas ?? 1) > 1;
  const spread = (pod.topologySpreadConstraints ?? []).some(
    (c) => c.topologyKey === 'kubernetes.io/hostname',
  );
  expect(spread === several, where, several ? 'several replicas but no spread over nodes'
    : 'one replica but a topology spread constraint');
}

const objects = process.argv
  .slice(2)
  .flatMap((file) => parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJS()))
  .filter(Boolean);
const deployments = objects.filter((o) => o.kind === 'Deployment');
expect(deployments.length === 1, 'manifests', `${deployments.length} Deployments, expected 1`);
for (const deployment of deployments) {
  checkDeployment(deployment, objects, `Deployment/${deployment.metadata.name}`);
}
for (const service of objects.filter((o) => o.kind === 'Service')) {
  const grpc = service.spec.ports.find((p) => p.name === 'grpc');
  expect(grpc?.appProtocol === 'grpc', `Service/${service.metadata.name}`, 'no grpc port with appProtocol grpc');
}
for (const pod of objects.filter((o) => o.kind === 'Pod')) {
  for (const container of pod.spec.containers) {
    checkContainer(container, pod.spec, `Pod/${pod.metadata.name} ${container.name}`);
  }
}

if (problems.length > 0) {
  for (const problem of problems) console.error(problem);
  process.exit(1);
}
console.log(`pod policy holds for ${deployments.length} Deployment(s)`);
